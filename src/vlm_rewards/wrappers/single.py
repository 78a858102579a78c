"""VLM reward for one Gymnasium env (:class:`VLMRewardWrapper`) and :class:`RenderFrameInfo`.

Example:
    >>> env = gym.make("vlm_rewards/Phone-v0", render_mode="rgb_array")  # doctest: +SKIP
    >>> env = VLMRewardWrapper(env, scorer)  # doctest: +SKIP
    >>> obs, info = env.reset(seed=0)  # doctest: +SKIP
    >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())  # doctest: +SKIP
    >>> info["vlm_probability"], info["env_reward"]  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from vlm_rewards.scoring import RewardScorer
from vlm_rewards.wrappers.core import FRAME_KEY, RewardStepSettings, check_render_mode, frame_of

__all__ = ["RenderFrameInfo", "VLMRewardWrapper"]


class VLMRewardWrapper(RewardStepSettings, gym.Wrapper):
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
        confirm: ``(k, n)``: the binary reward fires only once k of the last n scored frames
            of the episode passed β (``(1, 1)``: the paper's rule). More precision, less
            recall: see :class:`~vlm_rewards.wrappers.core.RewardStep`.
        score_every: score every k-th step and the last step of an episode, or only the
            last step (``"episode"``); unscored steps get reward 0.

    ``info["vlm_cache_hit_rate"]`` is reported at episode ends only: it is run-wide
    state, and step infos must be reproducible.

    Example:
        >>> env = VLMRewardWrapper(gym.make("vlm_rewards/Phone-v0", render_mode="rgb_array"), scorer)  # doctest: +SKIP
        >>> obs, info = env.reset(seed=0)  # doctest: +SKIP
        >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())  # doctest: +SKIP
    """

    def __init__(
        self,
        env: gym.Env,
        scorer: RewardScorer,
        goal: str | None = None,
        terminate_on_success: bool = True,
        frame_source: str = "render",
        frame_window: int = 1,
        confirm: tuple[int, int] = (1, 1),
        score_every: int | str = 1,
    ):
        super().__init__(env)
        self._init_reward_step(1, scorer, frame_source, "VLMRewardWrapper", goal=goal,
                               terminate_on_success=terminate_on_success, score_every=score_every,
                               frame_window=frame_window, confirm=confirm)
        check_render_mode(env.render_mode, self.frame_source)
        # The wrapper's own flag (not the step's, which is off for non-binary rewards) for back-compatibility.
        self.terminate_on_success = bool(terminate_on_success)

    @property
    def goal(self) -> str | None:
        """The current episode's goal."""
        return self._step.goals[0]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._step.start_episode(0, info)
        return obs, dict(info, goal=self.goal)

    def step(self, action):
        if self.goal is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        obs, env_reward, terminated, truncated, info = self.env.step(action)
        ends = [bool(terminated or truncated)]
        frames = np.asarray(frame_of(self.env, obs, self.frame_source))[None] if self._step.due(ends)[0] else None
        out = self._step.apply(frames, [env_reward], [terminated], [truncated], [info])
        info = dict(info, env_reward=env_reward, **out.info(0))
        if out.terminated[0] and not terminated:
            terminated = True
        if terminated or truncated:
            info["vlm_cache_hit_rate"] = out.cache_hit_rate
        return obs, float(out.rewards[0]), terminated, truncated, info


class RenderFrameInfo(gym.Wrapper):
    """Put ``env.render()`` into ``info["vlm_frame"]`` after every step.

    Stable-Baselines3 vector envs reset a finished sub-env inside ``step``; by the time
    :class:`~vlm_rewards.wrappers.VecVLMReward` sees the result, ``render()`` would show
    the next episode. The frame travels in ``info`` instead (also across processes with
    ``SubprocVecEnv``).

    Example:
        >>> venv = DummyVecEnv([lambda: RenderFrameInfo(make_env()) for _ in range(4)])  # doctest: +SKIP
    """

    def __init__(self, env: gym.Env):
        super().__init__(env)
        if env.render_mode != "rgb_array":
            raise ValueError(f"RenderFrameInfo needs render_mode='rgb_array', got {env.render_mode!r}")

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, dict(info, **{FRAME_KEY: self.env.render()})
