"""VLM rewards for a Stable-Baselines3 ``VecEnv`` (:class:`VecVLMReward`).

Each sub-env's info gets ``env_reward``, ``vlm_reward``, ``vlm_probability``, ``goal``,
``vlm_scored`` and ``vlm_cache_hit_rate``; when an episode ends, ``info["vlm_episode"]``
holds its record (VLM return, length, whether the VLM fired and whether ground truth
counted it a success: the reward-hacking check).

Example:
    >>> venv = DummyVecEnv([lambda: RenderFrameInfo(make_env()) for _ in range(4)])  # doctest: +SKIP
    >>> venv = VecMonitor(VecVLMReward(venv, scorer))  # doctest: +SKIP
    >>> obs = venv.reset()  # doctest: +SKIP
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import SubprocVecEnv, VecEnvWrapper

from vlm_rewards.scoring import RewardScorer
from vlm_rewards.wrappers.core import FRAME_KEY, RewardStepSettings, frame_from_obs

__all__ = ["VecPatchFeatures", "VecRegionSimilarity", "VecVLMReward", "stack_obs"]


def stack_obs(obs_list: Sequence[Any], space: spaces.Space) -> Any:
    """One observation per env -> the batched observation of a ``VecEnv`` (env index first).

    The same layout as ``SubprocVecEnv`` returns (a dict or tuple of arrays for Dict and
    Tuple spaces), which the streaming step must reproduce exactly.

    Example:
        >>> stack_obs([np.zeros(2), np.ones(2)], spaces.Box(0, 1, (2,))).shape
        (2, 2)
    """
    if not len(obs_list):
        raise ValueError("obs_list must hold at least one observation")
    if isinstance(space, spaces.Dict):
        return {key: np.stack([o[key] for o in obs_list]) for key in space.spaces}
    if isinstance(space, spaces.Tuple):
        return tuple(np.stack([o[i] for o in obs_list]) for i in range(len(space.spaces)))
    return np.stack(obs_list)


def _streamable(venv) -> bool:
    """Whether ``venv`` is an SB3 SubprocVecEnv whose workers can be read one by one."""
    return isinstance(venv, SubprocVecEnv) and hasattr(venv, "remotes")


class VecVLMReward(RewardStepSettings, VecEnvWrapper):
    """VLM rewards for a Stable-Baselines3 ``VecEnv`` (``DummyVecEnv``/``SubprocVecEnv``).

    Frames come from ``info["vlm_frame"]`` (wrap each sub-env in
    :class:`~vlm_rewards.wrappers.RenderFrameInfo`) or from the observation
    (``frame_source="observation"`` or a Dict key; for a finished env, from
    ``info["terminal_observation"]``). When the VLM reward fires, the sub-env is reset
    through ``env_method("reset")`` following SB3's auto-reset convention, so this
    wrapper must sit directly on the ``DummyVecEnv``/``SubprocVecEnv``: put ``VecMonitor``
    and image wrappers outside it.

    ``score_every``, ``frame_window`` and ``confirm`` work as in
    :class:`~vlm_rewards.wrappers.VLMRewardWrapper`, counted per sub-env. With
    ``async_scoring=True`` (a ``SubprocVecEnv`` directly inside) the frames of sub-envs
    that have finished their step are encoded on a background thread while the other
    worker processes are still stepping; rewards are returned for the same step and in
    sub-env order, exactly as without it. (SB3 needs step t's reward before it chooses the
    actions of step t+1, so scoring cannot overlap the next step itself.)

    Example:
        >>> venv = DummyVecEnv([lambda: RenderFrameInfo(make_env()) for _ in range(4)])  # doctest: +SKIP
        >>> venv = VecVLMReward(venv, scorer)  # doctest: +SKIP
    """

    def __init__(
        self,
        venv,
        scorer: RewardScorer,
        goal: str | None = None,
        terminate_on_success: bool = True,
        frame_source: str = "render",
        frame_window: int = 1,
        confirm: tuple[int, int] = (1, 1),
        score_every: int | str = 1,
        async_scoring: bool = False,
    ):
        super().__init__(venv)
        self.async_scoring = bool(async_scoring)
        self._init_reward_step(self.num_envs, scorer, frame_source, "VecVLMReward", goal=goal,
                               terminate_on_success=terminate_on_success, score_every=score_every,
                               frame_window=frame_window, confirm=confirm)
        if self.async_scoring and not _streamable(venv):
            raise ValueError(
                "async_scoring=True needs a stable_baselines3 SubprocVecEnv directly inside VecVLMReward "
                f"(envs stepping in worker processes to overlap with); got {type(venv).__name__}"
            )
        if self.terminate_on_success and isinstance(venv, VecEnvWrapper):
            raise ValueError(
                "VecVLMReward with terminate_on_success must wrap the DummyVecEnv/SubprocVecEnv directly; "
                f"got {type(venv).__name__} (put other VecEnv wrappers outside)"
            )

    @property
    def terminate_on_success(self) -> bool:
        return self._step.terminate_on_success

    def reset(self):
        obs = self.venv.reset()
        for i in range(self.num_envs):
            self._step.start_episode(i, self.venv.reset_infos[i])
        return obs

    def _frame_of(self, obs_i, info: dict[str, Any], done: bool) -> np.ndarray:
        """The frame to score for one sub-env (``obs_i``: its own observation); pops the
        rendered frame from ``info`` so it does not travel further."""
        if self.frame_source == "render":
            if FRAME_KEY not in info:
                raise ValueError(
                    "frame_source='render' needs each sub-env wrapped in RenderFrameInfo "
                    "(or use frame_source='observation')"
                )
            return np.asarray(info.pop(FRAME_KEY))
        return frame_from_obs(info["terminal_observation"] if done else obs_i, self.frame_source)

    def _frame(self, obs, info: dict[str, Any], done: bool, i: int) -> np.ndarray:
        obs_i = None if self.frame_source == "render" else (
            obs[i] if not isinstance(obs, dict) else {k: v[i] for k, v in obs.items()})
        return self._frame_of(obs_i, info, done)

    def step_wait(self):
        if self.async_scoring:
            obs, env_rewards, dones, infos, emb = self._step_wait_streaming()
            frames = None
        else:
            obs, env_rewards, dones, infos = self.venv.step_wait()
            infos = [dict(info) for info in infos]
            dones = np.asarray(dones, dtype=bool)
            due = self._step.due(dones)
            frames = []
            for i in range(self.num_envs):
                if due[i]:
                    frames.append(self._frame(obs, infos[i], bool(dones[i]), i))
                else:
                    infos[i].pop(FRAME_KEY, None)
            frames, emb = (np.stack(frames) if frames else None), None
        dones = np.asarray(dones, dtype=bool).copy()
        # SB3 folds truncation into ``dones`` (and TimeLimit.truncated); for the step both end the episode.
        out = self._step.apply(frames, env_rewards, dones, np.zeros_like(dones), infos, embeddings=emb)
        for i, info in enumerate(infos):
            info.update(env_reward=float(env_rewards[i]), **out.info(i), vlm_cache_hit_rate=out.cache_hit_rate)
            reset_info = None
            if out.ended_by_vlm[i]:
                obs, reset_info = self._reset_one(obs, info, i)
                dones[i] = True
            if dones[i]:
                info["vlm_episode"] = out.episodes[i]
                self._step.start_episode(i, reset_info if reset_info is not None else self.venv.reset_infos[i])
        return obs, out.rewards, dones, infos

    def _step_wait_streaming(self):
        """``SubprocVecEnv.step_wait`` that hands frames to the scorer as workers answer.

        Workers are read in index order (as SubprocVecEnv does); whenever the background
        encoder is idle, the frames collected so far go to it, so encoding overlaps the
        remaining workers' steps. Embeddings are reassembled in sub-env order.
        """
        venv = self.venv
        n = self.num_envs
        min_chunk = max(1, n // 4)
        results: list[Any] = []
        pending: list[int] = []
        pending_frames: list[np.ndarray] = []
        jobs: list[tuple[list[int], Any]] = []
        for i, remote in enumerate(venv.remotes):
            obs_i, rew, done, info, reset_info = remote.recv()
            info = dict(info)
            results.append((obs_i, rew, done, info, reset_info))
            if self._step.is_due(i, bool(done)):
                pending.append(i)
                pending_frames.append(self._frame_of(obs_i, info, bool(done)))
            else:
                info.pop(FRAME_KEY, None)
            idle = not jobs or jobs[-1][1].done()
            if pending and (i == n - 1 or (idle and len(pending) >= min_chunk)):
                jobs.append((pending, self.scorer.submit_frames(np.stack(pending_frames))))
                pending, pending_frames = [], []
        venv.waiting = False
        obs, rews, dones, infos, venv.reset_infos = zip(*results, strict=True)
        emb = None
        if jobs:
            import torch

            parts = [future.result() for _, future in jobs]
            emb = parts[0] if len(parts) == 1 else torch.cat(parts)
        return stack_obs(obs, venv.observation_space), np.stack(rews), np.stack(dones), list(infos), emb

    def _reset_one(self, obs, info: dict[str, Any], i: int):
        new_obs, reset_info = self.venv.env_method("reset", indices=[i])[0]
        # Keep the inner VecEnv's record of each sub-env's last reset true (wrappers outside
        # read the new episode's info there, as after SB3's own auto-reset).
        reset_infos = list(self.venv.reset_infos)
        reset_infos[i] = reset_info
        self.venv.reset_infos = reset_infos
        if isinstance(obs, dict):
            info["terminal_observation"] = {k: np.array(v[i]) for k, v in obs.items()}
            for k in obs:
                obs[k][i] = new_obs[k]
        else:
            info["terminal_observation"] = np.array(obs[i])
            obs[i] = new_obs
        info["TimeLimit.truncated"] = False
        return obs, reset_info


class VecRegionSimilarity(VecEnvWrapper):
    """``obs["region"]`` of :class:`~vlm_rewards.wrappers.RegionSimilarityObservation` for a
    whole ``VecEnv``, with the crops of every sub-env encoded in one batch per step.

    Each sub-env must be wrapped in :class:`~vlm_rewards.wrappers.region.RegionCropsInfo`
    (its crops after every reset and step travel in ``info``). Put this wrapper outside
    :class:`VecVLMReward`: the reward's batched encoding of the same frames then fills the
    scorer's cache and the region encoding costs nothing more (House: the view region is the
    reward's frame). Finished sub-envs get the region of their last view in
    ``info["terminal_observation"]`` and of the new episode's first view in the observation.

    Args:
        venv: the vector env (``DummyVecEnv``/``SubprocVecEnv``, or :class:`VecVLMReward` on one).
        encoder: a :class:`~vlm_rewards.RewardScorer` or a VLM with ``encode_images``.
        prompts: ``{goal: text embedding of the goal's region prompt}`` (cosine) or a
            :class:`~vlm_rewards.wrappers.region.RegionPrompts`.
    """

    def __init__(self, venv, encoder: Any, prompts: Any):
        from vlm_rewards.wrappers.region import prompt_table, region_encoder

        if not isinstance(venv.observation_space, spaces.Dict):
            raise TypeError("venv must have a Dict observation (sub-envs wrapped in GoalEmbeddingObservation)")
        try:
            n = int(venv.get_attr("regions_per_view", indices=[0])[0])
        except AttributeError:
            raise TypeError("each sub-env must be wrapped in RegionCropsInfo (its crops travel in info)") from None
        self._prompts = prompt_table(prompts)
        space = spaces.Dict({**venv.observation_space.spaces, "region": spaces.Box(*self._prompts.bounds, (n,), np.float32)})
        super().__init__(venv, observation_space=space)
        self._encode, _ = region_encoder(encoder)

    def _fill(self, views: list[dict[str, Any]]) -> np.ndarray:
        """Similarities of ``views`` (infos holding a view's crops and goal), popping the crops."""
        from vlm_rewards.wrappers.region import region_features_of

        return region_features_of(self._encode, self._prompts, views)

    def _reset_infos(self) -> list[dict[str, Any]]:
        # The infos of each sub-env's last reset live on the innermost VecEnv (every
        # VecEnvWrapper has a reset_infos attribute of its own, never filled).
        return self.venv.unwrapped.reset_infos

    def reset(self):
        obs = self.venv.reset()
        infos = [dict(i) for i in self._reset_infos()]
        return {**obs, "region": self._fill(infos)}

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        reset_infos = self._reset_infos()
        views, terminal = [], []
        for i, info in enumerate(infos):
            if dones[i]:
                # The step's crops are the finished episode's last view; the reset's, the new one's.
                terminal.append(i)
                views.append(dict(reset_infos[i]))
            else:
                views.append(info)
        views += [infos[i] for i in terminal]
        region = self._fill(views)
        for k, i in enumerate(terminal):
            infos[i]["terminal_observation"] = {**infos[i]["terminal_observation"], "region": region[self.num_envs + k]}
        return {**obs, "region": region[: self.num_envs]}, rewards, dones, infos


class VecPatchFeatures(VecEnvWrapper):
    """``obs["patches"]`` of :class:`~vlm_rewards.wrappers.PatchFeatureObservation` for a whole
    ``VecEnv``: the VLM's patch embeddings of every sub-env's ``obs["image"]`` in one batch per
    step, and of each finished episode's last view in ``info["terminal_observation"]``.

    Args:
        venv: a vector env with a Dict observation holding ``"image"`` ``(H, W, 3)`` uint8.
        model: a VLM with ``encode_patches`` (or a RewardScorer holding one); frozen.
    """

    def __init__(self, venv, model: Any):
        from vlm_rewards.wrappers.patches import PATCHES_KEY, patch_encoder, patch_space, view_patches

        if not isinstance(venv.observation_space, spaces.Dict) or "image" not in venv.observation_space.spaces:
            raise TypeError("venv must have a Dict observation with an 'image' key (sub-envs wrapped in GoalEmbeddingObservation)")
        self._encode = patch_encoder(model)
        self._patches = functools.partial(view_patches, self._encode)
        self._key = PATCHES_KEY
        space = spaces.Dict({**venv.observation_space.spaces, PATCHES_KEY: patch_space(self._encode, venv.observation_space["image"])})
        super().__init__(venv, observation_space=space)

    def reset(self):
        obs = self.venv.reset()
        return {**obs, self._key: self._patches(obs["image"])}

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        terminal = [i for i, info in enumerate(infos) if dones[i] and "terminal_observation" in info]
        images = [obs["image"]] + [infos[i]["terminal_observation"]["image"][None] for i in terminal]
        patches = self._patches(np.concatenate(images))
        for k, i in enumerate(terminal):
            infos[i]["terminal_observation"] = {**infos[i]["terminal_observation"], self._key: patches[self.num_envs + k]}
        return {**obs, self._key: patches[: self.num_envs]}, rewards, dones, infos
