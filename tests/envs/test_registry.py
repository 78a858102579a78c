"""The registries: domains (one record per domain) and reward functions, and what derives from them.

The toy-domain test is the registry's promise: a new domain is one package plus one
``register_domain`` call, and then it trains and evaluates like the built-in ones.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import gymnasium as gym
import pytest

from vlm_rewards.envs.registry import Domain, domains, get_domain, register_domain, unregister_domain

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _fresh_python(code: str) -> str:
    """Run ``code`` in a new interpreter (nothing imported yet) and return its stdout."""
    env = {"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


# --- Gymnasium registration ---------------------------------------------------------------------


def test_import_vlm_rewards_registers_the_env_ids():
    out = _fresh_python("""
        import gymnasium as gym
        import vlm_rewards
        env = gym.make("vlm_rewards/Phone-v0")
        obs, info = env.reset(seed=0)
        print(obs.shape, info["goal"] in vlm_rewards.goals("phone", "all"))
    """)
    assert out.split() == ["(64,", "64,", "3)", "True"]


def test_module_prefixed_id_needs_no_import():
    out = _fresh_python("""
        import gymnasium as gym
        env = gym.make("vlm_rewards:vlm_rewards/Phone-v0")
        print(type(env.unwrapped).__name__)
    """)
    assert out.strip() == "PhoneEnv"


def test_import_vlm_rewards_stays_cheap():
    out = _fresh_python("""
        import json, sys, time
        t = time.perf_counter()
        import vlm_rewards
        elapsed = time.perf_counter() - t
        heavy = ["torch", "miniworld", "minigrid", "pygame", "pyglet", "PIL", "transformers",
                 "stable_baselines3", "vlm_rewards.envs.phone", "vlm_rewards.envs.house", "vlm_rewards.envs.babyai"]
        print(json.dumps({"elapsed": elapsed, "loaded": [m for m in heavy if m in sys.modules]}))
    """)
    result = json.loads(out)
    assert result["loaded"] == []
    assert result["elapsed"] < 2.0


# --- Domain records -----------------------------------------------------------------------------


def test_domain_records_answer_what_used_to_branch_on_the_name():
    house, phone, babyai = get_domain("house"), get_domain("vlm_rewards/Phone-v0"), get_domain("babyai")
    assert (house.goal_keyword, phone.goal_keyword, babyai.goal_keyword) == ("family", "apps", "level")
    assert (house.time_limit_kwarg, phone.time_limit_kwarg, babyai.time_limit_kwarg) == ("max_episode_steps", None, "max_steps")
    assert house.square_obs and not phone.square_obs
    assert not get_domain("android").trains_agents
    with pytest.raises(ValueError, match="domain must be one of"):
        get_domain("kitchen")


def test_domain_records_are_validated():
    with pytest.raises(TypeError, match="entry_point"):
        Domain("toy", module="m", env_ids={"toy/X-v0": {"entry_point": object}})
    with pytest.raises(ValueError, match="trains_agents=True needs module"):
        Domain("toy")
    with pytest.raises(ValueError, match="already registered"):
        register_domain(Domain("phone", module="vlm_rewards.envs.phone"))


def test_house_env_does_not_import_its_solver():
    # The solver depends on the env (it plans on its state); the reverse made an import circle.
    text = (Path(SRC) / "vlm_rewards/envs/house/env.py").read_text()
    assert "solver" not in "".join(line for line in text.splitlines() if "import" in line)


# --- Reward registry ----------------------------------------------------------------------------


def test_reward_names_come_from_one_registry():
    from vlm_rewards import rewards as R
    from vlm_rewards.agents.config import ConfigError, load_config
    from vlm_rewards.cli import EvalReward, RewardName
    from vlm_rewards.evaluation import EVAL_REWARDS

    assert [m.value for m in RewardName] == list(R.REWARDS)
    assert [m.value for m in EvalReward] == list(EVAL_REWARDS) == [n for n, r in R.REWARDS.items() if r.offline]
    assert [n for n, r in R.REWARDS.items() if r.needs_negatives] == ["contrastive", "mineclip"]
    assert R.REWARD_NAMES == {"contrastive": True, "cosine": False, "goal_baseline": False, "mineclip": False}
    for name in R.REWARDS:
        extra = ["reward.baseline=a room"] if R.get_reward(name).needs_baseline else []
        assert load_config(None, [f"reward.function={name}", *extra]).reward.function == name
    with pytest.raises(ConfigError, match=r"reward must be one of \['contrastive', 'cosine', 'goal_baseline', 'mineclip'\]"):
        load_config(None, ["reward.function=sigmoid"])
    with pytest.raises(ValueError, match="reward must be one of"):
        R.get_reward("sigmoid")


# --- A new domain: one package, one registry entry ------------------------------------------------

_TOY_PACKAGE = '''
"""A toy domain: a corridor of coloured cells; goal "reach the {colour} cell"."""

import gymnasium
import numpy as np
from gymnasium import spaces

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220)}
_SPLITS = {"train": ["red", "blue"], "heldout": ["green"], "all": ["red", "green", "blue"]}


def goals(split="train"):
    return [f"reach the {c} cell" for c in _SPLITS[split]]


class ToyEnv(gymnasium.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, goal_split="train", obs_size=16, render_size=32, render_mode=None,
                 terminate_on_success=True, max_steps=10):
        self.goal_split, self.render_mode = goal_split, render_mode
        self.obs_size, self.render_size = obs_size, render_size
        self.terminate_on_success, self.max_steps = terminate_on_success, max_steps
        self.cells = list(COLOURS)
        self.observation_space = spaces.Box(0, 255, (obs_size, obs_size, 3), np.uint8)
        self.action_space = spaces.Discrete(3)  # left, stay, right
        self.pos, self.t, self.goal = 0, 0, goals("all")[0]

    def _frame(self, size):
        frame = np.zeros((size, size, 3), np.uint8)
        frame[:] = COLOURS[self.cells[self.pos]]
        return frame

    def _info(self):
        return {"goal": self.goal, "ground_truth_success": self.goal.split()[2] == self.cells[self.pos]}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        goal = (options or {}).get("goal")
        pool = goals(self.goal_split)
        self.goal = goal if goal is not None else pool[int(self.np_random.integers(len(pool)))]
        self.pos, self.t = int(self.np_random.integers(len(self.cells))), 0
        return self._frame(self.obs_size), self._info()

    def step(self, action):
        self.pos = int(np.clip(self.pos + int(action) - 1, 0, len(self.cells) - 1))
        self.t += 1
        info = self._info()
        success = info["ground_truth_success"]
        return self._frame(self.obs_size), float(success), success and self.terminate_on_success, self.t >= self.max_steps, info

    def render(self):
        return self._frame(self.render_size)


def make_solver(env):
    base = env.unwrapped

    def solver(obs=None):
        target = base.cells.index(base.goal.split()[2])
        return 1 + int(np.sign(target - base.pos))

    return solver
'''


@pytest.fixture
def toy_domain(tmp_path, monkeypatch):
    package = tmp_path / "toy_corridor"
    package.mkdir()
    (package / "__init__.py").write_text(_TOY_PACKAGE)
    monkeypatch.syspath_prepend(str(tmp_path))
    domain = register_domain(Domain(
        name="corridor",
        module="toy_corridor",
        env_ids={"toy/Corridor-v0": {"entry_point": "toy_corridor:ToyEnv", "max_episode_steps": 10}},
        time_limit_kwarg="max_steps",
        baseline_prompt="a corridor",
    ))
    yield domain
    unregister_domain("corridor")
    sys.modules.pop("toy_corridor", None)


def test_a_registered_domain_has_goals_a_solver_and_a_gym_id(toy_domain):
    from vlm_rewards.envs import DOMAINS, goals, goals_from_spec, make_solver

    assert "corridor" in DOMAINS and "corridor" in domains()
    assert goals("corridor", "heldout") == goals_from_spec("corridor", "heldout") == ["reach the green cell"]
    env = gym.make("toy/Corridor-v0", render_mode="rgb_array")
    solver = make_solver(env)
    obs, info = env.reset(seed=0, options={"goal": "reach the blue cell"})
    for _ in range(5):
        obs, reward, terminated, truncated, info = env.step(solver(obs))
        if terminated:
            break
    assert info["ground_truth_success"] and reward == 1.0


def test_a_registered_domain_trains_and_evaluates(toy_domain, tiny_clip_dir, tmp_path):
    from vlm_rewards.agents.config import load_config
    from vlm_rewards.agents.envs import env_kwargs
    from vlm_rewards.agents.trainer import train

    sets = {
        "env.id": "toy/Corridor-v0", "total_steps": 64, "checkpoint_every": 64, "env.n_envs": 2, "env.obs_size": 16,
        "env.render_size": 32, "env.max_episode_steps": 6, "agent.n_steps": 16, "agent.batch_size": 32,
        "agent.n_epochs": 1, "agent.cnn_channels": "[8]", "agent.features_dim": 8, "agent.goal_hidden": 4,
        "agent.net_arch": "[8]", "reward.model": str(tiny_clip_dir), "reward.dtype": "fp32", "eval.every": 64,
        "eval.episodes": 2, "eval.n_envs": 2, "eval.gif_episodes": 0, "tensorboard": False,
    }
    config = load_config(None, [f"{k}={v}" for k, v in sets.items()])
    assert config.env.domain == "corridor"
    # The record's time-limit keyword reaches the env, as House's and BabyAI's do.
    assert env_kwargs(config.env, split="train", terminate_on_success=False, render=True)["max_steps"] == 6
    run_dir = tmp_path / "run"
    result = train(config, run_dir)
    assert result.steps == 64
    summary = json.loads((run_dir / "summary.json").read_text())
    assert {e["goal"] for e in summary["episodes"]} == {"reach the green cell"}  # the held-out goal
    assert all(isinstance(e["gt_success"], bool) or e["gt_success"] in (0, 1, 0.0, 1.0) for e in summary["episodes"])
