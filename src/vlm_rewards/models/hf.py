"""Hugging Face transformers backend: CLIP, SigLIP and any model with
``get_image_features`` / ``get_text_features``, loaded from a local directory.

Hub ids are resolved to a local snapshot by :mod:`vlm_rewards.models.loading` first, so
this module only ever reads files from disk.
"""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path
from typing import Any

from vlm_rewards._validation import check_device, check_frames, check_goals, check_special_tokens
from vlm_rewards.models.base import ModelLoadError
from vlm_rewards.models.preprocess import ImagePreprocessor

log = logging.getLogger(__name__)

_TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "spiece.model", "tokenizer.model", "vocab.txt")
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
# Models trained with fixed-length padding (SigLIP) must be fed the same at inference.
_PAD_TO_MAX_LENGTH = {"siglip"}


def pooled_features(output: Any, what: str):
    """The projected embeddings from ``get_{image,text}_features`` across transformers versions."""
    import torch

    if isinstance(output, torch.Tensor):  # transformers < 5
        return output
    pooled = getattr(output, "pooler_output", None)
    if isinstance(pooled, torch.Tensor):  # transformers >= 5 returns a ModelOutput
        return pooled
    raise TypeError(f"get_{what}_features returned {type(output).__name__}, expected a tensor or pooler_output")


def check_model_dir(path: Path) -> None:
    """Fail early, naming the file, when a model directory is incomplete or corrupted."""
    config = path / "config.json"
    if not config.is_file():
        raise ModelLoadError(f"{config} is missing: {path} is not a Hugging Face model directory")
    try:
        json.loads(config.read_text())
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{config} is not valid JSON ({exc}); the model directory is corrupted") from exc
    if not any((path / f).is_file() for f in _WEIGHT_FILES):
        raise ModelLoadError(f"{path} has no weights (expected one of {', '.join(_WEIGHT_FILES)})")
    for weights in sorted(path.glob("*.safetensors")):
        from safetensors import safe_open

        try:
            with safe_open(str(weights), framework="pt") as f:
                f.keys()
        except Exception as exc:  # safetensors raises its own error types
            raise ModelLoadError(f"{weights} is corrupted or truncated ({exc})") from exc
        _check_safetensors_length(weights)
    if not any((path / f).is_file() for f in _TOKENIZER_FILES):
        raise ModelLoadError(
            f"{path} has no tokenizer files (expected one of {', '.join(_TOKENIZER_FILES)}); "
            "refusing to build a tokenizer from nothing"
        )


def _check_safetensors_length(weights: Path) -> None:
    # safe_open memory-maps lazily, so a truncated file only fails when a tensor is read.
    # The header states the data size; compare it with the file size.
    import struct

    with weights.open("rb") as fh:
        raw = fh.read(8)
        if len(raw) < 8:
            raise ModelLoadError(f"{weights} is truncated (no header)")
        (header_len,) = struct.unpack("<Q", raw)
        try:
            header = json.loads(fh.read(header_len))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelLoadError(f"{weights} has a corrupted header ({exc})") from exc
    end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
    expected = 8 + header_len + end
    actual = weights.stat().st_size
    if actual < expected:
        raise ModelLoadError(f"{weights} is truncated: {actual} bytes on disk, header expects {expected}")


class HFVisionLanguageModel:
    """A transformers contrastive model behind the :class:`VisionLanguageModel` protocol.

    Example:
        >>> model = HFVisionLanguageModel.from_pretrained("path/to/clip")  # doctest: +SKIP
        >>> model.encode_texts(["a red ball"]).shape  # doctest: +SKIP
        torch.Size([1, 512])
    """

    def __init__(self, model, tokenizer, preprocessor: ImagePreprocessor, name: str, max_text_length: int = 77):
        import torch

        for method in ("get_image_features", "get_text_features"):
            if not callable(getattr(model, method, None)):
                raise TypeError(f"model must expose {method}() (CLIP, SigLIP, ...), got {type(model).__name__}")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.preprocessor = preprocessor
        self.name = name
        self.max_text_length = int(max_text_length)
        model_type = getattr(model.config, "model_type", "")
        self._padding = "max_length" if model_type in _PAD_TO_MAX_LENGTH else "longest"
        self._num_parameters = sum(p.numel() for p in model.parameters())
        scale = getattr(model, "logit_scale", None)
        self._logit_scale = float(scale.detach().float().exp()) if isinstance(scale, torch.Tensor) else 100.0
        self._compile = False
        self._compiled_forward = None

    @classmethod
    def from_pretrained(cls, path: str | Path, name: str | None = None, device=None, dtype=None) -> HFVisionLanguageModel:
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        from vlm_rewards.models.stem import stem_models, stem_of

        path = Path(path)
        check_model_dir(path)
        from transformers.utils import logging as hf_logging

        bar = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # a per-tensor bar on every load is noise in RL logs
        try:
            config = AutoConfig.from_pretrained(path, local_files_only=True)
            # Only models whose config names the conv stem go through the stem's constructor.
            with stem_models() if stem_of(config) == "conv" else contextlib.nullcontext():
                model = AutoModel.from_pretrained(path, local_files_only=True)
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelLoadError(f"could not load the model in {path}: {exc}") from exc
        finally:
            if bar:
                hf_logging.enable_progress_bar()
        text_config = getattr(config, "text_config", config)
        _check_tokenizer(tokenizer, int(getattr(text_config, "vocab_size", 0) or 0), path)
        vision_config = getattr(config, "vision_config", config)
        default_size = int(getattr(vision_config, "image_size", 224) or 224)
        if (path / "preprocessor_config.json").is_file():
            preprocessor = ImagePreprocessor.from_pretrained(path, default_size=default_size)
        else:
            log.warning("%s has no preprocessor_config.json; resizing to %d with CLIP's mean/std", path, default_size)
            preprocessor = ImagePreprocessor(size=(default_size, default_size))
        max_len = int(getattr(text_config, "max_position_embeddings", 77) or 77)
        vlm = cls(model, tokenizer, preprocessor, name=name or str(path), max_text_length=max_len)
        return vlm.to(device=device, dtype=dtype)

    # --- protocol -------------------------------------------------------------------
    @property
    def num_parameters(self) -> int:
        return self._num_parameters

    @property
    def logit_scale(self) -> float:
        return self._logit_scale

    @property
    def device(self):
        return next(self.model.parameters()).device

    @property
    def dtype(self):
        return next(self.model.parameters()).dtype

    @property
    def special_tokens(self) -> tuple[str, ...]:
        """The tokenizer's markup-style special tokens (``<|endoftext|>``, ``</s>``, ``[SEP]``,
        ...): text holding one is refused, since the tokenizer would cut the text there."""
        if not hasattr(self, "_special_tokens"):
            found = set(getattr(self.tokenizer, "all_special_tokens", []) or [])
            decoder = getattr(self.tokenizer, "added_tokens_decoder", None) or {}
            found |= {str(t) for t in decoder.values() if getattr(t, "special", False)}
            # Markup-style tokens only: some CLIP checkpoints name "!" their pad token, and
            # refusing every goal with an exclamation mark would be wrong (its id is the
            # ordinary "!" anyway).
            self._special_tokens = tuple(sorted(t for t in found if len(t) >= 2 and any(c in t for c in "<>[]|")))
        return self._special_tokens

    @property
    def image_size(self) -> tuple[int, int]:
        return self.preprocessor.output_size

    def to(self, device=None, dtype=None) -> HFVisionLanguageModel:
        """Move/cast the weights (e.g. ``dtype=torch.bfloat16`` for AMX CPUs and GPUs)."""
        import torch

        if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise TypeError(f"dtype must be a floating torch.dtype such as torch.bfloat16, got {dtype!r}")
        check_device(device, "device")
        self.model.to(device=device, dtype=dtype)
        self._compiled_forward = None  # compiled for the old weights; recompiled on next use
        return self

    # --- fast inference ---------------------------------------------------------------
    def compile(self, enabled: bool = True) -> HFVisionLanguageModel:
        """Run the image tower through ``torch.compile`` (inductor; weight freezing on CPU).

        The first ``encode_images`` call after this compiles (seconds to a minute); later
        calls of any batch size reuse the kernels. See :mod:`vlm_rewards.models.accel`.
        """
        self._compile = bool(enabled)
        self._compiled_forward = None
        return self

    @property
    def compiled(self) -> bool:
        return self._compile

    def set_attention(self, implementation: str) -> HFVisionLanguageModel:
        """Switch the attention kernels: ``"sdpa"`` (torch's fused kernel, the default) or ``"eager"``."""
        if implementation not in ("sdpa", "eager"):
            raise ValueError(f"implementation must be 'sdpa' or 'eager', got {implementation!r}")
        self.model.set_attn_implementation(implementation)
        self._compiled_forward = None
        return self

    def _image_forward(self, pixels):
        return pooled_features(self.model.get_image_features(pixel_values=pixels), "image")

    def preprocess(self, frames: Any):
        """Validated frames ``(N, H, W, 3)`` -> model-ready pixels ``(N, 3, h, w)`` on the model's device and dtype."""
        return self.preprocessor(check_frames(frames, "frames"), device=self.device, dtype=self.dtype)

    def encode_pixels(self, pixels):
        """``(N, D)`` L2-normalised float32 embeddings of preprocessed ``pixels`` (see :meth:`preprocess`)."""
        import torch

        forward = self._image_forward
        if self._compile:
            if self._compiled_forward is None:
                from vlm_rewards.models.accel import compile_image_forward

                self._compiled_forward = compile_image_forward(self._image_forward, self.device)
            forward = self._compiled_forward
        with torch.inference_mode():
            return torch.nn.functional.normalize(forward(pixels).float(), dim=-1)

    def encode_images(self, frames: Any):
        import torch

        with torch.inference_mode():
            return self.encode_pixels(self.preprocess(frames))

    def encode_patches(self, frames: Any):
        """``(N, D, h, w)`` per-patch embeddings in the image-text space: each patch token of the
        image tower's last layer through the tower's final norm and the image projection, L2-
        normalised (what the pooled token gets, applied to every patch, as in MaskCLIP).

        A patch's similarity with a text embedding then says, roughly, whether what the text
        names is in that part of the view: a frozen, pretrained spatial feature for a policy
        (``agent.vlm_patches``). CLIP-style models only (a ViT tower and ``visual_projection``).
        """
        import torch

        vision = getattr(self.model, "vision_model", None)
        projection = getattr(self.model, "visual_projection", None)
        if vision is None or projection is None or not hasattr(vision, "post_layernorm"):
            raise TypeError(f"encode_patches needs a CLIP-style model (vision_model, visual_projection), "
                            f"got {type(self.model).__name__}")
        with torch.inference_mode():
            pixels = self.preprocess(frames)
            tokens = vision(pixel_values=pixels).last_hidden_state[:, 1:]
            emb = torch.nn.functional.normalize(projection(vision.post_layernorm(tokens)).float(), dim=-1)
            n, p, d = emb.shape
            side = int(round(p**0.5))
            if side * side != p:
                raise ValueError(f"the image tower gave {p} patch tokens, not a square grid")
            return emb.transpose(1, 2).reshape(n, d, side, side)

    def encode_texts(self, texts: list[str]):
        import torch

        texts = check_goals(texts, "texts")
        for i, t in enumerate(texts):
            check_special_tokens(t, self.special_tokens, f"texts[{i}]")
        tokens = self.tokenizer(
            texts,
            padding=self._padding,
            truncation=True,
            max_length=self.max_text_length,
            return_tensors="pt",
        )
        kwargs = {"input_ids": tokens["input_ids"].to(self.device)}
        if "attention_mask" in tokens and self._padding != "max_length":
            kwargs["attention_mask"] = tokens["attention_mask"].to(self.device)
        with torch.inference_mode():
            feats = pooled_features(self.model.get_text_features(**kwargs), "text")
            return torch.nn.functional.normalize(feats.float(), dim=-1)

    def __repr__(self) -> str:
        return f"HFVisionLanguageModel(name={self.name!r}, params={self.num_parameters:,}, dtype={self.dtype})"


def _check_tokenizer(tokenizer, vocab_size: int, path: Path) -> None:
    """Refuse tokenizers that cannot be the model's own.

    With files missing and HF_HUB_OFFLINE=1, transformers can hand back a tokenizer with
    only its special tokens (e.g. a 2-token CLIPTokenizer): every word becomes <unk> and
    every goal gets the same embedding, a silently wrong reward.
    """
    n = len(tokenizer)
    if vocab_size and n < max(8, vocab_size // 4):
        raise ModelLoadError(
            f"the tokenizer in {path} has {n} tokens but the model's vocab_size is {vocab_size}: "
            "the tokenizer files are missing or broken"
        )
    if vocab_size and n > vocab_size:
        raise ModelLoadError(f"the tokenizer in {path} has {n} tokens, more than the model's vocab_size {vocab_size}")
    ids = tokenizer("a red ball next to a blue key", add_special_tokens=False)["input_ids"]
    unk = tokenizer.unk_token_id
    if not ids or (unk is not None and all(i == unk for i in ids)):
        raise ModelLoadError(f"the tokenizer in {path} maps ordinary words to the unknown token: it is broken")
