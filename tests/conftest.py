"""Shared fixtures: tiny randomly initialised CLIP and SigLIP models saved in Hugging Face
format, with a tokenizer trained here, so tests exercise the real loading path offline."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from helpers import make_tiny_clip, make_tiny_siglip  # noqa: E402


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory):
    return make_tiny_clip(tmp_path_factory.mktemp("tiny_clip"))


@pytest.fixture(scope="session")
def tiny_siglip_dir(tmp_path_factory):
    return make_tiny_siglip(tmp_path_factory.mktemp("tiny_siglip"))


@pytest.fixture(scope="session")
def tiny_model(tiny_clip_dir):
    from vlm_rewards import load_model

    return load_model(tiny_clip_dir)
