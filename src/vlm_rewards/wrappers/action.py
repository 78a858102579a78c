"""The agent's previous action, one-hot, and the step's own senses, as a policy input.

A feed-forward policy has no memory, and in a 3D room that costs it twice: a stochastic
policy that scans for its goal by turning may dither (left, right, left) instead of sweeping
the room one way, and after "forward" into an object it cannot tell, from a view that did not
change, that it pushed rather than stood. Agents with a recurrent core (IMPALA's, R2D2's) are
commonly given the last action as an input. Whether a push moved the agent is in principle
visible beside the previous view (:class:`~vlm_rewards.wrappers.stack.FrameStackImage`), but
0.2 m changes a view little: trained House agents with both still pressed "forward" into an
object for most of some episodes. ``flags`` appends boolean ``info`` keys of the step to the
one-hot, e.g. House's bump sensor ``"blocked"``. Measured on House (one room):
docs/results/agents/README.md, the twelfth session's section.

Example:
    >>> env = PreviousActionObservation(GoalEmbeddingObservation(house_env, table), flags=("blocked",))  # doctest: +SKIP
    >>> env.observation_space["prev_action"].shape  # six walk actions, then the flag  # doctest: +SKIP
    (7,)
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = ["PreviousActionObservation"]


class PreviousActionObservation(gym.Wrapper):
    """Add ``obs["prev_action"]``: the one-hot of the action that led to this observation
    (all zeros after a reset, when there was none), then one 0/1 entry per ``flags`` key of
    the step's ``info`` (0 when the info lacks it, and after a reset).

    Args:
        env: an env with a Dict observation and a Discrete action space.
        flags: names of boolean ``info`` keys to append.
    """

    def __init__(self, env: gym.Env, flags: tuple[str, ...] = ()):
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, spaces.Dict):
            raise TypeError("env must have a Dict observation (wrap it in GoalEmbeddingObservation first)")
        if "prev_action" in space.spaces:
            raise ValueError("env's observation already has a 'prev_action' key")
        if not isinstance(env.action_space, spaces.Discrete):
            raise TypeError(f"env must have a Discrete action space, got {env.action_space}")
        self._n = int(env.action_space.n)
        self._start = int(env.action_space.start)
        if isinstance(flags, str) or not all(isinstance(f, str) and f for f in flags):
            raise TypeError(f"flags must be a sequence of info key names, got {flags!r}")
        self.flags = tuple(flags)
        size = self._n + len(self.flags)
        self.observation_space = spaces.Dict({**space.spaces, "prev_action": spaces.Box(0.0, 1.0, (size,), np.float32)})

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        return {**obs, "prev_action": np.zeros(self._n + len(self.flags), np.float32)}, info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        value = np.zeros(self._n + len(self.flags), np.float32)
        value[int(action) - self._start] = 1.0
        for i, flag in enumerate(self.flags):
            value[self._n + i] = float(bool(info.get(flag, False)))
        return {**obs, "prev_action": value}, reward, terminated, truncated, info
