"""The Ray env worker stays light: no torch, no Stable-Baselines3 in its process."""

import subprocess
import sys

import pytest

pytest.importorskip("ray")


# pool: the worker unpickles its RewardPoolClient, which imports that module.
@pytest.mark.parametrize(
    "module", ["vlm_rewards.distributed.env_worker", "vlm_rewards.distributed.pool", "vlm_rewards.wrappers.core"]
)
def test_import_loads_neither_torch_nor_sb3(module):
    # A fresh interpreter: this test process has torch and SB3 loaded already.
    code = (
        f"import sys, {module}, vlm_rewards.envs\n"
        "heavy = sorted(m for m in ('torch', 'stable_baselines3', 'transformers') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_core_imports_no_gym_api():
    """The reward step's core names no Gymnasium or SB3 API: adapters bring those.

    (``import vlm_rewards`` itself registers the env ids with Gymnasium, so the module
    list of a fresh process cannot tell; the core's own imports can.)
    """
    import ast

    import vlm_rewards.wrappers.core as core

    tree = ast.parse(open(core.__file__).read())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not {m for m in imported if m.split(".")[0] in ("gymnasium", "stable_baselines3")}
