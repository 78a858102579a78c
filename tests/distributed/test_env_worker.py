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


def test_core_imports_no_gymnasium():
    code = "import sys, vlm_rewards.wrappers.core\nassert 'gymnasium' not in sys.modules\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
