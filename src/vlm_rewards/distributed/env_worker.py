"""The Ray actor behind :class:`~vlm_rewards.distributed.RayVecEnv`: a few envs stepped
together, rewarded by the pool.

Kept free of Stable-Baselines3 and torch imports so that env workers start fast and
stay small; the frames go straight from the worker to the reward actors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import ray

from vlm_rewards._validation import check_goal
from vlm_rewards.wrappers import _frame_from_obs

__all__ = ["EnvWorker"]


class EnvWorker:
    """Steps ``len(env_fns)`` envs; one pool request per step scores all their frames
    (with no pool, the envs' own rewards pass through).

    Follows Stable-Baselines3's VecEnv conventions per env: a finished env is reset at
    once, its last observation goes to ``info["terminal_observation"]`` and
    ``info["TimeLimit.truncated"]`` says whether the episode was cut by a time limit.
    The VLM reward replaces the env's (kept in ``info["env_reward"]``), with
    ``info["vlm_reward"]``, ``info["vlm_probability"]``, ``info["goal"]`` and, when an
    episode ends, ``info["vlm_episode"]`` as :class:`~vlm_rewards.VecVLMReward` gives them.
    """

    def __init__(self, env_fns: Sequence[Callable[[], gym.Env]], pool: Any, goal: str | None,
                 terminate_on_success: bool, frame_source: str):
        import vlm_rewards.envs  # noqa: F401  (factories may gym.make the built-in ids)

        self.envs = [fn() for fn in env_fns]
        for i, env in enumerate(self.envs):
            if not isinstance(env, gym.Env):
                raise TypeError(f"env_fns[{i}] must return a gymnasium.Env, got {type(env).__name__}")
            if pool is not None and frame_source == "render" and env.render_mode != "rgb_array":
                raise ValueError(
                    f"frame_source='render' needs envs made with render_mode='rgb_array', got {env.render_mode!r}"
                )
        self.pool = pool  # None: the envs' own rewards (e.g. a ground-truth baseline)
        self.fixed_goal = goal
        self.terminate_on_success = pool is not None and terminate_on_success and pool.is_binary
        self.frame_source = frame_source
        n = len(self.envs)
        self.goals: list[str | None] = [goal] * n
        self._ep_return = np.zeros(n, dtype=np.float64)
        self._ep_len = np.zeros(n, dtype=np.int64)
        self._ep_gt = np.zeros(n, dtype=bool)
        self.restarted = bool(ray.get_runtime_context().was_current_actor_reconstructed)

    def describe(self) -> dict[str, Any]:
        env = self.envs[0]
        return {
            "observation_space": env.observation_space,
            "action_space": env.action_space,
            "render_mode": env.render_mode,
            "restarted": self.restarted,
        }

    def _new_episode(self, i: int, info: Mapping[str, Any]) -> None:
        if self.fixed_goal is None and self.pool is not None:
            goal = info.get("goal")
            if goal is None:
                raise ValueError("no goal: pass goal=... to RayVecEnv or use envs that set info['goal']")
            self.goals[i] = check_goal(goal, f"info['goal'] of env {i}")
        self._ep_return[i], self._ep_len[i], self._ep_gt[i] = 0.0, 0, False

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
        if self.pool is None:
            return self._step_env_rewards(actions)
        results, frames = [], []
        for env, action in zip(self.envs, actions):
            obs, env_reward, terminated, truncated, info = env.step(action)
            # The worker renders before it resets a finished env, so the last frame of an
            # episode is the one scored (no RenderFrameInfo needed).
            frame = env.render() if self.frame_source == "render" else _frame_from_obs(obs, self.frame_source)
            frames.append(np.asarray(frame))
            results.append((obs, float(env_reward), bool(terminated), bool(truncated), dict(info)))
        out = self.pool.score(frames, list(self.goals))
        rewards = np.asarray(out.reward, dtype=np.float32)
        obs_out, dones, infos, reset_infos = [], np.zeros(len(self.envs), dtype=bool), [], []
        for i, (obs, env_reward, terminated, truncated, info) in enumerate(results):
            info.update(env_reward=env_reward, vlm_reward=float(rewards[i]),
                        vlm_probability=float(out.score[i]), goal=self.goals[i])
            self._ep_return[i] += rewards[i]
            self._ep_len[i] += 1
            self._ep_gt[i] |= bool(info.get("ground_truth_success", False))
            if self.terminate_on_success and rewards[i] > 0:
                terminated = True
            dones[i] = terminated or truncated
            info["TimeLimit.truncated"] = truncated and not terminated
            reset_info = None
            if dones[i]:
                info["terminal_observation"] = obs
                info["vlm_episode"] = {
                    "vlm_return": float(self._ep_return[i]),
                    "length": int(self._ep_len[i]),
                    "vlm_success": bool(rewards[i] > 0) if self.pool.is_binary else None,
                    "ground_truth_success": bool(self._ep_gt[i]),
                    "goal": self.goals[i],
                }
                obs, reset_info = self.envs[i].reset()
                self._new_episode(i, reset_info)
            obs_out.append(obs)
            infos.append(info)
            reset_infos.append(reset_info)
        return obs_out, rewards, dones, infos, reset_infos

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
