"""Batched image preprocessing in torch, driven by a model's ``preprocessor_config.json``.

Hugging Face image processors work image by image in PIL/numpy (or need torchvision
for their fast variants). RL rollouts hand us whole batches of uint8 frames, so we do
the same resize / centre-crop / rescale / normalise in a few tensor ops on the model's
device. Resizing uses torch's antialiased interpolation, which differs from PIL's by
at most a few grey levels; the embeddings agree to within that.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
# PIL resample codes used in HF preprocessor configs.
_RESAMPLE = {0: "nearest", 1: "bicubic", 2: "bilinear", 3: "bicubic", 4: "bilinear", 5: "bicubic"}
_RESAMPLE[1] = "bicubic"  # LANCZOS has no torch kernel; bicubic is the closest


@dataclass(frozen=True)
class ImagePreprocessor:
    """Resize (shortest edge or exact size), optional centre crop, rescale and normalise.

    Example:
        >>> import torch
        >>> pre = ImagePreprocessor(shortest_edge=8, crop=(8, 8))
        >>> pre(torch.zeros(2, 16, 32, 3, dtype=torch.uint8)).shape
        torch.Size([2, 3, 8, 8])
    """

    shortest_edge: int | None = None
    size: tuple[int, int] | None = None  # (height, width) for exact resizing
    crop: tuple[int, int] | None = None  # (height, width)
    resample: str = "bicubic"
    rescale_factor: float = 1.0 / 255.0
    mean: tuple[float, float, float] = OPENAI_CLIP_MEAN
    std: tuple[float, float, float] = OPENAI_CLIP_STD

    @property
    def output_size(self) -> tuple[int, int]:
        if self.crop is not None:
            return self.crop
        if self.size is not None:
            return self.size
        assert self.shortest_edge is not None
        return (self.shortest_edge, self.shortest_edge)

    @classmethod
    def from_dict(cls, cfg: dict[str, Any], default_size: int = 224) -> ImagePreprocessor:
        size_cfg = cfg.get("size", default_size) if cfg.get("do_resize", True) else None
        shortest = exact = None
        if isinstance(size_cfg, int):
            shortest = size_cfg
        elif isinstance(size_cfg, dict):
            if "shortest_edge" in size_cfg:
                shortest = int(size_cfg["shortest_edge"])
            elif "height" in size_cfg and "width" in size_cfg:
                exact = (int(size_cfg["height"]), int(size_cfg["width"]))
        crop = None
        if cfg.get("do_center_crop", False):
            c = cfg.get("crop_size", default_size)
            crop = (int(c), int(c)) if isinstance(c, int) else (int(c["height"]), int(c["width"]))
        if shortest is None and exact is None and crop is None:
            exact = (default_size, default_size)
        normalise = cfg.get("do_normalize", True)
        return cls(
            shortest_edge=shortest,
            size=exact,
            crop=crop,
            resample=_RESAMPLE.get(cfg.get("resample", 3), "bicubic"),
            rescale_factor=float(cfg.get("rescale_factor", 1 / 255)) if cfg.get("do_rescale", True) else 1.0,
            mean=tuple(cfg.get("image_mean", OPENAI_CLIP_MEAN)) if normalise else (0.0, 0.0, 0.0),
            std=tuple(cfg.get("image_std", OPENAI_CLIP_STD)) if normalise else (1.0, 1.0, 1.0),
        )

    @classmethod
    def from_pretrained(cls, path: str | Path, default_size: int = 224) -> ImagePreprocessor:
        file = Path(path) / "preprocessor_config.json"
        try:
            cfg = json.loads(file.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{file} is not valid JSON ({exc}); the model directory may be corrupted") from exc
        # Processor configs saved by AutoProcessor nest the image part.
        cfg = cfg.get("image_processor", cfg)
        return cls.from_dict(cfg, default_size=default_size)

    def _resized_hw(self, h: int, w: int) -> tuple[int, int]:
        if self.size is not None:
            return self.size
        if self.shortest_edge is None:
            return (h, w)
        s = self.shortest_edge
        # Same rounding as transformers' get_resize_output_image_size(default_to_square=False).
        if h <= w:
            return (s, int(s * w / h))
        return (int(s * h / w), s)

    def __call__(self, frames, device=None, dtype=None):
        """``frames``: validated NHWC uint8 (0-255) or float (0-1) tensor -> NCHW ``dtype``."""
        import torch
        import torch.nn.functional as F

        x = frames.to(device=device, non_blocking=True).permute(0, 3, 1, 2)
        scale = self.rescale_factor if x.dtype == torch.uint8 else 1.0
        x = x.float()
        h, w = x.shape[-2:]
        rh, rw = self._resized_hw(h, w)
        if (rh, rw) != (h, w):
            mode = self.resample
            kwargs = {"align_corners": False, "antialias": True} if mode != "nearest" else {}
            x = F.interpolate(x, size=(rh, rw), mode=mode, **kwargs)
            if mode == "bicubic":  # bicubic overshoots; PIL clips to the input range
                x = x.clamp(0.0, 255.0 if scale != 1.0 else 1.0)
        if self.crop is not None:
            ch, cw = self.crop
            if ch > rh or cw > rw:  # transformers pads small images; resize-to-fit is what we need
                x = F.interpolate(x, size=(max(ch, rh), max(cw, rw)), mode="bilinear", align_corners=False)
                rh, rw = x.shape[-2:]
            top, left = (rh - ch) // 2, (rw - cw) // 2
            x = x[:, :, top : top + ch, left : left + cw]
        mean = torch.tensor(self.mean, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, 3, 1, 1)
        # (x * scale - mean) / std as one fused affine map
        x = torch.addcdiv(-mean / std, x, std / scale)
        return x.to(dtype) if dtype is not None else x
