"""Goal-by-frame reward scores for a whole dataset split, vectorised.

Each frame is encoded once and each prompt once (the :class:`~vlm_rewards.scoring.RewardScorer`
does the batching and keeps the text cache); the similarities of every frame with every
prompt of the goal set are one matrix product, and each reward is a closed form on it:

- contrastive: ``p(g|o) = 1 / (1 + Σ_{n ∈ N(g)} exp((s_n - s_g)/τ))``, the paper's softmax
  over the goal and its fixed negatives ``N(g)`` (a gather of the similarity matrix);
- cosine: ``s_g``;
- goal_baseline (VLM-RM): with unit vectors, ``x = f(o) - g``, ``d = (g - b)/‖g - b‖``,
  ``r = 1 - ½[(1 - (1-α)²)(x·d)² + (1-α)²‖x‖²]``, where ``x·d`` and ``‖x‖² = 2 - 2 s_g``
  come from the similarities with the goal and the baseline prompt.

These agree with :mod:`vlm_rewards.rewards` (tests check it) at a fraction of the cost.

Example:
    >>> enc = Encoder(load_model("builtin:default"))  # doctest: +SKIP
    >>> sims = enc.images(frames) @ enc.texts(prompts).T  # doctest: +SKIP
    >>> p = contrastive_scores(sims, cols=[0, 1], negatives=np.array([[1], [0]]), temperature=0.01)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

__all__ = ["Encoder", "contrastive_scores", "cosine_scores", "goal_baseline_scores"]


class Encoder:
    """A model's image and text embeddings, each computed once and cached, as float32 numpy.

    Images are cached under a caller's key (e.g. ``("phone:common", "train")``), texts
    under the text itself (the scorer's cache). The reward arithmetic downstream runs in
    numpy: it is small, and torch's thread pool costs more than it saves on it when the
    machine is busy.
    """

    def __init__(self, model: Any, batch_size: int = 256):
        from vlm_rewards.scoring import RewardScorer

        self.model = model
        self._scorer = RewardScorer(model, reward="cosine", batch_size=batch_size)
        self._images: dict[Hashable, np.ndarray] = {}

    @property
    def frames_encoded(self) -> int:
        """Frames run through the image encoder so far (distinct frames, once per key)."""
        return self._scorer.frames_scored

    def images(self, frames: np.ndarray, key: Hashable | None = None) -> np.ndarray:
        """``(N, D)`` unit-norm embeddings of ``frames`` (cached under ``key``)."""
        import torch

        if key is not None and key in self._images:
            return self._images[key]
        frames = np.ascontiguousarray(frames)
        # Datasets repeat frames (a static app screen, an agent against a wall): encode each
        # distinct frame once.
        first: dict[bytes, int] = {}
        keep: list[int] = []
        inverse = np.empty(len(frames), dtype=np.int64)
        for i, frame in enumerate(frames):
            inverse[i] = j = first.setdefault(frame.tobytes(), len(first))
            if j == len(keep):
                keep.append(i)
        with torch.inference_mode():
            emb = torch.nn.functional.normalize(self._scorer.encode_frames(frames[keep]).float().cpu(), dim=-1)
        out = emb.numpy()[inverse]
        if key is not None:
            self._images[key] = out
        return out

    def texts(self, texts: Sequence[str]) -> np.ndarray:
        """``(M, D)`` unit-norm embeddings of ``texts``; each string is encoded once."""
        import torch

        with torch.inference_mode():
            return torch.nn.functional.normalize(self._scorer.text_embeddings(list(texts)).float().cpu(), dim=-1).numpy()


def _logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    m = x.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))).squeeze(axis)


def contrastive_scores(sims: Any, cols: Sequence[int], negatives: np.ndarray, temperature: float,
                       chunk: int = 4096) -> np.ndarray:
    """``(N, G)`` contrastive probabilities: goal ``cols[j]`` against its negatives ``negatives[j]``.

    ``sims`` is the ``(N, M)`` similarity matrix of frames with the goal set's prompts;
    ``negatives`` is ``(G, K)`` indices into its columns. With ``E = exp((s - max_row s)/τ)``,
    ``p_j = E_j / (E_j + Σ_{k ∈ N(j)} E_k)``, and the sums over every goal's negatives are one
    product of ``E`` with the 0/1 goal-negative matrix. In float64, so that probabilities
    near 1 keep their order instead of all rounding to 1.0; rows where every term underflows
    (τ far below any model's) are recomputed with a per-goal logsumexp.
    """
    sims = np.asarray(sims, dtype=np.float64)
    cols = np.asarray(cols, dtype=np.int64)
    neg = np.asarray(negatives, dtype=np.int64)
    if neg.ndim != 2 or neg.shape[0] != len(cols) or neg.shape[1] == 0:
        raise ValueError(f"negatives must be (G={len(cols)}, K>=1) indices, got shape {neg.shape}")
    member = np.zeros((sims.shape[1], len(cols)))
    member[neg, np.arange(len(cols))[:, None]] = 1.0
    out = np.empty((sims.shape[0], len(cols)))
    for i in range(0, sims.shape[0], chunk):
        s = sims[i : i + chunk]
        e = np.exp((s - s.max(axis=1, keepdims=True)) / temperature)
        pos = e[:, cols]
        denom = pos + e @ member
        with np.errstate(invalid="ignore", divide="ignore"):
            p = pos / denom
        bad = ~(denom > 0).all(axis=1)
        if bad.any():
            sb = s[bad]
            diff = (sb[:, neg] - sb[:, cols][..., None]) / temperature  # (n, G, K)
            p[bad] = np.exp(-_logsumexp(np.concatenate([np.zeros_like(diff[..., :1]), diff], axis=-1), axis=-1))
        out[i : i + chunk] = p
    return out


def cosine_scores(sims: Any, cols: Sequence[int]) -> np.ndarray:
    """``(N, G)`` cosine similarities of each frame with goal ``cols[j]``."""
    return np.asarray(sims, dtype=np.float32)[:, list(cols)]


def goal_baseline_scores(sims: Any, goal_emb: Any, baseline_sims: Any, baseline_emb: Any, cols: Sequence[int],
                         alpha: float) -> np.ndarray:
    """``(N, G)`` VLM-RM goal-baseline rewards (module docstring) from similarities.

    ``goal_emb`` is ``(M, D)`` (the goal set's prompts), ``baseline_sims`` ``(N,)`` (frames
    with the baseline prompt), ``baseline_emb`` ``(D,)``.
    """
    from vlm_rewards._validation import check_unit_interval

    a = check_unit_interval(alpha, "alpha")
    cols = list(cols)
    s_g = np.asarray(sims, dtype=np.float64)[:, cols]
    s_b = np.asarray(baseline_sims, dtype=np.float64)[:, None]
    g_b = np.asarray(goal_emb, dtype=np.float64)[cols] @ np.asarray(baseline_emb, dtype=np.float64)  # (G,)
    norm = np.sqrt(np.clip(2.0 - 2.0 * g_b, 0.0, None))
    if (norm < 1e-6).any():
        raise ValueError("the baseline prompt must differ from every goal prompt (the projection direction is undefined)")
    x_d = (s_g - s_b) / norm - (1.0 - g_b) / norm
    x_sq = 2.0 - 2.0 * s_g
    keep = (1.0 - a) ** 2
    return (1.0 - 0.5 * ((1.0 - keep) * x_d**2 + keep * x_sq)).astype(np.float32)
