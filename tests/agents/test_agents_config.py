"""Training configs: defaults, overrides, YAML round trip and clear validation errors."""

import pytest
import yaml

from vlm_rewards.agents.config import ConfigError, TrainConfig, apply_overrides, dump_config, load_config


def test_defaults_are_the_paper_setting():
    cfg = TrainConfig()
    assert cfg.reward.kind == "vlm" and cfg.reward.terminate_on_success and cfg.reward.model == "builtin:default"
    assert cfg.env.id == "vlm_rewards/Phone-v0" and cfg.eval.split == "heldout"


def test_yaml_round_trip_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: x\nenv:\n  id: vlm_rewards/House-v0\n  kwargs: {family: find}\n")
    cfg = load_config(path, ["agent.learning_rate=1e-4", "eval.deterministic=false", "total_steps=5000"])
    assert cfg.env.kwargs == {"family": "find"} and cfg.agent.learning_rate == 1e-4
    assert cfg.eval.deterministic is False and cfg.total_steps == 5000
    again = TrainConfig.model_validate(yaml.safe_load(dump_config(cfg)))
    assert again == cfg


@pytest.mark.parametrize(
    "data, needle",
    [
        ({"agent": {"learnig_rate": 1e-3}}, "agent.learnig_rate: unknown field"),
        ({"total_steps": -5}, "total_steps: Input should be greater than 0 (got -5)"),
        ({"env": {"id": "vlm_rewards/Nope-v0"}}, "env.id: unknown env 'vlm_rewards/Nope-v0'; expected one of"),
        ({"reward": {"model": "builtin:nope"}}, "reward.model: model not found: unknown built-in model 'builtin:nope'"),
        ({"reward": {"model": "/no/such/dir"}}, "reward.model: model not found"),
        ({"env": {"kwargs": {"render_mode": "human"}}}, "set by the trainer"),
        ({"agent": {"batch_size": 4096}}, "exceeds agent.n_steps * env.n_envs"),
        ({"agent": {"head": "pointer", "vlm_patches": True}}, "agent.vlm_patches works with agent.head='mlp'"),
        ({"reward": {"dtype": "fp8"}}, "reward.dtype"),
    ],
)
def test_validation_errors_name_the_field(tmp_path, data, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert needle in str(err.value) and str(path) in str(err.value)


def test_bad_override_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides(TrainConfig(), ["total_steps"])
    with pytest.raises(ConfigError, match="total_steps: Input should be greater than 0"):
        load_config(None, ["total_steps=0"])
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(tmp_path / "list.yaml")


def test_recipes_in_configs_validate():
    from pathlib import Path

    recipes = sorted((Path(__file__).parents[2] / "configs").glob("*.yaml"))
    assert {p.stem for p in recipes} >= {"phone_common", "phone_diverse", "house_find", "house_lift", "babyai_gotolocal"}
    for p in recipes:
        cfg = load_config(p)
        assert cfg.reward.kind == "vlm" and cfg.total_steps > 0, p


def test_demo_is_the_phone_common_region_recipe_shortened_with_cosine_regions():
    from pathlib import Path

    from vlm_rewards.agents.demo import demo_config

    recipe = load_config(Path(__file__).parents[2] / "configs" / "phone_common_region.yaml")
    demo = demo_config()
    assert demo.env == recipe.env and demo.reward == recipe.reward
    # The demo scores regions by cosine so that its learning shows (the recipe's log-probabilities
    # solve held-out apps before training); all else is the recipe's.
    assert demo.agent.region_score == "cosine" and recipe.agent.region_score == "log_prob"
    same = {"torch_threads": recipe.agent.torch_threads, "region_score": recipe.agent.region_score}
    assert demo.agent.model_copy(update=same) == recipe.agent
    assert demo.agent.torch_threads is None  # alone on the machine: every core
    assert demo.total_steps < recipe.total_steps and demo.eval.split == "heldout"
    assert demo_config(total_steps=1000).total_steps == 1000
