import os
import stat

import numpy as np
import pytest
from PIL import Image

from vlm_rewards.io import atomic_write_bytes, atomic_write_json, load_image


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "f.json"
    atomic_write_json(target, {"a": 1})
    atomic_write_json(target, {"a": 2})
    assert target.read_text().strip().endswith("}") and '"a": 2' in target.read_text()
    assert [p.name for p in target.parent.iterdir()] == ["f.json"]


def test_atomic_write_has_normal_permissions(tmp_path):
    target = atomic_write_bytes(tmp_path / "w.bin", b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_atomic_write_failure_keeps_old_file(tmp_path, monkeypatch):
    target = tmp_path / "keep.txt"
    target.write_text("old")
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(target, b"new")
    assert target.read_text() == "old" and len(list(tmp_path.iterdir())) == 1


def test_load_image_rgb(tmp_path):
    p = tmp_path / "a.png"
    Image.fromarray(np.zeros((5, 7, 4), np.uint8)).save(p)  # RGBA on disk
    img = load_image(p)
    assert img.shape == (5, 7, 3) and img.dtype == np.uint8
