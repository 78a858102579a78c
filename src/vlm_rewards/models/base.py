"""The protocol every VLM backend implements, and the errors loading can raise."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch


class ModelNotAvailableError(OSError):
    """The model's weights are not on disk and cannot be fetched (offline, no hub access)."""


class ModelLoadError(ValueError):
    """The model's files are on disk but unusable (corrupted, truncated, inconsistent)."""


@runtime_checkable
class VisionLanguageModel(Protocol):
    """A contrastive image-text model: both encoders return L2-normalised rows.

    ``encode_images`` takes a batch of RGB frames (uint8 0-255 or float 0-1, shape
    ``(N, H, W, 3)``, numpy or torch) and returns ``(N, D)``; ``encode_texts`` takes
    ``M`` strings and returns ``(M, D)``. Both return float32 tensors on ``device``.
    """

    name: str

    @property
    def num_parameters(self) -> int: ...

    @property
    def logit_scale(self) -> float:
        """The learned inverse temperature (CLIP: 100); the reward's default τ is its inverse."""
        ...

    @property
    def device(self) -> torch.device: ...

    def encode_images(self, frames: Any) -> torch.Tensor: ...

    def encode_texts(self, texts: list[str]) -> torch.Tensor: ...
