"""The 3D house domain (``vlm_rewards/House-v0``): goals, env and scripted solver.

The goal set is importable without a renderer; ``HouseEnv`` (MiniWorld, OpenGL) loads on
first use, so ``goals("heldout")`` works on machines that only score text.

Modules: :mod:`~vlm_rewards.envs.house.vocabulary` (vocabulary, goal texts, split),
:mod:`~vlm_rewards.envs.house.layout` (floor plans), :mod:`~vlm_rewards.envs.house.nav`
(walls and cost-to-go fields), :mod:`~vlm_rewards.envs.house.env` (the Gymnasium env),
:mod:`~vlm_rewards.envs.house.solver` (privileged scripted solver; it depends on the env,
never the reverse), :mod:`~vlm_rewards.envs.house.text` (prompt fields),
:mod:`~vlm_rewards.envs.house.samples` (corpus and evaluation-set generators).

Example:
    >>> from vlm_rewards.envs import house
    >>> house.goals("heldout", family="find")
    ['go near the blue box', 'go near the purple ball', 'go near the red ball', 'go near the green key']
    >>> env = house.HouseEnv(family="lift")
    >>> solver = house.make_solver(env)
    >>> obs, info = env.reset(seed=1)
    >>> action = solver(obs)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vlm_rewards.envs.house.vocabulary import FAMILIES, GOAL_FORMS, HELDOUT_OBJECTS, OBJECTS, Goal, goals, parse_goal

if TYPE_CHECKING:
    from vlm_rewards.envs.house.env import HouseEnv

__all__ = [
    "FAMILIES",
    "GOAL_FORMS",
    "HELDOUT_OBJECTS",
    "OBJECTS",
    "Goal",
    "HouseEnv",
    "goals",
    "make_solver",
    "parse_goal",
]


def make_solver(env):
    """A scripted solver for a ``HouseEnv`` (privileged state): ``solver(obs) -> action``."""
    from vlm_rewards.envs.house.solver import make_solver as _make_solver

    return _make_solver(env)


def __getattr__(name: str) -> Any:
    if name == "HouseEnv":
        from vlm_rewards.envs.house.env import HouseEnv

        return HouseEnv
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
