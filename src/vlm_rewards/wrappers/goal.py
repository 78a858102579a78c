"""Goal conditioning: the episode goal's text embedding in the observation.

One policy can then be conditioned on language: :class:`GoalEmbeddingObservation` adds
the embedding of the episode's goal, looked up in a table from :func:`goal_embedding_table`
(computed once, so sub-envs in other processes need no model).

Example:
    >>> table = goal_embedding_table(scorer, goals("phone", "all"))  # doctest: +SKIP
    >>> env = GoalEmbeddingObservation(gym.make("vlm_rewards/Phone-v0"), table)  # doctest: +SKIP
    >>> obs, info = env.reset(seed=0)  # doctest: +SKIP
    >>> obs["goal"].shape  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from vlm_rewards._validation import check_goal, goal_key
from vlm_rewards.scoring import RewardScorer

__all__ = ["GoalEmbeddingObservation", "goal_embedding_table"]


def goal_embedding_table(source: Any, goals: Sequence[str]) -> dict[str, np.ndarray]:
    """``{goal: embedding}`` from a scorer or model, computed once.

    A plain dict pickles cheaply, so sub-envs in other processes need no model.

    Example:
        >>> table = goal_embedding_table(scorer, ["open the clock app"])  # doctest: +SKIP
    """
    if isinstance(source, RewardScorer):
        emb = source.text_embeddings(list(goals))
    elif hasattr(source, "encode_texts"):
        emb = source.encode_texts(list(goals))
    else:
        raise TypeError(f"source must be a RewardScorer or a VLM with encode_texts, got {type(source).__name__}")
    emb = emb.float().cpu().numpy()
    return {g: emb[i].astype(np.float32) for i, g in enumerate(goals)}


class GoalEmbeddingObservation(gym.Wrapper):
    """Add the episode goal's text embedding to the observation under ``"goal"``.

    An image observation becomes ``{"image": obs, "goal": emb}``; a Dict observation gains
    a ``"goal"`` key. The goal comes from ``info["goal"]`` at reset, or ``goal`` if given.

    Args:
        env: the env.
        embeddings: a ``{goal: vector}`` table (see :func:`goal_embedding_table`), a
            :class:`~vlm_rewards.RewardScorer` or a VLM; goals missing from a table are
            an error, while a scorer or model embeds new goals on first use.
        goal: a fixed goal text.

    Example:
        >>> table = goal_embedding_table(scorer, goals("phone", "all"))  # doctest: +SKIP
        >>> env = GoalEmbeddingObservation(gym.make("vlm_rewards/Phone-v0"), table)  # doctest: +SKIP
        >>> env.observation_space["goal"].shape  # doctest: +SKIP
    """

    def __init__(self, env: gym.Env, embeddings: Any, goal: str | None = None):
        super().__init__(env)
        if isinstance(embeddings, Mapping):
            if not embeddings:
                raise ValueError("embeddings must not be empty")
            # Keyed by goal_key: an env whose info["goal"] differs from the table's spelling
            # only in case or whitespace still finds its goal.
            self._table = {}
            for k, v in embeddings.items():
                key = goal_key(check_goal(k, "embeddings key"))
                v = np.asarray(v, dtype=np.float32)
                if key in self._table and not np.array_equal(self._table[key], v):
                    raise ValueError(f"embeddings has two different vectors for the same goal {k!r} (goals compare ignoring case and whitespace)")
                self._table[key] = v
            self._source = None
            dim = next(iter(self._table.values())).shape
        else:
            self._table = {}
            self._source = embeddings
            probe = goal_embedding_table(embeddings, [goal or "a goal"])
            dim = next(iter(probe.values())).shape
        if len(dim) != 1:
            raise ValueError(f"goal embeddings must be vectors, got shape {dim}")
        self.fixed_goal = check_goal(goal) if goal is not None else None
        goal_space = spaces.Box(-1.0, 1.0, shape=dim, dtype=np.float32)
        if isinstance(env.observation_space, spaces.Dict):
            if "goal" in env.observation_space.spaces:
                raise ValueError("the env's Dict observation already has a 'goal' key")
            self.observation_space = spaces.Dict({**env.observation_space.spaces, "goal": goal_space})
        else:
            self.observation_space = spaces.Dict({"image": env.observation_space, "goal": goal_space})
        self._goal_emb: np.ndarray | None = None

    def embedding(self, goal: str) -> np.ndarray:
        goal = check_goal(goal)
        key = goal_key(goal)
        if key not in self._table:
            if self._source is None:
                raise ValueError(f"goal {goal!r} has no embedding in the table given to GoalEmbeddingObservation")
            self._table[key] = goal_embedding_table(self._source, [goal])[goal]
        # Embeddings are unit vectors; clipping guards float error against the Box bounds.
        return np.clip(self._table[key], -1.0, 1.0)

    def _observe(self, obs):
        # A fresh array per step: callers (replay buffers) may keep and modify observations.
        goal = self._goal_emb.copy()
        if isinstance(obs, Mapping):
            return {**obs, "goal": goal}
        return {"image": obs, "goal": goal}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        goal = self.fixed_goal or info.get("goal")
        if goal is None:
            raise ValueError("no goal: pass goal=... or use an env that sets info['goal']")
        self._goal_emb = self.embedding(goal)
        return self._observe(obs), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._observe(obs), reward, terminated, truncated, info
