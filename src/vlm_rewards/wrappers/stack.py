"""The last few views, stacked along the colour channels, as the policy's image.

A feed-forward policy sees one frame. In a 3D room that hides a simple fact: walking into an
object or a wall leaves the view unchanged, and an obstacle just below the field of view is
invisible. Trained House agents were seen pressing "forward" against a box at the bottom edge
of the view for the rest of the episode, the goal in plain sight. With the previous view beside
the current one, "I pushed forward and nothing moved" is visible, so the policy can step
aside (DQN's frame stack, for the same reason: what one frame cannot show).

:class:`FrameStackImage` keeps the newest frame last: ``obs["image"][..., -3:]`` is the
current view, so wrappers that read the view (the VLM's patch features) take those channels.

Example:
    >>> env = FrameStackImage(GoalEmbeddingObservation(house_env, table), 2)  # doctest: +SKIP
    >>> env.observation_space["image"].shape  # doctest: +SKIP
    (64, 64, 6)
"""

from __future__ import annotations

from collections import deque
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = ["FrameStackImage", "current_view"]


def current_view(image: np.ndarray) -> np.ndarray:
    """The newest ``(..., H, W, 3)`` frame of a stacked (or plain) channels-last image."""
    return np.asarray(image)[..., -3:]


class FrameStackImage(gym.Wrapper):
    """Replace ``obs["image"]`` ``(H, W, C)`` with the last ``k`` of them, ``(H, W, k * C)``,
    oldest first; at reset the first view fills every slot.

    Args:
        env: an env with a Dict observation holding a channels-last uint8 ``"image"``.
        k: how many views (>= 1; 1 leaves the observation as it is).
    """

    def __init__(self, env: gym.Env, k: int):
        super().__init__(env)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be an int >= 1, got {k!r}")
        space = env.observation_space
        if not isinstance(space, spaces.Dict) or "image" not in space.spaces:
            raise TypeError("env must have a Dict observation with an 'image' key (wrap it in GoalEmbeddingObservation first)")
        image = space["image"]
        if not isinstance(image, spaces.Box) or len(image.shape) != 3 or image.dtype != np.uint8:
            raise ValueError(f"obs['image'] must be a (H, W, C) uint8 Box, got {image}")
        self.k = k
        h, w, c = image.shape
        self.observation_space = spaces.Dict({**space.spaces, "image": spaces.Box(0, 255, (h, w, k * c), np.uint8)})
        self._frames: deque[np.ndarray] = deque(maxlen=k)

    def _observe(self, obs: dict[str, Any]) -> dict[str, Any]:
        return {**obs, "image": np.concatenate(list(self._frames), axis=-1)}

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        for _ in range(self.k):
            self._frames.append(np.asarray(obs["image"]).copy())
        return self._observe(obs), info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._frames.append(np.asarray(obs["image"]).copy())
        return self._observe(obs), reward, terminated, truncated, info
