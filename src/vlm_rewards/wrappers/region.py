"""The VLM's view of each screen region, as a policy input.

A policy trained from scratch learns to recognise only the goals it trained on: an app it
never opened is just another icon. The VLM, trained on the web (or here on the project's
corpus, which names every app's icon), already knows what the held-out app's icon looks
like. :class:`RegionSimilarityObservation` hands that knowledge to the policy: for every
region of the screen (the tap cells of an env with ``region_crops(size)``) it adds the
cosine similarity between the VLM's embedding of the region and the embedding of the
goal's region prompt ("the clock app icon"). The VLM stays frozen; the policy learns how
far to trust the similarities on training goals and can then ground a held-out goal
through the VLM's shared text-image space.

Example:
    >>> env = RegionSimilarityObservation(GoalEmbeddingObservation(phone_env, table), scorer, prompts)  # doctest: +SKIP
    >>> obs, info = env.reset(seed=0)  # doctest: +SKIP
    >>> obs["region"].shape  # doctest: +SKIP
    (24,)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from vlm_rewards._validation import check_goal, goal_key

__all__ = ["RegionSimilarityObservation"]


class RegionSimilarityObservation(gym.Wrapper):
    """Add ``obs["region"]``: the VLM's cosine similarity of each screen region with the goal.

    Args:
        env: an env with a Dict observation (e.g. :class:`GoalEmbeddingObservation`) whose
            base env has ``region_crops(size) -> (n, size, size, 3) uint8`` and puts the
            episode's goal in ``info["goal"]``; ``n`` is ``len(pointer_boxes)`` (one region per
            tap action, e.g. Phone) or, for an env without pointer actions, its
            ``num_regions`` (House: 1, the whole view).
        encoder: a :class:`~vlm_rewards.RewardScorer` (its frame cache makes repeated screens
            free) or a VLM with ``encode_images``.
        prompts: ``{goal: unit-norm text embedding of the goal's region prompt}``.
        size: crop side in pixels (default: the encoder's model input size).
    """

    def __init__(self, env: gym.Env, encoder: Any, prompts: Mapping[str, Any], size: int | None = None):
        super().__init__(env)
        if not isinstance(env.observation_space, spaces.Dict):
            raise TypeError("env must have a Dict observation (wrap it in GoalEmbeddingObservation first)")
        try:
            self._crops = env.get_wrapper_attr("region_crops")
        except AttributeError:
            raise TypeError(f"{type(env.unwrapped).__name__} has no region_crops(size): it offers no screen regions") from None
        self._encode = getattr(encoder, "encode_frames", None) or getattr(encoder, "encode_images", None)
        if self._encode is None:
            raise TypeError(f"encoder must be a RewardScorer or a VLM with encode_images, got {type(encoder).__name__}")
        model = getattr(encoder, "model", encoder)
        self.size = int(size if size is not None else model.image_size[0])
        if not prompts:
            raise ValueError("prompts must map each goal to its region prompt's embedding")
        self._prompts = {goal_key(check_goal(g, "prompts key")): np.asarray(v, np.float32) for g, v in prompts.items()}
        try:
            # One region per pointer box, in action order: the pointer policy adds each
            # region's similarity to its box's logit.
            n = len(env.get_wrapper_attr("pointer_boxes"))
        except AttributeError:
            try:
                n = int(env.get_wrapper_attr("num_regions"))
            except AttributeError:
                raise TypeError(f"{type(env.unwrapped).__name__} has neither pointer_boxes nor num_regions: "
                                "how many regions region_crops gives is unknown") from None
        self.observation_space = spaces.Dict({**env.observation_space.spaces,
                                              "region": spaces.Box(-1.0, 1.0, (n,), np.float32)})
        self._goal: np.ndarray | None = None

    def _with_region(self, obs: dict[str, Any]) -> dict[str, Any]:
        emb = self._encode(self._crops(self.size))
        emb = emb.float().cpu().numpy() if hasattr(emb, "cpu") else np.asarray(emb, np.float32)
        emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-8)
        return {**obs, "region": np.clip(emb @ self._goal, -1.0, 1.0).astype(np.float32)}

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        goal = check_goal(info.get("goal"), "info['goal']")
        prompt = self._prompts.get(goal_key(goal))
        if prompt is None:
            raise KeyError(f"no region prompt for goal {goal!r}; prompts has {len(self._prompts)} goals")
        self._goal = prompt / max(float(np.linalg.norm(prompt)), 1e-8)
        return self._with_region(obs), info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._with_region(obs), reward, terminated, truncated, info
