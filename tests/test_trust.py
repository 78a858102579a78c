"""Rewards you can trust: inputs that used to give a silently wrong reward or a traceback."""

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from helpers import GOALS
from vlm_rewards import RewardScorer, load_model
from vlm_rewards import rewards as R
from vlm_rewards._validation import MIN_TEMPERATURE, check_device, dedupe_goals, goal_key, normalize_goal
from vlm_rewards.cli import app
from vlm_rewards.io import load_image


@pytest.fixture
def frames():
    return np.random.default_rng(0).integers(0, 256, size=(4, 32, 32, 3), dtype=np.uint8)


# --- goal normalisation -----------------------------------------------------------------
def test_goal_key_policy():
    decomposed = "cafe\u0301 app"  # e + combining accent
    assert normalize_goal(f"  {decomposed}\t\n") == "caf\u00e9 app"
    assert normalize_goal("Open  The\u00a0Clock") == "Open The Clock"  # case kept for the encoder
    assert goal_key("Open the Clock App ") == goal_key("open the clock app")
    assert dedupe_goals(["a b", "A  b", "c", "a b"]) == ["a b", "c"]


def test_goal_spelled_differently_from_its_goal_set_entry_is_not_its_own_negative(tiny_model, frames):
    scorer = RewardScorer(tiny_model, goal_set=GOALS)
    variant = "  Go to the RED   square\n"
    assert scorer.negatives_for(variant) == scorer.negatives_for(GOALS[0]) == sorted(GOALS[1:])
    ref = scorer.score(frames, GOALS[0])
    got = scorer.score(frames, variant)
    # The tiny model's tokenizer lower-cases, so the variant is the same text to it.
    np.testing.assert_allclose(got.score, ref.score, rtol=1e-6)
    # A uniformly sampled subset is the same for every spelling of the goal too.
    k = RewardScorer(tiny_model, goal_set=GOALS, num_negatives=2, seed=3)
    assert k.negatives_for(variant) == k.negatives_for(GOALS[0]) == R.sample_negatives(GOALS[0], GOALS, 2, 3)


def test_goal_set_spelled_differently_from_the_goal(tiny_model, frames):
    messy = [" " + g.upper() for g in GOALS]
    a = RewardScorer(tiny_model, goal_set=messy).score(frames, GOALS[1])
    b = RewardScorer(tiny_model, goal_set=GOALS).score(frames, GOALS[1])
    np.testing.assert_allclose(a.score, b.score, rtol=1e-6)
    assert np.all(a.score < 0.9999)  # not the p = 1 of a goal scored against nothing else


def test_negative_that_is_the_goal_respelled_is_refused(tiny_model, frames):
    scorer = RewardScorer(tiny_model, negatives=["Go to the red square ", GOALS[1]])
    with pytest.raises(ValueError, match="must not contain the goal itself"):
        scorer.score(frames, GOALS[0])


def test_repeated_negatives_count_once(tiny_model, frames):
    once = RewardScorer(tiny_model, negatives=GOALS[1:]).score(frames, GOALS[0])
    twice = RewardScorer(tiny_model, negatives=[GOALS[1], GOALS[1].upper(), *GOALS[1:], GOALS[2] + "  "]).score(frames, GOALS[0])
    np.testing.assert_allclose(twice.score, once.score, rtol=1e-6)
    assert R.sample_negatives(GOALS[0], GOALS + [GOALS[1], GOALS[0].title()], None) == sorted(GOALS[1:])


def test_sample_negatives_unchanged_for_canonical_goal_sets():
    # The draw of a canonical goal from a canonical goal set is what it always was.
    assert R.sample_negatives(GOALS[0], GOALS, 2, seed=0) == R.sample_negatives(GOALS[0], list(reversed(GOALS)), 2, seed=0)
    assert R.sample_negatives(GOALS[0], GOALS, None) == sorted(GOALS[1:])


def test_goal_table_lookup_ignores_spelling(tiny_model):
    import gymnasium as gym

    from vlm_rewards.wrappers import GoalEmbeddingObservation, goal_embedding_table

    table = goal_embedding_table(tiny_model, ["open the clock app"])
    env = GoalEmbeddingObservation(gym.make("vlm_rewards/Phone-v0"), table)
    np.testing.assert_array_equal(env.embedding(" Open the Clock app"), np.clip(table["open the clock app"], -1, 1))


# --- special tokens -----------------------------------------------------------------------
def test_goal_with_a_special_token_is_refused(tiny_model, frames):
    assert "</s>" in tiny_model.special_tokens
    scorer = RewardScorer(tiny_model, goal_set=GOALS)
    with pytest.raises(ValueError, match=r"goals\[0\] contains the tokenizer's special token '</s>'"):
        scorer.score(frames[:1], "go to the red square</s> and then the blue one")
    with pytest.raises(ValueError, match=r"goal_set\[1\] contains"):
        RewardScorer(tiny_model, goal_set=[GOALS[0], "go to <S> the square"])
    with pytest.raises(ValueError, match=r"negatives\[0\] contains"):
        RewardScorer(tiny_model, negatives=["<pad> red"])
    with pytest.raises(ValueError, match=r"texts\[1\] contains"):
        tiny_model.encode_texts(["fine", "not <unk> fine"])


# --- temperature --------------------------------------------------------------------------
def test_tiny_temperature_is_refused_not_nan(tiny_model, frames):
    img = torch.nn.functional.normalize(torch.randn(3, 8), dim=-1)
    goal, neg = torch.randn(8), torch.randn(2, 8)
    for tau in (1e-39, 1e-45, 1e-5, 1e5):
        with pytest.raises(ValueError, match=r"temperature must be in \[0.0001, 10000\]"):
            R.contrastive_probability(img, goal, neg, temperature=tau)
        with pytest.raises(ValueError, match="temperature"):
            RewardScorer(tiny_model, goal_set=GOALS, temperature=tau)
    p = R.contrastive_probability(img, goal, neg, temperature=MIN_TEMPERATURE)
    assert torch.isfinite(p).all()
    out = RewardScorer(tiny_model, goal_set=GOALS, temperature=MIN_TEMPERATURE).score(frames, GOALS[0])
    assert np.isfinite(out.score).all()


# --- images -----------------------------------------------------------------------------
def _gradient():
    return np.tile(np.arange(0, 256, 4, dtype=np.uint8), (8, 1))  # 8 x 64


@pytest.mark.parametrize("kind", ["I;16", "I;16B", "F", "1", "L", "P", "LA", "RGBA", "PA", "CMYK", "RGB", "La", "RGBa"])
def test_load_image_converts_every_mode(tmp_path, kind):
    from vlm_rewards.io import image_to_rgb

    g8 = _gradient()
    want = np.repeat(g8[..., None], 3, -1)
    if kind in ("I;16", "I;16B"):
        img = Image.fromarray(g8.astype(np.uint16) * 257)
        if kind == "I;16B":  # (Pillow's convert("I;16B") clips at 255, so build it from bytes)
            img = Image.frombytes("I;16B", img.size, (g8.astype(">u2") * 257).tobytes())
        path = tmp_path / "x.png" if kind == "I;16" else tmp_path / "x.tiff"
    elif kind == "F":
        img, path = Image.fromarray(g8.astype(np.float32) / 255.0), tmp_path / "x.tiff"
    elif kind == "1":
        img, path = Image.fromarray(g8 >= 128), tmp_path / "x.png"
        want = np.repeat(np.where(g8 >= 128, 255, 0).astype(np.uint8)[..., None], 3, -1)
    elif kind in ("LA", "RGBA", "PA", "La", "RGBa"):
        alpha = np.full_like(g8, 255)
        alpha[:, :8] = 0  # transparent: shown (and scored) as the white background
        want = want.copy()
        want[:, :8] = 255
        img = Image.merge("LA", (Image.fromarray(g8), Image.fromarray(alpha)))
        img = img.convert({"LA": "LA", "RGBA": "RGBA", "PA": "PA", "La": "LA", "RGBa": "RGBA"}[kind])
        if kind == "PA":  # no file format keeps it, and convert("PA") drops alpha: built in memory
            img = Image.frombytes("PA", img.size, np.stack([g8, alpha], -1).tobytes())
            img.putpalette([v for i in range(256) for v in (i, i, i)])
        elif kind == "RGBa":  # premultiplied: only in memory
            img = img.convert("RGBa")
        elif kind == "La":
            img = Image.frombytes("La", img.size, np.stack([g8 * (alpha > 0), alpha], -1).astype(np.uint8).tobytes())
        if kind in ("PA", "La", "RGBa"):
            np.testing.assert_array_equal(image_to_rgb(img), want)
            return
        path = tmp_path / "x.png"
    else:
        img = Image.fromarray(g8).convert(kind)
        path = tmp_path / ("x.jpg" if kind == "CMYK" else "x.png")
    try:
        img.save(path)
    except OSError:
        pytest.skip(f"Pillow cannot save mode {kind} here")
    got = load_image(path)
    assert got.dtype == np.uint8 and got.shape == (8, 64, 3)
    if kind == "CMYK":
        assert np.abs(got.astype(int) - want).max() <= 8  # JPEG
    elif kind == "P":
        assert np.abs(got.astype(int) - want).max() <= 8
    else:
        np.testing.assert_array_equal(got, want)


def test_16bit_png_scores_like_its_8bit_version(tiny_model, tmp_path):
    g8 = np.random.default_rng(1).integers(0, 256, size=(32, 32), dtype=np.uint8)
    Image.fromarray(g8.astype(np.uint16) * 257).save(tmp_path / "16.png")
    Image.fromarray(g8).save(tmp_path / "8.png")
    assert Image.open(tmp_path / "16.png").mode.startswith("I")
    a, b = load_image(tmp_path / "16.png"), load_image(tmp_path / "8.png")
    np.testing.assert_array_equal(a, b)
    scorer = RewardScorer(tiny_model, goal_set=GOALS)
    np.testing.assert_allclose(scorer.score(a[None], GOALS[0]).score, scorer.score(b[None], GOALS[0]).score)


def test_load_image_refuses_modes_without_a_defined_conversion(tmp_path):
    Image.fromarray(np.full((4, 4), 70000, dtype=np.int32)).save(tmp_path / "i32.tiff")
    with pytest.raises(ValueError, match="32-bit integer image"):
        load_image(tmp_path / "i32.tiff")
    Image.fromarray(np.full((4, 4), 3.0, dtype=np.float32)).save(tmp_path / "f.tiff")
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        load_image(tmp_path / "f.tiff")
    Image.new("LAB", (4, 4)).save(tmp_path / "lab.tiff")
    with pytest.raises(ValueError, match="mode 'LAB'"):
        load_image(tmp_path / "lab.tiff")


# --- devices ----------------------------------------------------------------------------
def test_bad_devices_are_refused_up_front(tiny_clip_dir, tiny_model):
    from vlm_rewards.agents.config import ConfigError, load_config

    assert check_device("cpu") == "cpu" and check_device(None) is None
    bad = ["gpu", "cuda:99"] + ([] if torch.cuda.is_available() else ["cuda"])
    for dev in bad:
        with pytest.raises(ValueError, match=rf"device={dev!r}"):
            load_model(tiny_clip_dir, device=dev)
        with pytest.raises(ValueError, match=rf"^device={dev!r}"):
            RewardScorer(tiny_model, goal_set=GOALS, device=dev)
        for field in ("reward.device", "agent.device"):
            with pytest.raises(ConfigError, match=rf"{field}={dev!r}"):
                load_config(None, [f"{field}={dev}"])
    with pytest.raises(TypeError, match="device must be"):
        check_device(3)
    assert load_config(None, ["agent.device=auto"]).agent.device == "auto"
    result = CliRunner().invoke(app, ["score", "x.png", "--goal", "g", "--device", "gpu"])
    assert result.exit_code == 2 and "--device='gpu' is not a torch device" in result.output


# --- CLI help -----------------------------------------------------------------------------
def test_score_help_prints_the_whole_threshold_formula():
    result = CliRunner().invoke(app, ["score", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "reward = 1[p > β]" in result.output


# --- a failed first start of a training run -------------------------------------------------
def test_failed_start_leaves_nothing_that_blocks_the_corrected_command(tiny_clip_dir, tmp_path):
    import yaml

    from vlm_rewards.agents.config import load_config
    from vlm_rewards.agents.trainer import train
    from vlm_rewards.models import ModelNotAvailableError

    sets = {"name": "t", "total_steps": 32, "checkpoint_every": 32, "env.n_envs": 2, "env.obs_size": 32,
            "env.render_size": 32, "env.max_episode_steps": 8, "agent.n_steps": 16, "agent.batch_size": 32,
            "agent.n_epochs": 1, "agent.cnn_channels": "[8]", "agent.features_dim": 8, "agent.goal_hidden": 4,
            "agent.net_arch": "[8]", "reward.dtype": "fp32", "eval.every": 32, "eval.episodes": 2, "eval.n_envs": 2,
            "eval.gif_episodes": 0, "tensorboard": "false"}

    def config(model):
        return load_config(None, [f"{k}={v}" for k, v in {**sets, "reward.model": model}.items()])

    run_dir = tmp_path / "run"
    missing = config("hf:nobody/no-such-model")  # resolved only when the run starts
    for resume in (False, True):
        with pytest.raises(ModelNotAvailableError):
            train(missing, run_dir, resume=resume)
        assert not (run_dir / "config.yaml").exists() and not (run_dir / "state.json").exists()
    # A directory left by an older failed start (config written, nothing trained) does not
    # block --resume either: with no checkpoint there is nothing to resume, so it starts afresh.
    run_dir.mkdir(exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(missing.model_dump(mode="json")))
    result = train(config(str(tiny_clip_dir)), run_dir, resume=True)
    assert result.steps == 32 and result.resumed_from is None
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["reward"]["model"] == str(tiny_clip_dir)
