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


class ModelSize(str, Enum):
    xs = "xs"
    s = "s"
    m = "m"
    l = "l"  # noqa: E741


def _parse_domains(value: str) -> list[str]:
    from vlm_rewards.data.corpus import CORPUS_DOMAINS

    names = [d.strip() for d in value.split(",") if d.strip()]
    bad = [d for d in names if d not in CORPUS_DOMAINS]
    if not names or bad or len(set(names)) != len(names):
        raise typer.BadParameter(
            f"expected distinct comma-separated names from {','.join(CORPUS_DOMAINS)}, got {value!r}", param_hint="'--domains'"
        )
    return names


def _positive(value: float) -> float:
    if not value > 0:  # also rejects nan
        raise typer.BadParameter(f"expected a positive number, got {value}")
    return value


@app.command()
def corpus(
    out_dir: Path = typer.Argument(..., help="Directory to write the corpus to (manifest.json and .npz shards)."),
    domains: str = typer.Option("phone,babyai", help="Comma-separated domains: phone, babyai, house."),
    frames_per_domain: int = typer.Option(4096, min=1, help="Frames rendered and captioned per domain."),
    seed: int = typer.Option(0, min=0, help="Seed of every random choice (same seed, same corpus bytes)."),
    image_size: int = typer.Option(64, min=32, max=1024, help="Frame size in pixels (the VLM's input size)."),
    no_holdout: bool = typer.Option(
        False, "--no-holdout", help="Name the compositional hold-out combinations too (the corpus of builtin:default)."
    ),
) -> None:
    """Render and caption a pre-training corpus from the built-in domains."""
    from vlm_rewards.data import collect_corpus, read_manifest
    from vlm_rewards.data.corpus import COMPOSITIONAL_HOLDOUT

    names = _parse_domains(domains)
    try:
        out = collect_corpus(out_dir, domains=names, frames_per_domain=frames_per_domain, seed=seed,
                             image_size=image_size, progress=True, holdout=() if no_holdout else COMPOSITIONAL_HOLDOUT)
    except (ValueError, TypeError, OSError) as exc:
        raise _fail(str(exc)) from None
    manifest = read_manifest(out)
    typer.echo(f"wrote {manifest['num_frames']} frames ({', '.join(names)}) to {out}")


@app.command()
def pretrain(
    corpus_dir: Path = typer.Argument(..., help="A corpus written by 'vlm-rewards corpus'."),
    out_dir: Path = typer.Argument(..., help="Model directory to write (Hugging Face format); holds checkpoints while training."),
    size: ModelSize = typer.Option(ModelSize.s, help="Model size preset."),
    steps: int = typer.Option(2000, min=1, help="Optimiser steps."),
    batch_size: int = typer.Option(256, min=2, help="Frame-caption pairs per step."),
    seed: int = typer.Option(0, min=0, help="Seed of initialisation, batches and augmentation."),
    no_resume: bool = typer.Option(False, "--no-resume", help="Start afresh even if OUT_DIR holds a checkpoint."),
    lr: float = typer.Option(1e-3, callback=_positive, help="Peak learning rate (AdamW, warm-up then cosine decay)."),
    checkpoint_every: int = typer.Option(200, min=1, help="Steps between resumable checkpoints."),
    bf16: bool = typer.Option(True, "--bf16/--fp32", help="bf16 autocast (fast on AMX CPUs and GPUs) or plain fp32."),
    threads: Optional[int] = typer.Option(None, min=1, help="CPU threads for torch (default: torch's choice)."),
    device: Optional[str] = typer.Option(None, help="torch device, e.g. 'cuda' (default: CUDA if available, else CPU)."),
) -> None:
    """Train a small CLIP from scratch on a corpus; prints the model directory."""
    from vlm_rewards.data import CorpusError
    from vlm_rewards.pretrain import pretrain as run_pretrain

    try:
        out = run_pretrain(corpus_dir, out_dir, size=size.value, steps=steps, batch_size=batch_size, seed=seed,
                           resume=not no_resume, lr=lr, checkpoint_every=checkpoint_every, bf16=bf16,
                           threads=threads, device=device, progress=True)
    except CorpusError as exc:
        raise _fail(f"CORPUS_DIR: {exc}") from None
    except (ValueError, TypeError, OSError) as exc:
        raise _fail(str(exc)) from None
    log = json.loads((out / "training_log.json").read_text())
    last = log["history"][-1] if log["history"] else {}
    typer.echo(f"trained {log['num_parameters']:,}-parameter model: {out} (final loss {last.get('loss', float('nan')):.3f})")


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
