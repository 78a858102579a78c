"""Small file helpers: image loading with clear errors, atomic writes."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


#: the background transparent pixels are composited onto: what image viewers show
ALPHA_BACKGROUND = (255, 255, 255)


def image_to_rgb(img: Any, what: str = "image") -> np.ndarray:
    """A PIL image as a uint8 ``(H, W, 3)`` RGB array, whatever its mode and bit depth.

    ``Image.convert("RGB")`` alone clips 16- and 32-bit pixels at 255, so a 16-bit PNG
    came out almost white: a different picture with a confident reward. Here:

    - 16-bit integer (``I;16*``, and ``I`` read from a 16-bit PNG): scaled by 255/65535;
    - other 32-bit integer images (``I``): refused, their white level is unknown;
    - float (``F``): values in [0, 1] scaled by 255, others refused;
    - with transparency (``RGBA``, ``LA``, ``PA``, ``P`` with a transparent colour,
      premultiplied ``RGBa``/``La``): composited onto white (:data:`ALPHA_BACKGROUND`), as
      a viewer shows them, rather than revealing whatever colour transparent pixels hold;
    - ``1``, ``L``, ``P``, ``RGB``, ``RGBX``, ``CMYK``, ``YCbCr``, ``HSV``: Pillow's conversion;
    - anything else (e.g. ``LAB``): refused.

    EXIF orientation is applied, so a rotated photo is scored the way it is seen.
    """
    from PIL import Image, ImageOps

    img = ImageOps.exif_transpose(img)
    mode = img.mode
    if mode.startswith("I;16") or (mode == "I" and getattr(img, "format", None) == "PNG"):
        a = np.asarray(img).astype(np.float64)
        gray = np.clip(np.rint(a * (255.0 / 65535.0)), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1)
    if mode == "I":
        raise ValueError(f"{what} is a 32-bit integer image (mode 'I') with no defined white level; save it as 8- or 16-bit")
    if mode == "F":
        a = np.asarray(img, dtype=np.float64)
        if not np.isfinite(a).all() or a.min() < 0.0 or a.max() > 1.0:
            raise ValueError(f"{what} is a floating-point image (mode 'F') with values outside [0, 1]; save it as 8- or 16-bit")
        gray = np.rint(a * 255.0).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1)
    if mode == "RGBa":
        img, mode = img.convert("RGBA"), "RGBA"
    elif mode == "La":  # premultiplied grey: Pillow converts it to nothing, so undo it here
        la = np.asarray(img).astype(np.float64)
        alpha = la[..., 1]
        grey = np.where(alpha > 0, np.clip(np.rint(la[..., 0] * 255.0 / np.maximum(alpha, 1)), 0, 255), 0)
        img, mode = Image.fromarray(np.stack([grey, alpha], -1).astype(np.uint8), "LA"), "LA"
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and img.has_transparency_data):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*ALPHA_BACKGROUND, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"), dtype=np.uint8)
    if mode in ("1", "L", "P", "RGB", "RGBX", "CMYK", "YCbCr", "HSV"):
        return np.asarray(img.convert("RGB"), dtype=np.uint8)
    raise ValueError(f"{what} has image mode {mode!r}, which has no exact conversion to RGB here; save it as RGB")


def load_image(path: str | os.PathLike) -> np.ndarray:
    """An image file as a uint8 ``(H, W, 3)`` RGB array (any mode and bit depth, see
    :func:`image_to_rgb`); ``ValueError`` naming the file otherwise."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"image file {str(path)!r} does not exist")
    try:
        with Image.open(path) as img:
            img.load()
            return image_to_rgb(img, f"image file {str(path)!r}")
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"image file {str(path)!r} cannot be read as an image ({exc})") from exc


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temp file in the same directory and a rename,
    so a crash never leaves a half-written file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates 0600 files; give the result the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json_file(path: Path, error: type[Exception]) -> Any:
    """Parsed JSON of ``path``; ``error`` naming the file when it is not valid JSON."""
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise error(f"{path} is not valid JSON ({exc})") from exc


def read_verified_shard(path: Path, entry: dict[str, Any], what: str, error: type[Exception]) -> bytes:
    """The bytes of a dataset shard, checked against the size and SHA-256 its manifest
    ``entry`` recorded; ``error`` naming the file (``what``: e.g. "corpus shard") otherwise."""
    import hashlib

    if not path.is_file():
        raise error(f"{what} {path} is missing")
    data = path.read_bytes()
    if len(data) != entry["bytes"]:
        raise error(f"{what} {path} is truncated or altered: {len(data)} bytes on disk, manifest says {entry['bytes']}")
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise error(f"{what} {path} is corrupted: its SHA-256 does not match the manifest")
    return data
