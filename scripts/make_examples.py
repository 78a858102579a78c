"""Regenerate the example screenshots in examples/ from the Phone domain (seeded).

    python scripts/make_examples.py
"""

from pathlib import Path

import gymnasium as gym
from PIL import Image

import vlm_rewards.envs  # noqa: F401  (registers the env ids)
from vlm_rewards.envs import make_solver

OUT = Path(__file__).resolve().parents[1] / "examples"


def main() -> None:
    env = gym.make("vlm_rewards/Phone-v0", render_mode="rgb_array", render_size=224)
    env.reset(seed=7, options={"goal": "open the clock app"})
    Image.fromarray(env.render()).save(OUT / "phone_home_screen.png")
    solver = make_solver(env)
    obs, info = env.reset(seed=7, options={"goal": "open the clock app"})
    for _ in range(10):
        obs, _, terminated, _, info = env.step(solver(obs))
        if terminated:
            break
    assert info["ground_truth_success"], "the solver should have opened the clock app"
    Image.fromarray(env.render()).save(OUT / "phone_clock_app.png")


if __name__ == "__main__":
    main()
