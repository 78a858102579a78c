"""The ``vlm-rewards`` command: parse arguments, call the library, print results."""

from __future__ import annotations

import json
from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from vlm_rewards.data.corpus import corpus_domains
from vlm_rewards.data.evalset import eval_sections
from vlm_rewards.rewards import REWARDS, get_reward

app = typer.Typer(
    name="vlm-rewards",
    help="Vision-language models as rewards for language-goal RL agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Help texts are plain text: with Rich markup on, "reward = 1[p > β]" lost "[p > β]" as
    # an unknown style tag and printed "reward = 1.".
    rich_markup_mode=None,
)


#: --reward choices: every registered reward function
RewardName = Enum("RewardName", {name: name for name in REWARDS}, type=str)


class DType(str, Enum):
    fp32 = "fp32"
    bf16 = "bf16"
    fp16 = "fp16"


def _torch_dtype(name: DType):
    from vlm_rewards.models.accel import resolve_dtype

    return resolve_dtype(name.value)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _check_device(device: Optional[str]) -> Optional[str]:
    """``--device`` checked before anything slow, the error naming the option."""
    from vlm_rewards._validation import check_device

    try:
        return check_device(device, "--device")
    except (ValueError, TypeError) as exc:
        raise _fail(str(exc)) from None


@app.command()
def score(
    images: list[Path] = typer.Argument(..., help="Image files (PNG, JPEG, ...) to score."),
    goal: str = typer.Option(..., "--goal", "-g", help="The goal text, e.g. 'open the clock app'."),
    negative: Optional[list[str]] = typer.Option(
        None, "--negative", "-n", help="A negative text for the contrastive reward (repeatable)."
    ),
    goals_spec: Optional[str] = typer.Option(
        None,
        "--goals",
        "--goal-set",
        help="Draw the negatives from a domain's goals, named by a goals spec: 'phone', 'phone:diverse', "
        "'house:find', 'babyai' (--goal-set is the former name).",
    ),
    num_negatives: Optional[int] = typer.Option(None, help="With --goals: negatives per goal (default: all)."),
    model: str = typer.Option("builtin:default", "--model", "-m", help="'hf:<id>', a model directory or 'builtin:<name>'."),
    reward: RewardName = typer.Option("contrastive", "--reward", "-r", help="Reward function."),
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

    _check_device(device)
    try:
        frames = [load_image(p) for p in images]
        goal_texts = None
        if goals_spec is not None:
            from vlm_rewards.envs import goals_from_spec

            goal_texts = goals_from_spec(goals_spec)
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
        settings["goals_spec"] = goals_spec
        # Rewards scored against negatives report the softmax probability p.
        key = "probability" if get_reward(reward.value).needs_negatives else "score"
        for path, frame in zip(images, frames):
            out = scorer.score(frame[None], [goal])
            record = {"image": str(path), "goal": goal, "reward": float(out.reward[0]), key: float(out.score[0])}
            typer.echo(json.dumps({**record, "settings": settings}))
    except (ValueError, TypeError, ModelNotAvailableError, ModelLoadError) as exc:
        raise _fail(str(exc)) from None


class ModelSize(str, Enum):
    xxs = "xxs"
    xs = "xs"
    s = "s"
    ms = "ms"
    m = "m"
    l = "l"  # noqa: E741


class PretrainLoss(str, Enum):
    infonce = "infonce"
    siglip = "siglip"


class CorpusStreams(str, Enum):
    domain = "domain"
    shard = "shard"


class PretrainStem(str, Enum):
    patch = "patch"
    conv = "conv"


def _parse_names(value: str, allowed: Sequence[str], option: str) -> list[str]:
    """Distinct comma-separated names, each one of ``allowed``."""
    names = [d.strip() for d in value.split(",") if d.strip()]
    bad = [d for d in names if d not in allowed]
    if not names or bad or len(set(names)) != len(names):
        raise typer.BadParameter(
            f"expected distinct comma-separated names from {','.join(allowed)}, got {value!r}", param_hint=f"'{option}'"
        )
    return names


def _parse_domains(value: str) -> list[str]:
    return _parse_names(value, corpus_domains(), "--domains")


def _positive(value: float) -> float:
    if not value > 0:  # also rejects nan
        raise typer.BadParameter(f"expected a positive number, got {value}")
    return value


def _parse_counts(text: str, domains: list[str]) -> int | dict[str, int]:
    """'4096' or 'house=32768,phone=8192,...' (a count for each of ``domains``)."""
    def count(value: str, what: str) -> int:
        try:
            n = int(value)
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"--frames-per-domain: {what} must be a positive integer, got {value!r}")
        return n

    if "=" not in text:
        return count(text.strip(), "the count")
    counts: dict[str, int] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in domains or name in counts:
            raise ValueError(f"--frames-per-domain must be 'N' or 'domain=N,...' with each of {domains} once, got {text!r}")
        counts[name] = count(value.strip(), f"the count of {name}")
    if set(counts) != set(domains):
        raise ValueError(f"--frames-per-domain must give a count for each of {domains}, got {text!r}")
    return counts


@app.command()
def corpus(
    out_dir: Path = typer.Argument(..., help="Directory to write the corpus to (manifest.json and .npz shards)."),
    domains: str = typer.Option("phone,babyai", help="Comma-separated domains: " + ", ".join(corpus_domains()) + "."),
    frames_per_domain: str = typer.Option(
        "4096", help="Frames rendered and captioned per domain: one count, or one per domain as 'house=32768,phone=8192'."
    ),
    seed: int = typer.Option(0, min=0, help="Seed of every random choice (same seed, same corpus bytes)."),
    image_size: int = typer.Option(64, min=32, max=1024, help="Frame size in pixels (the VLM's input size)."),
    no_holdout: bool = typer.Option(
        False, "--no-holdout", help="Name the compositional hold-out combinations too (the corpus of builtin:default)."
    ),
    streams: CorpusStreams = typer.Option(
        CorpusStreams.domain, help="'domain': one random stream per domain (builtin:default's corpus); 'shard': one per shard, "
        "so --workers can build the shards of one domain side by side (a different corpus of the same recipe)."
    ),
    workers: int = typer.Option(1, min=1, help="Processes building streams side by side; the bytes do not depend on it."),
) -> None:
    """Render and caption a pre-training corpus from the built-in domains."""
    from vlm_rewards.data import collect_corpus, read_manifest
    from vlm_rewards.data.corpus import COMPOSITIONAL_HOLDOUT

    names = _parse_domains(domains)
    try:
        counts = _parse_counts(frames_per_domain, names)
        out = collect_corpus(out_dir, domains=names, frames_per_domain=counts, seed=seed,
                             image_size=image_size, progress=True, holdout=() if no_holdout else COMPOSITIONAL_HOLDOUT,
                             streams=streams.value, workers=workers)
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
    loss: PretrainLoss = typer.Option(PretrainLoss.infonce, help="CLIP's softmax loss (infonce) or SigLIP's pairwise sigmoid loss."),
    stem: PretrainStem = typer.Option(PretrainStem.patch, help="Image tower's input layer: CLIP's patch projection, or a convolutional stem (better shape features; load the model with vlm_rewards.load_model)."),
    heldout_fraction: float = typer.Option(0.02, min=0.0, max=0.49, help="Fraction of the corpus kept out of training; its loss is logged."),
    eval_every: Optional[int] = typer.Option(None, min=1, help="Steps between held-out evaluations (default: --checkpoint-every)."),
    bf16: Optional[bool] = typer.Option(None, "--bf16/--fp32", help="bf16 autocast or plain fp32 (default: bf16 where the device has native bf16 units, AMX/AVX-512 BF16 CPUs and Ampere+ GPUs; emulated it is several times slower than fp32)."),
    threads: Optional[int] = typer.Option(None, min=1, help="CPU threads for torch (default: torch's choice)."),
    device: Optional[str] = typer.Option(None, help="torch device, e.g. 'cuda' (default: CUDA if available, else CPU)."),
) -> None:
    """Train a small CLIP from scratch on a corpus; prints the model directory."""
    from vlm_rewards.data import CorpusError
    from vlm_rewards.pretrain import pretrain as run_pretrain

    _check_device(device)
    try:
        out = run_pretrain(corpus_dir, out_dir, size=size.value, steps=steps, batch_size=batch_size, seed=seed,
                           resume=not no_resume, lr=lr, checkpoint_every=checkpoint_every, loss=loss.value,
                           stem=stem.value, heldout_fraction=heldout_fraction, eval_every=eval_every, bf16=bf16,
                           threads=threads, device=device, progress=True)
    except CorpusError as exc:
        raise _fail(f"CORPUS_DIR: {exc}") from None
    except (ValueError, TypeError, OSError) as exc:
        raise _fail(str(exc)) from None
    log = json.loads((out / "training_log.json").read_text())
    last = log["history"][-1] if log["history"] else {}
    heldout = f", held-out loss {log['evals'][-1]['heldout_loss']:.3f}" if log.get("evals") else ""
    typer.echo(f"trained {log['num_parameters']:,}-parameter model: {out} (final loss {last.get('loss', float('nan')):.3f}{heldout})")


@app.command()
def family(
    corpus_dir: Path = typer.Argument(..., help="A corpus written by 'vlm-rewards corpus'."),
    out_dir: Path = typer.Argument(..., help="Directory for one model per size and family.json (re-running resumes)."),
    sizes: str = typer.Option("xxs,xs,s,ms", help="Comma-separated size presets."),
    base: ModelSize = typer.Option(ModelSize.s, help="The size that trains for --base-steps at --base-lr; the others scale from it."),
    base_steps: int = typer.Option(2000, min=1, help="Optimiser steps of the base size."),
    batch_size: int = typer.Option(128, min=2, help="Frame-caption pairs per step (all sizes)."),
    base_lr: float = typer.Option(1e-3, callback=_positive, help="Peak learning rate of the base size (others: scaled by 1/width)."),
    exponent: float = typer.Option(0.5, min=0.0, max=2.0, help="Samples grow as (parameters / base parameters) ** exponent."),
    seed: int = typer.Option(0, min=0, help="Seed of every size's initialisation, batches and augmentation."),
    loss: PretrainLoss = typer.Option(PretrainLoss.infonce, help="CLIP's softmax loss (infonce) or SigLIP's sigmoid loss."),
    checkpoint_every: int = typer.Option(100, min=1, help="Steps between resumable checkpoints."),
    threads: Optional[int] = typer.Option(None, min=1, help="CPU threads for torch (default: torch's choice)."),
    device: Optional[str] = typer.Option(None, help="torch device, e.g. 'cuda' (default: CUDA if available, else CPU)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the compute-matched plan and exit."),
) -> None:
    """Train the built-in model family with compute-matched schedules (larger sizes get more samples)."""
    from vlm_rewards.data import CorpusError
    from vlm_rewards.family import compute_matched, train_family
    from vlm_rewards.pretrain import SIZES

    names = _parse_names(sizes, list(SIZES), "--sizes")
    _check_device(device)
    options = dict(base=base.value, base_steps=base_steps, batch_size=batch_size, base_lr=base_lr, exponent=exponent)
    try:
        plan = compute_matched(names, **options)
        for size, row in plan.items():
            typer.echo(f"{size}: {row['num_parameters']:,} parameters, {row['steps']} steps of {row['batch_size']}, lr {row['lr']:g}")
        if dry_run:
            return
        out = train_family(corpus_dir, out_dir, names, seed=seed, loss=loss.value, checkpoint_every=checkpoint_every,
                           threads=threads, device=device, progress=True, **options)
    except CorpusError as exc:
        raise _fail(f"CORPUS_DIR: {exc}") from None
    except (ValueError, TypeError, OSError) as exc:
        raise _fail(str(exc)) from None
    summary = json.loads((out / "family.json").read_text())
    for size in names:
        row = summary["results"][size]
        typer.echo(f"{size}: {row['seconds']:.0f} s, final loss {row['final_loss']:.3f}, held-out loss {row['heldout_loss']}")
    typer.echo(f"family: {out}")


def _parse_sections(value: str) -> list[str]:
    return _parse_names(value, eval_sections(), "--sections")


def _parse_negatives(value: str) -> int | str:
    if value == "all":
        return value
    try:
        k = int(value)
    except ValueError:
        k = 0
    if k < 1:
        raise typer.BadParameter(f"expected a positive integer or 'all', got {value!r}", param_hint="'--negatives'")
    return k


#: evaluate --reward choices: the rewards the offline evaluation can score
EvalReward = Enum("EvalReward", {name: name for name, r in REWARDS.items() if r.offline}, type=str)


class NegativeChoice(str, Enum):
    uniform = "uniform"
    hard = "hard"
    counterfactual = "counterfactual"
    counterfactual_uniform = "counterfactual+uniform"


_RAY_HELP = "Run on Ray (needs the 'ray' extra): a local instance started here, or the cluster at --ray-address."
_RAY_ADDRESS_HELP = "With --ray: a Ray cluster ('auto', '<head-ip>:6379' or 'ray://<head-ip>:10001'); default: start one here."


def _ray_start(address: Optional[str]) -> dict:
    """start_ray() arguments for --ray; fails early when Ray is not installed."""
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        raise _fail("--ray needs Ray: pip install 'vlm-rewards[ray]'")
    return {"address": address} if address else {}


@app.command()
def collect(
    out_dir: Path = typer.Argument(..., help="Directory to write the labelled dataset to (manifest.json and .npz shards)."),
    sections: str = typer.Option(
        "phone:common,phone:diverse,house:find",
        help="Comma-separated sections: " + ", ".join(eval_sections()) + ".",
    ),
    frames: int = typer.Option(768, min=1, help="Frames per section in the train split."),
    heldout_frames: Optional[int] = typer.Option(None, min=1, help="Frames per section in the held-out split (default: --frames)."),
    seed: int = typer.Option(0, min=0, help="Seed of every random choice (same seed, same dataset bytes)."),
    image_size: int = typer.Option(64, min=32, max=1024, help="Frame size in pixels (the VLM's input size)."),
    ray: bool = typer.Option(False, "--ray", help=_RAY_HELP + " Sections are collected in parallel, one task each; same bytes."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help=_RAY_ADDRESS_HELP),
) -> None:
    """Collect a labelled evaluation dataset: frames with ground truth for every goal of each goal set."""
    from vlm_rewards.data import collect_evalset, read_evalset_manifest

    names = _parse_sections(sections)
    try:
        if ray:
            from vlm_rewards.distributed.datasets import collect_evalset_on_ray

            start = _ray_start(ray_address)
            out = collect_evalset_on_ray(out_dir, sections=names, frames=frames, heldout_frames=heldout_frames, seed=seed,
                                         image_size=image_size, start_kwargs=start)
        else:
            out = collect_evalset(out_dir, sections=names, frames=frames, heldout_frames=heldout_frames, seed=seed,
                                  image_size=image_size, progress=True)
    except (ValueError, TypeError, OSError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"wrote {read_evalset_manifest(out)['num_frames']} labelled frames ({', '.join(names)}) to {out}")


def _eval_options(reward: EvalReward, negatives: str, negative_choice: NegativeChoice, template: str,
                  temperature: Optional[float], alpha: float, baseline: Optional[str], seed: int,
                  state_negatives: bool = False) -> dict:
    return {"reward": reward.value, "negatives": _parse_negatives(negatives), "negative_choice": negative_choice.value,
            "template": template, "temperature": temperature, "alpha": alpha, "baseline": baseline, "seed": seed,
            "state_negatives": state_negatives}


_STATE_NEGATIVES_HELP = ("Add each goal's state negative to its negatives: its objects in a state that does not complete "
                         "it ('a red ball in a room' for 'go near the red ball'; domains with a state_negative template: "
                         "house, babyai; other sections are scored without).")


_TEMPLATES_HELP = "Prompt-template study: a template (repeatable), or 'builtin' for each domain's built-in list."


@app.command()
def evaluate(
    model: str = typer.Option("builtin:default", "--model", "-m", help="'hf:<id>', a model directory or 'builtin:<name>'."),
    dataset: Path = typer.Option(..., "--dataset", "-d", help="A dataset written by 'vlm-rewards collect'."),
    out: Path = typer.Option(Path("evaluation"), "--out", "-o", help="Directory for metrics.json, the plots and report.md."),
    reward: EvalReward = typer.Option("contrastive", "--reward", "-r", help="Reward function."),
    negatives: str = typer.Option("all", help="Contrastive negatives per goal: a number K or 'all'."),
    negative_choice: NegativeChoice = typer.Option(NegativeChoice.uniform, help="Draw negatives uniformly (the paper), hard ones, or counterfactuals of the goal (one attribute changed; +uniform: half of them)."),
    template: str = typer.Option("{goal}", help="Prompt template, e.g. 'Screenshot of {task} on Android'."),
    templates: Optional[list[str]] = typer.Option(None, "--templates", help=_TEMPLATES_HELP),
    negatives_study: bool = typer.Option(False, "--negatives-study", help="Also compare 1, 3, 7 and all negatives: uniform, hard and counterfactual."),
    state_negatives: bool = typer.Option(False, "--state-negatives", help=_STATE_NEGATIVES_HELP),
    sections: Optional[str] = typer.Option(None, help="Comma-separated sections to evaluate (default: all of the dataset)."),
    goals_spec: Optional[str] = typer.Option(
        None, "--goals", "--goal-set", help="Expected goals, as a goals spec, e.g. 'phone:diverse'; must match a section "
        "(--goal-set is the former name)."
    ),
    temperature: Optional[float] = typer.Option(None, help="τ (default: the model's learned one)."),
    alpha: float = typer.Option(0.5, help="goal_baseline: regularisation strength α in [0, 1]."),
    baseline: Optional[str] = typer.Option(None, help="goal_baseline: baseline prompt (default: one per domain)."),
    seed: int = typer.Option(0, min=0, help="Seed of the negatives' draw."),
    dtype: DType = typer.Option(DType.fp32, help="Inference precision (bf16 is fast on AMX CPUs and GPUs)."),
    device: Optional[str] = typer.Option(None, help="torch device, e.g. 'cuda' (default: CPU)."),
    ray: bool = typer.Option(False, "--ray", help=_RAY_HELP + " Frames are encoded in shards by a pool of model actors."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help=_RAY_ADDRESS_HELP),
    ray_actors: int = typer.Option(2, "--ray-actors", min=1, help="With --ray: model actors in the pool."),
    ray_gpus: float = typer.Option(0.0, "--ray-gpus", min=0.0, help="With --ray: GPUs per actor (fractions share a GPU)."),
) -> None:
    """Precision/recall of a VLM reward against ground truth, with calibration and a report."""
    from vlm_rewards.data import EvalSetError
    from vlm_rewards.evaluation import evaluate as run_evaluate
    from vlm_rewards.models import ModelLoadError, ModelNotAvailableError, load_model

    _check_device(device)
    try:
        options = _eval_options(reward, negatives, negative_choice, template, temperature, alpha, baseline, seed,
                                state_negatives)
        expected = None
        if goals_spec is not None:
            from vlm_rewards.envs import goals_from_spec

            expected = goals_from_spec(goals_spec)
        study = None if not templates else ("builtin" if templates == ["builtin"] else templates)
        if ray:
            from vlm_rewards.distributed.datasets import evaluate_on_ray

            start = _ray_start(ray_address)
            ev = evaluate_on_ray(model, dataset, num_actors=ray_actors, actor_gpus=ray_gpus, dtype=_torch_dtype(dtype),
                                 device=device, start_kwargs=start,
                                 sections=_parse_sections(sections) if sections else None, goal_set=expected,
                                 templates=study, negatives_study=negatives_study, out_dir=out, **options)
        else:
            vlm = load_model(model, device=device, dtype=_torch_dtype(dtype))
            ev = run_evaluate(vlm, dataset, sections=_parse_sections(sections) if sections else None, goal_set=expected,
                              templates=study, negatives_study=negatives_study, out_dir=out, **options)
    except EvalSetError as exc:
        raise _fail(f"--dataset: {exc}") from None
    except (ValueError, TypeError, ModelNotAvailableError, ModelLoadError, OSError) as exc:
        raise _fail(str(exc)) from None
    for name, res in ev.metrics["sections"].items():
        held, cal = res["splits"]["heldout"]["pooled"], res["calibration"]
        f1 = cal["heldout"]["f1"] if cal["heldout"] else None
        typer.echo(f"{name}: held-out AP {_num(held['ap'])}, ROC-AUC {_num(held['roc_auc'])}, best F1 {_num(held['best_f1'])}; "
                   f"calibrated on train: τ={_num(cal['temperature'])} β={_num(cal['threshold'])} -> held-out F1 {_num(f1)}")
    typer.echo(f"report: {out / 'report.md'} ({ev.timing['total']:.1f} s)")


@app.command()
def calibrate(
    model: str = typer.Option("builtin:default", "--model", "-m", help="'hf:<id>', a model directory or 'builtin:<name>'."),
    dataset: Path = typer.Option(..., "--dataset", "-d", help="A dataset written by 'vlm-rewards collect', or a folder "
                                 "train/ + heldout/ of images named '<goal>--<pos|neg>--<id>.png' (underscores for spaces)."),
    out: Path = typer.Option(Path("calibration"), "--out", "-o", help="Directory for calibration.json and the reward_<section>.yaml snippets."),
    target_precision: Optional[float] = typer.Option(
        None, "--target-precision", help="Choose β with the most train recall at this train precision (default: best train F1)."
    ),
    per_goal: bool = typer.Option(True, "--per-goal/--pooled", help="A β per goal (others: the pooled β, key '*') or one pooled β."),
    tune_temperature: bool = typer.Option(False, "--tune-temperature", help="Also choose τ (the model's τ times 1/4 ... 4)."),
    min_positives: int = typer.Option(5, min=1, help="Train positives a goal needs for its own β."),
    sections: Optional[str] = typer.Option(None, help="Comma-separated sections (default: all of the dataset)."),
    negatives: str = typer.Option("all", help="Contrastive negatives per goal: a number K or 'all'."),
    negatives_from: Optional[str] = typer.Option(
        None, "--negatives-from", help="A goal-set spec (e.g. phone:diverse) whose goals join the section's as "
        "negatives: match the training config's reward.negatives_from."),
    state_negatives: bool = typer.Option(False, "--state-negatives", help=_STATE_NEGATIVES_HELP + " The snippet then turns "
                                         "reward.state_negatives on."),
    template: str = typer.Option("{goal}", help="Prompt template (keep the one the agent is trained with)."),
    temperature: Optional[float] = typer.Option(None, help="τ (default: the model's learned one)."),
    bootstrap: int = typer.Option(1000, min=1, help="Bootstrap resamplings of the held-out frames."),
    seed: int = typer.Option(0, min=0, help="Seed of the bootstrap and of the negatives' draw."),
    goal_quantile: Optional[float] = typer.Option(
        None, "--goal-quantile", help="With --target-precision: choose the pooled β (held-out goals get it) so that the "
        "target holds in this fraction of resamplings of the training goals, e.g. 0.9: a margin for new goals."),
    min_recall: Optional[float] = typer.Option(
        None, "--min-recall", help="With --target-precision: a goal whose β there recovers less than this fraction of its "
        "train positives gets the β with the most recall at --fallback-precision instead, so the reward fires on "
        "every training goal."),
    fallback_precision: Optional[float] = typer.Option(None, "--fallback-precision", help="See --min-recall."),
    device: Optional[str] = typer.Option(None, help="torch device, e.g. 'cuda' (default: CPU)."),
) -> None:
    """Choose β (and τ) on the train split, per goal and pooled; held-out precision/recall with intervals; a config snippet."""
    from vlm_rewards.data import EvalSetError
    from vlm_rewards.evaluation import calibrate as run_calibrate
    from vlm_rewards.models import ModelLoadError, ModelNotAvailableError, load_model

    _check_device(device)
    try:
        vlm = load_model(model, device=device)
        cal = run_calibrate(vlm, dataset, target_precision=target_precision, per_goal=per_goal,
                            tune_temperature=tune_temperature, min_positives=min_positives,
                            sections=_parse_sections(sections) if sections else None, negatives=_parse_negatives(negatives),
                            negatives_from=negatives_from, state_negatives=state_negatives, template=template,
                            temperature=temperature, bootstrap=bootstrap, seed=seed, goal_quantile=goal_quantile,
                            min_recall=min_recall, fallback_precision=fallback_precision)
        safe = cal.write(out)
    except EvalSetError as exc:
        raise _fail(f"--dataset: {exc}") from None
    except (ValueError, TypeError, ModelNotAvailableError, ModelLoadError, OSError) as exc:
        raise _fail(str(exc)) from None
    for name, res in cal.sections.items():
        if res["threshold"] is None:
            typer.echo(f"{name}: {res['unreachable']}; no snippet written")
            continue
        held = res["heldout"]
        own = len(res["threshold"]) - 1 if isinstance(res["threshold"], dict) else 0
        pi, ri = held.get("precision_interval"), held.get("recall_interval")
        typer.echo(
            f"{name}: β={_num(res['pooled_threshold'])} pooled, {own} goal(s) with their own β"
            + (f", τ={_num(res['temperature'])}" if res["temperature"] is not None else "")
            + f"; train precision {_num(res['train']['precision'])}, recall {_num(res['train']['recall'])}"
            + f"; held-out precision {_num(held['precision'])} {_interval(pi)}, recall {_num(held['recall'])} {_interval(ri)}"
            + f"; snippet: {safe[name]}"
        )


def _interval(iv: Optional[list]) -> str:
    return "[n/a]" if not iv else f"[{iv[0]:.3g}, {iv[1]:.3g}]"


def _num(x: Optional[float]) -> str:
    return "n/a" if x is None else f"{x:.3g}"


@app.command()
def scaling(
    models: list[str] = typer.Option(..., "--model", "-m", help="Model spec (repeatable): 'builtin:default', a directory, 'hf:<id>'."),
    dataset: Path = typer.Option(..., "--dataset", "-d", help="A dataset written by 'vlm-rewards collect'."),
    out: Path = typer.Option(Path("scaling"), "--out", "-o", help="Directory for scaling.json, scaling.png and scaling.md."),
    reward: EvalReward = typer.Option("contrastive", "--reward", "-r", help="Reward function."),
    negatives: str = typer.Option("all", help="Contrastive negatives per goal: a number K or 'all'."),
    negative_choice: NegativeChoice = typer.Option(NegativeChoice.uniform, help="Draw negatives uniformly (the paper), hard ones, or counterfactuals of the goal (one attribute changed; +uniform: half of them)."),
    template: str = typer.Option("{goal}", help="Prompt template."),
    templates: Optional[list[str]] = typer.Option(None, "--templates", help=_TEMPLATES_HELP),
    state_negatives: bool = typer.Option(False, "--state-negatives", help=_STATE_NEGATIVES_HELP),
    sections: Optional[str] = typer.Option(None, help="Comma-separated sections to evaluate (default: all of the dataset)."),
    seed: int = typer.Option(0, min=0, help="Seed of the negatives' draw."),
) -> None:
    """Evaluate several models (e.g. the built-in size family): AP and best F1 against parameter count."""
    from vlm_rewards.data import EvalSetError
    from vlm_rewards.evaluation import scaling_study
    from vlm_rewards.models import ModelLoadError, ModelNotAvailableError

    try:
        options = _eval_options(reward, negatives, negative_choice, template, None, 0.5, None, seed, state_negatives)
        study = None if not templates else ("builtin" if templates == ["builtin"] else templates)
        result = scaling_study(models, dataset, sections=_parse_sections(sections) if sections else None,
                               templates=study, out_dir=out, **options)
    except EvalSetError as exc:
        raise _fail(f"--dataset: {exc}") from None
    except (ValueError, TypeError, ModelNotAvailableError, ModelLoadError, OSError) as exc:
        raise _fail(str(exc)) from None
    for row in result["models"]:
        cells = ", ".join(f"{s} AP {_num(v['ap'])}" for s, v in row["sections"].items())
        typer.echo(f"{row['model']} ({row['num_parameters']:,} parameters): {cells}")
    typer.echo(f"report: {out / 'scaling.md'}")


@app.command("models")
def list_models() -> None:
    """List the built-in models shipped with the package."""
    from vlm_rewards.models import builtin_models

    found = builtin_models()
    if not found:
        typer.echo("no built-in models installed")
    for name, path in found.items():
        typer.echo(f"builtin:{name}\t{path}")


@app.command()
def train(
    config: Optional[Path] = typer.Argument(None, help="YAML config (see configs/); omitted: all defaults."),
    set_: Optional[list[str]] = typer.Option(
        None, "--set", help="Override a field: --set agent.learning_rate=1e-4 (repeatable; values are YAML)."
    ),
    set_file: Optional[list[Path]] = typer.Option(
        None, "--set-file", help="Merge a YAML snippet into the config before --set, e.g. the reward section "
        "'vlm-rewards calibrate' writes (repeatable)."
    ),
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", "-o", help="Run directory (default: runs/<config name>)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the killed run in --run-dir from its newest checkpoint."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Train a language-conditioned agent from the VLM reward (or ground truth: reward.kind=ground_truth)."""
    from vlm_rewards.agents.config import ConfigError, load_config
    from vlm_rewards.agents.trainer import train as run_train
    from vlm_rewards.models import ModelLoadError, ModelNotAvailableError

    try:
        cfg = load_config(config, set_ or [], set_files=set_file or [])
        out = run_dir if run_dir is not None else Path("runs") / cfg.name
        result = run_train(cfg, out, resume=resume, progress=progress, log=typer.echo)
    except (ConfigError, ValueError, TypeError, ModelNotAvailableError, ModelLoadError) as exc:
        raise _fail(str(exc)) from None
    f = result.final
    typer.echo(
        f"done: {result.steps:,} env steps; {cfg.eval.split} goals: ground-truth success {f['gt_success']:.2f}, "
        f"direct {f.get('direct_success', float('nan')):.2f} (chance {f.get('direct_chance', float('nan')):.2f}), "
        f"VLM return {f['vlm_return']:.2f}; run directory: {result.run_dir}"
    )


@app.command()
def report(
    run_dirs: list[Path] = typer.Argument(..., help="Run directories written by 'vlm-rewards train'."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output directory (default: RUN_DIR/report, or report/ beside the runs)."),
    title: str = typer.Option("Training report", help="Report title."),
    label: Optional[list[str]] = typer.Option(None, "--label", help="Name of each run, in order (default: its config name)."),
) -> None:
    """Learning curves (ground-truth and VLM return vs env steps) and a final table: Markdown + PNG."""
    from vlm_rewards.agents.report import make_report

    try:
        path = make_report(list(run_dirs), out, title=title, labels=label or None)
    except (ValueError, OSError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"report: {path} (plot: {path.parent / 'curves.png'})")


@app.command("scaling-agents")
def scaling_agents(
    run_dirs: list[Path] = typer.Argument(..., help="VLM-reward runs, one or more per reward model, each re-evaluated "
                                          "with 'vlm-rewards eval-agent' on --split train and heldout."),
    offline: Path = typer.Option(..., "--offline", help="The scaling.json of 'vlm-rewards scaling' that holds each run's model."),
    section: str = typer.Option("house:find", help="The offline section plotted beside the agents."),
    out: Path = typer.Option(Path("online_scaling"), "--out", "-o", help="Output directory."),
    title: Optional[str] = typer.Option(None, help="Report title."),
    oracle: Optional[list[Path]] = typer.Option(None, "--oracle", help="A ground-truth-reward run of the same recipe, "
                                                "re-evaluated alike: the reference line (repeatable, one per seed)."),
) -> None:
    """Agent success and precision against reward-model size, beside the offline AP (paper Fig. 4): Markdown + PNG."""
    from vlm_rewards.agents.online_scaling import online_scaling

    try:
        path = online_scaling(list(run_dirs), offline, out, section=section, title=title, oracle_runs=list(oracle or []))
    except (ValueError, OSError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"report: {path} (plot: {path.parent / 'online_scaling.png'})")


@app.command("eval-agent")
def eval_agent(
    run_dir: Path = typer.Argument(..., help="A run directory written by 'vlm-rewards train'."),
    episodes: int = typer.Option(150, min=1, help="Episodes (goals of the split taken in turn)."),
    split: str = typer.Option("heldout", help="Goal split: heldout, train or all."),
    deterministic: Optional[bool] = typer.Option(None, "--deterministic/--stochastic", help="Greedy or sampled actions (default: the run's)."),
    seed: Optional[int] = typer.Option(None, min=0, help="Episode i starts from env seed SEED + i (default: the run's eval.seed, the episodes it was evaluated on while training)."),
    overrides: list[str] = typer.Option([], "--set", help="key=value: evaluate under another reward.*, eval.* or env.max_episode_steps setting, e.g. reward.confirm=[2,2] (repeatable)."),
) -> None:
    """Evaluate a trained agent again on ground truth, e.g. with more episodes or on fresh episodes (--seed);
    writes RUN_DIR/eval_<split>_<episodes>[_seed<S>][_set<hash>].json."""
    from vlm_rewards.agents.rollouts import evaluate_run

    if split not in ("heldout", "train", "all"):
        raise _fail(f"--split must be heldout, train or all, got {split!r}")
    try:
        result = evaluate_run(run_dir, episodes=episodes, split=split, deterministic=deterministic, seed=seed,
                              overrides=overrides)
    except (ValueError, TypeError, OSError) as exc:
        raise _fail(str(exc)) from None
    m = result.metrics()
    typer.echo(json.dumps({"run_dir": str(run_dir), "split": split, "seed": seed, **m, "per_goal": result.per_goal()}))


@app.command("collect-visited")
def collect_visited(
    run_dir: Path = typer.Argument(..., help="A run directory written by 'vlm-rewards train' (or a shipped agent)."),
    out_dir: Path = typer.Argument(..., help="Directory to write the labelled dataset to (as 'collect' writes it)."),
    episodes: int = typer.Option(400, min=1, help="Episodes pursuing training goals (the train split)."),
    heldout_episodes: Optional[int] = typer.Option(None, min=1, help="Episodes pursuing held-out goals (default: a quarter of --episodes)."),
    seed: int = typer.Option(70000, min=0, help="Episode i of the train split starts from env seed SEED + i; the held-out split follows on."),
    deterministic: Optional[bool] = typer.Option(None, "--deterministic/--stochastic", help="Greedy or sampled actions (default: the run's)."),
) -> None:
    """Collect the frames a trained agent visits, labelled for every goal, for 'calibrate': β chosen on
    the frames agents of this kind see rather than on scripted policies' frames."""
    from vlm_rewards.agents.visited import collect_visited as run
    from vlm_rewards.data import read_evalset_manifest

    try:
        out = run(run_dir, out_dir, episodes=episodes, heldout_episodes=heldout_episodes, seed=seed, deterministic=deterministic)
    except (ValueError, TypeError, OSError) as exc:
        raise _fail(str(exc)) from None
    manifest = read_evalset_manifest(out)
    typer.echo(f"wrote {manifest['num_frames']} labelled frames the agent visited ({', '.join(manifest['section_order'])}) to {out}")


@app.command("ship-agent")
def ship_agent(
    run_dir: Path = typer.Argument(..., help="A finished run directory written by 'vlm-rewards train'."),
    out_dir: Path = typer.Argument(..., help="Where the shipped agent goes (e.g. trained_agents/NAME)."),
    max_mb: float = typer.Option(5.0, "--max-mb", min=0.01, help="Largest model.zip allowed, in MiB."),
    weights: str = typer.Option("fp32", "--weights", help="fp32 (the policy bit for bit) or fp16 (half the size, rounded)."),
) -> None:
    """Copy a run's agent without its optimizer state (a third of the size), with its config and
    learning curve, so 'vlm-rewards eval-agent OUT_DIR --seed S' re-evaluates it anywhere."""
    from vlm_rewards.agents.ship import ship_agent as _ship

    if weights not in ("fp32", "fp16"):
        raise _fail(f"--weights must be fp32 or fp16, got {weights!r}")
    try:
        out = _ship(run_dir, out_dir, max_bytes=int(max_mb * 2**20), weights=weights)
    except (ValueError, OSError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"shipped: {out / 'model.zip'} ({(out / 'model.zip').stat().st_size / 2**20:.2f} MiB)")


@app.command()
def demo(
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", "-o", help="Run directory (default: runs/demo-<time>)."),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="Env steps (default: the demo's)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """The main job: train a VLM-reward agent on Phone with the built-in model, report held-out success."""
    from vlm_rewards.agents.demo import run_demo

    try:
        result, report_path = run_demo(run_dir, total_steps=steps, progress=progress, log=typer.echo)
    except (ValueError, TypeError, OSError) as exc:
        raise _fail(str(exc)) from None
    f, t = result.final, result.train_stats
    prec = f.get("precision")
    typer.echo(
        f"\nheld-out ground-truth success: {f['gt_success']:.0%} of {int(f['episodes'])} episodes "
        f"(VLM return {f['vlm_return']:.2f}; precision of the VLM's successes: "
        f"{'n/a' if prec is None or prec != prec else f'{prec:.0%}'})\n"
        f"held-out direct success (no wrong app opened first): {f['direct_success']:.0%} "
        f"(chance for a policy that ignores its goal: at most {f['direct_chance']:.0%})"
    )
    if t.get("train_episodes"):
        typer.echo(
            f"training goals, last 100 training episodes: ground-truth success {t['train_gt_success']:.0%}, "
            f"direct {t['train_direct_success']:.0%}, VLM reward fired {t['train_vlm_success']:.0%}, "
            f"precision {t['train_precision']:.0%}"
        )
    typer.echo(f"report: {report_path}")
    typer.echo(f"run directory: {result.run_dir}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
