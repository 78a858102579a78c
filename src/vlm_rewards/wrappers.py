"""Gymnasium and Stable-Baselines3 wrappers that put a VLM reward into the step result.

- :class:`VLMRewardWrapper`: one env; reward from ``env.render()`` or the observation.
- :class:`VLMRewardVectorWrapper`: a Gymnasium vector env; all sub-envs scored in one batch.
- :class:`VecVLMReward`: the same for a Stable-Baselines3 ``VecEnv``.
- :class:`GoalEmbeddingObservation`: adds the goal's text embedding to the observation,
  so one policy can be conditioned on language.
- :class:`RenderFrameInfo`: puts the rendered frame in ``info`` (for SB3 vector envs,
  which reset a finished env before the wrapper could render it).

Every wrapper replaces the env reward with the VLM reward and keeps the original in
``info["env_reward"]``; ``info["vlm_reward"]`` and ``info["vlm_probability"]`` hold the
reward and its score (p for the contrastive reward), and ``info["ground_truth_success"]``
is passed through when the env provides it. With ``terminate_on_success`` (the paper's
setting) the episode ends when a binary VLM reward fires.

Cost controls (see ``docs/performance.md``): ``score_every=k`` scores every k-th step of an
episode and its last step (other steps get reward 0 and ``info["vlm_scored"] = False``);
``score_every="episode"`` scores only the last frame of each episode (VLM-RM style, one
batched pass for the envs that finish together); ``VecVLMReward(async_scoring=True)``
encodes the frames of the sub-envs that have finished stepping while the others still
step. ``info["vlm_cache_hit_rate"]`` is the scorer's frame-cache hit rate so far (every
step in the vector wrappers, at episode ends in :class:`VLMRewardWrapper`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper
from stable_baselines3.common.vec_env import VecEnvWrapper

from vlm_rewards._validation import check_goal, check_positive_int
from vlm_rewards.scoring import RewardScorer

__all__ = [
    "GoalEmbeddingObservation",
    "RenderFrameInfo",
    "VLMRewardVectorWrapper",
    "VLMRewardWrapper",
    "VecVLMReward",
    "goal_embedding_table",
]

_FRAME_KEY = "vlm_frame"


def _check_scorer(scorer: Any) -> RewardScorer:
    if not isinstance(scorer, RewardScorer):
        raise TypeError(f"scorer must be a vlm_rewards.RewardScorer, got {type(scorer).__name__}")
    return scorer


def _check_frame_source(frame_source: Any) -> str:
    if not isinstance(frame_source, str) or not frame_source:
        raise TypeError(
            f"frame_source must be 'render', 'observation' or a Dict observation key, got {frame_source!r}"
        )
    return frame_source


def _check_score_every(score_every: Any) -> int | str:
    if score_every == "episode":
        return "episode"
    if isinstance(score_every, bool) or not isinstance(score_every, (int, np.integer)) or score_every < 1:
        raise ValueError(f"score_every must be a positive integer or 'episode', got score_every={score_every!r}")
    return int(score_every)


def _due(score_every: int | str, step: int, episode_ends: bool) -> bool:
    """Whether the frame of episode step ``step`` (1-based) is scored."""
    if episode_ends:
        return True  # the last frame decides whether the episode reached its goal
    return score_every != "episode" and step % score_every == 0


def _hit_rate(scorer: RewardScorer) -> float:
    stats = scorer.cache_stats() if hasattr(scorer, "cache_stats") else None
    return float(stats["hit_rate"]) if stats else float("nan")


def _frame_from_obs(obs: Any, frame_source: str) -> np.ndarray:
    if frame_source == "observation":
        return np.asarray(obs)
    if not isinstance(obs, Mapping) or frame_source not in obs:
        raise ValueError(f"frame_source={frame_source!r} is not a key of the observation")
    return np.asarray(obs[frame_source])


class _FrameWindow:
    """Per-env history of image embeddings for multi-frame rewards (mean of the last k)."""

    def __init__(self, num_envs: int, k: int):
        self.k = k
        self.history = [deque(maxlen=k) for _ in range(num_envs)]

    def clear(self, i: int) -> None:
        self.history[i].clear()

    def __call__(self, emb, envs: Sequence[int] | None = None):
        """Push one embedding per env (``envs``: which env each row belongs to; default all)
        and return each env's window mean."""
        import torch

        from vlm_rewards.rewards import mean_embedding

        if self.k == 1:
            return emb
        rows = []
        for e, i in zip(emb, range(len(emb)) if envs is None else envs):
            self.history[i].append(e)
            rows.append(mean_embedding(torch.stack(list(self.history[i])), self.k))
        return torch.stack(rows)


# --------------------------------------------------------------------------------------
# single env
# --------------------------------------------------------------------------------------
class VLMRewardWrapper(gym.Wrapper):
    """Replace an env's reward with a VLM reward for a language goal.

    Args:
        env: the env; with ``frame_source="render"`` it must have ``render_mode="rgb_array"``.
        scorer: the :class:`~vlm_rewards.RewardScorer` (model, reward function, τ, β, negatives).
        goal: a fixed goal text; ``None`` takes each episode's goal from ``info["goal"]``
            (the built-in envs set it at reset).
        terminate_on_success: end the episode when a binary reward fires (the paper's setting).
        frame_source: ``"render"``, ``"observation"`` (the observation is the image) or
            the key of the image in a Dict observation.
        frame_window: score the mean embedding of the last k frames (1: the current frame).
        score_every: score every k-th step and the last step of an episode, or only the
            last step (``"episode"``); unscored steps get reward 0 (see the module docstring).

    Example:
        >>> env = gym.make("vlm_rewards/Phone-v0", render_mode="rgb_array")  # doctest: +SKIP
        >>> env = VLMRewardWrapper(env, scorer)  # doctest: +SKIP
        >>> obs, info = env.reset(seed=0)  # doctest: +SKIP
        >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())  # doctest: +SKIP
        >>> info["vlm_probability"], info["env_reward"]  # doctest: +SKIP
    """

    def __init__(
        self,
        env: gym.Env,
        scorer: RewardScorer,
        goal: str | None = None,
        terminate_on_success: bool = True,
        frame_source: str = "render",
        frame_window: int = 1,
        score_every: int | str = 1,
    ):
        super().__init__(env)
        self.scorer = _check_scorer(scorer)
        self.fixed_goal = check_goal(goal) if goal is not None else None
        self.terminate_on_success = bool(terminate_on_success)
        self.frame_source = _check_frame_source(frame_source)
        if self.frame_source == "render" and env.render_mode != "rgb_array":
            raise ValueError(
                f"frame_source='render' needs an env with render_mode='rgb_array', got render_mode={env.render_mode!r}"
            )
        self._window = _FrameWindow(1, check_positive_int(frame_window, "frame_window"))
        self.score_every = _check_score_every(score_every)
        self.goal: str | None = self.fixed_goal
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.goal = self.fixed_goal or info.get("goal")
        if self.goal is None:
            raise ValueError("no goal: pass goal=... to VLMRewardWrapper or use an env that sets info['goal']")
        check_goal(self.goal, "info['goal']")
        self._window.clear(0)
        self._t = 0
        info = dict(info, goal=self.goal)
        return obs, info

    def step(self, action):
        if self.goal is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        obs, env_reward, terminated, truncated, info = self.env.step(action)
        self._t += 1
        reward, prob = 0.0, float("nan")
        scored = _due(self.score_every, self._t, bool(terminated or truncated))
        if scored:
            frame = self.env.render() if self.frame_source == "render" else _frame_from_obs(obs, self.frame_source)
            emb = self._window(self.scorer.encode_frames(np.asarray(frame)[None]))
            out = self.scorer.score_embeddings(emb, [self.goal])
            reward, prob = float(out.reward[0]), float(out.score[0])
        info = dict(info, env_reward=env_reward, vlm_reward=reward, vlm_probability=prob, goal=self.goal,
                    vlm_scored=scored)
        if self.terminate_on_success and self.scorer.is_binary and reward > 0:
            terminated = True
        if terminated or truncated:
            # Only at episode ends: it is run-wide state, and step infos must be reproducible.
            info["vlm_cache_hit_rate"] = _hit_rate(self.scorer)
        return obs, reward, terminated, truncated, info


class RenderFrameInfo(gym.Wrapper):
    """Put ``env.render()`` into ``info["vlm_frame"]`` after every step.

    Stable-Baselines3 vector envs reset a finished sub-env inside ``step``; by the time
    :class:`VecVLMReward` sees the result, ``render()`` would show the next episode. The
    frame travels in ``info`` instead (also across processes with ``SubprocVecEnv``).
    """

    def __init__(self, env: gym.Env):
        super().__init__(env)
        if env.render_mode != "rgb_array":
            raise ValueError(f"RenderFrameInfo needs render_mode='rgb_array', got {env.render_mode!r}")

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, dict(info, **{_FRAME_KEY: self.env.render()})


# --------------------------------------------------------------------------------------
# goal conditioning
# --------------------------------------------------------------------------------------
def goal_embedding_table(source: Any, goals: Sequence[str]) -> dict[str, np.ndarray]:
    """``{goal: embedding}`` from a scorer or model, computed once.

    A plain dict pickles cheaply, so sub-envs in other processes need no model.
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
            self._table = {check_goal(k, "embeddings key"): np.asarray(v, dtype=np.float32) for k, v in embeddings.items()}
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
        if goal not in self._table:
            if self._source is None:
                raise ValueError(f"goal {goal!r} has no embedding in the table given to GoalEmbeddingObservation")
            self._table.update(goal_embedding_table(self._source, [goal]))
        # Embeddings are unit vectors; clipping guards float error against the Box bounds.
        return np.clip(self._table[goal], -1.0, 1.0)

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


# --------------------------------------------------------------------------------------
# Gymnasium vector env
# --------------------------------------------------------------------------------------
def _set_info(infos: dict[str, Any], key: str, values: np.ndarray, mask: np.ndarray | None = None) -> None:
    infos[key] = values
    infos[f"_{key}"] = np.ones(len(values), dtype=bool) if mask is None else mask.copy()


def _merge_infos(dst: dict[str, Any], src: dict[str, Any], rows: np.ndarray) -> dict[str, Any]:
    """Overwrite ``dst``'s entries for env ``rows`` with ``src``'s (Gymnasium vector infos)."""
    out = dict(dst)
    for key, value in src.items():
        if key.startswith("_"):
            continue
        mask = src.get(f"_{key}", np.ones(len(rows), dtype=bool)) & rows
        if isinstance(value, dict):
            out[key] = _merge_infos(out.get(key, {}), value, rows)
            continue
        if key not in out:
            out[key] = value.copy() if isinstance(value, np.ndarray) else value
            out[f"_{key}"] = mask.copy()
            continue
        target = out[key]
        if isinstance(target, np.ndarray) and target.dtype != value.dtype:
            target = target.astype(object)
        target = target.copy()
        target[mask] = value[mask]
        out[key] = target
        out[f"_{key}"] = out.get(f"_{key}", np.zeros(len(rows), dtype=bool)) | mask
    return out


class VLMRewardVectorWrapper(VectorWrapper):
    """VLM rewards for a Gymnasium vector env, all sub-envs scored in one batch.

    To end episodes when the VLM reward fires, build the vector env with
    ``autoreset_mode=AutoresetMode.DISABLED``: this wrapper then resets finished sub-envs
    itself and presents Gymnasium's SAME_STEP autoreset (the returned observation of a
    finished env is the next episode's first; the last one is in ``info["final_obs"]``).
    A NEXT_STEP vector env works with ``terminate_on_success=False``.

    Example:
        >>> envs = gym.make_vec("vlm_rewards/Phone-v0", num_envs=8, render_mode="rgb_array",
        ...                     vector_kwargs={"autoreset_mode": AutoresetMode.DISABLED})  # doctest: +SKIP
        >>> envs = VLMRewardVectorWrapper(envs, scorer)  # doctest: +SKIP

    ``score_every`` works as in :class:`VLMRewardWrapper`, counted per sub-env.
    """

    def __init__(
        self,
        env: VectorEnv,
        scorer: RewardScorer,
        goal: str | None = None,
        terminate_on_success: bool = True,
        frame_source: str = "render",
        frame_window: int = 1,
        score_every: int | str = 1,
    ):
        super().__init__(env)
        self.score_every = _check_score_every(score_every)
        self._ep_steps = np.zeros(self.num_envs, dtype=np.int64)
        self.scorer = _check_scorer(scorer)
        self.fixed_goal = check_goal(goal) if goal is not None else None
        self.frame_source = _check_frame_source(frame_source)
        self.terminate_on_success = bool(terminate_on_success) and self.scorer.is_binary
        mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        mode = AutoresetMode(mode) if not isinstance(mode, AutoresetMode) else mode
        if mode == AutoresetMode.SAME_STEP:
            raise ValueError(
                "env must use autoreset_mode DISABLED (or NEXT_STEP without terminate_on_success): with SAME_STEP "
                "the finished episode's last frame cannot be rendered"
            )
        if mode == AutoresetMode.NEXT_STEP and self.terminate_on_success:
            raise ValueError(
                "terminate_on_success=True needs a vector env made with autoreset_mode=AutoresetMode.DISABLED "
                "(the wrapper then resets finished sub-envs itself); or pass terminate_on_success=False"
            )
        self.inner_mode = mode
        self.metadata = {**env.metadata, "autoreset_mode": AutoresetMode.SAME_STEP if mode == AutoresetMode.DISABLED else mode}
        self._window = _FrameWindow(self.num_envs, check_positive_int(frame_window, "frame_window"))
        self.goals: list[str | None] = [self.fixed_goal] * self.num_envs
        self._autoreset = np.zeros(self.num_envs, dtype=bool)

    def _update_goals(self, infos: dict[str, Any], rows: np.ndarray) -> None:
        if self.fixed_goal is not None:
            return
        goals, mask = infos.get("goal"), infos.get("_goal")
        for i in np.flatnonzero(rows):
            if goals is None or mask is None or not mask[i]:
                raise ValueError("no goal: pass goal=... to the wrapper or use envs that set info['goal']")
            self.goals[i] = check_goal(goals[i], f"info['goal'] of sub-env {i}")
        for i in np.flatnonzero(rows):
            self._window.clear(i)
        self._ep_steps[rows] = 0

    def reset(self, *, seed=None, options=None):
        obs, infos = self.env.reset(seed=seed, options=options)
        self._ep_steps[:] = 0
        self._update_goals(infos, np.ones(self.num_envs, dtype=bool))
        self._autoreset[:] = False
        return obs, infos

    def _frames(self, obs) -> np.ndarray:
        if self.frame_source == "render":
            return np.stack([np.asarray(f) for f in self.env.call("render")])
        if self.frame_source == "observation":
            return np.asarray(obs)
        return np.asarray(obs[self.frame_source])

    def step(self, actions):
        obs, env_rewards, terminated, truncated, infos = self.env.step(actions)
        env_rewards = np.asarray(env_rewards, dtype=np.float32)
        # NEXT_STEP envs spend one step resetting after an episode ends: nothing to score.
        fresh = self._autoreset.copy()
        if fresh.any():
            self._update_goals(infos, fresh)
        rewards = np.zeros(self.num_envs, dtype=np.float32)
        probs = np.full(self.num_envs, np.nan, dtype=np.float32)
        live = ~fresh
        self._ep_steps[live] += 1
        ends = np.asarray(terminated, dtype=bool) | np.asarray(truncated, dtype=bool)
        scored = live.copy()
        if self.score_every != 1:
            scored &= np.array([_due(self.score_every, int(t), bool(e)) for t, e in zip(self._ep_steps, ends)])
        if scored.any():
            frames = self._frames(obs)[scored]
            emb = self._window(self.scorer.encode_frames(frames), np.flatnonzero(scored))
            out = self.scorer.score_embeddings(emb, [self.goals[i] for i in np.flatnonzero(scored)])
            rewards[scored], probs[scored] = out.reward, out.score
        terminated = np.asarray(terminated, dtype=bool).copy()
        if self.terminate_on_success:
            terminated |= live & (rewards > 0)
        truncated = np.asarray(truncated, dtype=bool)
        done = terminated | truncated
        infos = dict(infos)
        _set_info(infos, "env_reward", env_rewards)
        _set_info(infos, "vlm_reward", rewards, live)
        _set_info(infos, "vlm_probability", probs, scored)
        _set_info(infos, "vlm_scored", scored)
        _set_info(infos, "vlm_cache_hit_rate", np.full(self.num_envs, _hit_rate(self.scorer), dtype=np.float32))
        _set_info(infos, "goal", np.array(self.goals, dtype=object))
        if self.inner_mode == AutoresetMode.DISABLED:
            if done.any():
                obs, infos = self._reset_done(obs, infos, done)
            self._autoreset[:] = False
        else:
            self._autoreset = done
        return obs, rewards, terminated, truncated, infos

    def _reset_done(self, obs, infos, done: np.ndarray):
        from gymnasium.vector.utils import iterate

        final_obs = np.full(self.num_envs, None, dtype=object)
        for i, o in enumerate(iterate(self.single_observation_space, obs)):
            if done[i]:
                final_obs[i] = o
        final_info = {k: v for k, v in infos.items()}
        reset_obs, reset_infos = self.env.reset(options={"reset_mask": done.copy()})
        self._update_goals(reset_infos, done)
        infos = _merge_infos(infos, reset_infos, done)
        _set_info(infos, "goal", np.array(self.goals, dtype=object))
        _set_info(infos, "final_obs", final_obs, done)
        infos["final_info"] = final_info
        infos["_final_info"] = done.copy()
        return reset_obs, infos


# --------------------------------------------------------------------------------------
# Stable-Baselines3
# --------------------------------------------------------------------------------------
def _streamable(venv) -> bool:
    """Whether ``venv`` is an SB3 SubprocVecEnv whose workers can be read one by one."""
    from stable_baselines3.common.vec_env import SubprocVecEnv

    try:
        from stable_baselines3.common.vec_env.subproc_vec_env import _stack_obs  # noqa: F401
    except ImportError:  # a future SB3 that renamed its helper: no streaming
        return False
    return isinstance(venv, SubprocVecEnv) and hasattr(venv, "remotes")


class VecVLMReward(VecEnvWrapper):
    """VLM rewards for a Stable-Baselines3 ``VecEnv`` (``DummyVecEnv``/``SubprocVecEnv``).

    Frames come from ``info["vlm_frame"]`` (wrap each sub-env in :class:`RenderFrameInfo`)
    or from the observation (``frame_source="observation"`` or a Dict key; for a finished
    env, from ``info["terminal_observation"]``). When the VLM reward fires, the sub-env is
    reset through ``env_method("reset")`` following SB3's auto-reset convention, so this
    wrapper must sit directly on the ``DummyVecEnv``/``SubprocVecEnv``: put ``VecMonitor``
    and image wrappers outside it. When an episode ends, ``info["vlm_episode"]`` holds its
    VLM return, length, whether the VLM reward fired and whether ground truth counted it a
    success (the reward-hacking check).

    ``score_every`` works as in :class:`VLMRewardWrapper`, counted per sub-env. With
    ``async_scoring=True`` (a ``SubprocVecEnv`` directly inside) the frames of sub-envs
    that have finished their step are encoded on a background thread while the other
    worker processes are still stepping; rewards are returned for the same step and in
    sub-env order, exactly as without it. (SB3 needs step t's reward before it chooses the
    actions of step t+1, so scoring cannot overlap the next step itself.)

    Example:
        >>> venv = DummyVecEnv([lambda: RenderFrameInfo(make_env()) for _ in range(4)])  # doctest: +SKIP
        >>> venv = VecVLMReward(venv, scorer)  # doctest: +SKIP
    """

    def __init__(
        self,
        venv,
        scorer: RewardScorer,
        goal: str | None = None,
        terminate_on_success: bool = True,
        frame_source: str = "render",
        frame_window: int = 1,
        score_every: int | str = 1,
        async_scoring: bool = False,
    ):
        super().__init__(venv)
        self.score_every = _check_score_every(score_every)
        self.async_scoring = bool(async_scoring)
        if self.async_scoring and not _streamable(venv):
            raise ValueError(
                "async_scoring=True needs a stable_baselines3 SubprocVecEnv directly inside VecVLMReward "
                f"(envs stepping in worker processes to overlap with); got {type(venv).__name__}"
            )
        self.scorer = _check_scorer(scorer)
        self.fixed_goal = check_goal(goal) if goal is not None else None
        self.frame_source = _check_frame_source(frame_source)
        self.terminate_on_success = bool(terminate_on_success) and self.scorer.is_binary
        if self.terminate_on_success and isinstance(venv, VecEnvWrapper):
            raise ValueError(
                "VecVLMReward with terminate_on_success must wrap the DummyVecEnv/SubprocVecEnv directly; "
                f"got {type(venv).__name__} (put other VecEnv wrappers outside)"
            )
        self._window = _FrameWindow(self.num_envs, check_positive_int(frame_window, "frame_window"))
        self.goals: list[str | None] = [self.fixed_goal] * self.num_envs
        self._ep_return = np.zeros(self.num_envs, dtype=np.float64)
        self._ep_len = np.zeros(self.num_envs, dtype=np.int64)
        self._ep_gt = np.zeros(self.num_envs, dtype=bool)

    def _new_episode(self, info: Mapping[str, Any] | None, i: int) -> None:
        if self.fixed_goal is None:
            goal = (info or {}).get("goal")
            if goal is None:
                raise ValueError("no goal: pass goal=... to VecVLMReward or use envs that set info['goal']")
            self.goals[i] = check_goal(goal, f"info['goal'] of sub-env {i}")
        self._window.clear(i)
        self._ep_return[i], self._ep_len[i], self._ep_gt[i] = 0.0, 0, False

    def reset(self):
        obs = self.venv.reset()
        for i in range(self.num_envs):
            self._new_episode(self.venv.reset_infos[i], i)
        return obs

    def _frame_of(self, obs_i, info: dict[str, Any], done: bool) -> np.ndarray:
        """The frame to score for one sub-env (``obs_i``: its own observation); pops the
        rendered frame from ``info`` so it does not travel further."""
        if self.frame_source == "render":
            if _FRAME_KEY not in info:
                raise ValueError(
                    "frame_source='render' needs each sub-env wrapped in RenderFrameInfo "
                    "(or use frame_source='observation')"
                )
            return np.asarray(info.pop(_FRAME_KEY))
        return _frame_from_obs(info["terminal_observation"] if done else obs_i, self.frame_source)

    def _frame(self, obs, info: dict[str, Any], done: bool, i: int) -> np.ndarray:
        obs_i = None if self.frame_source == "render" else (
            obs[i] if not isinstance(obs, dict) else {k: v[i] for k, v in obs.items()})
        return self._frame_of(obs_i, info, done)

    def _is_due(self, i: int, done: bool) -> bool:
        return self.score_every == 1 or _due(self.score_every, int(self._ep_len[i]) + 1, done)

    def step_wait(self):
        if self.async_scoring:
            obs, env_rewards, dones, infos, due, emb = self._step_wait_streaming()
        else:
            obs, env_rewards, dones, infos = self.venv.step_wait()
            infos = [dict(info) for info in infos]
            dones = np.asarray(dones, dtype=bool).copy()
            due = [self._is_due(i, bool(dones[i])) for i in range(self.num_envs)]
            frames = []
            for i in range(self.num_envs):
                if due[i]:
                    frames.append(self._frame(obs, infos[i], bool(dones[i]), i))
                else:
                    infos[i].pop(_FRAME_KEY, None)
            emb = self.scorer.encode_frames(np.stack(frames)) if frames else None
        dones = np.asarray(dones, dtype=bool).copy()
        rows = [i for i in range(self.num_envs) if due[i]]
        rewards = np.zeros(self.num_envs, dtype=np.float32)
        probs = np.full(self.num_envs, np.nan, dtype=np.float32)
        if rows:
            out = self.scorer.score_embeddings(self._window(emb, rows), [self.goals[i] for i in rows])
            rewards[rows], probs[rows] = out.reward, out.score
        hit_rate = _hit_rate(self.scorer)
        for i, info in enumerate(infos):
            info.update(
                env_reward=float(env_rewards[i]),
                vlm_reward=float(rewards[i]),
                vlm_probability=float(probs[i]),
                goal=self.goals[i],
                vlm_scored=bool(due[i]),
                vlm_cache_hit_rate=hit_rate,
            )
            self._ep_return[i] += rewards[i]
            self._ep_len[i] += 1
            self._ep_gt[i] |= bool(info.get("ground_truth_success", False))
            reset_info = None
            if self.terminate_on_success and rewards[i] > 0 and not dones[i]:
                obs, reset_info = self._reset_one(obs, info, i)
                dones[i] = True
            if dones[i]:
                info["vlm_episode"] = {
                    "vlm_return": float(self._ep_return[i]),
                    "length": int(self._ep_len[i]),
                    "vlm_success": bool(rewards[i] > 0) if self.scorer.is_binary else None,
                    "ground_truth_success": bool(self._ep_gt[i]),
                    "goal": self.goals[i],
                }
                self._new_episode(reset_info if reset_info is not None else self.venv.reset_infos[i], i)
        return obs, rewards, dones, infos

    def _step_wait_streaming(self):
        """``SubprocVecEnv.step_wait`` that hands frames to the scorer as workers answer.

        Workers are read in index order (as SubprocVecEnv does); whenever the background
        encoder is idle, the frames collected so far go to it, so encoding overlaps the
        remaining workers' steps. Embeddings are reassembled in sub-env order.
        """
        from stable_baselines3.common.vec_env.subproc_vec_env import _stack_obs

        venv = self.venv
        n = self.num_envs
        min_chunk = max(1, n // 4)
        results: list[Any] = []
        due: list[bool] = []
        pending: list[int] = []
        pending_frames: list[np.ndarray] = []
        jobs: list[tuple[list[int], Any]] = []
        for i, remote in enumerate(venv.remotes):
            obs_i, rew, done, info, reset_info = remote.recv()
            info = dict(info)
            results.append((obs_i, rew, done, info, reset_info))
            due.append(self._is_due(i, bool(done)))
            if due[i]:
                pending.append(i)
                pending_frames.append(self._frame_of(obs_i, info, bool(done)))
            else:
                info.pop(_FRAME_KEY, None)
            idle = not jobs or jobs[-1][1].done()
            if pending and (i == n - 1 or (idle and len(pending) >= min_chunk)):
                jobs.append((pending, self.scorer.submit_frames(np.stack(pending_frames))))
                pending, pending_frames = [], []
        venv.waiting = False
        obs, rews, dones, infos, venv.reset_infos = zip(*results, strict=True)
        emb = None
        if jobs:
            import torch

            parts = [future.result() for _, future in jobs]
            emb = parts[0] if len(parts) == 1 else torch.cat(parts)
        return _stack_obs(obs, venv.observation_space), np.stack(rews), np.stack(dones), list(infos), due, emb

    def _reset_one(self, obs, info: dict[str, Any], i: int):
        new_obs, reset_info = self.venv.env_method("reset", indices=[i])[0]
        if isinstance(obs, dict):
            info["terminal_observation"] = {k: np.array(v[i]) for k, v in obs.items()}
            for k in obs:
                obs[k][i] = new_obs[k]
        else:
            info["terminal_observation"] = np.array(obs[i])
            obs[i] = new_obs
        info["TimeLimit.truncated"] = False
        return obs, reset_info
