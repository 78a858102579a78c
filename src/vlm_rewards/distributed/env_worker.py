"""The Ray actor behind :class:`~vlm_rewards.distributed.RayVecEnv`: a few envs stepped
together, rewarded by the pool.

The reward step is the wrappers' own :class:`~vlm_rewards.wrappers.core.RewardStep`
with the pool as its (remote) scorer, so an agent trained on Ray sees the rewards,
terminations and episode records it would see under :class:`~vlm_rewards.VecVLMReward`.
Kept free of Stable-Baselines3 and torch imports (``tests/distributed/test_env_worker.py``
checks) so that env workers start fast and stay small; the frames go straight from the
worker to the reward actors.

Example:
    >>> worker = ray.remote(EnvWorker).remote([make_env] * 4, pool.client(), None, True, "render")  # doctest: +SKIP
    >>> obs, infos = ray.get(worker.reset.remote([0, 1, 2, 3], [{}] * 4))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import ray

from vlm_rewards.wrappers.core import RewardStep, check_render_mode, frame_of

__all__ = ["EnvWorker"]


class EnvWorker:
    """Steps ``len(env_fns)`` envs; one pool request per step scores all their frames
    (with no pool, the envs' own rewards pass through).

    Follows Stable-Baselines3's VecEnv conventions per env: a finished env is reset at
    once, its last observation goes to ``info["terminal_observation"]`` and
    ``info["TimeLimit.truncated"]`` says whether the episode was cut by a time limit.
    The VLM reward replaces the env's (kept in ``info["env_reward"]``), with
    ``info["vlm_reward"]``, ``info["vlm_probability"]``, ``info["goal"]``,
    ``info["vlm_scored"]`` and, when an episode ends, ``info["vlm_episode"]`` as
    :class:`~vlm_rewards.VecVLMReward` gives them (every step is scored; the pool has no
    frame window).

    Example:
        >>> worker = ray.remote(EnvWorker).remote([make_env] * 2, pool.client(), None, True, "render")  # doctest: +SKIP
        >>> obs, rewards, dones, infos, reset_infos = ray.get(worker.step.remote([0, 1]))  # doctest: +SKIP
    """

    def __init__(self, env_fns: Sequence[Callable[[], gym.Env]], pool: Any, goal: str | None,
                 terminate_on_success: bool, frame_source: str, confirm: tuple[int, int] = (1, 1)):
        import vlm_rewards.envs  # noqa: F401  (factories may gym.make the built-in ids)

        self.envs = [fn() for fn in env_fns]
        for i, env in enumerate(self.envs):
            if not isinstance(env, gym.Env):
                raise TypeError(f"env_fns[{i}] must return a gymnasium.Env, got {type(env).__name__}")
            if pool is not None:
                check_render_mode(env.render_mode, frame_source)
        self.pool = pool  # None: the envs' own rewards (e.g. a ground-truth baseline)
        self.fixed_goal = goal
        self.frame_source = frame_source
        self._step = None if pool is None else RewardStep(
            len(self.envs), pool, goal=goal, terminate_on_success=terminate_on_success, owner="RayVecEnv",
            confirm=confirm)
        self.restarted = bool(ray.get_runtime_context().was_current_actor_reconstructed)

    def describe(self) -> dict[str, Any]:
        env = self.envs[0]
        return {
            "observation_space": env.observation_space,
            "action_space": env.action_space,
            "render_mode": env.render_mode,
            "restarted": self.restarted,
        }

    @property
    def terminate_on_success(self) -> bool:
        return self._step is not None and self._step.terminate_on_success

    @property
    def goals(self) -> list[str | None]:
        """Each env's current goal."""
        return self._step.goals if self._step is not None else [self.fixed_goal] * len(self.envs)

    def _new_episode(self, i: int, info: Mapping[str, Any]) -> None:
        if self._step is not None:
            self._step.start_episode(i, info)

    def reset(self, seeds: Sequence[int | None], options: Sequence[dict[str, Any]]):
        obs, infos = [], []
        for i, env in enumerate(self.envs):
            kwargs = {"options": options[i]} if options[i] else {}
            o, info = env.reset(seed=seeds[i], **kwargs)
            self._new_episode(i, info)
            obs.append(o)
            infos.append(info)
        return obs, infos

    def step(self, actions: Sequence[Any]):
        if self._step is None:
            return self._step_env_rewards(actions)
        results, frames = [], []
        for env, action in zip(self.envs, actions):
            obs, env_reward, terminated, truncated, info = env.step(action)
            # The worker renders before it resets a finished env, so the last frame of an
            # episode is the one scored (no RenderFrameInfo needed).
            frames.append(frame_of(env, obs, self.frame_source))
            results.append((obs, float(env_reward), bool(terminated), bool(truncated), dict(info)))
        env_rewards, terminated, truncated, infos = zip(*[r[1:] for r in results])
        out = self._step.apply(frames, env_rewards, terminated, truncated, infos)
        obs_out, dones, reset_infos = [], np.zeros(len(self.envs), dtype=bool), []
        for i, (obs, env_reward, _, truncated_i, info) in enumerate(results):
            info.update(env_reward=env_reward, **out.info(i))
            terminated_i = bool(out.terminated[i])
            dones[i] = terminated_i or truncated_i
            info["TimeLimit.truncated"] = truncated_i and not terminated_i
            reset_info = None
            if dones[i]:
                info["terminal_observation"] = obs
                info["vlm_episode"] = out.episodes[i]
                obs, reset_info = self.envs[i].reset()
                self._new_episode(i, reset_info)
            obs_out.append(obs)
            reset_infos.append(reset_info)
        return obs_out, out.rewards, dones, list(infos), reset_infos

    def _step_env_rewards(self, actions: Sequence[Any]):
        obs_out, rewards, dones, infos, reset_infos = [], [], [], [], []
        for env, action in zip(self.envs, actions):
            obs, reward, terminated, truncated, info = env.step(action)
            info = dict(info)
            info["TimeLimit.truncated"] = bool(truncated and not terminated)
            reset_info = None
            if terminated or truncated:
                info["terminal_observation"] = obs
                obs, reset_info = env.reset()
            obs_out.append(obs)
            rewards.append(float(reward))
            dones.append(bool(terminated or truncated))
            infos.append(info)
            reset_infos.append(reset_info)
        return obs_out, np.asarray(rewards, dtype=np.float32), np.asarray(dones, dtype=bool), infos, reset_infos

    # --- SB3 VecEnv plumbing -------------------------------------------------------------
    def get_attr(self, name: str, indices: Sequence[int]) -> list[Any]:
        return [self.envs[i].get_wrapper_attr(name) for i in indices]

    def set_attr(self, name: str, value: Any, indices: Sequence[int]) -> None:
        for i in indices:
            setattr(self.envs[i], name, value)

    def env_method(self, name: str, args: tuple, kwargs: dict[str, Any], indices: Sequence[int]) -> list[Any]:
        return [self.envs[i].get_wrapper_attr(name)(*args, **kwargs) for i in indices]

    def env_is_wrapped(self, wrapper_class: type, indices: Sequence[int]) -> list[bool]:
        out = []
        for i in indices:
            env, found = self.envs[i], False
            while isinstance(env, gym.Wrapper):
                if isinstance(env, wrapper_class):
                    found = True
                    break
                env = env.env
            out.append(found)
        return out

    def render(self, indices: Sequence[int]) -> list[Any]:
        return [self.envs[i].render() for i in indices]

    def close(self) -> None:
        for env in self.envs:
            env.close()
