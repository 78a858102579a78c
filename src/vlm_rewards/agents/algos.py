"""The SB3 algorithm of a run: which class, its policy network, a fresh agent or a saved one.

Shared by training and agent evaluation, so both build and load agents the same way.

Example:
    >>> from vlm_rewards.agents.config import TrainConfig
    >>> algo_class(TrainConfig())[1]  # doctest: +SKIP
    'MultiInputPolicy'
"""

from __future__ import annotations

from dataclasses import dataclass

from pathlib import Path
from typing import Any

from vlm_rewards.agents.config import ConfigError, TrainConfig

__all__ = ["algo_class", "build_agent", "load_agent"]


def _policy_kwargs(config: TrainConfig, venv=None) -> dict[str, Any]:
    from vlm_rewards.agents.policy import GoalImageExtractor, PointerExtractor

    a = config.agent
    if a.head == "pointer":
        if venv is None:
            raise ValueError("agent.head='pointer' needs the env, whose pointer_boxes place the tap actions")
        try:
            boxes = venv.get_attr("pointer_boxes", indices=[0])[0]
        except AttributeError:
            raise ConfigError(
                f"agent.head='pointer' needs an env with pointer_boxes (the screen box of each tap action); "
                f"{config.env.id} has none"
            ) from None
        return {
            "features_extractor_class": PointerExtractor,
            "features_extractor_kwargs": {
                "boxes": [list(b) for b in boxes],
                "cnn_channels": list(a.cnn_channels),
                "features_dim": a.features_dim,
                "goal_hidden": a.goal_hidden,
                "region_score": a.region_score,
                "region_weight": a.region_weight,
            },
            # The actor reads the box logits straight from the extractor.
            "net_arch": {"pi": [], "vf": list(a.net_arch)},
        }
    kwargs: dict[str, Any] = {
        "features_extractor_class": GoalImageExtractor,
        "features_extractor_kwargs": {
            "cnn_channels": list(a.cnn_channels),
            "features_dim": a.features_dim,
            "goal_hidden": a.goal_hidden,
            "fusion": a.fusion,
            "spatial_grid": list(a.spatial_grid) if a.spatial_grid else None,
            "region_score": a.region_score,
            "region_weight": a.region_weight,
            "augment_shift": a.augment_shift,
        },
        "net_arch": {"pi": list(a.net_arch), "vf": list(a.net_arch)},
    }
    if a.algo == "recurrent_ppo":
        kwargs.update(lstm_hidden_size=a.lstm_hidden, n_lstm_layers=1, shared_lstm=False, enable_critic_lstm=True)
    return kwargs


def algo_class(config: TrainConfig):
    if config.agent.algo == "ppo":
        from stable_baselines3 import PPO

        if config.agent.head == "pointer":
            from vlm_rewards.agents.policy import PointerPolicy

            return PPO, PointerPolicy
        return PPO, "MultiInputPolicy"
    try:
        from sb3_contrib import RecurrentPPO
    except ImportError:
        raise ConfigError(
            "agent.algo='recurrent_ppo' needs sb3-contrib: pip install 'vlm-rewards[train]'"
        ) from None
    return RecurrentPPO, "MultiInputLstmPolicy"


def build_agent(config: TrainConfig, venv, tensorboard_log: str | None = None):
    """A fresh SB3 agent for ``config`` on ``venv``.

    Without ``tensorboard_log`` it logs nowhere (see ``_log_nowhere``).
    """
    cls, policy = algo_class(config)
    a = config.agent
    model = cls(
        policy,
        venv,
        learning_rate=a.learning_rate,
        n_steps=a.n_steps,
        batch_size=a.batch_size,
        n_epochs=a.n_epochs,
        gamma=a.gamma,
        gae_lambda=a.gae_lambda,
        clip_range=a.clip_range,
        ent_coef=a.ent_coef,
        vf_coef=a.vf_coef,
        max_grad_norm=a.max_grad_norm,
        policy_kwargs=_policy_kwargs(config, venv),
        tensorboard_log=tensorboard_log,
        seed=config.seed,
        device=a.device,
        verbose=0,
    )
    if tensorboard_log is None:
        _log_nowhere(model)
    return model


def _log_nowhere(model) -> None:
    # SB3's default logger makes a directory under the system temp dir on every learn().
    from stable_baselines3.common.logger import Logger

    model.set_logger(Logger(folder=None, output_formats=[]))


@dataclass(frozen=True)
class LinearToZero:
    """SB3 learning-rate schedule of one training segment that ends at env step ``segment_end``:
    the rate falls linearly from ``initial`` at step 0 to 0 at ``total_steps``.

    SB3 passes ``progress_remaining = 1 - num_timesteps / segment_end`` (``learn`` with
    ``reset_num_timesteps=False`` counts to the segment's end), so the global fraction of
    training done is ``(1 - progress_remaining) * segment_end / total_steps``. A plain class,
    not a closure: it is pickled into the saved agent.
    """

    initial: float
    segment_end: int
    total_steps: int

    def __call__(self, progress_remaining: float) -> float:
        done = (1.0 - float(progress_remaining)) * self.segment_end / self.total_steps
        return self.initial * min(1.0, max(0.0, 1.0 - done))


def set_segment_schedule(model, config: TrainConfig, segment_end: int) -> None:
    """Point ``model``'s learning-rate schedule at the segment ending at ``segment_end``
    (``agent.lr_schedule='linear'``; a constant rate needs nothing)."""
    if config.agent.lr_schedule == "linear":
        model.lr_schedule = LinearToZero(config.agent.learning_rate, int(segment_end), int(config.total_steps))


def init_source(path: str | Path) -> Path:
    """The SB3 zip that ``agent.init_from`` names: the file itself, or ``model.zip`` of a run
    or shipped-agent directory."""
    p = Path(path).expanduser()
    zip_path = p / "model.zip" if p.is_dir() else p
    if not zip_path.is_file():
        raise ConfigError(f"agent.init_from: {path} is neither an SB3 zip nor a directory holding model.zip")
    return zip_path


def init_policy_from(model, path: str | Path, new_action_bias: float = 0.0) -> None:
    """Copy the policy weights of the agent saved at ``path`` (see :func:`init_source`) into
    ``model``; a parameter missing, extra or of another shape is a ConfigError naming it.
    Branches that start at zero (:data:`~vlm_rewards.agents.policy.ZERO_START_BRANCHES`,
    e.g. the search map's) may be missing: they keep their fresh weights. The action head may
    have grown (e.g. ``env.explore_action``'s extra action): the saved agent's actions keep
    their rows, and a new action starts with its fresh (near-zero) weights and the mean of the
    saved biases plus ``new_action_bias`` (0: at first about as likely as an average action)."""
    import torch
    from stable_baselines3.common.save_util import load_from_zip_file

    from vlm_rewards.agents.policy import ZERO_START_BRANCHES

    zip_path = init_source(path)
    try:
        _, params, _ = load_from_zip_file(zip_path, device="cpu")
    except Exception as exc:  # a truncated or foreign zip
        raise ConfigError(f"agent.init_from: cannot read {zip_path}: {exc}") from exc
    source = (params or {}).get("policy")
    if source is None:
        raise ConfigError(f"agent.init_from: {zip_path} holds no policy weights")
    target = model.policy.state_dict()
    missing, extra = sorted(set(target) - set(source)), sorted(set(source) - set(target))
    # e.g. "features_extractor.map_gate", "vf_features_extractor.map_head.0.weight"
    owner_and_branch = [k.split(".")[:2] for k in missing]
    fresh = [k for k, p in zip(missing, owner_and_branch)
             if len(p) == 2 and p[0].endswith("features_extractor") and p[1] in ZERO_START_BRANCHES]
    missing = [k for k in missing if k not in fresh]
    shapes = [k for k in target if k in source and tuple(source[k].shape) != tuple(target[k].shape)]
    grown = [k for k in shapes if k in ("action_net.weight", "action_net.bias")
             and source[k].shape[0] < target[k].shape[0] and source[k].shape[1:] == target[k].shape[1:]]
    shapes = [k for k in shapes if k not in grown]
    if missing or extra or shapes:
        what = (f"missing {missing[:3]}" if missing else f"unexpected {extra[:3]}" if extra else
                f"{shapes[0]} has shape {tuple(source[shapes[0]].shape)}, this config's {tuple(target[shapes[0]].shape)}")
        raise ConfigError(f"agent.init_from: the agent in {zip_path} does not fit this config's policy ({what}): "
                          "train with the same observation, action space and agent settings")
    loaded = {k: v.to(target[k].dtype) for k, v in source.items()}
    for key in grown:
        rows, saved = target[key].clone(), loaded[key]
        rows[: len(saved)] = saved
        if key.endswith("bias"):
            rows[len(saved):] = saved.mean() + new_action_bias
        loaded[key] = rows
    with torch.no_grad():
        model.policy.load_state_dict({**{k: target[k] for k in fresh}, **loaded})


def load_agent(path: str | Path, config: TrainConfig, env=None):
    """A saved agent (SB3 zip) of a run with ``config``, on ``env`` if given; it logs nowhere."""
    cls, _ = algo_class(config)
    model = cls.load(path, env=env, device=config.agent.device)
    _log_nowhere(model)
    return model
