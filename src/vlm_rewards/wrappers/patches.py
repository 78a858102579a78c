"""The VLM's per-patch view embeddings, as a policy input.

A policy trained from scratch on a sparse reward must learn to see: which blob of pixels is
"the red ball", from a few hundred successes per goal. The reward VLM has already learned
that from its corpus. :class:`PatchFeatureObservation` hands its spatial knowledge to the
policy: the frozen image tower's patch tokens of the view, projected into the image-text
space (``model.encode_patches``: ``(D, h, w)``, unit vectors), under ``obs["patches"]``. A
patch's dot product with the goal's text embedding (``obs["goal"]``, from the same VLM) is a
candidate map of where the goal's object is; how far it localises depends on the VLM (the
built-in House model's crops did not), so the policy learns how far to trust it.

:class:`~vlm_rewards.wrappers.VecPatchFeatures` does the same for a whole SB3 ``VecEnv``
with one batched encoding per step (training); this wrapper serves single envs (evaluation).

Example:
    >>> env = PatchFeatureObservation(GoalEmbeddingObservation(house_env, table), model)  # doctest: +SKIP
    >>> env.observation_space["patches"].shape  # doctest: +SKIP
    (128, 8, 8)
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from vlm_rewards.wrappers.stack import current_view

__all__ = ["PATCHES_KEY", "PatchFeatureObservation", "patch_encoder", "patch_space", "view_patches"]

PATCHES_KEY = "patches"


def patch_encoder(model: Any) -> Any:
    """``frames (N, H, W, 3) uint8 -> (N, D, h, w) float32`` of a VLM (or a RewardScorer's)."""
    encode = getattr(model, "encode_patches", None) or getattr(getattr(model, "model", None), "encode_patches", None)
    if encode is None:
        raise TypeError(f"model must be a VLM with encode_patches (CLIP-style), got {type(model).__name__}")

    def run(frames: np.ndarray) -> np.ndarray:
        out = encode(frames)
        return (out.float().cpu().numpy() if hasattr(out, "cpu") else np.asarray(out)).astype(np.float32, copy=False)

    return run


def view_patches(encode: Any, images: np.ndarray) -> np.ndarray:
    """``obs["patches"]`` of a batch of (possibly stacked) ``(N, H, W, 3k)`` images: the
    newest view's patch embeddings, within the Box bounds."""
    return np.clip(encode(np.ascontiguousarray(current_view(images))), -1.0, 1.0)


def patch_space(encode: Any, image_space: spaces.Space) -> spaces.Box:
    """The Box of ``obs["patches"]``, its shape probed with one blank frame of ``image_space``
    (``(H, W, 3)``, or ``(H, W, 3k)`` stacked by FrameStackImage: the newest view is encoded)."""
    shape = getattr(image_space, "shape", None)
    if shape is None or len(shape) != 3 or shape[-1] % 3:
        raise ValueError(f"obs['image'] must be (H, W, 3) frames (or k of them stacked), got shape {shape}")
    probe = encode(np.zeros((1, *shape[:2], 3), np.uint8))
    return spaces.Box(-1.0, 1.0, probe.shape[1:], np.float32)


class PatchFeatureObservation(gym.ObservationWrapper):
    """Add ``obs["patches"]``: the VLM's ``(D, h, w)`` patch embeddings of ``obs["image"]``.

    Args:
        env: an env with a Dict observation holding ``"image"`` ``(H, W, 3)`` uint8 (e.g.
            :class:`~vlm_rewards.wrappers.GoalEmbeddingObservation`).
        model: a VLM with ``encode_patches`` (or a RewardScorer holding one); frozen.
    """

    def __init__(self, env: gym.Env, model: Any):
        super().__init__(env)
        if not isinstance(env.observation_space, spaces.Dict) or "image" not in env.observation_space.spaces:
            raise TypeError("env must have a Dict observation with an 'image' key (wrap it in GoalEmbeddingObservation first)")
        self._encode = patch_encoder(model)
        self.observation_space = spaces.Dict({**env.observation_space.spaces,
                                              PATCHES_KEY: patch_space(self._encode, env.observation_space["image"])})

    def observation(self, observation: dict[str, Any]) -> dict[str, Any]:
        return {**observation, PATCHES_KEY: view_patches(self._encode, np.asarray(observation["image"])[None])[0]}
