"""Test helpers: tiny models and a small goal-conditioned env with a ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
from gymnasium import spaces

CAPTIONS = [
    "a red ball", "a blue key next to a green box", "open the clock app", "go near the red box",
    "pick up the yellow key", "a phone home screen with app icons", "the calculator app open",
    "a purple ball up close", "put the red box next to the blue ball", "a room with a wooden floor",
] * 5

GOALS = ["go to the red square", "go to the green square", "go to the blue square", "go to the yellow square"]
COLOURS = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220), "yellow": (230, 220, 30)}


def _tokenizer():
    from vlm_rewards.models.tokenizer import train_tokenizer

    return train_tokenizer(CAPTIONS, vocab_size=320, model_max_length=32)


def make_tiny_clip(path: Path, image_size: int = 32, seed: int = 0) -> Path:
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    tok = _tokenizer()
    torch.manual_seed(seed)
    config = CLIPConfig(
        text_config=dict(
            vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=2, max_position_embeddings=32, eos_token_id=tok.eos_token_id,
            bos_token_id=tok.bos_token_id, pad_token_id=tok.pad_token_id,
        ),
        vision_config=dict(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
            image_size=image_size, patch_size=8,
        ),
        projection_dim=16,
    )
    CLIPModel(config).save_pretrained(path)
    tok.save_pretrained(path)
    CLIPImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    ).save_pretrained(path)
    return Path(path)


def make_tiny_siglip(path: Path, image_size: int = 32, seed: int = 0) -> Path:
    import torch
    from transformers import SiglipConfig, SiglipModel

    tok = _tokenizer()
    torch.manual_seed(seed)
    config = SiglipConfig(
        text_config=dict(
            vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=2, max_position_embeddings=16, pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id,
        ),
        vision_config=dict(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
            image_size=image_size, patch_size=8,
        ),
    )
    SiglipModel(config).save_pretrained(path)
    tok.save_pretrained(path)
    (Path(path) / "preprocessor_config.json").write_text(json.dumps({
        "do_resize": True, "size": {"height": image_size, "width": image_size}, "resample": 2,
        "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
        "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
        "image_processor_type": "SiglipImageProcessor",
    }))
    return Path(path)


class ColourSquareEnv(gym.Env):
    """A 1-D corridor of coloured cells; the goal names a colour; success = standing on it.

    The frame shows the current cell's colour, so frames differ with the agent's state.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, render_mode: str | None = "rgb_array", size: int = 24, max_steps: int = 12):
        self.render_mode = render_mode
        self.size = size
        self.max_steps = max_steps
        self.cells = list(COLOURS)
        self.observation_space = spaces.Box(0, 255, (size, size, 3), np.uint8)
        self.action_space = spaces.Discrete(3)  # left, stay, right
        self.pos = 0
        self.goal = GOALS[0]
        self.t = 0

    def _frame(self) -> np.ndarray:
        frame = np.zeros((self.size, self.size, 3), np.uint8)
        frame[:] = COLOURS[self.cells[self.pos]]
        frame[: self.size // 4, : (self.pos + 1) * self.size // 4] = 255  # position marker
        return frame

    def _success(self) -> bool:
        return self.goal.split()[-2] == self.cells[self.pos]

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = int(self.np_random.integers(len(self.cells)))
        self.t = 0
        goal = (options or {}).get("goal")
        self.goal = goal if goal is not None else GOALS[int(self.np_random.integers(len(GOALS)))]
        return self._frame(), {"goal": self.goal, "ground_truth_success": self._success()}

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action must be 0, 1 or 2, got {action!r}")
        self.pos = int(np.clip(self.pos + int(action) - 1, 0, len(self.cells) - 1))
        self.t += 1
        success = self._success()
        info = {"goal": self.goal, "ground_truth_success": success}
        return self._frame(), float(success), False, self.t >= self.max_steps, info

    def render(self):
        return self._frame()
