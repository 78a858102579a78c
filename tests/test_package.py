import subprocess
import sys


def test_import_is_light():
    """`import vlm_rewards` must not pull torch, transformers or stable-baselines3."""
    code = (
        "import sys, vlm_rewards; "
        "heavy = [m for m in ('torch', 'transformers', 'stable_baselines3', 'ray', 'miniworld') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_lazy_attributes_resolve():
    import vlm_rewards

    assert callable(vlm_rewards.load_model)
    assert vlm_rewards.RewardScorer.__name__ == "RewardScorer"
    assert vlm_rewards.rewards.contrastive is not None


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "vlm_rewards.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "score" in out.stdout
