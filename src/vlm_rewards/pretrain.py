"""Contrastive pre-training of small CLIP models on a caption corpus (:mod:`vlm_rewards.data`).

A Hugging Face ``CLIPModel`` (ViT image tower, causal text transformer) is trained from
scratch with the symmetric InfoNCE loss and CLIP's learned temperature (``logit_scale``,
clamped at 100). Frames whose corpus labels are equal count as positives of each other,
so the many frames of one app screen are not pushed apart as false negatives. The
tokenizer is a BPE trained on the corpus captions. Training uses AdamW with linear
warm-up and cosine decay, bf16 autocast where the device runs it natively (AMX CPUs, GPUs),
light augmentation suited to rendered RL frames (small shifts/zooms, mild colour jitter), and
atomic checkpoints from which an interrupted run resumes to the same weights (every random
draw is a function of the seed and the step).

The output directory is a standard Hugging Face model directory: ``load_model(path)`` and
``transformers.CLIPModel.from_pretrained(path)`` both load it, except that a model with the
convolutional stem (``stem="conv"``) needs ``load_model``, which builds the stem first.

Example:
    >>> from vlm_rewards.data import collect_corpus
    >>> from vlm_rewards.pretrain import pretrain
    >>> collect_corpus("corpus", frames_per_domain=2048, seed=0)  # doctest: +SKIP
    >>> pretrain("corpus", "my-clip", size="s", steps=2000, batch_size=256, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import io
import math
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vlm_rewards.io import atomic_write_bytes, atomic_write_json
from vlm_rewards.models.hf import pooled_features

__all__ = [
    "SIZES",
    "build_model",
    "copy_model_files",
    "evaluate_house",
    "evaluate_phone",
    "evaluate_phone_icons",
    "house_find_frames",
    "preprocessor_config",
    "pretrain",
]

#: Named model sizes (parameter counts with a 1,000-token vocabulary at 64 px).
SIZES: dict[str, dict[str, Any]] = {
    # ~0.09M
    "xxs": {"vision": dict(hidden_size=32, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2),
            "text": dict(hidden_size=32, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2),
            "projection_dim": 32},
    # ~0.4M
    "xs": {"vision": dict(hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=2),
           "text": dict(hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=2),
           "projection_dim": 64},
    # ~2M
    "s": {"vision": dict(hidden_size=128, intermediate_size=512, num_hidden_layers=4, num_attention_heads=4),
          "text": dict(hidden_size=128, intermediate_size=512, num_hidden_layers=3, num_attention_heads=4),
          "projection_dim": 128},
    # ~4M
    "ms": {"vision": dict(hidden_size=192, intermediate_size=768, num_hidden_layers=5, num_attention_heads=4),
           "text": dict(hidden_size=192, intermediate_size=768, num_hidden_layers=3, num_attention_heads=4),
           "projection_dim": 192},
    # ~8M
    "m": {"vision": dict(hidden_size=256, intermediate_size=1024, num_hidden_layers=6, num_attention_heads=4),
          "text": dict(hidden_size=256, intermediate_size=1024, num_hidden_layers=4, num_attention_heads=4),
          "projection_dim": 256},
    # ~25M
    "l": {"vision": dict(hidden_size=384, intermediate_size=1536, num_hidden_layers=8, num_attention_heads=6),
          "text": dict(hidden_size=384, intermediate_size=1536, num_hidden_layers=6, num_attention_heads=6),
          "projection_dim": 384},
}

_CHECKPOINT = "checkpoint.pt"
_STATE = "train_state.json"
_MAX_LOGIT_SCALE = math.log(100.0)


def _check_int(value: Any, name: str, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise ValueError(f"{name} must be an int >= {lo}, got {value!r}")
    return int(value)


def build_model(size: str, tokenizer, image_size: int = 64, patch_size: int = 8, seed: int = 0, stem: str = "patch"):
    """A freshly initialised ``CLIPModel`` of preset ``size`` (a key of :data:`SIZES`), with
    CLIP's patch projection (``stem="patch"``) or a convolutional stem (``"conv"``,
    :mod:`vlm_rewards.models.stem`)."""
    import torch
    from transformers import CLIPConfig, CLIPModel

    from vlm_rewards.models.stem import STEM_KEY, STEMS, check_patch_size, stem_models

    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, got {size!r}")
    if image_size % patch_size:
        raise ValueError(f"image_size must be a multiple of patch_size={patch_size}, got {image_size}")
    if stem not in STEMS:
        raise ValueError(f"stem must be one of {STEMS}, got {stem!r}")
    if stem == "conv":
        check_patch_size(patch_size)
    preset = SIZES[size]
    config = CLIPConfig(
        text_config=dict(
            **preset["text"],
            vocab_size=len(tokenizer),
            max_position_embeddings=tokenizer.model_max_length,
            eos_token_id=tokenizer.eos_token_id,
            bos_token_id=tokenizer.bos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        ),
        vision_config=dict(**preset["vision"], image_size=image_size, patch_size=patch_size,
                           **({STEM_KEY: stem} if stem != "patch" else {})),
        projection_dim=preset["projection_dim"],
    )
    torch.manual_seed(seed)
    with stem_models():
        return CLIPModel(config)


def preprocessor_config(image_size: int) -> dict[str, Any]:
    """``preprocessor_config.json`` of a ``CLIPImageProcessor`` for ``image_size`` square inputs.

    Written as data: importing transformers' image processors costs seconds and the file
    is all that :class:`~vlm_rewards.models.preprocess.ImagePreprocessor` and
    ``CLIPImageProcessor.from_pretrained`` read.
    """
    from vlm_rewards.models.preprocess import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD

    return {
        "image_processor_type": "CLIPImageProcessor",
        "do_resize": True,
        "size": {"shortest_edge": image_size},
        "resample": 3,
        "do_center_crop": True,
        "crop_size": {"height": image_size, "width": image_size},
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": list(OPENAI_CLIP_MEAN),
        "image_std": list(OPENAI_CLIP_STD),
        "do_convert_rgb": True,
    }


# --- Data ----------------------------------------------------------------------------------


def _positive_keys(labels: Sequence[str]) -> np.ndarray:
    """Integer id per sample; equal ids are positives of each other."""
    ids: dict[str, int] = {}
    return np.array([ids.setdefault(lab, len(ids)) for lab in labels], dtype=np.int64)


def _group_order(groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # Groups are runs of equal ids; shuffle the runs, then lay out their members in order.
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    sizes = np.diff(np.r_[starts, len(groups)])
    pick = rng.permutation(len(starts))
    return np.repeat(starts[pick] - np.cumsum(np.r_[0, sizes[pick][:-1]]), sizes[pick]) + np.arange(len(groups))


def _batch_indices(n: int, batch_size: int, step: int, seed: int, groups: np.ndarray | None = None,
                   strata: np.ndarray | None = None) -> np.ndarray:
    """Indices (into ``n`` samples) of batch ``step``: an epoch is a seeded permutation of the
    groups (a frame and its twins; default: one group per sample), members kept adjacent, so
    twins land in one batch (one may be cut off at a batch boundary). A pure function of
    (seed, step): resuming needs no saved sampler state.

    With ``strata`` (an id per sample, e.g. its domain) every batch holds samples of one
    stratum only: each stratum's epoch order is cut into whole batches (its remainder is
    dropped), and the batches of all strata are shuffled together.
    """
    if groups is None:
        groups = np.arange(n)
    if strata is None:
        per_epoch = max(1, n // batch_size)
        epoch, k = divmod(step, per_epoch)
        order = _group_order(groups, np.random.default_rng([seed, 1, epoch]))
        return order[k * batch_size : (k + 1) * batch_size]
    kinds = np.unique(strata)
    rows = [np.flatnonzero(strata == s) for s in kinds]
    counts = [max(1, len(r) // batch_size) for r in rows]
    epoch, k = divmod(step, sum(counts))
    rng = np.random.default_rng([seed, 1, epoch])
    batches = []
    for r, c in zip(rows, counts):
        order = r[_group_order(groups[r], rng)]
        batches.extend(order[b * batch_size : (b + 1) * batch_size] for b in range(c))
    return batches[rng.permutation(len(batches))[k]]


def _heldout_split(groups: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, held-out rows): a seeded ``fraction`` of the groups (twins stay together)."""
    unique = np.unique(groups)
    k = int(round(fraction * len(unique)))
    held = np.random.default_rng([seed, 3]).choice(unique, size=k, replace=False) if k else unique[:0]
    mask = np.isin(groups, held)
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def _augment(x, generator, max_shift: float = 0.08, zoom: float = 0.1, jitter: float = 0.1):
    """Random small translation/zoom and mild brightness/contrast/colour jitter; ``x`` in [0, 1], NCHW."""
    import torch
    import torch.nn.functional as F

    n = x.shape[0]
    # Random numbers come from the (CPU) generator whatever x's device, so a seed means
    # the same augmentations on CPU and GPU.
    u = torch.rand(n, 6, generator=generator).to(x.device)
    scale = 1.0 - zoom * u[:, 0]  # zoom in only: no empty borders
    tx = (u[:, 1] * 2 - 1) * max_shift
    ty = (u[:, 2] * 2 - 1) * max_shift
    theta = torch.zeros(n, 2, 3, device=x.device)
    theta[:, 0, 0] = scale
    theta[:, 1, 1] = scale
    theta[:, 0, 2] = tx
    theta[:, 1, 2] = ty
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    brightness = 1 + (u[:, 3] * 2 - 1) * jitter
    contrast = 1 + (u[:, 4] * 2 - 1) * jitter
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * contrast.view(n, 1, 1, 1) + mean * brightness.view(n, 1, 1, 1)
    tint = 1 + (torch.rand(n, 3, 1, 1, generator=generator).to(x.device) * 2 - 1) * (jitter / 2)
    return (x * tint).clamp(0, 1)


def _lr_factor(step: int, steps: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _contrastive_loss(image_emb, text_emb, logit_scale, keys):
    """Symmetric InfoNCE with multi-positive targets (samples sharing a key)."""
    import torch
    import torch.nn.functional as F

    image_emb = F.normalize(image_emb.float(), dim=-1)
    text_emb = F.normalize(text_emb.float(), dim=-1)
    logits = logit_scale.exp() * image_emb @ text_emb.t()
    pos = (keys[:, None] == keys[None, :]).float()
    targets = pos / pos.sum(1, keepdim=True)
    loss_i = -(targets * F.log_softmax(logits, dim=1)).sum(1).mean()
    loss_t = -(targets * F.log_softmax(logits.t(), dim=1)).sum(1).mean()
    with torch.no_grad():
        acc = (pos.gather(1, logits.argmax(1, keepdim=True)).mean())
    return (loss_i + loss_t) / 2, acc


def _sigmoid_loss(image_emb, text_emb, logit_scale, logit_bias, keys):
    """SigLIP's pairwise sigmoid loss (Zhai et al. 2023): every image-text pair of the batch is a
    binary problem, positive when the samples share a key; summed over texts, mean over images."""
    import torch
    import torch.nn.functional as F

    image_emb = F.normalize(image_emb.float(), dim=-1)
    text_emb = F.normalize(text_emb.float(), dim=-1)
    logits = logit_scale.exp() * image_emb @ text_emb.t() + logit_bias
    pos = (keys[:, None] == keys[None, :]).float()
    loss = -F.logsigmoid((2 * pos - 1) * logits).sum(1).mean()
    with torch.no_grad():
        acc = pos.gather(1, logits.argmax(1, keepdim=True)).mean()
    return loss, acc


LOSSES = ("infonce", "siglip")
#: How ``pretrain`` fills a batch: frames of all domains, or of one domain per batch.
BATCHES = ("mixed", "domain")


# --- Training ------------------------------------------------------------------------------


def _save_checkpoint(out: Path, model, optimizer, step: int, history: list[dict[str, float]],
                     evals: list[dict[str, float]], logit_bias: float) -> None:
    import torch

    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "history": history,
                "evals": evals, "logit_bias": logit_bias}, buf)
    atomic_write_bytes(out / _CHECKPOINT, buf.getvalue())


def pretrain(
    corpus_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    size: str = "s",
    steps: int = 2000,
    batch_size: int = 256,
    seed: int = 0,
    resume: bool = True,
    *,
    lr: float = 1e-3,
    weight_decay: float = 0.1,
    warmup_steps: int | None = None,
    vocab_size: int = 1000,
    max_text_length: int = 32,
    patch_size: int = 8,
    stem: str = "patch",
    checkpoint_every: int = 200,
    loss: str = "infonce",
    batches: str = "mixed",
    heldout_fraction: float = 0.02,
    eval_every: int | None = None,
    device: str | None = None,
    bf16: bool | None = None,
    threads: int | None = None,
    progress: bool = False,
    callback: Callable[[int, float], None] | None = None,
) -> Path:
    """Train a CLIP model of preset ``size`` on the corpus in ``corpus_dir``; write it to ``out_dir``.

    ``out_dir`` receives ``config.json``, ``model.safetensors``, the tokenizer files,
    ``preprocessor_config.json`` and ``training_log.json``. With ``resume=True`` a run
    interrupted after a checkpoint (every ``checkpoint_every`` steps) continues from it
    and ends with the same weights as an uninterrupted run. ``callback(step, loss)`` is
    called after every step. Returns ``out_dir``.

    Each step draws one of each frame's captions (:func:`vlm_rewards.data.read_corpus`) and
    keeps twins in one batch (in-batch hard negatives). ``loss`` is "infonce" (CLIP's
    symmetric softmax loss) or "siglip" (pairwise sigmoid with a learned bias). ``batches``
    is "mixed" (frames of all domains in each batch) or "domain" (each batch from one domain,
    the domain of a frame being its label's prefix): a reward only ever compares a frame with
    goals of its own domain, so in-batch negatives from other domains teach it little, and
    one-domain batches hold several times more negatives that matter. A fraction
    ``heldout_fraction`` of the corpus's groups is never trained on: every ``eval_every``
    steps (default ``checkpoint_every``) and at the end, the loss on it (first caption, no
    augmentation) is logged as ``heldout_loss`` in ``training_log.json``, to tell convergence
    from overfitting. ``stem`` is "patch" (CLIP's patch projection) or "conv" (a convolutional
    stem, :mod:`vlm_rewards.models.stem`: better shape features, loaded by
    :func:`vlm_rewards.load_model` but not by plain ``CLIPModel.from_pretrained``).

    Example:
        >>> pretrain("corpus", "clip-xs", size="xs", steps=50, batch_size=64)  # doctest: +SKIP
        PosixPath('clip-xs')
    """
    import torch
    from transformers import AutoTokenizer

    from vlm_rewards.data.corpus import read_corpus, read_manifest
    from vlm_rewards.models.preprocess import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD
    from vlm_rewards.models.tokenizer import train_tokenizer

    if bf16 is not None and not isinstance(bf16, bool):
        raise ValueError(f"bf16 must be True, False or None (native bf16 only), got {bf16!r}")
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, got {size!r}")
    steps = _check_int(steps, "steps", 1)
    batch_size = _check_int(batch_size, "batch_size", 2)
    seed = _check_int(seed, "seed", 0)
    checkpoint_every = _check_int(checkpoint_every, "checkpoint_every", 1)
    eval_every = checkpoint_every if eval_every is None else _check_int(eval_every, "eval_every", 1)
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if batches not in BATCHES:
        raise ValueError(f"batches must be one of {BATCHES}, got {batches!r}")
    if isinstance(heldout_fraction, bool) or not isinstance(heldout_fraction, (int, float)) or not 0 <= heldout_fraction < 0.5:
        raise ValueError(f"heldout_fraction must be a float in [0, 0.5), got {heldout_fraction!r}")
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise ValueError(f"lr must be a positive float, got {lr!r}")
    warmup = max(1, steps // 20) if warmup_steps is None else _check_int(warmup_steps, "warmup_steps", 1)
    if threads is not None:
        torch.set_num_threads(_check_int(threads, "threads", 1))
    from vlm_rewards._validation import check_device
    from vlm_rewards.models.stem import STEMS

    if stem not in STEMS:
        raise ValueError(f"stem must be one of {STEMS}, got {stem!r}")
    dev = torch.device(check_device(device, "device") or ("cuda" if torch.cuda.is_available() else "cpu"))
    if bf16 is None:
        # bf16 autocast without native bf16 units is emulated: on an AVX2-only CPU a 30-step
        # run of size s at batch 128 took 477 s against 62 s in fp32 (startup included).
        from vlm_rewards.models.accel import bf16_supported

        bf16 = bf16_supported(dev)

    manifest = read_manifest(corpus_dir)
    image_size = int(manifest["image_size"])
    corpus = read_corpus(corpus_dir)
    train_rows, heldout_rows = _heldout_split(corpus.groups, heldout_fraction, seed)
    frames_np, groups = corpus.frames[train_rows], corpus.groups[train_rows]
    captions = corpus.captions[train_rows]
    labels = [corpus.labels[i] for i in train_rows]
    strata = None
    if batches == "domain":
        strata = np.unique([lab.split(":", 1)[0] for lab in labels], return_inverse=True)[1]
    n = len(frames_np)
    if n < batch_size:
        raise ValueError(f"batch_size={batch_size} is larger than the corpus ({n} frames in {corpus_dir})")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run_args = dict(corpus=str(corpus_dir), size=size, steps=steps, batch_size=batch_size, seed=seed, lr=lr,
                    weight_decay=weight_decay, warmup_steps=warmup, vocab_size=vocab_size,
                    max_text_length=max_text_length, patch_size=patch_size, stem=stem, bf16=bf16,
                    corpus_frames=len(corpus.frames), heldout_frames=len(heldout_rows), loss=loss,
                    heldout_fraction=heldout_fraction, batches=batches, corpus_seed=manifest["seed"], image_size=image_size)

    # The tokenizer is saved before training so a resumed run uses the very same one.
    checkpoint = out / _CHECKPOINT
    if resume and checkpoint.is_file() and (out / "tokenizer.json").is_file():
        tokenizer = AutoTokenizer.from_pretrained(out, local_files_only=True)
    else:
        tokenizer = train_tokenizer(sorted(set(corpus.captions.ravel().tolist())), vocab_size=vocab_size,
                                    model_max_length=max_text_length)
        tokenizer.save_pretrained(out)
    atomic_write_json(out / "preprocessor_config.json", preprocessor_config(image_size))

    model = build_model(size, tokenizer, image_size=image_size, patch_size=patch_size, seed=seed, stem=stem).to(dev)
    # SigLIP's bias lives beside the CLIPModel (which has no slot for it); it only shapes the
    # training loss: rewards use the embeddings and the temperature.
    logit_bias = torch.nn.Parameter(torch.tensor(-10.0 if loss == "siglip" else 0.0, device=dev))
    if loss == "siglip":
        with torch.no_grad():
            model.logit_scale.fill_(math.log(10.0))
    decay, no_decay = [], [logit_bias]
    for name, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "embedding" in name or name == "logit_scale" else decay).append(p)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=lr, betas=(0.9, 0.98), eps=1e-6,
    )
    start, history, evals = 0, [], []
    if resume and checkpoint.is_file():
        state = torch.load(checkpoint, map_location=dev, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start, history = int(state["step"]), list(state["history"])
        evals = list(state.get("evals", []))
        if "logit_bias" in state:
            with torch.no_grad():
                logit_bias.fill_(float(state["logit_bias"]))
        if start > steps:
            raise ValueError(f"the checkpoint in {out} is at step {start}, beyond steps={steps}")

    # Captions come from templates: tokenise each distinct one once.
    unique = sorted(set(corpus.captions.ravel().tolist()))
    cap_index = {c: i for i, c in enumerate(unique)}
    tok = tokenizer(unique, padding="longest", truncation=True, max_length=max_text_length, return_tensors="pt")
    all_ids, all_mask = tok["input_ids"].to(dev), tok["attention_mask"].to(dev)
    caption_ids = torch.tensor([[cap_index[c] for c in row] for row in captions.tolist()]).view(len(captions), -1)
    keys = torch.from_numpy(_positive_keys(labels))
    frames = torch.from_numpy(frames_np)  # uint8 NHWC; converted per batch to save memory
    mean = torch.tensor(OPENAI_CLIP_MEAN, device=dev).view(1, 3, 1, 1)
    std = torch.tensor(OPENAI_CLIP_STD, device=dev).view(1, 3, 1, 1)

    heldout_keys = torch.from_numpy(_positive_keys([corpus.labels[i] for i in heldout_rows]))
    heldout_captions = torch.tensor([cap_index[c] for c in corpus.captions[heldout_rows, 0].tolist()], dtype=torch.long)

    def heldout_eval() -> dict[str, float]:
        # Batches of the training size (in-batch negatives set the loss's scale), in a fixed
        # order; a last partial batch is dropped unless it is the only one.
        model.eval()
        m = len(heldout_rows)
        size = min(batch_size, m)
        total = acc_total = 0.0
        n_batches = max(1, m // size)
        with torch.no_grad(), torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=bf16):
            for b in range(n_batches):
                sel = torch.arange(b * size, (b + 1) * size)
                x = torch.from_numpy(corpus.frames[heldout_rows[sel.numpy()]]).to(dev).permute(0, 3, 1, 2).float().div_(255)
                c = heldout_captions[sel]
                image_emb = pooled_features(model.get_image_features(pixel_values=(x - mean) / std), "image")
                text_emb = pooled_features(model.get_text_features(input_ids=all_ids[c], attention_mask=all_mask[c]), "text")
                k = heldout_keys[sel].to(dev)
                if loss == "siglip":
                    value, acc = _sigmoid_loss(image_emb, text_emb, model.logit_scale, logit_bias, k)
                else:
                    value, acc = _contrastive_loss(image_emb, text_emb, model.logit_scale, k)
                total += value.item()
                acc_total += acc.item()
        return {"heldout_loss": round(total / n_batches, 5), "heldout_acc": round(acc_total / n_batches, 4)}

    bar = _progress(progress, steps, start)
    t0 = time.time()
    model.train()
    with bar:
        for step in range(start, steps):
            idx = torch.from_numpy(_batch_indices(n, batch_size, step, seed, groups, strata))
            gen = torch.Generator().manual_seed(seed * 1_000_003 + step)
            variant = torch.from_numpy(np.random.default_rng([seed, 2, step]).integers(caption_ids.shape[1], size=len(idx)))
            # Augmented where the model runs: on a GPU the CPU would otherwise be the bottleneck.
            x = frames[idx].to(dev).permute(0, 3, 1, 2).float().div_(255)
            x = _augment(x, gen)
            x = (x - mean) / std
            c = caption_ids[idx, variant]
            for group in optimizer.param_groups:
                group["lr"] = lr * _lr_factor(step, steps, warmup)
            with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=bf16):
                image_emb = pooled_features(model.get_image_features(pixel_values=x), "image")
                text_emb = pooled_features(
                    model.get_text_features(input_ids=all_ids[c], attention_mask=all_mask[c]), "text"
                )
            if loss == "siglip":
                value_t, acc = _sigmoid_loss(image_emb, text_emb, model.logit_scale, logit_bias, keys[idx].to(dev))
            else:
                value_t, acc = _contrastive_loss(image_emb, text_emb, model.logit_scale, keys[idx].to(dev))
            optimizer.zero_grad(set_to_none=True)
            value_t.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, _MAX_LOGIT_SCALE)
            value = value_t.item()
            history.append({"step": step + 1, "loss": round(value, 5), "acc": round(acc.item(), 4),
                            "logit_scale": round(model.logit_scale.detach().exp().item(), 3)})
            bar.update(step + 1, value)
            if callback is not None:
                callback(step + 1, value)
            if heldout_rows.size and ((step + 1) % eval_every == 0 or step + 1 == steps):
                evals.append({"step": step + 1, **heldout_eval()})
                model.train()
            if (step + 1) % checkpoint_every == 0 and step + 1 < steps:
                _save_checkpoint(out, model, optimizer, step + 1, history, evals, float(logit_bias.item()))

    model.eval()
    model.to("cpu").save_pretrained(out)
    atomic_write_json(out / "training_log.json", {
        "args": run_args,
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "seconds_this_run": round(time.time() - t0, 1),
        "logit_bias": round(float(logit_bias.item()), 5),
        "evals": evals,
        "history": history,
    })
    checkpoint.unlink(missing_ok=True)
    return out


class _Bar:
    def __init__(self, enabled: bool, total: int, start: int):
        self.enabled = enabled
        self.total, self.start = total, start
        self._progress = None

    def __enter__(self):
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(TextColumn("pretrain"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("loss {task.fields[loss]:.3f}"), TimeRemainingColumn())
            self._progress.__enter__()
            self._task = self._progress.add_task("pretrain", total=self.total, completed=self.start, loss=float("nan"))
        return self

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.__exit__(*exc)
        return False

    def update(self, step: int, loss: float) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=step, loss=loss)


def _progress(enabled: bool, total: int, start: int) -> _Bar:
    return _Bar(enabled, total, start)


# --- Evaluation ----------------------------------------------------------------------------


def evaluate_phone(model: Any, apps: str = "common", split: str = "heldout", episodes: int = 3, seed: int = 12345,
                   **legacy: Any) -> dict[str, float]:
    """Goal retrieval and contrastive-reward quality of ``model`` on Phone goals of ``split``.

    Frames: for ``episodes`` seeded layouts, the home pages and every app of the app set
    ``apps`` ("common" or "diverse") opened. Reports top-1 retrieval of the open app among the ``split`` goals and among all
    goals of the set, and the mean average precision (scikit-learn) of the paper's
    contrastive probability (negatives: the other goals of the set) against ground truth.

    Example:
        >>> evaluate_phone(load_model("builtin:default"), apps="diverse")  # doctest: +SKIP
        {'top1_split': 1.0, 'top1_all': 0.97, 'ap': 0.99, ...}
    """
    import torch
    from sklearn.metrics import average_precision_score

    from vlm_rewards.envs import phone
    from vlm_rewards.models import load_model
    from vlm_rewards.rewards import contrastive_probability

    if "goal_set" in legacy:
        raise TypeError(f"evaluate_phone takes apps='common' or apps='diverse', not goal_set={legacy['goal_set']!r}; "
                        "goal_set was renamed apps")
    if legacy:
        raise TypeError(f"evaluate_phone got unexpected keyword arguments {sorted(legacy)}")
    if isinstance(model, (str, os.PathLike)):
        model = load_model(model)
    size = model.image_size[0]
    env = phone.PhoneEnv(apps=apps, goal_split="all", render_mode="rgb_array", render_size=size)
    all_apps = phone.goal_apps("all", apps)
    split_apps = phone.goal_apps(split, apps)
    frames, fg = [], []
    for e in range(episodes):
        for app in all_apps:
            env.reset(seed=seed + e, options={"goal": phone.goal_text(app)})
            if app == all_apps[0]:  # home pages once per layout
                for page in range(len(env.layout.pages)):
                    env.page = page
                    frames.append(env.render())
                    fg.append("home")
                env.page = 0
            env.foreground = app
            frames.append(env.render())
            fg.append(app)
    image = model.encode_images(np.stack(frames))
    all_goals = [phone.goal_text(a) for a in all_apps]
    text = model.encode_texts(all_goals)
    sims = image @ text.t()
    fg_arr = np.array(fg)
    split_cols = [all_apps.index(a) for a in split_apps]
    rows = np.isin(fg_arr, split_apps)
    pred_split = np.array(split_apps)[sims[:, split_cols].argmax(1).numpy()]
    pred_all = np.array(all_apps)[sims.argmax(1).numpy()]
    aps = []
    for a in split_apps:
        j = all_apps.index(a)
        negatives = torch.cat([text[:j], text[j + 1 :]])
        # at the model's own temperature, as RewardScorer uses by default
        p = contrastive_probability(image, text[j], negatives, temperature=1.0 / model.logit_scale).numpy()
        aps.append(average_precision_score(fg_arr == a, p))
    return {
        "top1_split": float((pred_split[rows] == fg_arr[rows]).mean()),
        "top1_all": float((pred_all[rows] == fg_arr[rows]).mean()),
        "ap": float(np.mean(aps)),
        "num_frames": len(frames),
        "num_goals_split": len(split_apps),
        "num_goals_all": len(all_apps),
    }


def evaluate_phone_icons(model: Any, apps: str = "common", split: str = "heldout", episodes: int = 20,
                         seed: int = 12345) -> dict[str, float]:
    """How often the VLM finds an app's icon on the home screen: over ``episodes`` seeded
    layouts, every page, and every app of ``split`` on that page, the tap cell whose crop
    (``PhoneEnv.region_crops``) is most similar to "the {app} app icon" (the Phone domain's
    ``region_prompt``) is the app's own cell. Chance is one in the page's icons (~1/24).

    Example:
        >>> evaluate_phone_icons(load_model("builtin:default"), split="heldout")["top1"]  # doctest: +SKIP
        0.95
    """
    from vlm_rewards.envs import phone
    from vlm_rewards.models import load_model

    if isinstance(model, (str, os.PathLike)):
        model = load_model(model)
    size = model.image_size[0]
    env = phone.PhoneEnv(apps=apps, goal_split="all", render_mode="rgb_array", render_size=size)
    wanted = set(phone.goal_apps(split, apps))
    hits = total = 0
    text_cache: dict[str, Any] = {}
    for e in range(_check_int(episodes, "episodes", 1)):
        env.reset(seed=seed + e)
        for page in range(len(env.layout.pages)):
            env.page = page
            cells = env.cell_apps()
            targets = [(i, a) for i, a in enumerate(cells) if a in wanted]
            if not targets:
                continue
            image = model.encode_images(env.region_crops(size))
            occupied = [i for i, a in enumerate(cells) if a is not None]
            for cell, app in targets:
                if app not in text_cache:
                    text_cache[app] = model.encode_texts([f"the {app} app icon"])[0]
                sims = image @ text_cache[app]
                best = max(occupied, key=lambda i: float(sims[i]))
                hits += best == cell
                total += 1
    return {"top1": hits / max(total, 1), "num_icons": total}


def house_find_frames(
    objects: Sequence[str], episodes: int = 4, seed: int = 12345, image_size: int = 64, max_steps: int = 250
) -> tuple[np.ndarray, list[str]]:
    """Frames at which exactly one house find goal is achieved, and that goal's object.

    For each object and each of ``episodes`` seeded episodes (seed, seed + 1, ...), the
    scripted solver walks to the object under "go near the {object}"; the frame at which
    it succeeds is kept when no other object is also near and in view (so exactly one find
    goal holds). Episodes the solver does not finish in ``max_steps`` are skipped.

    Example:
        >>> frames, targets = house_find_frames(["red box"], episodes=2)  # doctest: +SKIP
        >>> frames.shape, targets
        ((2, 64, 64, 3), ['red box', 'red box'])
    """
    from vlm_rewards.envs import house

    env = house.HouseEnv(goal_split="all", render_mode="rgb_array", render_size=image_size, max_episode_steps=max_steps)
    frames, targets = [], []
    try:
        for name in objects:
            for e in range(_check_int(episodes, "episodes", 1)):
                obs, info = env.reset(seed=seed + e, options={"goal": f"go near the {name}"})
                solver = house.make_solver(env)
                done = False
                while not done:
                    obs, _, terminated, truncated, info = env.step(solver(obs))
                    done = terminated or truncated
                if not info["ground_truth_success"]:
                    continue
                achieved = [n for n, ent in env.objects.items() if env.is_near(ent) and env.in_view(ent)]
                if achieved == [name]:
                    frames.append(env.render())
                    targets.append(name)
    finally:
        env.close()
    return np.stack(frames) if frames else np.zeros((0, image_size, image_size, 3), np.uint8), targets


def evaluate_house(
    model: Any, groups: dict[str, Sequence[str]] | None = None, episodes: int = 4, seed: int = 12345
) -> dict[str, dict[str, float]]:
    """Top-1 retrieval of house find goals at the frames where the goal is achieved.

    Frames come from :func:`house_find_frames`. For each frame, the goal "go near the
    {object}" of the object reached should be the most similar of all 24 house find goals.
    ``groups`` maps a group name to its objects; by default: the agent's held-out goal
    objects (``house.vocabulary.HELDOUT_OBJECTS``, named in the corpus), the corpus's
    compositional hold-out (:data:`vlm_rewards.data.corpus.COMPOSITIONAL_HOLDOUT`, never
    named in the corpus) and the remaining training objects.

    Example:
        >>> evaluate_house("path/to/model")["heldout"]["top1_all"]  # doctest: +SKIP
        0.85
    """
    from vlm_rewards.data.corpus import COMPOSITIONAL_HOLDOUT
    from vlm_rewards.envs.house.vocabulary import HELDOUT_OBJECTS, OBJECTS, goals
    from vlm_rewards.models import load_model

    if isinstance(model, (str, os.PathLike)):
        model = load_model(model)
    if groups is None:
        rest = [n for n in OBJECTS if n not in HELDOUT_OBJECTS and n not in COMPOSITIONAL_HOLDOUT]
        groups = {"heldout": sorted(HELDOUT_OBJECTS), "compositional": sorted(COMPOSITIONAL_HOLDOUT), "train": rest}
    all_goals = goals("all", family="find")
    text = model.encode_texts(all_goals)
    results = {}
    for group, objects in groups.items():
        unknown = [n for n in objects if f"go near the {n}" not in all_goals]
        if unknown:
            raise ValueError(f"groups[{group!r}] must list house objects from {list(OBJECTS)}, got {unknown}")
        frames, targets = house_find_frames(objects, episodes=episodes, seed=seed, image_size=model.image_size[0])
        if not targets:
            results[group] = {"top1_all": float("nan"), "top1_group": float("nan"), "num_frames": 0}
            continue
        sims = (model.encode_images(frames) @ text.t()).numpy()
        truth = np.array([all_goals.index(f"go near the {n}") for n in targets])
        cols = [all_goals.index(f"go near the {n}") for n in objects]
        pred_group = np.array(cols)[sims[:, cols].argmax(1)]
        results[group] = {
            "top1_all": float((sims.argmax(1) == truth).mean()),
            "top1_group": float((pred_group == truth).mean()),
            "num_frames": len(targets),
            "num_goals_group": len(objects),
            "num_goals_all": len(all_goals),
        }
    return results


def copy_model_files(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Copy the files a model directory needs (no checkpoints) from ``src`` to ``dst``."""
    src, dst = Path(src), Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    for f in sorted(src.iterdir()):
        if f.is_file() and f.name != _CHECKPOINT and (f.suffix in (".json", ".safetensors", ".txt") or f.name == "MODEL_CARD.md"):
            shutil.copyfile(f, dst / f.name)
            (dst / f.name).chmod(0o644)  # atomic writes create 0600 temp files; package data must be readable
    return dst

