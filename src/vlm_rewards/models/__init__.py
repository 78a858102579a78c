"""VLM backends behind one protocol (``encode_images`` / ``encode_texts``)."""

from vlm_rewards.models.base import ModelLoadError, ModelNotAvailableError, VisionLanguageModel
from vlm_rewards.models.loading import builtin_models, load_model, resolve_spec

__all__ = [
    "ModelLoadError",
    "ModelNotAvailableError",
    "VisionLanguageModel",
    "builtin_models",
    "load_model",
    "resolve_spec",
]
