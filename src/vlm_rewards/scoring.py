"""``RewardScorer``: frames + goal texts -> rewards, in batches, with a text cache.

This is the one object the wrappers call. It owns the choices that must stay fixed
for a whole run (the reward function, τ, β, the negatives of each goal) so that the
same frame and goal always get the same reward.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from vlm_rewards import rewards as R
from vlm_rewards._validation import (
    check_device,
    check_frames,
    check_goal,
    check_goals,
    check_positive_int,
    check_special_tokens,
    check_temperature,
    check_thresholds,
    check_unit_interval,
    dedupe_goals,
    goal_key,
    normalize_goal,
)
from vlm_rewards.models.base import VisionLanguageModel

__all__ = ["BF16_P_TOLERANCE", "PrecisionReport", "RewardScorer", "ScoreResult", "compare_precision"]

#: Largest |p_bf16 - p_fp32| accepted for the contrastive probability (see
#: docs/performance.md: measured on the built-in default over real Phone and House frames,
#: with margin). Binarised rewards may differ only where p is this close to β.
BF16_P_TOLERANCE = 0.04


@dataclass(frozen=True)
class ScoreResult:
    """Per-frame ``reward`` and ``score`` (p for contrastive rewards), float32 numpy arrays."""

    reward: np.ndarray
    score: np.ndarray


def _describe(fn: Any) -> str | None:
    # A readable name for settings() and logs: "choose_negatives(choice='counterfactual', domain='house')".
    if fn is None:
        return None
    import functools

    if isinstance(fn, functools.partial):
        args = [repr(a) for a in fn.args] + [f"{k}={v!r}" for k, v in fn.keywords.items()]
        return f"{getattr(fn.func, '__name__', repr(fn.func))}({', '.join(args)})"
    return getattr(fn, "__qualname__", repr(fn))


class RewardScorer:
    """Score N frames against N goals with one batched pass of the image encoder.

    Args:
        model: a :class:`~vlm_rewards.models.VisionLanguageModel` (see ``load_model``).
        reward: a name from :data:`vlm_rewards.rewards.REWARDS`: ``"contrastive"`` (the
            paper's), ``"cosine"``, ``"goal_baseline"`` or ``"mineclip"``.
        temperature: τ of the softmax; ``None`` uses the model's learned ``1/logit_scale``.
        threshold: β; the contrastive reward is ``1[p > β]``. A number, or a mapping
            ``{goal: β}`` (per-goal thresholds, e.g. from ``vlm-rewards calibrate``) whose key
            ``"*"`` is the β of every unlisted goal (:data:`~vlm_rewards.rewards.DEFAULT_THRESHOLD`,
            0.5, without one). Keys are matched like goals (case, whitespace and Unicode
            composition ignored).
        goal_set: the task's goals; each goal's negatives are drawn from the others once
            (seeded, per goal) and then fixed for the run, as in the paper.
        num_negatives: negatives per goal drawn from ``goal_set`` (``None``: all others).
        negative_sampler: how each goal's negatives are drawn from ``goal_set``: a function
            ``(goal, goal_set, num_negatives, *, seed) -> list of texts``, called once per goal.
            ``None``: uniformly (:func:`vlm_rewards.rewards.sample_negatives`, the paper's);
            e.g. ``functools.partial(vlm_rewards.evaluation.choose_negatives,
            choice="counterfactual", domain="house")`` draws goals with one attribute changed.
        negatives: an explicit list of negative texts shared by all goals (instead of
            ``goal_set``); must not contain a scored goal.

            Goals, goal-set entries and negatives are compared case-insensitively after
            Unicode NFC and whitespace normalisation (``_validation.goal_key``): a goal is
            never among its own negatives because of its spelling, and repeated entries
            count once. The text encoder sees each text NFC- and whitespace-normalised,
            with its case. Texts holding one of the model's tokenizer special tokens
            (``<|endoftext|>``, ``</s>``, ``[SEP]``, ...) are refused.
        alpha, baseline: goal-baseline regularisation strength and baseline prompt.
        batch_size: frames per forward pass of the image encoder.
        device, dtype: where and in which precision the model runs: a ``torch.dtype``, or
            ``"fp32"``, ``"bf16"``, ``"fp16"``, ``"auto"`` (bf16 where the hardware has bf16
            units: AVX-512 BF16/AMX CPUs, Ampere+ GPUs). bf16 moves p by at most
            :data:`BF16_P_TOLERANCE` (see :func:`compare_precision`).
        seed: seeds the negative sampling.
        cache_size: the most image embeddings kept in an LRU cache keyed by a hash of each
            frame's bytes (``0`` disables it); identical frames, within a batch or across
            calls, are encoded once. Hit rate: :meth:`cache_stats`.
            The cache belongs to the scorer: after changing the model's weights or
            precision, call ``scorer.cache.clear()``.
        compile: run the image tower through ``torch.compile`` (first call compiles).
        threads: torch intra-op threads while encoding (``None``: leave torch's setting).
            On a CPU shared with env workers or other jobs, 1 is often faster than 2.
        attention: ``"sdpa"`` or ``"eager"`` attention kernels (``None``: the model's own).
            ``device``, ``dtype``, ``compile`` and ``attention`` change the model object
            itself, so every scorer sharing it sees them.

    Example:
        >>> scorer = RewardScorer(load_model("builtin:default"),  # doctest: +SKIP
        ...                       goal_set=["open the clock app", "open the maps app"])
        >>> scorer.score(frames, ["open the clock app"] * len(frames)).reward  # doctest: +SKIP
    """

    def __init__(
        self,
        model: VisionLanguageModel,
        *,
        reward: str = "contrastive",
        temperature: float | None = None,
        threshold: float | Mapping[str, float] = R.DEFAULT_THRESHOLD,
        goal_set: Sequence[str] | None = None,
        num_negatives: int | str | None = None,
        negatives: Sequence[str] | None = None,
        negative_sampler: Callable[[str, Sequence[str], int | str | None, int], Sequence[str]] | None = None,
        alpha: float = 0.5,
        baseline: str | None = None,
        batch_size: int = 64,
        device: Any = None,
        dtype: Any = None,
        seed: int = 0,
        cache_size: int = 4096,
        compile: bool = False,
        threads: int | None = None,
        attention: str | None = None,
    ):
        from vlm_rewards.models.accel import resolve_dtype

        if not isinstance(model, VisionLanguageModel):
            raise TypeError(f"model must implement encode_images/encode_texts (see load_model), got {type(model).__name__}")
        spec = R.get_reward(reward)
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ValueError(f"threads must be a positive integer or None, got threads={threads!r}")
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
            raise ValueError(f"cache_size must be an integer >= 0 (0 disables the cache), got cache_size={cache_size!r}")
        if attention not in (None, "sdpa", "eager"):
            raise ValueError(f"attention must be 'sdpa', 'eager' or None, got attention={attention!r}")
        for flag, method in ((compile, "compile"), (attention, "set_attention")):
            if flag and not callable(getattr(model, method, None)):
                raise TypeError(f"{method.replace('set_', '')}=... needs a model with .{method}() (the transformers backend)")
        device = check_device(device, "device")
        dtype = resolve_dtype(dtype, device if device is not None else model.device)
        self.model = model
        if device is not None or dtype is not None:
            if not hasattr(model, "to"):
                raise TypeError("device/dtype given but the model has no .to(device, dtype) method")
            model.to(device=device, dtype=dtype)
        if attention is not None:
            model.set_attention(attention)
        if compile:
            model.compile()
        self.threads = threads
        from vlm_rewards.cache import EmbeddingCache

        self.cache: EmbeddingCache | None = EmbeddingCache(cache_size) if cache_size > 0 else None
        self._lock = threading.RLock()  # one forward pass at a time (caller or background thread)
        self._executor_lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self.reward_name = reward
        self.reward_spec = spec
        self.temperature = (
            check_temperature(temperature) if temperature is not None else 1.0 / float(model.logit_scale)
        )
        self.threshold, self._threshold_names = check_thresholds(threshold, "threshold")
        #: per-goal β by goal_key (empty: one β for all goals)
        self.goal_thresholds: dict[str, float] = {goal_key(g): b for g, b in self._threshold_names.items()}
        self.alpha = check_unit_interval(alpha, "alpha")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.seed = int(seed)
        self._special_tokens = tuple(getattr(model, "special_tokens", ()) or ())
        self.goal_set = self._texts(goal_set, "goal_set") if goal_set is not None else None
        self.negatives = self._texts(negatives, "negatives") if negatives is not None else None
        if goal_set is not None and negatives is not None:
            raise ValueError("give either goal_set (negatives sampled from it) or negatives (an explicit list), not both")
        if num_negatives is not None and num_negatives != "all":
            check_positive_int(num_negatives, "num_negatives")
        self.num_negatives = num_negatives
        if negative_sampler is not None and not callable(negative_sampler):
            raise TypeError(f"negative_sampler must be a function (goal, goal_set, k, seed) -> negatives, got {negative_sampler!r}")
        if negative_sampler is not None and goal_set is None:
            raise ValueError("negative_sampler draws from goal_set: pass goal_set=[...] too")
        self.negative_sampler = negative_sampler
        if spec.needs_negatives and goal_set is None and negatives is None:
            raise ValueError(f"reward={reward!r} needs negatives: pass goal_set=[...] or negatives=[...]")
        if spec.needs_baseline:
            self.baseline = check_special_tokens(check_goal(baseline, "baseline"), self._special_tokens, "baseline")
        else:
            self.baseline = baseline
        self._text_cache: dict[str, Any] = {}
        self._checked: set[str] = set()  # texts already cleared of special tokens
        self._negatives_of: dict[str, list[str]] = {}
        self.frames_scored = 0  # frames asked for
        self.frames_encoded = 0  # frames that went through the image encoder (the rest hit the cache)

    # --- configuration ---------------------------------------------------------------
    @property
    def is_binary(self) -> bool:
        """Whether the reward is 0/1 (and so can end an episode when it fires)."""
        return self.reward_spec.binary

    def settings(self) -> dict[str, Any]:
        """The settings that determine every reward, e.g. for logs and reports."""
        return {
            "model": getattr(self.model, "name", type(self.model).__name__),
            "reward": self.reward_name,
            "temperature": self.temperature,
            "threshold": self.threshold_setting(),
            "goal_set_size": len(self.goal_set) if self.goal_set is not None else None,
            "num_negatives": self.num_negatives if self.goal_set is not None else None,
            "negative_sampler": _describe(self.negative_sampler),
            "negatives": self.negatives,
            "alpha": self.alpha if "alpha" in self.reward_spec.params else None,
            "baseline": self.baseline if self.reward_spec.needs_baseline else None,
            "seed": self.seed,
        }

    def threshold_for(self, goal: str) -> float:
        """β of ``goal``: its own entry of a per-goal ``threshold`` mapping, else the default."""
        return self.goal_thresholds.get(goal_key(goal), self.threshold) if self.goal_thresholds else self.threshold

    def threshold_setting(self) -> float | dict[str, float]:
        """``threshold`` as given: a number, or ``{"*": default, goal: β, ...}``."""
        if not self.goal_thresholds:
            return self.threshold
        return {"*": self.threshold, **{g: b for g, b in self._threshold_names.items()}}

    def _texts(self, texts: Sequence[str], name: str) -> list[str]:
        """Checked, normalised texts with repeats (by :func:`goal_key`) dropped."""
        if isinstance(texts, str):
            raise TypeError(f"{name} must be a sequence of strings, got a single string {texts!r}")
        texts = check_goals(list(texts), name)
        for i, t in enumerate(texts):
            check_special_tokens(t, self._special_tokens, f"{name}[{i}]")
        return dedupe_goals(texts)

    def negatives_for(self, goal: str) -> list[str]:
        """The fixed negatives of ``goal`` (drawn on first use, then cached)."""
        goal = check_goal(goal)
        key = goal_key(goal)
        if key not in self._negatives_of:
            if self.negatives is not None:
                same = [n for n in self.negatives if goal_key(n) == key]
                if same:
                    raise ValueError(
                        f"negatives must not contain the goal itself: {same[0]!r} is goal {goal!r} "
                        "(goals compare ignoring case, whitespace and Unicode composition)"
                    )
                self._negatives_of[key] = list(self.negatives)
            elif self.goal_set is not None:
                k = self.num_negatives
                if self.negative_sampler is None:
                    self._negatives_of[key] = R.sample_negatives(goal, self.goal_set, k, self.seed)
                else:
                    drawn = self._texts(self.negative_sampler(goal, self.goal_set, k, seed=self.seed), "negative_sampler's negatives")
                    if any(goal_key(n) == key for n in drawn):
                        raise ValueError(f"negative_sampler returned the goal {goal!r} among its own negatives")
                    self._negatives_of[key] = drawn
            else:
                raise ValueError("this scorer has no negatives (pass goal_set or negatives)")
        return self._negatives_of[key]

    # --- embeddings ------------------------------------------------------------------
    def text_embeddings(self, texts: Sequence[str], name: str = "texts"):
        """``(M, D)`` embeddings of ``texts``; each distinct text (after
        :func:`~vlm_rewards._validation.normalize_goal`) is encoded once per scorer."""
        import torch

        texts = [normalize_goal(t) for t in check_goals(list(texts), name)]
        for i, t in enumerate(texts):
            if t not in self._checked:
                check_special_tokens(t, self._special_tokens, f"{name}[{i}]")
                self._checked.add(t)
        missing = list(dict.fromkeys(t for t in texts if t not in self._text_cache))
        if missing:
            from vlm_rewards.models.accel import thread_limit

            with self._lock, thread_limit(self.threads):
                emb = self.model.encode_texts(missing)
            for t, e in zip(missing, emb):
                self._text_cache[t] = e
        return torch.stack([self._text_cache[t] for t in texts])

    def _encode_uncached(self, frames):
        import torch

        from vlm_rewards.models.accel import thread_limit

        with self._lock, thread_limit(self.threads):
            chunks = [self.model.encode_images(frames[i : i + self.batch_size]) for i in range(0, len(frames), self.batch_size)]
        self.frames_encoded += len(frames)
        return chunks[0] if len(chunks) == 1 else torch.cat(chunks)

    def encode_frames(self, frames: Any):
        """``(N, D)`` image embeddings, in chunks of ``batch_size`` frames.

        With the cache on, frames already seen (byte-identical) and repeats within the batch
        are not encoded again; CUDA tensors bypass the cache (hashing them would need a copy).
        """
        import torch

        frames = check_frames(frames, "frames")
        self.frames_scored += len(frames)
        if self.cache is None or frames.device.type != "cpu":
            return self._encode_uncached(frames)
        from vlm_rewards.cache import frame_keys

        keys = frame_keys(frames)
        first: dict[Any, int] = {}
        for i, key in enumerate(keys):
            first.setdefault(key, i)
        unique = list(first)
        found = dict(zip(unique, self.cache.lookup(unique)))
        self.cache.count(hits=len(keys) - len(unique))  # repeats within the batch
        todo = [first[k] for k in unique if found[k] is None]
        if todo:
            emb = self._encode_uncached(frames if len(todo) == len(frames) else frames[torch.from_numpy(np.asarray(todo))])
            new_keys = [keys[i] for i in todo]
            self.cache.put_many(new_keys, emb)  # copied into the cache's own storage
            found.update(zip(new_keys, emb))
        return torch.stack([found[k] for k in keys])

    def cache_stats(self) -> dict[str, float | int] | None:
        """Frame-cache counters (hits, misses, hit_rate, entries, ...) or ``None`` without a cache."""
        return self.cache.stats() if self.cache is not None else None

    # --- asynchronous scoring -------------------------------------------------------------
    def _background(self) -> ThreadPoolExecutor:
        with self._executor_lock:
            if self._executor is None:
                # One worker: jobs run, and their futures complete, in submission order.
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vlm-scorer")
            return self._executor

    def submit_frames(self, frames: Any) -> Future:
        """Encode ``frames`` on a background thread; a ``Future`` of :meth:`encode_frames`'s result.

        Jobs run one at a time in submission order. torch and hashlib release the GIL, so
        the caller's Python (e.g. stepping envs) runs meanwhile.

        Example:
            >>> future = scorer.submit_frames(frames)  # doctest: +SKIP
            >>> ...  # step envs, compute something else
            >>> emb = future.result()  # doctest: +SKIP
        """
        frames = check_frames(frames, "frames")
        return self._background().submit(self.encode_frames, frames)

    def submit(self, frames: Any, goals: Sequence[str] | str) -> Future:
        """:meth:`score` on the background thread; a ``Future`` of the :class:`ScoreResult`."""
        frames = check_frames(frames, "frames")
        goals = [check_goal(goals)] * len(frames) if isinstance(goals, str) else check_goals(goals, "goals")
        return self._background().submit(self.score, frames, goals)

    def close(self) -> None:
        """Finish pending background jobs and stop the background thread (if one was started)."""
        with self._executor_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    # --- rewards ---------------------------------------------------------------------
    def score_embeddings(self, image_emb: Any, goals: Sequence[str]) -> ScoreResult:
        """Rewards for precomputed image embeddings ``(N, D)`` and one goal per row."""
        import torch

        goals = check_goals(list(goals), "goals")
        if len(goals) != len(image_emb):
            raise ValueError(f"goals must have one entry per frame: got {len(goals)} goals for {len(image_emb)} frames")
        with torch.inference_mode():
            goal_emb = self.text_embeddings(goals, "goals")
            spec = self.reward_spec
            if spec.needs_negatives:
                out = self._reward_with_negatives(image_emb, goal_emb, goals)
            else:
                out = spec.fn(image_emb, goal_emb, **self._reward_kwargs())
        return ScoreResult(
            reward=out.reward.float().cpu().numpy().astype(np.float32),
            score=out.score.float().cpu().numpy().astype(np.float32),
        )

    def _reward_kwargs(self) -> dict[str, Any]:
        """The reward function's settings (its spec's ``params``), as this scorer fixes them."""
        settings = {"temperature": self.temperature, "threshold": self.threshold, "alpha": self.alpha}
        return {p: self.text_embeddings([self.baseline])[0] if p == "baseline_emb" else settings[p]
                for p in self.reward_spec.params}

    def _reward_with_negatives(self, image_emb, goal_emb, goals: list[str]) -> R.RewardOutput:
        import torch

        negs = [self.negatives_for(g) for g in goals]
        # A goal outside goal_set has one more negative than one inside it; rows with the
        # same number of negatives are scored together.
        groups: dict[int, list[int]] = {}
        for i, n in enumerate(negs):
            groups.setdefault(len(n), []).append(i)
        reward = torch.empty(len(goals))
        score = torch.empty(len(goals))
        kwargs = self._reward_kwargs()
        per_goal = self.goal_thresholds and "threshold" in kwargs
        for k, rows in groups.items():
            neg_emb = self.text_embeddings([t for i in rows for t in negs[i]]).view(len(rows), k, -1)
            idx = torch.tensor(rows)
            img, goal = image_emb[idx.to(image_emb.device)], goal_emb[idx.to(goal_emb.device)]
            if per_goal:
                kwargs["threshold"] = torch.tensor([self.threshold_for(goals[i]) for i in rows], dtype=torch.float64)
            out = self.reward_spec.fn(img, goal, neg_emb, **kwargs)
            reward[idx], score[idx] = out.reward.float().cpu(), out.score.float().cpu()
        return R.RewardOutput(reward=reward, score=score)

    def score(self, frames: Any, goals: Sequence[str] | str) -> ScoreResult:
        """Rewards for ``frames`` ``(N, H, W, 3)`` and ``goals`` (one per frame, or one string for all)."""
        frames = check_frames(frames, "frames")
        if isinstance(goals, str):
            goals = [check_goal(goals)] * len(frames)
        goals = check_goals(goals, "goals")
        if len(goals) != len(frames):
            raise ValueError(f"goals must have one entry per frame: got {len(goals)} goals for {len(frames)} frames")
        return self.score_embeddings(self.encode_frames(frames), goals)


# --------------------------------------------------------------------------------------
# precision check
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PrecisionReport:
    """How far a lower-precision scorer's p strays from a reference scorer's.

    ``disagreements`` counts frames whose binarised reward differs; those where the
    reference p is farther than ``tolerance`` from β are ``disagreements_outside``.
    """

    frames: int
    max_abs_dp: float
    mean_abs_dp: float
    tolerance: float
    threshold: float
    disagreements: int
    disagreements_outside: int
    near_threshold: int  # frames with |p_ref - β| <= tolerance

    @property
    def ok(self) -> bool:
        """p within tolerance everywhere and rewards equal wherever p is not within tolerance of β."""
        return self.max_abs_dp <= self.tolerance and self.disagreements_outside == 0


def compare_precision(
    reference: RewardScorer,
    candidate: RewardScorer,
    frames: Any,
    goals: Sequence[str] | str,
    tolerance: float = BF16_P_TOLERANCE,
) -> PrecisionReport:
    """Score ``frames`` with both scorers (e.g. fp32 and bf16) and compare p and rewards.

    Both must use the same reward settings (τ, β, negatives); only the model's precision
    (or device, or compilation) should differ.

    Example:
        >>> fp32 = RewardScorer(load_model("builtin:default"), goal_set=gs)  # doctest: +SKIP
        >>> bf16 = RewardScorer(load_model("builtin:default"), goal_set=gs, dtype="bf16")  # doctest: +SKIP
        >>> compare_precision(fp32, bf16, frames, goals).ok  # doctest: +SKIP
        True
    """
    if not isinstance(reference, RewardScorer) or not isinstance(candidate, RewardScorer):
        raise TypeError("reference and candidate must both be RewardScorer instances")
    ref_settings, cand_settings = reference.settings(), candidate.settings()
    ref_settings.pop("model"), cand_settings.pop("model")
    if ref_settings != cand_settings:
        raise ValueError("reference and candidate must share reward settings (reward, τ, β, negatives, seed)")
    tolerance = check_unit_interval(tolerance, "tolerance")
    ref = reference.score(frames, goals)
    cand = candidate.score(frames, goals)
    dp = np.abs(ref.score.astype(np.float64) - cand.score.astype(np.float64))
    n = len(ref.score)
    goal_list = [goals] * n if isinstance(goals, str) else list(goals)
    beta = np.array([reference.threshold_for(g) for g in goal_list]) if reference.goal_thresholds else reference.threshold
    near = np.abs(ref.score - beta) <= tolerance
    differ = ref.reward != cand.reward
    return PrecisionReport(
        frames=len(dp),
        max_abs_dp=float(dp.max()),
        mean_abs_dp=float(dp.mean()),
        tolerance=tolerance,
        threshold=reference.threshold,
        disagreements=int(differ.sum()),
        disagreements_outside=int((differ & ~near).sum()),
        near_threshold=int(near.sum()),
    )
