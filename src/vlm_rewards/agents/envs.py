"""The building blocks of a run's envs, from its :class:`TrainConfig`: one sub-env, the scorer.

Training (``reward.kind="vlm"``, the paper's setting)::

    gym.make(id, goal_split="train", terminate_on_success=False)   # ground truth never ends it
      -> GoalEmbeddingObservation(table)   # {"image", "goal"}: goal text embedded by the same VLM
      -> RenderFrameInfo                   # frame for the VLM travels in info
    DummyVecEnv/SubprocVecEnv -> VecVLMReward(scorer) -> VecMonitor   (agents.venvs)

The oracle (``reward.kind="ground_truth"``) keeps the env's own reward and termination and
needs no VLM while training (the evaluation still scores its episodes with the VLM).

Example:
    >>> cfg = TrainConfig()  # doctest: +SKIP
    >>> scorer = make_scorer(cfg.reward, cfg.env)  # doctest: +SKIP
    >>> env = make_env(cfg.env, goal_table(scorer, cfg.env))  # doctest: +SKIP

The vector env the agent trains in is assembled in :mod:`vlm_rewards.agents.venvs`.
"""

from __future__ import annotations

import functools

from typing import Any

import gymnasium as gym
import numpy as np

from vlm_rewards.agents.config import EnvConfig, RewardConfig
from vlm_rewards.envs import negative_pool

__all__ = ["domain_goals", "env_kwargs", "make_env", "make_scorer", "negative_sampler", "patch_source", "region_source", "scorer_settings"]


def domain_goals(env: EnvConfig, split: str) -> list[str]:
    """The goal texts of the configured domain for ``split`` ("train", "heldout", "all")."""
    from vlm_rewards.envs import goals

    # The env keyword that picks the goal-set variant picks the same goals here.
    key = env.record.goal_keyword
    extra = {key: env.kwargs[key]} if key is not None and env.kwargs.get(key) is not None else {}
    found = goals(env.domain, split, **extra)
    if not found:
        raise ValueError(f"env {env.id} with {extra or 'default goals'} has no {split!r} goals")
    return found


def env_kwargs(env: EnvConfig, *, split: str, terminate_on_success: bool, render: bool) -> dict[str, Any]:
    """Keyword arguments of ``gym.make`` for one sub-env."""
    kwargs: dict[str, Any] = dict(env.kwargs)
    kwargs.update(
        goal_split=split,
        obs_size=env.obs_size,
        render_size=env.render_size,
        terminate_on_success=terminate_on_success,
        render_mode="rgb_array" if render else None,
    )
    limit_kwarg = env.record.time_limit_kwarg
    if env.max_episode_steps is not None and limit_kwarg is not None:
        # Envs that count steps themselves (House, BabyAI) keep their limit in step with TimeLimit's.
        kwargs[limit_kwarg] = env.max_episode_steps
    return kwargs


def _gym_make(env: EnvConfig, kwargs: dict[str, Any]) -> gym.Env:
    import vlm_rewards.envs.registry  # noqa: F401  (registers the ids)

    kwargs = dict(kwargs)
    if "max_episode_steps" in kwargs:
        # gym.make's own max_episode_steps argument shadows the House constructor's: pass it in the spec.
        from dataclasses import replace

        spec = gym.spec(env.id)
        limit = kwargs.pop("max_episode_steps")
        return gym.make(replace(spec, kwargs={**spec.kwargs, "max_episode_steps": limit}, max_episode_steps=limit), **kwargs)
    return gym.make(env.id, max_episode_steps=env.max_episode_steps, **kwargs)


def make_env(
    env: EnvConfig,
    table: dict[str, np.ndarray],
    *,
    split: str = "train",
    terminate_on_success: bool = False,
    render: bool = True,
    frame_info: bool = True,
    regions: tuple[Any, Any] | None = None,
    batch_regions: bool = False,
    patches: Any = None,
) -> gym.Env:
    """One sub-env: the domain env, goal embedding in the observation, frame in ``info``.

    ``terminate_on_success`` is the env's own (ground-truth) termination: off when the VLM
    decides when episodes end, on for the oracle. ``regions``: ``(scorer, prompt table)``
    from :func:`region_source` adds the VLM's per-region similarities (``obs["region"]``);
    with ``batch_regions`` the sub-env only puts its crops in ``info``, and the vector env's
    ``VecRegionSimilarity`` encodes every sub-env's in one batch. ``patches``: the VLM of
    :func:`patch_source` adds its patch embeddings of the view (``obs["patches"]``; training
    adds them to the whole vector env instead, with ``VecPatchFeatures``).
    """
    base = _gym_make(env, env_kwargs(env, split=split, terminate_on_success=terminate_on_success, render=render))
    from vlm_rewards.wrappers import GoalEmbeddingObservation, RegionCropsInfo, RegionSimilarityObservation, RenderFrameInfo

    wrapped: gym.Env = GoalEmbeddingObservation(base, table)
    if env.frame_stack > 1:
        from vlm_rewards.wrappers import FrameStackImage

        wrapped = FrameStackImage(wrapped, env.frame_stack)
    if env.prev_action:
        from vlm_rewards.wrappers import PreviousActionObservation

        wrapped = PreviousActionObservation(wrapped, env.record.step_flags)
    if env.search_map:
        from vlm_rewards.envs.house.memory import SearchMapObservation

        wrapped = SearchMapObservation(wrapped, explore_action=env.explore_action)
    if regions is not None and batch_regions:
        from vlm_rewards.wrappers.region import region_encoder

        wrapped = RegionCropsInfo(wrapped, size=region_encoder(regions[0])[1])
    elif regions is not None:
        wrapped = RegionSimilarityObservation(wrapped, *regions)
    if patches is not None:
        from vlm_rewards.wrappers import PatchFeatureObservation

        wrapped = PatchFeatureObservation(wrapped, patches)
    if render and frame_info:
        wrapped = RenderFrameInfo(wrapped)
    return wrapped


def scorer_settings(reward: RewardConfig, env: EnvConfig, *, seed: int = 0) -> dict[str, Any]:
    """The :class:`~vlm_rewards.RewardScorer` keyword arguments of a run (its reward section),
    shared by the in-process scorer and the Ray pool's actors so both score alike."""
    return dict(
        # RL frames repeat a lot (the same home screen, an agent standing still): each
        # distinct frame is encoded once. Exact, since the model is deterministic.
        cache_size=reward.frame_cache,
        reward=reward.function,
        temperature=reward.temperature,
        threshold=reward.threshold,
        # Negatives from the env's goals and, with reward.negatives_from, a wider goal set.
        goal_set=negative_pool(domain_goals(env, "all"), reward.negatives_from) if reward.spec.needs_negatives else None,
        num_negatives=reward.num_negatives,
        negative_sampler=negative_sampler(reward, env),
        alpha=reward.alpha,
        baseline=reward.baseline,
        seed=seed,
    )


def negative_sampler(reward: RewardConfig, env: EnvConfig):
    """``RewardScorer(negative_sampler=...)`` of ``reward.negative_choice`` and
    ``reward.state_negatives`` (None: uniform from the goal set, the scorer's own draw). A partial of a module function, so Ray ships it to the scorer actors."""
    if not reward.spec.needs_negatives or (reward.negative_choice == "uniform" and not reward.state_negatives):
        return None
    from vlm_rewards.evaluation.negatives import choose_negatives, negatives_with_state

    if reward.state_negatives:
        return functools.partial(negatives_with_state, choice=reward.negative_choice, domain=env.domain)
    return functools.partial(choose_negatives, choice=reward.negative_choice, domain=env.domain)


def make_scorer(reward: RewardConfig, env: EnvConfig, *, seed: int = 0):
    """The run's :class:`~vlm_rewards.RewardScorer`; negatives come from all the domain's goals."""
    from vlm_rewards.models import load_model
    from vlm_rewards.models.accel import resolve_dtype
    from vlm_rewards.scoring import RewardScorer

    model = load_model(reward.model, device=reward.device, dtype=resolve_dtype(reward.dtype, reward.device))
    return RewardScorer(model, **scorer_settings(reward, env, seed=seed))


def region_source(config: Any, scorer) -> tuple[Any, Any] | None:
    """``make_env(regions=...)`` of a run with ``agent.region_features`` (else None): the
    run's scorer (its frame cache serves the repeated screen regions) and the goals' region
    prompts (the domain's ``region_prompt``, e.g. "the clock app icon") as a
    :class:`~vlm_rewards.wrappers.region.RegionPrompts`. With ``agent.region_score:
    log_prob`` a region is scored against every goal's prompt and those of
    ``reward.negatives_from`` (the apps whose icons share the screen), at the reward's τ."""
    if not config.agent.region_features:
        return None
    from vlm_rewards.evaluation.prompts import render_template
    from vlm_rewards.wrappers.region import RegionPrompts

    def embed(goals: list[str]) -> dict[str, np.ndarray]:
        prompts = [render_template(config.env.record.region_prompt, config.env.domain, g) for g in goals]
        emb = scorer.text_embeddings(prompts).float().cpu().numpy()
        return {g: emb[i] for i, g in enumerate(goals)}

    goals = domain_goals(config.env, "all")
    if config.agent.region_score == "cosine":
        return scorer, RegionPrompts(embed(goals))
    others = negative_pool(goals, config.reward.negatives_from)[len(goals):]
    return scorer, RegionPrompts(embed(goals), temperature=scorer.temperature, negatives=embed(others) if others else None)


def patch_source(config: Any, scorer) -> Any:
    """``make_env(patches=...)`` of a run with ``agent.vlm_patches`` (else None): the run's VLM."""
    return scorer.model if config.agent.vlm_patches else None


def goal_table(scorer, env: EnvConfig) -> dict[str, np.ndarray]:
    """Text embeddings of every goal of the domain (train and held out), from the run's VLM."""
    from vlm_rewards.wrappers import goal_embedding_table

    return goal_embedding_table(scorer, domain_goals(env, "all"))
