"""VLM rewards for a Gymnasium vector env: all sub-envs scored in one batch.

Infos follow Gymnasium's vector layout (an array per key and a ``"_key"`` mask):
``env_reward``, ``vlm_reward`` (masked to the sub-envs that stepped), ``vlm_probability``
(masked to the scored ones), ``vlm_scored``, ``vlm_cache_hit_rate`` and ``goal``.

Example:
    >>> envs = gym.make_vec("vlm_rewards/Phone-v0", num_envs=8, render_mode="rgb_array",
    ...                     vector_kwargs={"autoreset_mode": AutoresetMode.DISABLED})  # doctest: +SKIP
    >>> envs = VLMRewardVectorWrapper(envs, scorer)  # doctest: +SKIP
    >>> obs, infos = envs.reset(seed=0)  # doctest: +SKIP
    >>> obs, rewards, terminated, truncated, infos = envs.step(envs.action_space.sample())  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper
from gymnasium.vector.utils import iterate

from vlm_rewards.scoring import RewardScorer
from vlm_rewards.wrappers.core import RewardStepSettings

__all__ = ["VLMRewardVectorWrapper"]


def _set_info(infos: dict[str, Any], key: str, values: np.ndarray, mask: np.ndarray | None = None) -> None:
    infos[key] = values
    infos[f"_{key}"] = np.ones(len(values), dtype=bool) if mask is None else mask.copy()


def _overwrite_rows(dst: dict[str, Any], src: dict[str, Any], rows: np.ndarray) -> dict[str, Any]:
    """``dst`` with the entries of sub-envs ``rows`` taken from ``src`` (both vector infos).

    Needed because this wrapper resets finished sub-envs itself (``reset_mask``), so the
    step's infos and the reset's must be combined; Gymnasium has no public helper for
    that (``VectorEnv._add_info`` is private and adds one sub-env's plain dict).
    """
    out = dict(dst)
    for key, value in src.items():
        if key.startswith("_"):
            continue
        mask = src.get(f"_{key}", np.ones(len(rows), dtype=bool)) & rows
        if isinstance(value, dict):
            out[key] = _overwrite_rows(out.get(key, {}), value, rows)
        elif key not in out:
            out[key] = value.copy() if isinstance(value, np.ndarray) else value
            out[f"_{key}"] = mask.copy()
        else:
            target = out[key]
            # A reset value of another type (e.g. a string where the step had a number) must fit.
            retype = isinstance(target, np.ndarray) and target.dtype != value.dtype
            target = target.astype(object) if retype else target.copy()
            target[mask] = value[mask]
            out[key] = target
            out[f"_{key}"] = out.get(f"_{key}", np.zeros(len(rows), dtype=bool)) | mask
    return out


class VLMRewardVectorWrapper(RewardStepSettings, VectorWrapper):
    """VLM rewards for a Gymnasium vector env, all sub-envs scored in one batch.

    To end episodes when the VLM reward fires, build the vector env with
    ``autoreset_mode=AutoresetMode.DISABLED``: this wrapper then resets finished sub-envs
    itself and presents Gymnasium's SAME_STEP autoreset (the returned observation of a
    finished env is the next episode's first; the last one is in ``info["final_obs"]``).
    A NEXT_STEP vector env works with ``terminate_on_success=False``. SAME_STEP cannot be
    wrapped: the vector env resets a finished sub-env before its last frame can be rendered.

    Arguments as :class:`~vlm_rewards.wrappers.VLMRewardWrapper`; ``score_every`` and the
    frame window are counted per sub-env.

    Example:
        >>> envs = gym.make_vec("vlm_rewards/Phone-v0", num_envs=8, render_mode="rgb_array",
        ...                     vector_kwargs={"autoreset_mode": AutoresetMode.DISABLED})  # doctest: +SKIP
        >>> envs = VLMRewardVectorWrapper(envs, scorer)  # doctest: +SKIP
    """

    def __init__(
        self,
        env: VectorEnv,
        scorer: RewardScorer,
        goal: str | None = None,
        terminate_on_success: bool = True,
        frame_source: str = "render",
        frame_window: int = 1,
        confirm: tuple[int, int] = (1, 1),
        score_every: int | str = 1,
    ):
        super().__init__(env)
        self._init_reward_step(self.num_envs, scorer, frame_source, "the wrapper", goal=goal,
                               terminate_on_success=terminate_on_success, score_every=score_every,
                               frame_window=frame_window, confirm=confirm)
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
        # NEXT_STEP envs spend the step after an episode's end resetting; Gymnasium does
        # not expose which envs those are, so the wrapper remembers the ends it returned.
        self._autoreset = np.zeros(self.num_envs, dtype=bool)

    @property
    def terminate_on_success(self) -> bool:
        return self._step.terminate_on_success

    def _start_episodes(self, infos: dict[str, Any], rows: np.ndarray) -> None:
        goals, mask = infos.get("goal"), infos.get("_goal")
        for i in np.flatnonzero(rows):
            has_goal = goals is not None and mask is not None and mask[i]
            self._step.start_episode(int(i), {"goal": goals[i]} if has_goal else None)

    def reset(self, *, seed=None, options=None):
        obs, infos = self.env.reset(seed=seed, options=options)
        self._start_episodes(infos, np.ones(self.num_envs, dtype=bool))
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
        fresh = self._autoreset.copy()
        if fresh.any():
            self._start_episodes(infos, fresh)
        live = ~fresh
        terminated = np.asarray(terminated, dtype=bool)
        truncated = np.asarray(truncated, dtype=bool)
        due = self._step.due(terminated | truncated, live)
        frames = self._frames(obs)[due] if due.any() else None
        out = self._step.apply(frames, env_rewards, terminated, truncated, infos, active=live)
        terminated = out.terminated
        done = terminated | truncated
        infos = dict(infos)
        _set_info(infos, "env_reward", env_rewards)
        _set_info(infos, "vlm_reward", out.rewards, live)
        _set_info(infos, "vlm_probability", out.probs, out.scored)
        _set_info(infos, "vlm_scored", out.scored)
        _set_info(infos, "vlm_cache_hit_rate", np.full(self.num_envs, out.cache_hit_rate, dtype=np.float32))
        _set_info(infos, "goal", np.array(out.goals, dtype=object))
        if self.inner_mode == AutoresetMode.DISABLED:
            if done.any():
                obs, infos = self._reset_done(obs, infos, done)
            self._autoreset[:] = False
        else:
            self._autoreset = done
        return obs, out.rewards, terminated, truncated, infos

    def _reset_done(self, obs, infos, done: np.ndarray):
        """Gymnasium's SAME_STEP autoreset for the finished sub-envs (of a DISABLED vector env)."""
        final_obs = np.full(self.num_envs, None, dtype=object)
        for i, o in enumerate(iterate(self.single_observation_space, obs)):
            if done[i]:
                final_obs[i] = o
        final_info = dict(infos)
        reset_obs, reset_infos = self.env.reset(options={"reset_mask": done.copy()})
        self._start_episodes(reset_infos, done)
        infos = _overwrite_rows(infos, reset_infos, done)
        _set_info(infos, "goal", np.array(self.goals, dtype=object))
        _set_info(infos, "final_obs", final_obs, done)
        infos["final_info"] = final_info
        infos["_final_info"] = done.copy()
        return reset_obs, infos
