"""The domain registry: one :class:`Domain` record per language-goal domain.

Everything that depends on which domain a run uses (its Gymnasium ids, the keyword that
picks a goal-set variant, time-limit and observation constraints, prompt templates, the
corpus and evaluation-set generators) is read from the record, so a new domain is one
package (its env, ``goals(split, **kw)`` and ``make_solver(env)``) plus one
:func:`register_domain` call.

This module is imported by ``import vlm_rewards``: it must stay cheap. It imports no env
implementation; code is referenced by lazy ``"module"`` / ``"module:attribute"`` strings and
loaded on first use (:func:`load_hook`).

Example:
    >>> from vlm_rewards.envs.registry import get_domain
    >>> get_domain("house").goal_keyword
    'family'
    >>> get_domain("vlm_rewards/Phone-v0").name
    'phone'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = [
    "DEFAULT_TEMPLATE",
    "Domain",
    "EvalSource",
    "domains",
    "domain_of_env",
    "get_domain",
    "load_hook",
    "register_domain",
    "unregister_domain",
]

DEFAULT_TEMPLATE = "{goal}"


@dataclass(frozen=True)
class EvalSource:
    """A domain's evaluation-set generator.

    ``samples(variant, goals, split, rng, image_size)`` yields labelled frames
    (:class:`vlm_rewards.envs._sampling.LabelledFrame`) forever: ``goals`` are all the
    section's goals (each frame is labelled for each), ``split`` the goal split the episodes
    pursue. ``policies`` names the behaviour policies, indexed by the frames' ``policy``.

    ``labeller(variant, goals)``, where given, returns ``labels(env) -> bool array``: the
    success of each of ``goals`` in the state of an unwrapped env of the domain. It labels
    frames that other policies visit (a trained agent's, for calibrating β on the frames
    the agent will see: ``vlm_rewards.agents.visited``).
    """

    policies: tuple[str, ...]
    samples: Callable[..., Iterator[Any]]
    labeller: Callable[[str, list[str]], Callable[[Any], Any]] | None = None


@dataclass(frozen=True)
class Domain:
    """One language-goal domain. Only ``name`` is required; the rest says what the domain offers.

    Attributes:
        name: short name ("phone"), the first part of a goal spec ("phone:diverse").
        module: import path of the module providing ``goals(split, **kw)`` and
            ``make_solver(env)``; ``None`` for an adapter without a built-in goal set.
        env_ids: Gymnasium id -> keyword arguments of ``gymnasium.register`` (an
            ``entry_point`` *string*, so registering imports nothing).
        trains_agents: whether ``vlm-rewards train`` accepts its env ids.
        goal_keyword: env and ``goals()`` keyword that selects a goal-set variant, set by the
            part after the colon of a spec ("phone:diverse" -> ``apps="diverse"``).
        time_limit_kwarg: env keyword holding the env's own step limit, kept equal to
            ``TimeLimit``'s when a run overrides it (``None``: the env has none).
        square_obs: whether agent observations must be square (``obs_size`` one int).
        templates: the prompt-template study's templates.
        baseline_prompt: goal-baseline reward's default baseline (the scene without a goal).
        goal_fields: ``"module:function"``, ``goal -> {field: text}`` for templates
            (``{goal}`` alone when ``None``).
        hard_negative_key: ``"module:function"``, ``(goal, other) -> sort key`` (smaller:
            more confusable); ``None``: rank by words shared with the goal.
        counterfactuals: ``"module:function"``, ``goal -> list of goal texts`` that each
            change exactly one attribute of the goal (a colour, an object kind, the app), in
            a fixed order and never the goal itself: counterfactual negatives and the
            evaluation's instruction-sensitivity check (``None``: not offered).
        corpus: ``"module:function"``, ``(rng, image_size, holdout) -> iterator of
            (frame, caption, label)`` tuples or :class:`~vlm_rewards.envs._sampling.CorpusFrame`
            (several captions, twins) for the pre-training corpus (``None``: not offered).
        evalset: ``"module:attribute"`` naming an :class:`EvalSource`.
        eval_variants: goal-set variants that are evaluation-set sections ("" for the
            domain's default goals, a section named like the domain).
        corpus_hides_compositions: the corpus hook drops every frame that may show a
            held-out colour-object combination (not only its caption), so retrieval of goals
            about those objects measures composition (the evaluation reports it).
        region_prompt: template (``goal_fields`` fields) of what one screen region shows when
            it is the goal's, for envs with ``region_crops(size)``: the VLM's similarity of
            each region with it is the policy's region feature (``agent.region_features``;
            Phone: each tap cell; House: the whole view, "a red ball in a room").
        state_negative: template (``goal_fields`` fields) of the goal's objects seen in a
            state that does not complete the goal ("a red ball in a room" for "go near the red
            ball"): a *state negative*. The paper's softmax over goals has no way to say "not
            yet": a frame showing the red ball across the room gives "go near the red ball" a
            high p when no other goal fits better. With state negatives on, this prompt joins
            each goal's negatives (``None``: not offered).
        step_flags: boolean ``info`` keys of a step that a policy may read beside its
            previous action (``env.prev_action``), e.g. House's bump sensor ``"blocked"``.
    """

    name: str
    module: str | None = None
    env_ids: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    trains_agents: bool = True
    goal_keyword: str | None = None
    time_limit_kwarg: str | None = None
    square_obs: bool = False
    templates: tuple[str, ...] = (DEFAULT_TEMPLATE,)
    baseline_prompt: str | None = None
    goal_fields: str | None = None
    hard_negative_key: str | None = None
    counterfactuals: str | None = None
    corpus: str | None = None
    evalset: str | None = None
    eval_variants: tuple[str, ...] = ()
    corpus_hides_compositions: bool = False
    region_prompt: str | None = None
    state_negative: str | None = None
    step_flags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"Domain name must be an identifier such as 'phone', got {self.name!r}")
        for attr in ("module", "goal_fields", "hard_negative_key", "counterfactuals", "corpus", "evalset"):
            value = getattr(self, attr)
            if value is not None and (not isinstance(value, str) or not value):
                raise TypeError(f"Domain.{attr} must be an import path string ('pkg.module' or 'pkg.module:attr'), got {value!r}")
        for env_id, spec in self.env_ids.items():
            if not isinstance(spec.get("entry_point"), str):
                raise TypeError(
                    f"Domain.env_ids[{env_id!r}] must give entry_point as a 'module:Class' string "
                    "(registering must not import the env)"
                )
        if self.trains_agents and self.module is None:
            raise ValueError(f"Domain {self.name!r}: trains_agents=True needs module (its goals and solver)")
        object.__setattr__(self, "env_ids", MappingProxyType({k: MappingProxyType(dict(v)) for k, v in self.env_ids.items()}))

    def goals_module(self):
        """The imported domain module (``goals``, ``make_solver``)."""
        if self.module is None:
            raise ValueError(f"domain {self.name!r} has no built-in goal set (it takes goals as env arguments)")
        return importlib.import_module(self.module)

    def goal_kwargs(self, variant: str | None) -> dict[str, Any]:
        """``goals()`` / env keyword arguments selecting ``variant`` (``None`` or "": the default)."""
        if not variant:
            return {}
        if self.goal_keyword is None:
            raise ValueError(f"domain {self.name!r} has no goal-set variants, got {variant!r}")
        return {self.goal_keyword: variant}

    @property
    def eval_sections(self) -> tuple[str, ...]:
        """Evaluation-set section names: ``"phone:common"``, or ``"babyai"`` for the default variant."""
        return tuple(f"{self.name}:{v}" if v else self.name for v in self.eval_variants)


_DOMAINS: dict[str, Domain] = {}
_BY_ENV_ID: dict[str, str] = {}


def register_domain(domain: Domain, *, replace: bool = False) -> Domain:
    """Add ``domain`` to the registry and register its env ids with Gymnasium.

    Registering a name or env id twice is an error unless ``replace=True``.
    """
    if not isinstance(domain, Domain):
        raise TypeError(f"domain must be a Domain record, got {type(domain).__name__}")
    if not replace:
        if domain.name in _DOMAINS:
            raise ValueError(f"domain {domain.name!r} is already registered (pass replace=True to redefine it)")
        taken = [i for i in domain.env_ids if i in _BY_ENV_ID]
        if taken:
            raise ValueError(f"env ids {taken} already belong to domain {_BY_ENV_ID[taken[0]]!r}")
    if domain.name in _DOMAINS:
        unregister_domain(domain.name)
    _DOMAINS[domain.name] = domain
    _BY_ENV_ID.update((env_id, domain.name) for env_id in domain.env_ids)
    _register_gym_ids(domain, replace)
    return domain


def unregister_domain(name: str) -> None:
    """Remove a domain (and its Gymnasium ids); mostly for tests that define throwaway domains."""
    domain = _DOMAINS.pop(name, None)
    if domain is None:
        raise ValueError(f"domain must be one of {sorted(_DOMAINS)}, got {name!r}")
    import gymnasium

    for env_id in domain.env_ids:
        _BY_ENV_ID.pop(env_id, None)
        gymnasium.registry.pop(env_id, None)


def _register_gym_ids(domain: Domain, replace: bool) -> None:
    # gymnasium itself is cheap to import; the env modules behind the entry points are not,
    # and stay unimported until gym.make.
    try:
        import gymnasium
    except ImportError:  # scoring, evaluation and pre-training work without Gymnasium (e.g. a bare GPU box)
        return

    for env_id, spec in domain.env_ids.items():
        if replace:
            gymnasium.registry.pop(env_id, None)
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, **spec)


def domains() -> Mapping[str, Domain]:
    """A read-only view of the registered domains, name -> record, in registration order."""
    return MappingProxyType(_DOMAINS)


def get_domain(name_or_env_id: str) -> Domain:
    """The record of a domain, by name ("phone") or by one of its env ids ("vlm_rewards/Phone-v0")."""
    if isinstance(name_or_env_id, str):
        if name_or_env_id in _DOMAINS:
            return _DOMAINS[name_or_env_id]
        if name_or_env_id in _BY_ENV_ID:
            return _DOMAINS[_BY_ENV_ID[name_or_env_id]]
    raise ValueError(
        f"domain must be one of {sorted(_DOMAINS)} (or one of their env ids {sorted(_BY_ENV_ID)}), got {name_or_env_id!r}"
    )


def domain_of_env(env: Any) -> Domain:
    """The domain whose module defines ``env.unwrapped``'s class (the module or a submodule)."""
    module = type(env.unwrapped).__module__
    for domain in _DOMAINS.values():
        if domain.module is not None and (module == domain.module or module.startswith(domain.module + ".")):
            return domain
    raise TypeError(f"env must be an env of a registered domain ({sorted(_DOMAINS)}), got {type(env.unwrapped).__name__}")


def load_hook(path: str) -> Any:
    """The object named by ``"package.module:attribute"``."""
    module, sep, attr = path.partition(":")
    if not sep or not attr:
        raise ValueError(f"hook must look like 'package.module:attribute', got {path!r}")
    return getattr(importlib.import_module(module), attr)


# --- Built-in domains ------------------------------------------------------------------------

register_domain(Domain(
    name="phone",
    module="vlm_rewards.envs.phone",
    env_ids={"vlm_rewards/Phone-v0": {"entry_point": "vlm_rewards.envs.phone:PhoneEnv", "max_episode_steps": 30}},
    goal_keyword="apps",
    # The paper's four prompts (its Fig. 5).
    templates=("Open {task}", "Open the {task} app", "Screenshot of {task}", "Screenshot of {task} on Android"),
    baseline_prompt="a phone screen",
    goal_fields="vlm_rewards.envs.phone.text:goal_fields",
    counterfactuals="vlm_rewards.envs.phone.text:counterfactuals",
    hard_negative_key="vlm_rewards.envs.phone.text:hardness",
    corpus="vlm_rewards.envs.phone.samples:corpus_samples",
    evalset="vlm_rewards.envs.phone.samples:EVALSET",
    eval_variants=("common", "diverse"),
    # The corpus names each app's icon close-up so (envs.phone.samples._ICON_STYLES).
    region_prompt="the {app} app icon",
))
register_domain(Domain(
    name="house",
    module="vlm_rewards.envs.house",
    env_ids={"vlm_rewards/House-v0": {"entry_point": "vlm_rewards.envs.house:HouseEnv", "max_episode_steps": 250}},
    goal_keyword="family",
    time_limit_kwarg="max_episode_steps",
    # MiniWorld renders through one square framebuffer.
    square_obs=True,
    templates=("{goal}", "a {colour} {object}", "a {colour} {object} up close", "a {colour} {object} in a room"),
    baseline_prompt="a room in a house",
    goal_fields="vlm_rewards.envs.house.text:goal_fields",
    counterfactuals="vlm_rewards.envs.house.text:counterfactuals",
    corpus="vlm_rewards.envs.house.samples:corpus_samples",
    evalset="vlm_rewards.envs.house.samples:EVALSET",
    eval_variants=("find", "lift", "place"),
    corpus_hides_compositions=True,
    # The corpus's caption of an object in view but not near or carried (envs.house.samples).
    state_negative="a {name} in a room",
    # The whole view is House's one region: its similarity with this says whether the goal's
    # object is in sight (agent.region_features).
    region_prompt="a {name} in a room",
    # A move that left the agent where it stood (the view unchanged: an object below the view).
    step_flags=("blocked",),
))
register_domain(Domain(
    name="babyai",
    module="vlm_rewards.envs.babyai",
    # BabyAI levels carry their own time limits (64 steps for GoToLocal, 576 for GoTo).
    env_ids={"vlm_rewards/BabyAI-v0": {"entry_point": "vlm_rewards.envs.babyai:BabyAIEnv"}},
    goal_keyword="level",
    time_limit_kwarg="max_steps",
    templates=("{goal}", "a {colour} {object}", "the agent facing the {colour} {object}", "a grid with a {colour} {object}"),
    baseline_prompt="a grid room",
    goal_fields="vlm_rewards.envs.babyai.text:goal_fields",
    counterfactuals="vlm_rewards.envs.babyai.text:counterfactuals",
    corpus="vlm_rewards.envs.babyai.samples:corpus_samples",
    evalset="vlm_rewards.envs.babyai.samples:EVALSET",
    eval_variants=("",),
    # The corpus's caption of an object in view but not next to the agent (envs.babyai.samples).
    state_negative="a grid with a {name}",
))
register_domain(Domain(
    name="android",
    # A real device cannot be seeded; only the goal choice is.
    env_ids={"vlm_rewards/AndroidEnv-v0": {
        "entry_point": "vlm_rewards.envs.android:AndroidGoalEnv", "max_episode_steps": 100, "nondeterministic": True,
    }},
    trains_agents=False,
))
