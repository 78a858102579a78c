"""``RayVecEnv``: a Stable-Baselines3 ``VecEnv`` whose env workers are Ray actors.

Each worker steps a few envs, renders their frames and sends them in one request to the
:class:`~vlm_rewards.distributed.RayRewardPool`; only observations, rewards and infos
come back to the learner, which stays SB3 PPO (or any SB3 algorithm).

Fault tolerance: a reward actor that dies is invisible here (the pool client re-sends
its requests). An env worker that dies is restarted by Ray; its envs' state is lost, so
their episodes end at that step as if cut by a time limit (``done`` with
``info["TimeLimit.truncated"] = True``, reward 0, ``info["env_worker_restarted"] = True``,
the last observation seen as ``info["terminal_observation"]``) and they start afresh.

Example:
    >>> from stable_baselines3 import PPO  # doctest: +SKIP
    >>> with start_ray(num_cpus=8), RayRewardPool("builtin:default", goal_set=train_goals) as pool:  # doctest: +SKIP
    ...     venv = RayVecEnv([make_env] * 16, pool, num_workers=4)
    ...     PPO("MultiInputPolicy", VecMonitor(venv)).learn(100_000)
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import ray
from ray import exceptions as rex
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvObs, VecEnvStepReturn

from vlm_rewards._validation import check_goal, check_positive_int
from vlm_rewards.distributed.env_worker import EnvWorker
from vlm_rewards.distributed.pool import RayRewardPool, RewardPoolClient
from vlm_rewards.distributed.runtime import await_started
from vlm_rewards.wrappers.sb3 import stack_obs

__all__ = ["RayVecEnv"]

_WORKER_LOST = (rex.RayActorError, rex.WorkerCrashedError, rex.NodeDiedError)


def _writable(obs: Any) -> Any:
    if isinstance(obs, dict):
        return {k: _writable(v) for k, v in obs.items()}
    if isinstance(obs, tuple):
        return tuple(_writable(v) for v in obs)
    return np.array(obs) if isinstance(obs, np.ndarray) and not obs.flags.writeable else obs


class RayVecEnv(VecEnv):
    """Envs stepped by Ray actors, rewarded by a :class:`RayRewardPool`.

    Args:
        env_fns: one function per env that builds it (a ``gymnasium.Env``; with
            ``frame_source="render"`` made with ``render_mode="rgb_array"``); shipped to
            the workers with cloudpickle, so lambdas work.
        pool: the reward pool (or a client from :meth:`RayRewardPool.client`); ``None``
            keeps the envs' own rewards (a ground-truth baseline on Ray).
        num_workers: env worker actors; the envs are split over them in contiguous
            blocks (default: one worker per env, at most 8).
        goal: a fixed goal for every env (default: each episode's ``info["goal"]``).
        terminate_on_success: end an episode when a binary VLM reward fires (the paper's setting).
        confirm: ``(k, n)``: fire only once k of the last n scored frames pass β (see
            :class:`~vlm_rewards.wrappers.core.RewardStep`).
        frame_source: ``"render"``, ``"observation"`` or a Dict observation key.
        worker_num_cpus: Ray CPUs reserved per worker.
        max_restarts: restarts per env worker (-1: unlimited; 0: a lost worker is an error).
        start_timeout_s: longest wait for the workers to start (e.g. for free CPUs).
        close_with: objects closed after the workers by :meth:`close` (a pool, a
            :class:`RayRuntime` this env's creator started for it), in order.

    Example:
        >>> venv = RayVecEnv([lambda: gym.make("vlm_rewards/Phone-v0", render_mode="rgb_array")] * 4,
        ...                  pool, num_workers=2)  # doctest: +SKIP
        >>> obs = venv.reset()  # doctest: +SKIP
    """

    def __init__(
        self,
        env_fns: Sequence[Callable[[], gym.Env]],
        pool: RayRewardPool | RewardPoolClient | None,
        *,
        num_workers: int | None = None,
        goal: str | None = None,
        terminate_on_success: bool = True,
        frame_source: str = "render",
        confirm: tuple[int, int] = (1, 1),
        worker_num_cpus: float = 1,
        max_restarts: int = 3,
        start_timeout_s: float | None = 300.0,
        close_with: Sequence[Any] = (),
    ):
        env_fns = list(env_fns)
        if not env_fns:
            raise ValueError("env_fns must hold at least one env factory")
        if not all(callable(fn) for fn in env_fns):
            raise TypeError("env_fns must be callables that each return a new gymnasium.Env")
        if isinstance(pool, RayRewardPool):
            client = pool.client()
        elif isinstance(pool, RewardPoolClient) or pool is None:
            client = pool
        else:
            raise TypeError(f"pool must be a RayRewardPool, a RewardPoolClient or None, got {type(pool).__name__}")
        if not isinstance(frame_source, str) or not frame_source:
            raise TypeError(f"frame_source must be 'render', 'observation' or a Dict observation key, got {frame_source!r}")
        if goal is not None:
            check_goal(goal)
        from vlm_rewards.wrappers.core import check_confirm

        confirm = check_confirm(confirm)
        num_workers = min(len(env_fns), 8) if num_workers is None else check_positive_int(num_workers, "num_workers")
        if num_workers > len(env_fns):
            raise ValueError(f"num_workers must be <= the number of envs ({len(env_fns)}), got num_workers={num_workers}")
        if isinstance(worker_num_cpus, bool) or not isinstance(worker_num_cpus, (int, float)) or worker_num_cpus < 0:
            raise ValueError(f"worker_num_cpus must be a number >= 0, got {worker_num_cpus!r}")
        if not isinstance(max_restarts, int) or max_restarts < -1:
            raise ValueError(f"max_restarts must be an integer >= -1 (-1: unlimited), got {max_restarts!r}")
        if not ray.is_initialized():
            raise RuntimeError("Ray is not running: create the RayRewardPool (or call start_ray) first")

        bounds = np.linspace(0, len(env_fns), num_workers + 1).round().astype(int)
        self._slices = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
        worker_cls = ray.remote(EnvWorker).options(num_cpus=worker_num_cpus, max_restarts=max_restarts, max_task_retries=0)
        self.workers = [
            worker_cls.remote(env_fns[a:b], client, goal, bool(terminate_on_success), frame_source, confirm)
            for a, b in self._slices
        ]
        self.worker_restarts = 0
        self._closed = False
        self._close_with = list(close_with)
        try:
            desc = await_started([w.describe.remote() for w in self.workers], start_timeout_s, f"{num_workers} env workers")
        except BaseException:
            self._kill_workers()
            raise
        self._seed_base: int | None = None
        self._last_obs: list[Any] = [None] * len(env_fns)
        self._waiting: list[Any] | None = None
        super().__init__(len(env_fns), desc[0]["observation_space"], desc[0]["action_space"])

    # --- stepping -----------------------------------------------------------------------
    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        self._seed_base = seed
        return super().seed(seed)

    def reset(self) -> VecEnvObs:
        refs = [w.reset.remote(self._seeds[a:b], self._options[a:b]) for w, (a, b) in zip(self.workers, self._slices)]
        obs: list[Any] = []
        for (a, b), (o, infos) in zip(self._slices, ray.get(refs)):
            obs.extend(o)
            self.reset_infos[a:b] = infos
        self._reset_seeds()
        self._reset_options()
        self._last_obs = obs
        return stack_obs(obs, self.observation_space)

    def step_async(self, actions: np.ndarray) -> None:
        self._waiting = [w.step.remote(list(actions[a:b])) for w, (a, b) in zip(self.workers, self._slices)]

    def step_wait(self) -> VecEnvStepReturn:
        if self._waiting is None:
            raise RuntimeError("step_wait() called without step_async()")
        refs, self._waiting = self._waiting, None
        obs: list[Any] = []
        rewards, dones, infos = [], [], []
        for k, ((a, b), ref) in enumerate(zip(self._slices, refs)):
            try:
                o, r, d, inf, reset_infos = ray.get(ref)
            except _WORKER_LOST:
                o, r, d, inf, reset_infos = self._recover(k)
            obs.extend(o)
            rewards.append(r)
            dones.append(d)
            for info in inf:
                # Arrays from Ray's object store are read-only; SB3 turns the terminal
                # observation into a tensor to bootstrap truncated episodes.
                if "terminal_observation" in info:
                    info["terminal_observation"] = _writable(info["terminal_observation"])
            infos.extend(inf)
            for j, reset_info in enumerate(reset_infos):
                if reset_info is not None:
                    self.reset_infos[a + j] = reset_info
        self._last_obs = obs
        return stack_obs(obs, self.observation_space), np.concatenate(rewards), np.concatenate(dones), infos

    def _recover(self, k: int):
        """Worker ``k`` died mid-step: wait for Ray to restart it, then start its envs afresh."""
        a, b = self._slices[k]
        self.worker_restarts += 1
        warnings.warn(f"env worker {k} (envs {a}..{b - 1}) died and was restarted; its episodes were cut short")
        if self._seed_base is None:
            seeds: list[int | None] = [None] * (b - a)
        else:  # new seeds, still a function of the run's seed
            seeds = [self._seed_base + self.num_envs * self.worker_restarts + i for i in range(a, b)]
        obs, reset_infos = self._when_restarted(k, "reset", seeds, [{}] * (b - a))
        infos = [
            {"TimeLimit.truncated": True, "terminal_observation": self._last_obs[i], "env_worker_restarted": True}
            for i in range(a, b)
        ]
        return obs, np.zeros(b - a, dtype=np.float32), np.ones(b - a, dtype=bool), infos, reset_infos

    def _when_restarted(self, k: int, method: str, *args: Any, timeout_s: float = 120.0) -> Any:
        """Call worker ``k`` once Ray has brought it back: a call that reaches the actor
        while it is still restarting fails with ActorUnavailableError and is repeated."""
        deadline = time.monotonic() + timeout_s
        delay = 0.05
        while True:
            try:
                return ray.get(getattr(self.workers[k], method).remote(*args))
            except rex.ActorUnavailableError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"env worker {k} did not come back within {timeout_s}s of dying") from None
                time.sleep(delay)
                delay = min(1.0, delay * 2)

    # --- SB3 plumbing ---------------------------------------------------------------------
    def _by_worker(self, indices: VecEnvIndices) -> list[tuple[int, list[int], list[int]]]:
        """``(worker, local indices, positions in the answer)`` for the requested envs."""
        groups: dict[int, tuple[list[int], list[int]]] = {}
        for pos, i in enumerate(self._get_indices(indices)):
            if not 0 <= i < self.num_envs:
                raise IndexError(f"env index {i} out of range for {self.num_envs} envs")
            k = next(k for k, (a, b) in enumerate(self._slices) if a <= i < b)
            local, where = groups.setdefault(k, ([], []))
            local.append(i - self._slices[k][0])
            where.append(pos)
        return [(k, local, where) for k, (local, where) in groups.items()]

    def _gather(self, method: str, indices: VecEnvIndices, *args: Any) -> list[Any]:
        plan = self._by_worker(indices)
        answers = ray.get([getattr(self.workers[k], method).remote(*args, local) for k, local, _ in plan])
        out: list[Any] = [None] * sum(len(w) for _, _, w in plan)
        for (_, _, where), values in zip(plan, answers):
            for pos, v in zip(where, values):
                out[pos] = v
        return out

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return self._gather("get_attr", indices, attr_name)

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        ray.get([self.workers[k].set_attr.remote(attr_name, value, local) for k, local, _ in self._by_worker(indices)])

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        return self._gather("env_method", indices, method_name, method_args, method_kwargs)

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return self._gather("env_is_wrapped", indices, wrapper_class)

    def get_images(self) -> Sequence[np.ndarray | None]:
        if self.render_mode != "rgb_array":
            warnings.warn(f"The render mode is {self.render_mode}, but get_images() needs 'rgb_array'")
            return [None] * self.num_envs
        return self._gather("render", None)

    def _kill_workers(self) -> None:
        for w in self.workers:
            try:
                ray.kill(w, no_restart=True)
            except Exception:  # already gone, or Ray already shut down
                pass

    def close(self) -> None:
        """Close the envs and stop the workers, then close ``close_with`` (else the pool is
        left to its owner)."""
        if self._closed:
            return
        self._closed = True
        try:
            if ray.is_initialized():
                try:
                    ray.get([w.close.remote() for w in self.workers], timeout=30)
                except Exception:  # a dead worker has nothing left to close
                    pass
                self._kill_workers()
        finally:
            for obj in self._close_with:
                (obj.close if hasattr(obj, "close") else obj.shutdown)()
