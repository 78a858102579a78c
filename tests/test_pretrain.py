import json

import numpy as np
import pytest
import torch

from vlm_rewards import load_model
from vlm_rewards.data import collect_corpus
from vlm_rewards.pretrain import SIZES, build_model, evaluate_phone, pretrain


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return collect_corpus(tmp_path_factory.mktemp("corpus"), domains=("phone", "babyai"), frames_per_domain=64, seed=0)


def _weights(path):
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


def test_tiny_pretrain_lowers_loss_and_saves_hf_dir(corpus, tmp_path):
    from transformers import CLIPModel

    out = pretrain(corpus, tmp_path / "xs", size="xs", steps=16, batch_size=32, seed=0, lr=3e-3, warmup_steps=2)
    log = json.loads((out / "training_log.json").read_text())
    losses = [h["loss"] for h in log["history"]]
    assert len(losses) == 16 and np.mean(losses[-4:]) < np.mean(losses[:4])
    assert all(h["logit_scale"] <= 100.0 for h in log["history"])
    assert not (out / "checkpoint.pt").exists()

    clip = CLIPModel.from_pretrained(out)
    assert clip.config.vision_config.image_size == 64
    model = load_model(out)
    assert model.image_size == (64, 64)
    emb = model.encode_images(np.zeros((2, 64, 64, 3), np.uint8))
    assert emb.shape == (2, SIZES["xs"]["projection_dim"])
    assert torch.allclose(emb.norm(dim=-1), torch.ones(2), atol=1e-4)
    assert model.encode_texts(["open the clock app"]).shape == (1, SIZES["xs"]["projection_dim"])


def test_resume_after_interruption_matches_uninterrupted_run(corpus, tmp_path):
    kwargs = dict(size="xs", steps=6, batch_size=16, seed=1, checkpoint_every=3)
    full = pretrain(corpus, tmp_path / "full", **kwargs)

    def interrupt(step, loss):
        if step == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pretrain(corpus, tmp_path / "cut", callback=interrupt, **kwargs)
    assert (tmp_path / "cut" / "checkpoint.pt").is_file()
    seen = []
    resumed = pretrain(corpus, tmp_path / "cut", callback=lambda s, _: seen.append(s), **kwargs)
    assert seen == [4, 5, 6]  # continued from the step-3 checkpoint
    a, b = _weights(full), _weights(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    log_full = json.loads((full / "training_log.json").read_text())["history"]
    log_cut = json.loads((resumed / "training_log.json").read_text())["history"]
    assert log_full == log_cut


def test_sigkill_mid_run_resumes_to_the_same_weights(corpus, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    args = dict(size="xs", steps=400, batch_size=16, seed=2, checkpoint_every=20, threads=1)
    cut = tmp_path / "cut"
    code = f"from vlm_rewards.pretrain import pretrain; pretrain({str(corpus)!r}, {str(cut)!r}, **{args!r})"
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 240
    while not (cut / "checkpoint.pt").is_file() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # let it get past the first checkpoint, into the next steps
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (cut / "model.safetensors").exists()
    state = torch.load(cut / "checkpoint.pt", weights_only=True)  # never half-written
    assert 0 < state["step"] < args["steps"] and state["step"] % args["checkpoint_every"] == 0
    seen = []
    resumed = pretrain(corpus, cut, callback=lambda s, _: seen.append(s), **args)
    assert seen[0] == state["step"] + 1 and seen[-1] == args["steps"]
    full = pretrain(corpus, tmp_path / "full", **args)
    a, b = _weights(full), _weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_bad_arguments(corpus, tmp_path):
    with pytest.raises(ValueError, match="size"):
        pretrain(corpus, tmp_path / "m", size="huge", steps=1)
    with pytest.raises(ValueError, match="batch_size"):
        pretrain(corpus, tmp_path / "m", size="xs", steps=1, batch_size=10_000)
    with pytest.raises(ValueError, match="steps"):
        pretrain(corpus, tmp_path / "m", size="xs", steps=0)
    with pytest.raises(ValueError, match="manifest"):
        pretrain(tmp_path, tmp_path / "m", size="xs", steps=1)


def test_size_presets_grow():
    from vlm_rewards.models.tokenizer import train_tokenizer

    tok = train_tokenizer(["a red ball", "the clock app open on a phone"], vocab_size=300)
    counts = [sum(p.numel() for p in build_model(s, tok).parameters()) for s in ("xs", "s")]
    assert counts[0] < 1e6 < counts[1] < 4e6


@pytest.fixture(scope="module")
def default_model():
    return load_model("builtin:default")


def test_builtin_default_ranks_the_open_app_first(default_model):
    from vlm_rewards.envs import phone

    env = phone.PhoneEnv(apps="common", render_mode="rgb_array", render_size=64)
    apps = ["calendar", "clock", "maps", "gallery", "calculator"]  # calendar, maps, gallery are held-out goals
    frames = []
    for i, app in enumerate(apps):
        env.reset(seed=100 + i, options={"goal": phone.goal_text(app)})
        env.foreground = app
        frames.append(env.render())
    env.reset(seed=7)
    frames.append(env.render())  # the home screen matches no app goal best
    goals = phone.goals("all", apps="common")
    sims = default_model.encode_images(np.stack(frames)) @ default_model.encode_texts(goals).t()
    best = [goals[j] for j in sims.argmax(1).tolist()]
    assert best[: len(apps)] == [phone.goal_text(a) for a in apps]
    home = default_model.encode_images(np.stack(frames[-1:])) @ default_model.encode_texts(
        ["a phone home screen with app icons", "the clock app open on a phone"]).t()
    assert home[0, 0] > home[0, 1]


def test_builtin_default_heldout_metrics(default_model):
    metrics = evaluate_phone(default_model, apps="common", split="heldout", episodes=1)
    assert metrics["top1_split"] >= 0.9 and metrics["ap"] >= 0.85


class _OneGoalModel:
    """Scores every frame as "go near the red box": retrieval is right exactly on red-box frames."""

    image_size = (64, 64)

    def __init__(self):
        from vlm_rewards.envs.house.vocabulary import goals

        self.goals = goals("all", family="find")

    def encode_texts(self, texts):
        return torch.eye(len(self.goals))[[self.goals.index(t) for t in texts]]

    def encode_images(self, frames):
        assert frames.shape[1:] == (64, 64, 3)
        return torch.eye(len(self.goals))[[self.goals.index("go near the red box")] * len(frames)]


def test_evaluate_house_scores_frames_where_one_find_goal_holds():
    from vlm_rewards.pretrain import evaluate_house, house_find_frames

    frames, targets = house_find_frames(["red box", "barrel"], episodes=1, seed=3)
    assert frames.shape == (len(targets), 64, 64, 3) and set(targets) <= {"red box", "barrel"} and targets
    result = evaluate_house(_OneGoalModel(), groups={"pair": ["red box", "barrel"]}, episodes=1, seed=3)["pair"]
    assert result["num_frames"] == len(targets) and result["num_goals_all"] == 24
    assert result["top1_all"] == result["top1_group"] == pytest.approx(targets.count("red box") / len(targets))
    with pytest.raises(ValueError, match="groups"):
        evaluate_house(_OneGoalModel(), groups={"bad": ["pink unicorn"]})


def test_batches_keep_twins_together_and_are_a_pure_function_of_seed_and_step():
    from vlm_rewards.pretrain import _batch_indices

    groups = np.repeat(np.arange(40), np.where(np.arange(40) % 3 == 0, 2, 1))  # every third frame has a twin
    n = len(groups)
    seen = []
    for step in range(4):
        idx = _batch_indices(n, 16, step, seed=5, groups=groups)
        assert np.array_equal(idx, _batch_indices(n, 16, step, seed=5, groups=groups))
        # Members of a group are adjacent in the epoch's order, so at most the batch's
        # first and last group can be split across a boundary.
        cut = [gid for gid in set(groups[idx]) if np.sum(groups == gid) > np.sum(groups[idx] == gid)]
        assert len(cut) <= 2
        seen += idx.tolist()
    per_epoch = n // 16
    assert len(set(seen[: per_epoch * 16])) == per_epoch * 16  # no repeats within an epoch
    # One group per sample: the permutation of the version-1 sampler.
    plain = _batch_indices(30, 10, 1, seed=2)
    assert np.array_equal(plain, np.random.default_rng([2, 1, 0]).permutation(30)[10:20])
    assert np.array_equal(plain, _batch_indices(30, 10, 1, seed=2, groups=np.arange(30)))


def test_domain_batches_hold_one_domain_and_cover_each_domain_once_per_epoch():
    from vlm_rewards.pretrain import _batch_indices

    strata = np.repeat([0, 1, 2], [40, 25, 17])
    groups = np.arange(len(strata)) // 2  # pairs of twins
    per_epoch = 40 // 8 + 25 // 8 + 17 // 8
    seen = []
    for step in range(per_epoch):
        idx = _batch_indices(len(strata), 8, step, seed=1, groups=groups, strata=strata)
        assert len(idx) == 8 and len(set(strata[idx])) == 1
        assert np.array_equal(idx, _batch_indices(len(strata), 8, step, seed=1, groups=groups, strata=strata))
        seen += idx.tolist()
    assert len(set(seen)) == len(seen) == per_epoch * 8
    assert np.bincount(strata[seen]).tolist() == [40, 24, 16]
    nxt = _batch_indices(len(strata), 8, per_epoch, seed=1, groups=groups, strata=strata)
    assert not np.array_equal(nxt, _batch_indices(len(strata), 8, 0, seed=1, groups=groups, strata=strata))


def test_domain_batches_train_and_are_recorded(corpus, tmp_path):
    out = pretrain(corpus, tmp_path / "dom", size="xxs", steps=4, batch_size=16, seed=0, batches="domain")
    assert json.loads((out / "training_log.json").read_text())["args"]["batches"] == "domain"
    with pytest.raises(ValueError, match="batches"):
        pretrain(corpus, tmp_path / "bad", size="xxs", steps=4, batch_size=16, batches="per-domain")


@pytest.mark.parametrize("loss", ["infonce", "siglip"])
def test_losses_train_and_log_a_heldout_loss(corpus, tmp_path, loss):
    out = pretrain(corpus, tmp_path / loss, size="xxs", steps=24, batch_size=32, seed=0, lr=3e-3, warmup_steps=2,
                   loss=loss, heldout_fraction=0.25, eval_every=12)
    log = json.loads((out / "training_log.json").read_text())
    assert [e["step"] for e in log["evals"]] == [12, 24]
    assert log["args"]["heldout_frames"] > 20 and log["args"]["loss"] == loss
    assert log["evals"][-1]["heldout_loss"] < log["history"][0]["loss"]
    losses = [h["loss"] for h in log["history"]]
    assert np.mean(losses[-4:]) < np.mean(losses[:4])
    if loss == "siglip":
        assert log["logit_bias"] < 0  # starts at -10: most pairs are negatives


def test_pretrain_refuses_bad_loss_and_heldout_fraction(corpus, tmp_path):
    with pytest.raises(ValueError, match="loss"):
        pretrain(corpus, tmp_path / "a", size="xxs", steps=2, batch_size=8, loss="hinge")
    with pytest.raises(ValueError, match="heldout_fraction"):
        pretrain(corpus, tmp_path / "b", size="xxs", steps=2, batch_size=8, heldout_fraction=0.7)


def test_bf16_defaults_to_what_the_device_runs_natively(corpus, tmp_path, monkeypatch):
    # Emulated bf16 autocast is several times slower than fp32 (AVX2-only CPUs).
    import vlm_rewards.models.accel as accel

    for native in (False, True):
        monkeypatch.setattr(accel, "bf16_supported", lambda device="cpu", native=native: native)
        out = pretrain(corpus, tmp_path / f"native{native}", size="xxs", steps=2, batch_size=16, seed=0)
        assert json.loads((out / "training_log.json").read_text())["args"]["bf16"] is native
    out = pretrain(corpus, tmp_path / "forced", size="xxs", steps=2, batch_size=16, seed=0, bf16=False)
    assert json.loads((out / "training_log.json").read_text())["args"]["bf16"] is False
    with pytest.raises(ValueError, match="bf16"):
        pretrain(corpus, tmp_path / "bad", size="xxs", steps=2, batch_size=16, bf16="yes")


def test_conv_stem_trains_saves_and_loads_with_its_weights(corpus, tmp_path):
    from vlm_rewards.models.stem import ConvStem, conv_stem

    out = pretrain(corpus, tmp_path / "stem", size="xxs", steps=8, batch_size=16, seed=0, lr=3e-3, warmup_steps=2,
                   stem="conv")
    log = json.loads((out / "training_log.json").read_text())
    assert log["args"]["stem"] == "conv"
    assert json.loads((out / "config.json").read_text())["vision_config"]["vlm_rewards_stem"] == "conv"
    weights = _weights(out)
    assert "vision_model.embeddings.patch_embedding.0.weight" in weights
    model = load_model(out)
    assert isinstance(model.model.vision_model.embeddings.patch_embedding, ConvStem)
    for name, value in model.model.state_dict().items():
        if name in weights:
            assert torch.equal(value, weights[name]), name
    # The stem is on the forward path: zeroing its first layer changes the image embeddings.
    frames = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    before = model.encode_images(frames)
    with torch.no_grad():
        model.model.vision_model.embeddings.patch_embedding[0].weight.zero_()
    assert not torch.allclose(model.encode_images(frames), before)
    # A patch-projection model built in the same process is untouched by the stem.
    plain = build_model("xxs", model.tokenizer, seed=0)
    assert isinstance(plain.vision_model.embeddings.patch_embedding, torch.nn.Conv2d)
    assert conv_stem(32, 4)(torch.zeros(1, 3, 16, 16)).shape == (1, 32, 4, 4)
    with pytest.raises(ValueError, match="stem"):
        pretrain(corpus, tmp_path / "bad", size="xxs", steps=2, batch_size=8, stem="resnet")
    with pytest.raises(ValueError, match="patch_size"):
        build_model("xxs", model.tokenizer, image_size=48, patch_size=6, stem="conv")
