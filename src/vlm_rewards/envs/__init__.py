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

Goal sets are data: ``goals("house", split="heldout")``. Each domain is a package
(``envs/house/``, ``envs/phone/``, ...) and one :class:`~vlm_rewards.envs.registry.Domain`
record in :mod:`vlm_rewards.envs.registry`, which everything domain-specific reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vlm_rewards.envs.registry import Domain, domain_of_env, domains, get_domain, register_domain

__all__ = ["DOMAINS", "SPLITS", "Domain", "get_domain", "goals", "goals_from_spec", "negative_pool", "make_solver", "register_domain", "register_envs"]


class _DomainModules(Mapping):
    """Live view: domain name -> module with ``goals``/``make_solver``, for domains with a goal set."""

    def _names(self) -> list[str]:
        return [name for name, d in domains().items() if d.module is not None]

    def __getitem__(self, name: str) -> str:
        if name not in self._names():
            raise KeyError(name)
        return domains()[name].module

    def __iter__(self):
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def __repr__(self) -> str:
        return repr(dict(self))


#: domain name -> module holding ``goals(split, **kw)`` and ``make_solver(env)`` (follows the registry).
DOMAINS: Mapping[str, str] = _DomainModules()

SPLITS = ("train", "heldout", "all")


def _goal_domain(domain: str) -> Domain:
    if not isinstance(domain, str) or domain not in DOMAINS:
        raise ValueError(f"domain must be one of {sorted(DOMAINS)}, got {domain!r}")
    return get_domain(domain)


def goals(domain: str, split: str = "train", **kwargs: Any) -> list[str]:
    """The goal texts of ``domain`` for ``split`` ("train", "heldout" or "all").

    Extra keyword arguments are domain specific (e.g. ``family="find"`` for the house,
    ``apps="diverse"`` for the phone: the record's ``goal_keyword``). The split is fixed:
    held-out goals are never used as training goals.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return list(_goal_domain(domain).goals_module().goals(split, **kwargs))


def goals_from_spec(spec: str, split: str = "all") -> list[str]:
    """Goals named by a goal-set spec: ``"phone"``, ``"phone:diverse"``, ``"house:find"``,
    ``"babyai:BabyAI-GoTo-v0"``: a domain, then optionally the value of its ``goal_keyword``.
    Used by the CLI and configs to draw negatives from a domain's goal set.
    """
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"goals spec must look like 'phone', 'phone:diverse' or 'house:find', got {spec!r}")
    name, _, part = spec.partition(":")
    domain = _goal_domain(name)
    return goals(name, split, **domain.goal_kwargs(part))


def negative_pool(goals: Sequence[str], negatives_from: str | None) -> list[str]:
    """The goals negatives are drawn from: ``goals``, then the goals of spec ``negatives_from``
    (e.g. a training config's ``reward.negatives_from``) that are not among them, compared as
    the scorer compares goals; indices into ``goals`` stay valid."""
    goals = list(goals)
    if negatives_from is None:
        return goals
    from vlm_rewards._validation import goal_key

    seen = {goal_key(g) for g in goals}
    return goals + [g for g in goals_from_spec(negatives_from) if goal_key(g) not in seen]


def make_solver(env: Any):
    """A scripted solver for ``env`` (privileged state): ``solver(obs) -> action``."""
    return domain_of_env(env).goals_module().make_solver(env)


def register_envs() -> None:
    """Register the built-in env ids with Gymnasium (idempotent; importing the registry already does)."""
    import gymnasium

    for domain in domains().values():
        for env_id, spec in domain.env_ids.items():
            if env_id not in gymnasium.registry:
                gymnasium.register(id=env_id, **spec)
