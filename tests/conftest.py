"""Shared fixtures: tiny randomly initialised CLIP and SigLIP models saved in Hugging Face
format, with a tokenizer trained here, so tests exercise the real loading path offline."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from helpers import make_tiny_clip, make_tiny_siglip  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _temp_files_under_pytest(tmp_path_factory):
    # Tests that train a plain SB3 agent on the project's envs get SB3's default logger, which
    # makes a directory under the system temp dir per learn(); keep those under pytest's
    # own (pruned) base directory.
    import tempfile

    previous = tempfile.tempdir
    tempfile.tempdir = str(tmp_path_factory.mktemp("tempfile"))
    yield
    tempfile.tempdir = previous


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


_EXIT_STATUS: list[int] = []


def pytest_sessionfinish(session, exitstatus):
    _EXIT_STATUS.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    # The suite loads native libraries that own threads and GPU-less GL contexts (torch's
    # thread pools, Mesa EGL under pyglet for MiniWorld). Their teardown at interpreter exit
    # has crashed (SIGSEGV) once in a full run after every test had passed and the summary was
    # printed, turning a green run red. Once pytest has reported, leave with its exit status
    # instead of running that teardown.
    if _EXIT_STATUS and os.environ.get("VLM_REWARDS_TEST_NATIVE_TEARDOWN") != "1":
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT_STATUS[-1])
