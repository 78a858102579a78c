"""Regenerate the pictures in examples/ and docs/ from the built-in domains (seeded).

    python scripts/make_examples.py

- examples/phone_home_screen.png, examples/phone_clock_app.png: the demo's screenshots;
- docs/domains.png: each domain's first frame and the frame where its scripted solver
  reached the goal.
"""

from pathlib import Path

import gymnasium as gym
from PIL import Image, ImageDraw

import vlm_rewards.envs  # noqa: F401  (registers the env ids)
from vlm_rewards.envs import make_solver

ROOT = Path(__file__).resolve().parents[1]
SIZE = 224


def solve(env, seed: int, goal: str | None = None):
    """Reset, run the scripted solver; return (first frame, last frame, info)."""
    obs, info = env.reset(seed=seed, options=None if goal is None else {"goal": goal})
    first = env.render()
    solver = make_solver(env)
    for _ in range(250):
        obs, _, terminated, truncated, info = env.step(solver(obs))
        if terminated or truncated:
            break
    return first, env.render(), info


def phone_examples() -> None:
    env = gym.make("vlm_rewards/Phone-v0", render_mode="rgb_array", render_size=SIZE)
    first, last, info = solve(env, seed=7, goal="open the clock app")
    assert info["ground_truth_success"], "the solver should have opened the clock app"
    Image.fromarray(first).save(ROOT / "examples" / "phone_home_screen.png")
    Image.fromarray(last).save(ROOT / "examples" / "phone_clock_app.png")


def domains_figure() -> None:
    cases = [
        ("vlm_rewards/House-v0", {"family": "find"}, 1),
        ("vlm_rewards/House-v0", {"family": "lift"}, 2),
        ("vlm_rewards/Phone-v0", {}, 3),
        ("vlm_rewards/BabyAI-v0", {}, 4),
    ]
    pad, text = 10, 20
    canvas = Image.new("RGB", (len(cases) * (SIZE + pad) - pad, 2 * (SIZE + text)), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (env_id, kwargs, seed) in enumerate(cases):
        env = gym.make(env_id, render_mode="rgb_array", render_size=SIZE, **kwargs)
        first, last, info = solve(env, seed)
        env.close()
        x = i * (SIZE + pad)
        draw.text((x, 4), info["goal"], fill="black")
        canvas.paste(Image.fromarray(first), (x, text))
        draw.text((x, SIZE + text + 4), f"solver done, ground truth: {info['ground_truth_success']}", fill="black")
        canvas.paste(Image.fromarray(last), (x, SIZE + 2 * text))
    canvas.save(ROOT / "docs" / "domains.png")


if __name__ == "__main__":
    phone_examples()
    domains_figure()
