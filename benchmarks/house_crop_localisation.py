"""Do crops of the House view tell where the goal is? The VLM's most similar crop against the object's place.

For an object in view 0.8-4.5 m away (frames of a random walk in the one-room level), each
crop of the 64-pixel view is encoded and compared with "a {name} in a room"; a hit is the
most similar crop being the one whose centre column is nearest the object's projected
centre. Chance is one over the number of crops. A policy input made of per-crop
similarities can only steer an agent if this is well above chance.

Usage:
    python benchmarks/house_crop_localisation.py [--models builtin:default builtin:v3] [--episodes 150]
"""

from __future__ import annotations

import argparse
import math

import numpy as np

# (row0, row1, col0, col1) of each crop of a 64-pixel view
SCHEMES = {
    "3 strips": [(0, 64, 0, 22), (0, 64, 21, 43), (0, 64, 42, 64)],
    "3 half-width": [(0, 64, 0, 32), (0, 64, 16, 48), (0, 64, 32, 64)],
    "3 squares of 40": [(16, 56, 0, 40), (16, 56, 12, 52), (16, 56, 24, 64)],
    "5 half-width": [(0, 64, 0, 32), (0, 64, 8, 40), (0, 64, 16, 48), (0, 64, 24, 56), (0, 64, 32, 64)],
}


def cases(episodes: int, seed: int) -> list[tuple[np.ndarray, float, str, float]]:
    """(view, object's centre column, object name, distance) for objects in view."""
    import gymnasium as gym

    import vlm_rewards.envs  # noqa: F401  (registers the envs)

    env = gym.make("vlm_rewards/House-v0", family="find", num_rooms=[1, 1], num_objects=[3, 5], room_size=[5.0, 6.5],
                   actions="walk", obs_size=64, render_size=64, render_mode="rgb_array").unwrapped
    rng = np.random.default_rng(seed)
    out = []
    for ep in range(episodes):
        env.reset(seed=seed + ep)
        for t in range(40):
            env.step(int(rng.integers(0, 3)) if rng.random() < 0.7 else int(rng.integers(0, 6)))
            if t % 4:
                continue
            agent = env.agent
            tan_y = math.tan(math.radians(agent.cam_fov_y) / 2)
            view = env.render()
            for name, ent in env.objects.items():
                if not env.in_view(ent):
                    continue
                rel = ent.pos + np.array([0, ent.height / 2, 0]) - agent.cam_pos
                x = float(rel @ agent.right_vec) / float(rel @ agent.cam_dir) / tan_y  # square view: tan_x = tan_y
                dist = float(np.linalg.norm((ent.pos - agent.pos)[[0, 2]]))
                if 0.8 < dist < 4.5:
                    out.append((view, (x + 1) / 2 * 64, name, dist))
    env.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["builtin:default", "builtin:v3"])
    parser.add_argument("--episodes", type=int, default=150)
    parser.add_argument("--seed", type=int, default=1000)
    args = parser.parse_args()
    import torch
    from PIL import Image

    from vlm_rewards.models import load_model

    torch.set_num_threads(1)
    found = cases(args.episodes, args.seed)
    names = sorted({c[2] for c in found})
    print(f"# {len(found)} objects in view at 0.8-4.5 m ({args.episodes} random-walk episodes from seed {args.seed})")
    print("| model | crops | most similar crop holds the object | chance | within 2.5 m |")
    print("|---|---|---:|---:|---:|")
    for spec in args.models:
        model = load_model(spec)
        with torch.no_grad():
            text = model.encode_texts([f"a {n} in a room" for n in names]).float()
        text = text / text.norm(dim=-1, keepdim=True)
        for scheme, crops in SCHEMES.items():
            images = [np.asarray(Image.fromarray(view[r0:r1, c0:c1]).resize((64, 64), Image.Resampling.BICUBIC))
                      for view, _, _, _ in found for (r0, r1, c0, c1) in crops]
            with torch.no_grad():
                emb = torch.cat([model.encode_images(np.stack(images[i:i + 256])).float() for i in range(0, len(images), 256)])
            emb = (emb / emb.norm(dim=-1, keepdim=True)).reshape(len(found), len(crops), -1)
            centres = np.array([(c0 + c1) / 2 for (_, _, c0, c1) in crops])
            hits = np.array([int((emb[k] @ text[names.index(name)]).argmax()) == int(np.argmin(abs(centres - col)))
                             for k, (_, col, name, _) in enumerate(found)])
            near = np.array([d < 2.5 for *_, d in found])
            print(f"| {spec} | {scheme} | {hits.mean():.3f} | {1 / len(crops):.3f} | {hits[near].mean():.3f} |", flush=True)


if __name__ == "__main__":
    main()
