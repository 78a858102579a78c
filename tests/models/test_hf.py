import json
import shutil
import time

import numpy as np
import pytest
import torch

from vlm_rewards import ModelLoadError, ModelNotAvailableError, load_model
from vlm_rewards.models import VisionLanguageModel


@pytest.fixture
def frames():
    return np.random.default_rng(0).integers(0, 256, size=(3, 40, 56, 3), dtype=np.uint8)


@pytest.mark.parametrize("which", ["tiny_clip_dir", "tiny_siglip_dir"])
def test_load_and_encode(request, which, frames):
    model = load_model(request.getfixturevalue(which))
    assert isinstance(model, VisionLanguageModel)
    img = model.encode_images(frames)
    txt = model.encode_texts(["a red ball", "open the clock app"])
    assert img.shape[0] == 3 and txt.shape[0] == 2 and img.shape[1] == txt.shape[1]
    torch.testing.assert_close(img.norm(dim=-1), torch.ones(3))
    torch.testing.assert_close(txt.norm(dim=-1), torch.ones(2))
    assert model.num_parameters == sum(p.numel() for p in model.model.parameters()) > 0
    assert model.logit_scale > 0
    # different texts -> different embeddings (tokenizer is not degenerate)
    assert not torch.allclose(txt[0], txt[1])


def test_numpy_torch_and_float_inputs_agree(tiny_model, frames):
    a = tiny_model.encode_images(frames)
    b = tiny_model.encode_images(torch.from_numpy(frames))
    c = tiny_model.encode_images(frames.astype(np.float32) / 255.0)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, c, atol=1e-4, rtol=1e-4)


def test_batched_equals_per_frame(tiny_model, frames):
    batched = tiny_model.encode_images(frames)
    single = torch.cat([tiny_model.encode_images(frames[i : i + 1]) for i in range(len(frames))])
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=1e-5)


def test_preprocessing_matches_transformers_processor(tiny_clip_dir, tiny_model, frames):
    from transformers import CLIPImageProcessor

    ref = CLIPImageProcessor.from_pretrained(tiny_clip_dir)(images=list(frames), return_tensors="pt")["pixel_values"]
    from vlm_rewards._validation import check_frames

    ours = tiny_model.preprocessor(check_frames(frames))
    assert ours.shape == ref.shape
    # PIL and torch resampling differ by a few grey levels at most (std ~0.27 -> ~0.05 per level)
    assert (ours - ref).abs().mean() < 0.05
    emb_ref = torch.nn.functional.normalize(tiny_model.model.get_image_features(pixel_values=ref).pooler_output, dim=-1)
    assert torch.nn.functional.cosine_similarity(tiny_model.encode_images(frames), emb_ref).min() > 0.99


def test_bf16_close_to_fp32(tiny_clip_dir, frames):
    fp32 = load_model(tiny_clip_dir).encode_images(frames)
    bf16_model = load_model(tiny_clip_dir, dtype=torch.bfloat16)
    assert bf16_model.dtype == torch.bfloat16
    bf16 = bf16_model.encode_images(frames)
    assert bf16.dtype == torch.float32  # embeddings come back in fp32
    assert torch.nn.functional.cosine_similarity(fp32, bf16).min() > 0.98


def test_plain_transformers_loads_the_same_directory(tiny_clip_dir):
    from transformers import AutoTokenizer, CLIPModel

    CLIPModel.from_pretrained(tiny_clip_dir)
    assert len(AutoTokenizer.from_pretrained(tiny_clip_dir)) > 256


def test_offline_hub_spec_fails_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.monotonic()
    with pytest.raises(ModelNotAvailableError, match="hf:openai/clip-vit-base-patch32.*HF_HUB_OFFLINE"):
        load_model("hf:openai/clip-vit-base-patch32")
    assert time.monotonic() - t0 < 5


def test_unreachable_hub_fails_fast(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    # A closed local port stands in for an unreachable hub, on any machine.
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    t0 = time.monotonic()
    with pytest.raises(ModelNotAvailableError, match="cannot be reached.*weights on disk"):
        load_model("hf:openai/clip-vit-base-patch32")
    assert time.monotonic() - t0 < 10


def test_degenerate_tokenizer_refused(tiny_clip_dir, tmp_path):
    """The HF_HUB_OFFLINE failure mode: a tokenizer with only special tokens."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    bad = tmp_path / "bad"
    shutil.copytree(tiny_clip_dir, bad)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        (bad / f).unlink()
    tok = Tokenizer(models.WordLevel({"<unk>": 0, "</s>": 1}, unk_token="<unk>"))
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="</s>").save_pretrained(bad)
    with pytest.raises(ModelLoadError, match="2 tokens"):
        load_model(bad)


def test_missing_tokenizer_refused(tiny_clip_dir, tmp_path):
    bad = tmp_path / "notok"
    shutil.copytree(tiny_clip_dir, bad)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        (bad / f).unlink()
    with pytest.raises(ModelLoadError, match="no tokenizer files"):
        load_model(bad)


def test_truncated_weights_named(tiny_clip_dir, tmp_path):
    bad = tmp_path / "trunc"
    shutil.copytree(tiny_clip_dir, bad)
    weights = bad / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ModelLoadError, match="model.safetensors"):
        load_model(bad)


def test_corrupt_config_named(tiny_clip_dir, tmp_path):
    bad = tmp_path / "cfg"
    shutil.copytree(tiny_clip_dir, bad)
    (bad / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="config.json"):
        load_model(bad)


def test_corrupt_preprocessor_config_named(tiny_clip_dir, tmp_path):
    bad = tmp_path / "pre"
    shutil.copytree(tiny_clip_dir, bad)
    (bad / "preprocessor_config.json").write_text("[")
    with pytest.raises(ValueError, match="preprocessor_config.json"):
        load_model(bad)


@pytest.mark.parametrize(
    "spec, error, match",
    [
        (None, TypeError, "model spec"),
        ("", TypeError, "model spec"),
        ("no/such_dir_here", ModelNotAvailableError, "did you mean 'hf:no/such_dir_here'"),
        ("builtin:nope", ModelNotAvailableError, "unknown built-in model"),
        ("hf:", ValueError, "hub id"),
    ],
)
def test_bad_specs(spec, error, match):
    with pytest.raises(error, match=match):
        load_model(spec)


def test_preprocessor_config_drives_size(tiny_clip_dir, tmp_path):
    d = tmp_path / "m"
    shutil.copytree(tiny_clip_dir, d)
    cfg = json.loads((d / "preprocessor_config.json").read_text())
    assert load_model(d).image_size == (32, 32)
    cfg["crop_size"] = {"height": 24, "width": 24}
    (d / "preprocessor_config.json").write_text(json.dumps(cfg))
    assert load_model(d).preprocessor(torch.zeros(1, 50, 50, 3, dtype=torch.uint8)).shape[-2:] == (24, 24)


def test_bad_dtype(tiny_clip_dir):
    with pytest.raises(TypeError, match="dtype"):
        load_model(tiny_clip_dir, dtype="bf16")


def test_patch_embeddings_are_unit_vectors_on_a_grid_and_pool_like_the_image(tiny_model, frames):
    """encode_patches applies the pooled token's norm and projection to every patch token: the
    same map applied to the class token gives encode_images, so patches live in the same
    image-text space as the goals."""
    patches = tiny_model.encode_patches(frames)
    vision = tiny_model.model.vision_model
    side = vision.config.image_size // vision.config.patch_size
    d = tiny_model.encode_texts(["a red ball"]).shape[1]
    assert patches.shape == (3, d, side, side)
    torch.testing.assert_close(patches.norm(dim=1), torch.ones(3, side, side))
    with torch.inference_mode():
        tokens = vision(pixel_values=tiny_model.preprocess(frames)).last_hidden_state
        cls = torch.nn.functional.normalize(tiny_model.model.visual_projection(vision.post_layernorm(tokens[:, 0])), dim=-1)
        first = torch.nn.functional.normalize(tiny_model.model.visual_projection(vision.post_layernorm(tokens[:, 1])), dim=-1)
    torch.testing.assert_close(cls, tiny_model.encode_images(frames), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(first, patches[:, :, 0, 0], atol=1e-5, rtol=1e-5)


def test_patch_embeddings_need_a_clip_style_model(tiny_siglip_dir, frames):
    with pytest.raises(TypeError, match="encode_patches needs a CLIP-style model"):
        load_model(tiny_siglip_dir).encode_patches(frames)
