"""Small file helpers: image loading with clear errors, atomic writes."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def load_image(path: str | os.PathLike) -> np.ndarray:
    """An image file as a uint8 ``(H, W, 3)`` RGB array; ``ValueError`` naming the file otherwise."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"image file {str(path)!r} does not exist")
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"), dtype=np.uint8)
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
