"""The VLM's view of each screen region, as a policy input.

A policy trained from scratch learns to recognise only the goals it trained on: an app it
never opened is just another icon. The VLM, trained on the web (or here on the project's
corpus, which names every app's icon), already knows what the held-out app's icon looks
like. :class:`RegionSimilarityObservation` hands that knowledge to the policy: for every
region of the screen (the tap cells of an env with ``region_crops(size)``) it adds the
cosine similarity between the VLM's embedding of the region and the embedding of the
goal's region prompt ("the clock app icon"), or (:class:`RegionPrompts` with a temperature)
the region's log-probability of being the goal's against every other goal's prompt. The
VLM stays frozen; the policy learns how far to trust the scores on training goals and can
then ground a held-out goal through the VLM's shared text-image space.

Example:
    >>> env = RegionSimilarityObservation(GoalEmbeddingObservation(phone_env, table), scorer, prompts)  # doctest: +SKIP
    >>> obs, info = env.reset(seed=0)  # doctest: +SKIP
    >>> obs["region"].shape  # doctest: +SKIP
    (24,)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from vlm_rewards._validation import check_goal, check_temperature, goal_key

__all__ = ["LOG_PROB_FLOOR", "REGION_CROPS_KEY", "RegionCropsInfo", "RegionPrompts", "RegionSimilarityObservation",
           "region_count", "region_features_of", "region_similarity"]

# Where RegionCropsInfo puts the crops of the view after each step and reset.
REGION_CROPS_KEY = "region_crops"


def region_count(env: gym.Env) -> int:
    """How many regions ``env.region_crops`` gives: one per pointer box (in action order: the
    pointer policy adds each region's similarity to its box's logit), else ``num_regions``."""
    try:
        return len(env.get_wrapper_attr("pointer_boxes"))
    except AttributeError:
        try:
            return int(env.get_wrapper_attr("num_regions"))
        except AttributeError:
            raise TypeError(f"{type(env.unwrapped).__name__} has neither pointer_boxes nor num_regions: "
                            "how many regions region_crops gives is unknown") from None


def _region_crops(env: gym.Env) -> Any:
    """The env's ``region_crops(size)`` method, or a TypeError naming the env."""
    try:
        return env.get_wrapper_attr("region_crops")
    except AttributeError:
        raise TypeError(f"{type(env.unwrapped).__name__} has no region_crops(size): it offers no screen regions") from None


def region_encoder(encoder: Any) -> tuple[Any, int]:
    """``(encode, crop side)`` of a RewardScorer (its frame cache makes repeated screens free)
    or a VLM with ``encode_images``."""
    encode = getattr(encoder, "encode_frames", None) or getattr(encoder, "encode_images", None)
    if encode is None:
        raise TypeError(f"encoder must be a RewardScorer or a VLM with encode_images, got {type(encoder).__name__}")
    return encode, int(getattr(encoder, "model", encoder).image_size[0])


#: log p(goal | region) is clipped here: a region the VLM rules out needs no finer grade, and
#: the observation space needs finite bounds.
LOG_PROB_FLOOR = -30.0


class RegionPrompts:
    """The goals' region prompts and how a region is scored against them.

    Without ``temperature``: the cosine similarity of a region with its goal's prompt, in
    [-1, 1]. With it: ``log p(goal | region)``, a softmax at τ over the prompts of every goal
    and of ``negatives`` ("the clock app icon" against every other app's icon), in
    [``LOG_PROB_FLOOR``, 0]. Cosine levels differ from goal to goal, so a policy cannot tell
    from them whether the goal's icon is on this screen at all (standardised over the cells
    of a Phone screen their maximum says nothing about it: ROC-AUC 0.46 on training apps);
    the probability compares each region with the alternatives and does (0.93; raw cosine
    0.92; ``python benchmarks/bench_region_scores.py``).

    Args:
        prompts: ``{goal: text embedding of its region prompt}``.
        temperature: τ of the softmax (the reward's), or None for cosine.
        negatives: more ``{goal: prompt embedding}`` competing in the softmax only.
    """

    def __init__(self, prompts: Mapping[str, Any], temperature: float | None = None,
                 negatives: Mapping[str, Any] | None = None):
        if not prompts:
            raise ValueError("prompts must map each goal to its region prompt's embedding")
        # One row per distinct prompt: goals that share a region prompt ("go near the red ball",
        # "pick up the red ball": "a red ball in a room") must not split its probability.
        rows: dict[bytes, int] = {}
        vectors: list[np.ndarray] = []
        self._row: dict[str, int] = {}
        for source, name in ((prompts, "prompts key"), (negatives or {}, "negatives key")):
            for g, v in source.items():
                v = np.asarray(v, np.float32)
                if v.ndim != 1:
                    raise ValueError(f"{name} {g!r}: a prompt embedding must be 1-D, got shape {v.shape}")
                key = goal_key(check_goal(g, name))
                if key in self._row:
                    continue  # a goal that is also a negative keeps its own prompt
                v = v / max(float(np.linalg.norm(v)), 1e-8)
                self._row[key] = rows.setdefault(v.tobytes(), len(vectors))
                if self._row[key] == len(vectors):
                    vectors.append(v)
        self._goals = {goal_key(check_goal(g, "prompts key")) for g in prompts}
        self.matrix = np.stack(vectors)
        self.temperature = None if temperature is None else check_temperature(temperature)

    @property
    def kind(self) -> str:
        return "cosine" if self.temperature is None else "log_prob"

    @property
    def bounds(self) -> tuple[float, float]:
        return (-1.0, 1.0) if self.temperature is None else (LOG_PROB_FLOOR, 0.0)

    def __len__(self) -> int:
        return len(self._goals)

    def row(self, goal: Any) -> int:
        key = goal_key(check_goal(goal, "info['goal']"))
        if key not in self._goals:
            raise KeyError(f"no region prompt for goal {goal!r}; prompts has {len(self._goals)} goals")
        return self._row[key]

    def prompt(self, goal: Any) -> np.ndarray:
        return self.matrix[self.row(goal)]

    def score(self, emb: np.ndarray, goals: Sequence[Any]) -> np.ndarray:
        """``(V, n)`` scores of the ``n`` unit-norm region embeddings of each of ``V`` views
        (``emb``: ``(V, n, D)``) against each view's goal."""
        rows = np.array([self.row(g) for g in goals], dtype=np.int64)
        if self.temperature is None:
            return _cosine(emb, self.matrix[rows])
        logits = np.einsum("vnd,gd->vng", emb, self.matrix) / self.temperature
        top = logits.max(axis=2, keepdims=True)
        log_z = top[..., 0] + np.log(np.exp(logits - top).sum(axis=2))
        own = np.take_along_axis(logits, rows[:, None, None].repeat(logits.shape[1], axis=1), axis=2)[..., 0]
        return np.clip(own - log_z, LOG_PROB_FLOOR, 0.0).astype(np.float32)


def prompt_table(prompts: Mapping[str, Any] | RegionPrompts) -> RegionPrompts:
    """``prompts`` as a :class:`RegionPrompts` (a mapping scores by cosine), checked."""
    return prompts if isinstance(prompts, RegionPrompts) else RegionPrompts(prompts)


def goal_prompt(table: RegionPrompts | Mapping[str, Any], goal: Any) -> np.ndarray:
    """The unit-norm prompt embedding of ``goal``."""
    return prompt_table(table).prompt(goal)


def _embed(encode: Any, crops: np.ndarray) -> np.ndarray:
    """``(V, n, D)`` unit-norm embeddings of ``crops`` ``(V, n, S, S, 3)``, one batch."""
    crops = np.asarray(crops)
    v, n = crops.shape[:2]
    emb = encode(crops.reshape(v * n, *crops.shape[2:]))
    emb = emb.float().cpu().numpy() if hasattr(emb, "cpu") else np.asarray(emb, np.float32)
    emb = emb.reshape(v, n, -1)
    return emb / np.maximum(np.linalg.norm(emb, axis=2, keepdims=True), 1e-8)


def _cosine(emb: np.ndarray, goals: np.ndarray) -> np.ndarray:
    """``(V, n)`` cosines of unit-norm region embeddings ``(V, n, D)`` with one unit-norm prompt per view."""
    return np.clip(np.einsum("vnd,vd->vn", emb, np.asarray(goals, np.float32)), -1.0, 1.0).astype(np.float32)


def region_similarity(encode: Any, crops: np.ndarray, goals: np.ndarray) -> np.ndarray:
    """Cosine similarity of each crop with its view's goal prompt.

    Args:
        encode: ``crops (N, S, S, 3) uint8 -> (N, D)`` image embeddings.
        crops: ``(V, n, S, S, 3)``: the ``n`` regions of ``V`` views, encoded in one batch.
        goals: ``(V, D)`` unit-norm prompt embeddings, one per view.

    Returns:
        ``(V, n)`` float32 in [-1, 1].
    """
    return _cosine(_embed(encode, crops), goals)


def region_features_of(encode: Any, table: RegionPrompts | Mapping[str, Any], views: Sequence[dict[str, Any]]) -> np.ndarray:
    """``(len(views), n)`` region scores (:class:`RegionPrompts`) of views given as infos of
    :class:`RegionCropsInfo` sub-envs (each holding its crops and goal), encoded in one batch;
    pops the crops."""
    table = prompt_table(table)
    crops, goals = [], []
    for info in views:
        if REGION_CROPS_KEY not in info:
            raise ValueError("each sub-env must be wrapped in RegionCropsInfo (no crops in its info)")
        crops.append(info.pop(REGION_CROPS_KEY))
        goals.append(info.get("goal"))
    return table.score(_embed(encode, np.stack(crops)), goals)


class RegionSimilarityObservation(gym.Wrapper):
    """Add ``obs["region"]``: the VLM's score of each screen region against the goal (cosine
    similarity, or log-probability with a :class:`RegionPrompts` that has a temperature).

    Args:
        env: an env with a Dict observation (e.g. :class:`GoalEmbeddingObservation`) whose
            base env has ``region_crops(size) -> (n, size, size, 3) uint8`` and puts the
            episode's goal in ``info["goal"]``; ``n`` is ``len(pointer_boxes)`` (one region per
            tap action, e.g. Phone) or, for an env without pointer actions, its
            ``num_regions`` (House: 1, the whole view).
        encoder: a :class:`~vlm_rewards.RewardScorer` (its frame cache makes repeated screens
            free) or a VLM with ``encode_images``.
        prompts: ``{goal: text embedding of the goal's region prompt}`` (cosine), or a
            :class:`RegionPrompts` (e.g. log-probabilities against other goals' prompts).
        size: crop side in pixels (default: the encoder's model input size).
    """

    def __init__(self, env: gym.Env, encoder: Any, prompts: Mapping[str, Any], size: int | None = None):
        super().__init__(env)
        if not isinstance(env.observation_space, spaces.Dict):
            raise TypeError("env must have a Dict observation (wrap it in GoalEmbeddingObservation first)")
        self._crops = _region_crops(env)
        self._encode, model_size = region_encoder(encoder)
        self.size = int(size if size is not None else model_size)
        self._prompts = prompt_table(prompts)
        n = region_count(env)
        self.observation_space = spaces.Dict({**env.observation_space.spaces,
                                              "region": spaces.Box(*self._prompts.bounds, (n,), np.float32)})
        self._goal: Any = None

    def _with_region(self, obs: dict[str, Any]) -> dict[str, Any]:
        return {**obs, "region": self._prompts.score(_embed(self._encode, self._crops(self.size)[None]), [self._goal])[0]}

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        self._goal = info.get("goal")
        self._prompts.row(self._goal)  # a goal without a prompt fails at reset, not mid-episode
        return self._with_region(obs), info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._with_region(obs), reward, terminated, truncated, info


class RegionCropsInfo(gym.Wrapper):
    """Put the view's region crops in ``info[REGION_CROPS_KEY]`` after every reset and step.

    The per-step half of :class:`~vlm_rewards.wrappers.VecRegionSimilarity`, which encodes the
    crops of all sub-envs in one batch (the reward's batch, through the scorer's frame cache)
    instead of one encoding per sub-env and step. A vector env resets a finished sub-env before
    a wrapper outside it could draw its last view, hence the crops travel in ``info``.
    """

    def __init__(self, env: gym.Env, size: int):
        super().__init__(env)
        self._crops = _region_crops(env)
        self.size = int(size)
        self.regions_per_view = region_count(env)

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        return obs, {**info, REGION_CROPS_KEY: self._crops(self.size)}

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, {**info, REGION_CROPS_KEY: self._crops(self.size)}
