"""``RayConfig``: the ``ray`` section of a training config (used when ``env.vec_env: ray``).

Pydantic only, so that loading a config does not import Ray.

Example (YAML)::

    env: {vec_env: ray, n_envs: 32}
    ray: {address: auto, reward_actors: 2, reward_actor_gpus: 1, env_workers: 8}
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["RayConfig"]


class RayConfig(BaseModel):
    """Where training runs on Ray and how the work is split into actors."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    address: str | None = Field(
        None, description="Ray cluster: 'auto', '<head-ip>:6379' or 'ray://<head-ip>:10001' (None: start a local instance)."
    )
    num_cpus: int | None = Field(None, ge=1, description="CPUs of a local instance (None: the machine's).")
    num_gpus: int | None = Field(None, ge=0, description="GPUs of a local instance (None: the machine's).")
    reward_actors: int = Field(1, ge=1, description="Reward-model actors (each holds the VLM).")
    reward_actor_cpus: float = Field(1.0, ge=0.0, description="Ray CPUs per reward actor (also its torch threads).")
    reward_actor_gpus: float = Field(0.0, ge=0.0, description="GPUs per reward actor (fractions share a GPU; > 0 runs on CUDA).")
    env_workers: int | None = Field(None, ge=1, description="Env worker actors (None: min(env.n_envs, 8)).")
    env_worker_cpus: float = Field(1.0, ge=0.0, description="Ray CPUs per env worker.")
    max_batch_frames: int = Field(256, ge=1, description="Most frames a reward actor scores in one coalesced batch.")
    batch_wait_ms: float = Field(0.0, ge=0.0, description="How long a reward actor waits to gather more requests (0: none).")

    @field_validator("address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("address must be None, 'auto', '<ip>:<port>' or 'ray://<ip>:<port>', got an empty string")
        return value
