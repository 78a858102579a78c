"""A convolutional stem for CLIP's image tower, in place of its one-layer patch projection.

A ViT cuts the frame into patches and projects each with one linear map, so what it knows of
shape inside a patch is what that map can see. A few small strided convolutions in its place
(the "early convolutions" of Xiao et al., 2021) give the tower local shape features before
attention mixes the patches. On the House corpus this helps exactly where the patch
projection fails: telling a ball from a key of the same colour, and so the colour-object
pairs no caption names (see the default model's card).

The stem keeps the token grid of the patch projection (``image_size / patch_size`` per side)
and its output width, so the rest of ``CLIPModel`` is unchanged. A model with a stem says so
in its config (``vision_config.vlm_rewards_stem = "conv"``); building or loading one goes
through :func:`stem_models`, which :func:`vlm_rewards.load_model` and
:func:`vlm_rewards.pretrain.build_model` use. Plain ``CLIPModel.from_pretrained`` would load
such a directory with the stem's weights left out (it warns about them).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from torch import nn

__all__ = ["STEMS", "STEM_KEY", "ConvStem", "check_patch_size", "conv_stem", "stem_models", "stem_of"]

#: The config attribute (of the vision config) that names a model's stem.
STEM_KEY = "vlm_rewards_stem"
#: "patch": CLIP's own patch projection; "conv": :func:`conv_stem`.
STEMS = ("patch", "conv")


class ConvStem(nn.Sequential):
    """Strided convolutions with GELUs between them, standing in for ``patch_embedding``."""

    @property
    def weight(self):
        # CLIPVisionEmbeddings casts its input to patch_embedding.weight's dtype.
        return self[0].weight


def check_patch_size(patch_size: int) -> None:
    """The conv stem halves the frame per layer, so the patch size must be a power of two >= 4."""
    if patch_size < 4 or patch_size & (patch_size - 1):
        raise ValueError(f"patch_size must be a power of two >= 4 for the conv stem, got {patch_size}")


def conv_stem(width: int, patch_size: int, channels: int = 32) -> ConvStem:
    """Stride-2 3x3 convolutions (``channels``, doubling) and a final 2x2 stride-2 one to
    ``width``: a ``patch_size``-fold downsampling, like the patch projection it replaces.

    Example:
        >>> import torch
        >>> conv_stem(64, 8)(torch.zeros(1, 3, 64, 64)).shape
        torch.Size([1, 64, 8, 8])
    """
    check_patch_size(patch_size)
    layers: list[nn.Module] = []
    c_in, c_out = 3, channels
    for _ in range(patch_size.bit_length() - 2):  # log2(patch_size) - 1 stride-2 3x3 layers
        layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.GELU()]
        c_in, c_out = c_out, 2 * c_out
    layers.append(nn.Conv2d(c_in, width, 2, stride=2, bias=False))
    return ConvStem(*layers)


def stem_of(config) -> str:
    """The stem a (CLIP or CLIP vision) config names: "patch" unless it names another."""
    vision = getattr(config, "vision_config", config)
    stem = getattr(vision, STEM_KEY, None) or "patch"
    if stem not in STEMS:
        raise ValueError(f"{STEM_KEY} must be one of {STEMS}, got {stem!r}")
    return stem


_lock = threading.RLock()


@contextlib.contextmanager
def stem_models() -> Iterator[None]:
    """While active, a ``CLIPVisionEmbeddings`` built from a config that names the conv stem
    gets one (built inside its constructor, so the weights' initialisation and the order of
    random draws are those of any other submodule; models without it are built as usual)."""
    from transformers.models.clip import modeling_clip

    cls = modeling_clip.CLIPVisionEmbeddings
    with _lock:
        original = cls.__init__

        def __init__(self, config):
            original(self, config)
            if stem_of(config) == "conv":
                self.patch_embedding = conv_stem(config.hidden_size, config.patch_size)

        cls.__init__ = __init__
        try:
            yield
        finally:
            cls.__init__ = original
