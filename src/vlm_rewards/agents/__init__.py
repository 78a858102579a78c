"""Language-conditioned agents trained from VLM rewards (Stable-Baselines3), judged on ground truth.

- :func:`load_config` / :class:`TrainConfig`: the run's pydantic config (YAML recipes in ``configs/``).
- :func:`train`: train (or resume) one agent; writes checkpoints, evaluations, GIFs, summary.
- :func:`make_report`: learning curves and a final table for one or more runs.
- :func:`vlm_rewards.agents.rollouts.evaluate_run`: evaluate a trained agent again (more episodes, another split).
- :func:`run_demo`: the README's main job (a few minutes on a laptop CPU).

Heavy imports (torch, SB3) happen inside the functions.

Example:
    >>> from vlm_rewards.agents import load_config
    >>> load_config(None, ["total_steps=1000"]).total_steps
    1000
"""

from __future__ import annotations

from typing import Any

from vlm_rewards.agents.config import ConfigError, TrainConfig, apply_overrides, dump_config, load_config

__all__ = ["ConfigError", "TrainConfig", "apply_overrides", "dump_config", "load_config", "make_report", "run_demo", "train"]


def train(*args: Any, **kwargs: Any):
    """See :func:`vlm_rewards.agents.trainer.train`."""
    from vlm_rewards.agents.trainer import train as _train

    return _train(*args, **kwargs)


def make_report(*args: Any, **kwargs: Any):
    """See :func:`vlm_rewards.agents.report.make_report`."""
    from vlm_rewards.agents.report import make_report as _make_report

    return _make_report(*args, **kwargs)


def run_demo(*args: Any, **kwargs: Any):
    """See :func:`vlm_rewards.agents.demo.run_demo`."""
    from vlm_rewards.agents.demo import run_demo as _run_demo

    return _run_demo(*args, **kwargs)
