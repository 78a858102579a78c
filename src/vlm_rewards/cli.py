"""The ``vlm-rewards`` command: parse arguments, call the library, print results."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(
    name="vlm-rewards",
    help="Vision-language models as rewards for language-goal RL agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class RewardName(str, Enum):
    contrastive = "contrastive"
    cosine = "cosine"
    goal_baseline = "goal_baseline"
    mineclip = "mineclip"


class DType(str, Enum):
    fp32 = "fp32"
    bf16 = "bf16"
    fp16 = "fp16"


def _torch_dtype(name: DType):
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[name.value]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


@app.command()
def score(
    images: list[Path] = typer.Argument(..., help="Image files (PNG, JPEG, ...) to score."),
    goal: str = typer.Option(..., "--goal", "-g", help="The goal text, e.g. 'open the clock app'."),
    negative: Optional[list[str]] = typer.Option(
        None, "--negative", "-n", help="A negative text for the contrastive reward (repeatable)."
    ),
    goal_set: Optional[str] = typer.Option(
        None,
        "--goal-set",
        help="Draw the negatives from a built-in goal set: 'phone', 'phone:diverse', 'house:find', 'babyai'.",
    ),
    num_negatives: Optional[int] = typer.Option(None, help="With --goal-set: negatives per goal (default: all)."),
    model: str = typer.Option("builtin:default", "--model", "-m", help="'hf:<id>', a model directory or 'builtin:<name>'."),
    reward: RewardName = typer.Option(RewardName.contrastive, "--reward", "-r", help="Reward function."),
    temperature: Optional[float] = typer.Option(None, help="Softmax temperature τ (default: the model's learned one)."),
    threshold: float = typer.Option(0.5, help="Threshold β: reward = 1[p > β]."),
    alpha: float = typer.Option(0.5, help="goal_baseline: regularisation strength α in [0, 1]."),
    baseline: Optional[str] = typer.Option(None, help="goal_baseline: the baseline prompt, e.g. 'a phone screen'."),
    dtype: DType = typer.Option(DType.fp32, help="Inference precision (bf16 is fast on AMX CPUs and GPUs)."),
    device: Optional[str] = typer.Option(None, help="torch device, e.g. 'cuda' (default: CPU)."),
) -> None:
    """Score image files against a goal: one JSON object per image."""
    from vlm_rewards.io import load_image
    from vlm_rewards.models import ModelLoadError, ModelNotAvailableError, load_model
    from vlm_rewards.scoring import RewardScorer

    try:
        frames = [load_image(p) for p in images]
        goal_texts = None
        if goal_set is not None:
            from vlm_rewards.envs import goals_from_spec

            goal_texts = goals_from_spec(goal_set)
        vlm = load_model(model, device=device, dtype=_torch_dtype(dtype))
        scorer = RewardScorer(
            vlm,
            reward=reward.value,
            temperature=temperature,
            threshold=threshold,
            negatives=negative or None,
            goal_set=goal_texts,
            num_negatives=num_negatives,
            alpha=alpha,
            baseline=baseline,
        )
        settings = scorer.settings()
        settings["dtype"] = dtype.value
        settings["goal_set"] = goal_set
        for path, frame in zip(images, frames):
            out = scorer.score(frame[None], [goal])
            key = "probability" if reward in (RewardName.contrastive, RewardName.mineclip) else "score"
            record = {"image": str(path), "goal": goal, "reward": float(out.reward[0]), key: float(out.score[0])}
            typer.echo(json.dumps({**record, "settings": settings}))
    except (ValueError, TypeError, ModelNotAvailableError, ModelLoadError) as exc:
        raise _fail(str(exc)) from None


@app.command("models")
def list_models() -> None:
    """List the built-in models shipped with the package."""
    from vlm_rewards.models import builtin_models

    found = builtin_models()
    if not found:
        typer.echo("no built-in models installed")
    for name, path in found.items():
        typer.echo(f"builtin:{name}\t{path}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
