"""Built-in language-goal domains and adapters, registered as Gymnasium ids.

Importing this package registers:

- ``vlm_rewards/House-v0``  3D house on MiniWorld (find / lift / place goals)
- ``vlm_rewards/Phone-v0``  simulated phone launcher drawn with Pillow ("open the {app} app")
- ``vlm_rewards/BabyAI-v0`` adapter over any ``BabyAI-*`` MiniGrid env (its mission is the goal)
- ``vlm_rewards/AndroidEnv-v0`` adapter over the real AndroidEnv (extra ``android``)

Every env follows the same contract, which the reward wrappers rely on:

- ``reset(seed=..., options={"goal": text})`` picks the episode's goal; without a goal option
  a goal is sampled (seeded) from the env's ``goal_split``;
- ``info["goal"]`` (str) and ``info["ground_truth_success"]`` (bool) in every reset/step info;
- the env's own reward is the ground truth (1.0 on success), used only for evaluation and
  the oracle baseline;
- ``render()`` with ``render_mode="rgb_array"`` returns a uint8 HxWx3 frame at
  ``render_size`` (the VLM's input), independent of the observation size ``obs_size``;
- a scripted solver using privileged state (``make_solver(env)``) reaches any goal.

Goal sets are data: ``goals("house", split="heldout")``.
"""

from __future__ import annotations

import importlib
from typing import Any

import gymnasium

__all__ = ["DOMAINS", "goals", "goals_from_spec", "make_solver", "register_envs"]

#: domain name -> module holding ``goals(split, **kw)`` and ``make_solver(env)``.
DOMAINS: dict[str, str] = {
    "house": "vlm_rewards.envs.house",
    "phone": "vlm_rewards.envs.phone",
    "babyai": "vlm_rewards.envs.babyai",
}

_ENV_IDS: dict[str, dict] = {
    "vlm_rewards/House-v0": {"entry_point": "vlm_rewards.envs.house:HouseEnv", "max_episode_steps": 250},
    "vlm_rewards/Phone-v0": {"entry_point": "vlm_rewards.envs.phone:PhoneEnv", "max_episode_steps": 30},
    # BabyAI levels carry their own time limits (64 steps for GoToLocal, 576 for GoTo).
    "vlm_rewards/BabyAI-v0": {"entry_point": "vlm_rewards.envs.babyai:BabyAIEnv"},
    # A real device cannot be seeded; only the goal choice is.
    "vlm_rewards/AndroidEnv-v0": {
        "entry_point": "vlm_rewards.envs.android:AndroidGoalEnv",
        "max_episode_steps": 100,
        "nondeterministic": True,
    },
}

SPLITS = ("train", "heldout", "all")


def _domain_module(domain: str):
    if not isinstance(domain, str) or domain not in DOMAINS:
        raise ValueError(f"domain must be one of {sorted(DOMAINS)}, got {domain!r}")
    return importlib.import_module(DOMAINS[domain])


def goals(domain: str, split: str = "train", **kwargs: Any) -> list[str]:
    """The goal texts of ``domain`` for ``split`` ("train", "heldout" or "all").

    Extra keyword arguments are domain specific (e.g. ``family="find"`` for the house,
    ``goal_set="diverse"`` for the phone). The split is fixed: held-out goals are never
    used as training goals.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return list(_domain_module(domain).goals(split, **kwargs))


#: the keyword that the part after "domain:" sets in :func:`goals_from_spec`
_SPEC_KEYWORD = {"house": "family", "phone": "goal_set", "babyai": "level"}


def goals_from_spec(spec: str, split: str = "all") -> list[str]:
    """Goals named by a short spec: ``"phone"``, ``"phone:diverse"``, ``"house:find"``,
    ``"babyai:BabyAI-GoTo-v0"``. Used by the CLI to draw negatives from a domain's goal set.
    """
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"goal set spec must look like 'phone', 'phone:diverse' or 'house:find', got {spec!r}")
    domain, _, part = spec.partition(":")
    kwargs = {_SPEC_KEYWORD[domain]: part} if part and domain in _SPEC_KEYWORD else {}
    return goals(domain, split, **kwargs)


def make_solver(env: gymnasium.Env):
    """A scripted solver for ``env`` (privileged state): ``solver(obs) -> action``."""
    module = importlib.import_module(type(env.unwrapped).__module__)
    if not hasattr(module, "make_solver"):
        raise TypeError(f"env must be one of the built-in domains, got {type(env.unwrapped).__name__}")
    return module.make_solver(env)


def register_envs() -> None:
    """Register the built-in env ids with Gymnasium (idempotent)."""
    for env_id, spec in _ENV_IDS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, **spec)


register_envs()
