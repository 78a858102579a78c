"""``load_model(spec)``: resolve a model spec to files on disk and load them.

Specs:

- ``hf:<hub id>`` (e.g. ``hf:openai/clip-vit-base-patch32``): a Hugging Face hub model,
  taken from the local cache; fetched only when the hub is reachable and
  ``HF_HUB_OFFLINE`` is not set;
- a local directory in Hugging Face format (``config.json``, weights, tokenizer,
  ``preprocessor_config.json``);
- ``builtin:<name>``: a model shipped inside the package (``builtin:default``).
"""

from __future__ import annotations

import os
import socket
from importlib import resources
from pathlib import Path
from urllib.parse import urlparse

from vlm_rewards.models.base import ModelNotAvailableError, VisionLanguageModel

# Files a contrastive model needs; skipping the rest (other frameworks' weights) keeps
# downloads small.
_HUB_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.bin"]
_HOW_TO_PROVIDE = (
    "Provide the weights on disk: on a machine with hub access run "
    "`huggingface-cli download {repo}` (or `save_pretrained` to a directory), copy the "
    "cache or directory here, and pass `hf:{repo}` (cached) or the directory path as the model."
)


def builtin_models() -> dict[str, Path]:
    """Models shipped with the package: name -> directory."""
    root = resources.files("vlm_rewards") / "assets" / "models"
    found = {}
    if root.is_dir():
        for entry in root.iterdir():
            if entry.is_dir() and (entry / "config.json").is_file():
                found[entry.name] = Path(str(entry))
    return dict(sorted(found.items()))


def _hub_reachable(timeout: float = 3.0) -> bool:
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def _offline() -> bool:
    return any(os.environ.get(v, "").strip().lower() in {"1", "true", "yes", "on"} for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def resolve_hub(repo_id: str) -> Path:
    """Local snapshot directory of ``repo_id``; raises quickly when it cannot be had."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    if not repo_id or repo_id.count("/") > 1 or repo_id.startswith("/"):
        raise ValueError(f"model spec 'hf:{repo_id}' must name a hub id such as 'hf:openai/clip-vit-base-patch32'")
    try:
        path = Path(snapshot_download(repo_id, local_files_only=True, allow_patterns=_HUB_PATTERNS))
        if (path / "config.json").is_file():
            return path
    except LocalEntryNotFoundError:
        pass
    # Checked before any download so that an offline machine fails in seconds instead of
    # sitting in the hub client's retry loop.
    if _offline() or not _hub_reachable():
        why = "HF_HUB_OFFLINE is set" if _offline() else "the Hugging Face hub cannot be reached"
        raise ModelNotAvailableError(
            f"model 'hf:{repo_id}' is not on disk and {why}. " + _HOW_TO_PROVIDE.format(repo=repo_id)
        )
    try:
        return Path(snapshot_download(repo_id, allow_patterns=_HUB_PATTERNS, etag_timeout=5))
    except Exception as exc:  # network and auth errors from huggingface_hub
        raise ModelNotAvailableError(
            f"could not fetch model 'hf:{repo_id}' ({exc}). " + _HOW_TO_PROVIDE.format(repo=repo_id)
        ) from exc


def resolve_spec(spec: str | os.PathLike) -> tuple[Path, str]:
    """``spec`` -> (local model directory, display name)."""
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if not isinstance(spec, str) or not spec.strip():
        raise TypeError(f"model spec must be a non-empty string ('hf:<id>', a directory or 'builtin:<name>'), got {spec!r}")
    if spec.startswith("hf:"):
        return resolve_hub(spec[3:]), spec
    if spec.startswith("builtin:"):
        name = spec[len("builtin:") :]
        available = builtin_models()
        if name not in available:
            listed = ", ".join(f"builtin:{n}" for n in available) or "none are installed"
            raise ModelNotAvailableError(f"unknown built-in model {spec!r}; available: {listed}")
        return available[name], spec
    path = Path(spec).expanduser()
    if path.is_dir():
        return path, str(path)
    hint = f" (did you mean 'hf:{spec}'?)" if spec.count("/") == 1 and not path.exists() else ""
    raise ModelNotAvailableError(
        f"model spec {spec!r} is neither 'hf:<id>', 'builtin:<name>' nor an existing directory{hint}"
    )


def load_model(spec: str | os.PathLike, device=None, dtype=None) -> VisionLanguageModel:
    """Load a contrastive VLM from ``spec`` (see module docstring).

    ``device`` and ``dtype`` (e.g. ``"cuda"``, ``torch.bfloat16``) are applied after
    loading. Raises :class:`ModelNotAvailableError` when the weights cannot be had and
    :class:`ModelLoadError` when files on disk are corrupted.

    Example:
        >>> from vlm_rewards import load_model
        >>> model = load_model("builtin:default")  # doctest: +SKIP
        >>> model.encode_texts(["open the clock app"]).shape  # doctest: +SKIP
    """
    from vlm_rewards._validation import check_device
    from vlm_rewards.models.hf import HFVisionLanguageModel

    # Before the (slow) load, so a bad device fails in a moment with the argument's name.
    check_device(device, "device")
    path, name = resolve_spec(spec)
    return HFVisionLanguageModel.from_pretrained(path, name=name, device=device, dtype=dtype)
