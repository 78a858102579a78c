"""Package a finished training run as a shipped agent: small enough for the repository,
complete enough that ``vlm-rewards eval-agent DIR --seed S`` re-evaluates it anywhere.

A run's ``model.zip`` holds the policy and Adam's two moment estimates per parameter, so
two thirds of it is optimizer state that evaluation never reads. The shipped zip keeps the
policy bit for bit and a freshly initialised optimizer (same class, learning rate and
settings, no moments), so SB3 still loads it with ``PPO.load`` and training can go on from
it (Adam's moments then start again from zero).

``weights="fp16"`` halves the file again by storing the policy's parameters in half
precision; loading casts them back into the float32 policy (PyTorch's ``load_state_dict``
copies with a cast), so the shipped agent is the run's policy rounded to fp16, not bit for
bit. Evaluate the shipped directory itself when quoting its figures.

Example:
    >>> ship_agent("runs/house_find_room", "trained_agents/house_find_room")  # doctest: +SKIP
    PosixPath('trained_agents/house_find_room')
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from vlm_rewards.io import atomic_write_bytes

__all__ = ["MAX_SHIPPED_BYTES", "ship_agent"]

# The repository's limit for one shipped agent's model.zip.
MAX_SHIPPED_BYTES = 5 * 2**20
# What travels beside the model: the resolved config (needed to rebuild env, reward and
# policy) and the run's learning curve (what the agent was measured at while training).
_SIDE_FILES = ("config.yaml", "evaluations.csv")


def ship_agent(run_dir: str | Path, out_dir: str | Path, *, max_bytes: int = MAX_SHIPPED_BYTES,
               weights: str = "fp32") -> Path:
    """Write ``out_dir/{model.zip, config.yaml, evaluations.csv}`` from the finished run in ``run_dir``.

    Args:
        weights: ``"fp32"`` keeps the policy bit for bit; ``"fp16"`` stores it in half precision.

    Raises:
        ValueError: ``run_dir`` is not a finished run, ``out_dir`` is ``run_dir``, ``weights`` is
            unknown, or the slimmed model is still larger than ``max_bytes`` (nothing is written then).
    """
    import yaml

    from vlm_rewards.agents.algos import load_agent
    from vlm_rewards.agents.config import validate_config

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be positive, got {max_bytes!r}")
    if weights not in ("fp32", "fp16"):
        raise ValueError(f"weights must be 'fp32' or 'fp16', got {weights!r}")
    for name in (*_SIDE_FILES, "model.zip"):
        if not (run_dir / name).is_file():
            raise ValueError(f"run_dir {str(run_dir)!r} is not a finished training run (no {name})")
    if out_dir.resolve() == run_dir.resolve():
        raise ValueError("out_dir must differ from run_dir (shipping would drop the run's optimizer state)")
    config = validate_config(yaml.safe_load((run_dir / "config.yaml").read_text()), str(run_dir / "config.yaml"))
    model = load_agent(run_dir / "model.zip", config)
    policy = model.policy
    if weights == "fp16":
        policy.half()
    # A fresh optimizer over the same parameters: its state dict has the param groups
    # (learning rate, betas, eps) but no per-parameter moments.
    policy.optimizer = policy.optimizer_class(policy.parameters(), lr=model.lr_schedule(1), **policy.optimizer_kwargs)
    with tempfile.TemporaryDirectory() as tmp:
        slim = Path(tmp) / "model.zip"
        model.save(slim)
        data = slim.read_bytes()
    if len(data) > max_bytes:
        raise ValueError(
            f"{run_dir / 'model.zip'} without its optimizer state ({weights}) is {len(data) / 2**20:.1f} MiB, over the "
            f"{max_bytes / 2**20:.1f} MiB limit: ship a smaller policy (e.g. fewer agent.cnn_channels or agent.features_dim)"
            + (" or its weights in half precision (weights='fp16')" if weights == "fp32" else "")
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in _SIDE_FILES:
        shutil.copyfile(run_dir / name, out_dir / name)
    atomic_write_bytes(out_dir / "model.zip", data)
    return out_dir
