"""The one VLM-reward step behind every wrapper, the Ray env worker and agent evaluation.

:class:`RewardStep` turns what N envs returned from one ``step`` into VLM rewards. It
owns everything that decides a reward, so training (any wrapper, on any vector env or
on Ray) and evaluation cannot drift apart:

- the goal of each env's episode: a fixed one, or ``info["goal"]`` at the episode's start;
- which steps are scored (``score_every``: every k-th step of an episode and always its
  last step, or ``"episode"``: the last step only);
- the frame window (the mean embedding of an env's last k scored frames);
- confirmation (``confirm=(k, n)``: a binary reward fires only once k of the env's last n
  scored frames passed β in this episode);
- termination when a binary reward fires (``terminate_on_success``);
- the per-episode record (VLM return, length, whether and when the VLM fired, whether
  ground truth held then and at any step), which the SB3-style adapters put in
  ``info["vlm_episode"]``.

Adapters own only what their env API dictates: where frames come from, how infos are
laid out and who resets a finished env. The scorer is either local (a
:class:`~vlm_rewards.RewardScorer`: ``encode_frames`` -> frame window ->
``score_embeddings``) or remote (anything with ``score(frames, goals)`` and
``is_binary``, e.g. a :class:`~vlm_rewards.distributed.RayRewardPool`; frame windows need
the embeddings, so they are local only).

This module imports numpy only (torch loads inside the frame window, when k > 1), so
light processes such as Ray env workers can use it.

Example:
    >>> step = RewardStep(2, scorer, goal="open the clock app")  # doctest: +SKIP
    >>> step.start_episode(0); step.start_episode(1)  # doctest: +SKIP
    >>> due = step.due(terminated | truncated)  # doctest: +SKIP
    >>> out = step.apply(frames[due], env_rewards, terminated, truncated, infos)  # doctest: +SKIP
    >>> out.rewards, out.terminated, out.episodes  # doctest: +SKIP
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vlm_rewards._validation import check_goal, check_positive_int

__all__ = [
    "RewardStepSettings",
    "FRAME_KEY",
    "RewardStep",
    "StepOutput",
    "check_confirm",
    "check_frame_source",
    "check_render_mode",
    "check_score_every",
    "check_scorer",
    "frame_from_obs",
    "frame_of",
]

#: the ``info`` key :class:`~vlm_rewards.wrappers.RenderFrameInfo` puts the rendered frame under
FRAME_KEY = "vlm_frame"


# --------------------------------------------------------------------------------------
# argument checks and frame sources, shared by the adapters
# --------------------------------------------------------------------------------------
def check_scorer(scorer: Any):
    """The wrappers take a :class:`~vlm_rewards.RewardScorer` only (not a remote pool)."""
    from vlm_rewards.scoring import RewardScorer

    if not isinstance(scorer, RewardScorer):
        raise TypeError(f"scorer must be a vlm_rewards.RewardScorer, got {type(scorer).__name__}")
    return scorer


def check_frame_source(frame_source: Any) -> str:
    if not isinstance(frame_source, str) or not frame_source:
        raise TypeError(
            f"frame_source must be 'render', 'observation' or a Dict observation key, got {frame_source!r}"
        )
    return frame_source


def check_render_mode(render_mode: Any, frame_source: str) -> None:
    if frame_source == "render" and render_mode != "rgb_array":
        raise ValueError(
            f"frame_source='render' needs an env with render_mode='rgb_array', got render_mode={render_mode!r}"
        )


def check_score_every(score_every: Any) -> int | str:
    if score_every == "episode":
        return "episode"
    if isinstance(score_every, bool) or not isinstance(score_every, (int, np.integer)) or score_every < 1:
        raise ValueError(f"score_every must be a positive integer or 'episode', got score_every={score_every!r}")
    return int(score_every)


def check_confirm(confirm: Any) -> tuple[int, int]:
    """``confirm`` as ``(k, n)`` with ``1 <= k <= n``; ``(1, 1)`` is the paper's rule."""
    if isinstance(confirm, (str, bytes)) or not isinstance(confirm, Sequence) or len(confirm) != 2:
        raise TypeError(f"confirm must be a pair (k, n): fire after k of the last n frames pass β, got confirm={confirm!r}")
    k, n = (check_positive_int(v, name) for v, name in zip(confirm, ("confirm k", "confirm n")))
    if k > n:
        raise ValueError(f"confirm=(k, n) needs k <= n (k of the last n frames), got confirm=({k}, {n})")
    return k, n


def frame_from_obs(obs: Any, frame_source: str) -> np.ndarray:
    """The image in one env's observation: the observation itself or one key of a Dict."""
    if frame_source == "observation":
        return np.asarray(obs)
    if not isinstance(obs, Mapping) or frame_source not in obs:
        raise ValueError(f"frame_source={frame_source!r} is not a key of the observation")
    return np.asarray(obs[frame_source])


def frame_of(env: Any, obs: Any, frame_source: str) -> np.ndarray:
    """The frame to score for one env that has just stepped (and not been reset yet)."""
    return np.asarray(env.render()) if frame_source == "render" else frame_from_obs(obs, frame_source)


# --------------------------------------------------------------------------------------
# the step
# --------------------------------------------------------------------------------------
class _FrameWindow:
    """Per-env history of image embeddings for multi-frame rewards (mean of the last k)."""

    def __init__(self, num_envs: int, k: int):
        self.k = k
        self.history = [deque(maxlen=k) for _ in range(num_envs)]

    def clear(self, i: int) -> None:
        self.history[i].clear()

    def __call__(self, emb, envs: Sequence[int]):
        """Push one embedding per env (row j belongs to env ``envs[j]``); each env's window mean."""
        if self.k == 1:
            return emb
        import torch

        from vlm_rewards.rewards import mean_embedding

        rows = []
        for e, i in zip(emb, envs):
            self.history[i].append(e)
            rows.append(mean_embedding(torch.stack(list(self.history[i])), self.k))
        return torch.stack(rows)


@dataclass
class StepOutput:
    """What :meth:`RewardStep.apply` decided for one step of all envs.

    Arrays have one entry per env; envs that were not ``active`` get reward 0, NaN
    probability, ``scored=False`` and their ``terminated`` flag back unchanged.
    """

    rewards: np.ndarray  #: float32 VLM rewards (0 where not scored)
    probs: np.ndarray  #: float32 scores (p for the contrastive reward), NaN where not scored
    scored: np.ndarray  #: bool, whether the env's frame was scored
    active: np.ndarray  #: bool, the envs this step was applied to
    terminated: np.ndarray  #: bool, the env's own termination or the VLM's
    fired: np.ndarray  #: bool, a binary reward fired (whether or not it ends the episode)
    #: bool, episodes the VLM ended that the env had not: an adapter that resets finished
    #: envs itself must reset these too
    ended_by_vlm: np.ndarray
    #: the record of each episode that ended at this step, by env index
    episodes: dict[int, dict[str, Any]] = field(default_factory=dict)
    goals: list[str | None] = field(default_factory=list)  #: each env's goal at this step
    cache_hit_rate: float = float("nan")  #: the scorer's frame-cache hit rate so far

    def info(self, i: int) -> dict[str, Any]:
        """The VLM entries of env ``i``'s step info (adapters add ``env_reward`` their own way)."""
        return {
            "vlm_reward": float(self.rewards[i]),
            "vlm_probability": float(self.probs[i]),
            "goal": self.goals[i],
            "vlm_scored": bool(self.scored[i]),
        }


class RewardStep:
    """The VLM-reward step for ``num_envs`` envs (see the module docstring).

    Args:
        num_envs: how many envs step together.
        scorer: a :class:`~vlm_rewards.RewardScorer` (local) or an object with
            ``score(frames, goals)`` and ``is_binary`` (remote, e.g. a Ray reward pool).
        goal: a fixed goal text; ``None`` takes each episode's goal from ``info["goal"]``
            passed to :meth:`start_episode`.
        terminate_on_success: end the episode when a binary reward fires.
        score_every: score every k-th step of an episode and its last step, or only the
            last step (``"episode"``); unscored steps get reward 0.
        frame_window: score the mean embedding of the last k scored frames (local scorers only).
        confirm: ``(k, n)``: a binary reward fires only when at least k of the env's last n
            scored frames of the episode passed β (``p > β``); ``(1, 1)``, the default, is the
            paper's rule (fire on the first frame that passes). Raising k trades recall for
            precision: a single frame that fools the VLM no longer ends the episode, but
            the agent must hold the goal state for k scored frames, and a goal state seen
            for fewer (an episode that ends, or an agent that leaves the state) earns
            nothing. With ``score_every`` > 1 the window counts scored frames only. The
            step's ``probs`` stay each frame's own p; ``rewards`` and ``fired`` are the
            confirmed ones. Windows start empty at every episode.
        owner: the name error messages tell the user to pass ``goal=...`` to.

    Call :meth:`start_episode` for each env when its episode starts, then per step
    :meth:`due` (which frames are needed) and :meth:`apply` (with those frames).

    Example:
        >>> step = RewardStep(1, scorer, terminate_on_success=True)  # doctest: +SKIP
        >>> obs, info = env.reset(seed=0); step.start_episode(0, info)  # doctest: +SKIP
        >>> obs, r, term, trunc, info = env.step(action)  # doctest: +SKIP
        >>> frames = [env.render()] if step.due([term or trunc])[0] else []  # doctest: +SKIP
        >>> out = step.apply(frames, [r], [term], [trunc], [info])  # doctest: +SKIP
    """

    def __init__(
        self,
        num_envs: int,
        scorer: Any,
        goal: str | None = None,
        terminate_on_success: bool = True,
        score_every: int | str = 1,
        frame_window: int = 1,
        owner: str = "the wrapper",
        confirm: Sequence[int] = (1, 1),
    ):
        self.num_envs = check_positive_int(num_envs, "num_envs")
        if hasattr(scorer, "encode_frames") and hasattr(scorer, "score_embeddings"):
            self.remote = False
        elif hasattr(scorer, "score") and hasattr(scorer, "is_binary"):
            self.remote = True
        else:
            raise TypeError(
                "scorer must be a vlm_rewards.RewardScorer or a remote scorer with score(frames, goals) and "
                f"is_binary (e.g. a RayRewardPool), got {type(scorer).__name__}"
            )
        self.scorer = scorer
        k = check_positive_int(frame_window, "frame_window")
        if self.remote and k != 1:
            raise ValueError(
                f"frame_window must be 1 with a remote scorer ({type(scorer).__name__} returns rewards, "
                f"not the image embeddings a window averages), got frame_window={k}"
            )
        self.frame_window = k
        self.score_every = check_score_every(score_every)
        self.fixed_goal = check_goal(goal) if goal is not None else None
        self.is_binary = bool(scorer.is_binary)
        self.terminate_on_success = bool(terminate_on_success) and self.is_binary
        self.owner = owner
        self.confirm = check_confirm(confirm)
        if self.confirm != (1, 1) and not self.is_binary:
            raise ValueError(f"confirm={self.confirm} needs a binary reward (e.g. contrastive): only a 0/1 reward passes or fails")
        n = self.num_envs
        self._passes = [deque(maxlen=self.confirm[1]) for _ in range(n)]
        self.goals: list[str | None] = [self.fixed_goal] * n
        self._window = _FrameWindow(n, k)
        self._length = np.zeros(n, dtype=np.int64)
        self._return = np.zeros(n, dtype=np.float64)
        self._env_return = np.zeros(n, dtype=np.float64)
        self._gt = np.zeros(n, dtype=bool)
        self._fired_at = np.zeros(n, dtype=np.int64)  # 1-based step of the first fire; 0: none yet
        self._gt_at_fire = np.zeros(n, dtype=bool)
        self._off_goal = np.zeros(n, dtype=bool)  # another goal's state reached before success
        self._direct = np.zeros(n, dtype=bool)

    # --- episodes ---------------------------------------------------------------------
    def start_episode(self, i: int, info: Mapping[str, Any] | None = None) -> None:
        """Env ``i`` starts an episode; ``info`` (its reset info) supplies the goal unless fixed."""
        if self.fixed_goal is None:
            goal = (info or {}).get("goal")
            if goal is None:
                raise ValueError(f"no goal: pass goal=... to {self.owner} or use envs that set info['goal']")
            label = "info['goal']" if self.num_envs == 1 else f"info['goal'] of env {i}"
            self.goals[i] = check_goal(goal, label)
        self._clear(i)

    def _clear(self, i: int) -> None:
        self._window.clear(i)
        self._passes[i].clear()
        self._length[i], self._return[i], self._env_return[i] = 0, 0.0, 0.0
        self._gt[i], self._fired_at[i], self._gt_at_fire[i] = False, 0, False
        self._off_goal[i], self._direct[i] = False, False

    def episode_length(self, i: int) -> int:
        """Steps env ``i`` has taken in its current episode."""
        return int(self._length[i])

    # --- stepping ---------------------------------------------------------------------
    def _active(self, active: Any) -> np.ndarray:
        if active is None:
            return np.ones(self.num_envs, dtype=bool)
        active = np.asarray(active, dtype=bool)
        if active.shape != (self.num_envs,):
            raise ValueError(f"active must have shape ({self.num_envs},), got {active.shape}")
        return active

    def _flags(self, values: Any, name: str) -> np.ndarray:
        values = np.asarray(values, dtype=bool)
        if values.shape != (self.num_envs,):
            raise ValueError(f"{name} must have one entry per env ({self.num_envs}), got shape {values.shape}")
        return values

    def is_due(self, i: int, episode_ends: bool) -> bool:
        """Whether env ``i``'s frame of this step is scored; ``episode_ends``: the env ended
        its episode (terminated or truncated) at this step. Depends on env ``i`` alone."""
        if episode_ends or self.score_every == 1:
            return True  # the last frame decides whether the episode reached its goal
        return self.score_every != "episode" and (int(self._length[i]) + 1) % self.score_every == 0

    def due(self, episode_ends: Any, active: Any = None) -> np.ndarray:
        """Which envs' frames this step scores (bool per env); ``episode_ends``: the env
        ended the episode (terminated or truncated) at this step."""
        ends = self._flags(episode_ends, "episode_ends")
        active = self._active(active)
        return np.array([bool(a) and self.is_due(i, bool(e)) for i, (a, e) in enumerate(zip(active, ends))], dtype=bool)

    def apply(
        self,
        frames: Any,
        env_rewards: Any,
        terminated: Any,
        truncated: Any,
        infos: Any = None,
        *,
        active: Any = None,
        embeddings: Any = None,
    ) -> StepOutput:
        """Score the due envs and advance every active env's episode by one step.

        Args:
            frames: the frames of the envs :meth:`due` selects, in env order (an array or a
                sequence; may be empty or ``None`` when none is due).
            env_rewards, terminated, truncated: the envs' own step results, one per env.
            infos: the envs' step infos (a sequence of dicts, or one Gymnasium vector info
                dict); only ``"ground_truth_success"`` and ``"off_goal"`` are read, for the
                episode record.
            active: which envs stepped (default all); e.g. a Gymnasium env in its
                autoreset step, or an evaluation slot with no episode left.
            embeddings: instead of ``frames``, their image embeddings (local scorer only;
                e.g. encoded in the background while other envs were still stepping).
        """
        active = self._active(active)
        term = self._flags(terminated, "terminated")
        trunc = self._flags(truncated, "truncated")
        env_rewards = np.asarray(env_rewards, dtype=np.float64).reshape(-1)
        if env_rewards.shape != (self.num_envs,):
            raise ValueError(
                f"env_rewards must have one entry per env ({self.num_envs}), got shape {env_rewards.shape}"
            )
        gt = self._info_flags(infos, "ground_truth_success")
        off = self._info_flags(infos, "off_goal")
        scored = self.due(term | trunc, active)
        rows = np.flatnonzero(scored)
        n = self.num_envs
        rewards = np.zeros(n, dtype=np.float32)
        probs = np.full(n, np.nan, dtype=np.float32)
        if len(rows):
            out = self._score(rows, frames, embeddings)
            rewards[rows], probs[rows] = out.reward, out.score
            if self.confirm != (1, 1):
                k = self.confirm[0]
                for i in rows:
                    self._passes[i].append(bool(rewards[i] > 0))
                    rewards[i] = 1.0 if sum(self._passes[i]) >= k else 0.0
        elif (frames is not None and len(frames)) or (embeddings is not None and len(embeddings)):
            raise ValueError("frames were given but no env is due for scoring this step")
        goals = list(self.goals)
        fired = active & (rewards > 0) if self.is_binary else np.zeros(n, dtype=bool)
        new_term = term.copy()
        if self.terminate_on_success:
            new_term |= fired
        ended_by_vlm = new_term & ~term & ~trunc
        episodes: dict[int, dict[str, Any]] = {}
        for i in np.flatnonzero(active):
            self._length[i] += 1
            self._return[i] += rewards[i]
            self._env_return[i] += env_rewards[i]
            if gt[i] and not self._gt[i]:
                self._direct[i] = not self._off_goal[i]
            self._gt[i] |= gt[i]
            self._off_goal[i] |= off[i] and not self._gt[i]
            if fired[i] and not self._fired_at[i]:
                self._fired_at[i], self._gt_at_fire[i] = self._length[i], gt[i]
            if new_term[i] or trunc[i]:
                episodes[int(i)] = self._record(i, rewards[i])
                self._clear(i)
        return StepOutput(
            rewards=rewards, probs=probs, scored=scored, active=active, terminated=new_term, fired=fired,
            ended_by_vlm=ended_by_vlm, episodes=episodes, goals=goals, cache_hit_rate=self.cache_hit_rate(),
        )

    def _score(self, rows: np.ndarray, frames: Any, embeddings: Any):
        goals = [self.goals[i] for i in rows]
        if any(g is None for g in goals):
            raise ValueError("an env stepped before its episode started: call start_episode (reset) first")
        if embeddings is not None:
            if self.remote:
                raise ValueError("embeddings need a local scorer (a RewardScorer); a remote scorer takes frames")
            batch = embeddings
        else:
            if frames is None:
                raise ValueError(f"frames must hold the {len(rows)} due envs' frames, got None")
            batch = frames
        if len(batch) != len(rows):
            what = "embeddings" if embeddings is not None else "frames"
            raise ValueError(f"{what} must hold one entry per due env ({len(rows)}), got {len(batch)}")
        if self.remote:
            out = self.scorer.score(frames, goals)
            return _Scored(np.asarray(out.reward, dtype=np.float32), np.asarray(out.score, dtype=np.float32))
        emb = embeddings if embeddings is not None else self.scorer.encode_frames(frames)
        return self.scorer.score_embeddings(self._window(emb, rows), goals)

    def _info_flags(self, infos: Any, key: str) -> np.ndarray:
        """Each env's boolean ``info[key]`` (False where absent)."""
        n = self.num_envs
        if infos is None:
            return np.zeros(n, dtype=bool)
        if isinstance(infos, Mapping):  # a Gymnasium vector info dict: values and a "_key" mask
            values, mask = infos.get(key), infos.get(f"_{key}")
            if values is None:
                return np.zeros(n, dtype=bool)
            values = np.asarray(values, dtype=bool)
            return values & np.asarray(mask, dtype=bool) if mask is not None else values
        if len(infos) != n:
            raise ValueError(f"infos must have one entry per env ({n}), got {len(infos)}")
        return np.array([bool(info.get(key, False)) for info in infos], dtype=bool)

    def _record(self, i: int, last_reward: float) -> dict[str, Any]:
        fired_at = int(self._fired_at[i])
        return {
            "vlm_return": float(self._return[i]),
            "length": int(self._length[i]),
            # The reward of the episode's last step: with terminate_on_success, whether it
            # ended on a VLM success.
            "vlm_success": bool(last_reward > 0) if self.is_binary else None,
            "ground_truth_success": bool(self._gt[i]),
            # Success without first reaching a state another goal asks for (info["off_goal"],
            # e.g. a wrong app opened): tells going to the goal apart from a search.
            "direct_success": bool(self._direct[i]),
            "goal": self.goals[i],
            "env_return": float(self._env_return[i]),
            "vlm_fired": bool(fired_at),
            "fired_at": fired_at or None,
            "gt_at_fire": bool(self._gt_at_fire[i]) if fired_at else None,
        }

    def cache_hit_rate(self) -> float:
        """The scorer's frame-cache hit rate so far (NaN without a cache)."""
        stats = self.scorer.cache_stats() if hasattr(self.scorer, "cache_stats") else None
        return float(stats["hit_rate"]) if stats else float("nan")


@dataclass(frozen=True)
class _Scored:
    reward: np.ndarray
    score: np.ndarray


class RewardStepSettings:
    """The reward step's settings as read-only attributes of an adapter that holds it in
    ``self._step`` (a mixin: every adapter exposes them the same way)."""

    _step: RewardStep

    def _init_reward_step(self, num_envs: int, scorer: Any, frame_source: str, owner: str, **step_kwargs: Any) -> None:
        """The adapters' common set-up: a local scorer, where frames come from, the step."""
        self.scorer = check_scorer(scorer)
        self.frame_source = check_frame_source(frame_source)
        self._step = RewardStep(num_envs, scorer, owner=owner, **step_kwargs)

    @property
    def fixed_goal(self) -> str | None:
        return self._step.fixed_goal

    @property
    def score_every(self) -> int | str:
        return self._step.score_every

    @property
    def confirm(self) -> tuple[int, int]:
        """``(k, n)``: the reward fires once k of the last n scored frames passed β."""
        return self._step.confirm

    @property
    def goals(self) -> list[str | None]:
        """Each env's current goal."""
        return self._step.goals

