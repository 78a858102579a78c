"""The GPU machine's scripts run end to end on CPU in their QUICK mode, so they do not rot
between the sessions that are lent a GPU."""

import importlib.util
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_pretrain_quick_trains_every_run_and_packs_them(tmp_path):
    if importlib.util.find_spec("miniworld") is None:  # not imported here: pyglet would look for a display
        pytest.skip("the House needs MiniWorld")
    out, work = tmp_path / "out", tmp_path / "work"
    env = {**os.environ, "DEVICE": "cpu", "QUICK": "1", "CORPUS_WORKERS": "2", "OUT": str(out), "WORK": str(work),
           "PY": sys.executable, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(["bash", "scripts/gpu_pretrain.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    timeline = (out / "timeline.txt").read_text()
    assert "OpenGL ok" in timeline and "a: trained" in timeline and "b: trained" in timeline, timeline
    pieces = sorted(out.glob("models.tar.*"))
    assert pieces
    (tmp_path / "models.tar").write_bytes(b"".join(p.read_bytes() for p in pieces))
    with tarfile.open(tmp_path / "models.tar") as tar:
        names = set(tar.getnames())
    assert {"a/model.safetensors", "b/model.safetensors", "logs/corpus_manifest.json", "logs/a.log"} <= names
    assert not any(n.endswith("checkpoint.pt") for n in names)
    from vlm_rewards.data import read_manifest

    assert read_manifest(work / "corpus")["streams"] == "shard"
