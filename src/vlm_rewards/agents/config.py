"""Training configuration: pydantic models read from YAML, every field defaulted and validated.

A run is described by one :class:`TrainConfig`; ``vlm-rewards train CONFIG.yaml --set
agent.learning_rate=1e-4`` loads the YAML, applies the overrides and validates the result.
The resolved config (every default filled in) is written to ``RUN_DIR/config.yaml`` and a
resumed run must match it.

Example:
    >>> cfg = TrainConfig.model_validate({"total_steps": 1000, "env": {"id": "vlm_rewards/Phone-v0"}})
    >>> cfg.reward.kind, cfg.env.n_envs
    ('vlm', 8)
    >>> apply_overrides(cfg, ["agent.learning_rate=1e-4"]).agent.learning_rate
    0.0001
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vlm_rewards.distributed.config import RayConfig
from vlm_rewards.envs.registry import Domain, domains, get_domain
from vlm_rewards.rewards import REWARDS, get_reward

__all__ = [
    "AgentConfig",
    "ConfigError",
    "EnvConfig",
    "EvalConfig",
    "RewardConfig",
    "TrainConfig",
    "apply_overrides",
    "dump_config",
    "load_config",
]



def train_env_ids() -> list[str]:
    """Env ids that train agents (domains with ``trains_agents``: train / held-out goal splits)."""
    return [env_id for d in domains().values() if d.trains_agents for env_id in d.env_ids]


class ConfigError(ValueError):
    """A config file or override that does not validate; the message names each bad field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class EnvConfig(_Strict):
    """The domain: a registered env id and its keyword arguments."""

    id: str = Field("vlm_rewards/Phone-v0", description="Gymnasium id of a registered domain: " + ", ".join(train_env_ids()))
    kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra env keyword arguments, e.g. {apps: diverse} (phone), {family: find} (house), "
        "{level: BabyAI-GoToLocal-v0} (babyai).",
    )
    obs_size: int | tuple[int, int] = Field(
        64, description="Agent's image observation: a side (square) or [height, width] (Phone and BabyAI)."
    )
    render_size: int = Field(64, ge=32, le=1024, description="Frame size given to the VLM.")
    max_episode_steps: int | None = Field(None, ge=1, description="Time limit (default: the env's own).")
    n_envs: int = Field(8, ge=1, le=256, description="Parallel training envs.")
    frame_stack: int = Field(
        1, ge=1, le=8,
        description="The policy's image is the last k views stacked along the colour channels (FrameStackImage): "
        "with 2, walking into something that leaves the view unchanged is visible.",
    )
    prev_action: bool = Field(
        False,
        description="Add the previous action, one-hot, and the domain's step flags (House: 'blocked', a move that "
        "left the agent where it stood) to the observation (PreviousActionObservation; agent.head=mlp).",
    )
    search_map: bool = Field(
        False,
        description="House: add an egocentric map of the floor the agent has looked at, the walls among it and "
        "where it has stood (obs['map'], SearchMapObservation): the memory a search across rooms needs.",
    )
    explore_action: bool = Field(
        False,
        description="House (actions='walk', env.search_map): one more action, 'explore': a step towards the "
        "nearest floor not yet looked at, round walls (FrontierExplorer). The agent still learns when to stop "
        "exploring and where to go from its reward alone.",
    )
    vec_env: Literal["dummy", "subproc", "ray"] = Field(
        "dummy", description="SB3 vector env class; 'ray': env workers and reward-model actors on Ray (see the ray section)."
    )

    @field_validator("id")
    @classmethod
    def _known_env(cls, value: str) -> str:
        ids = train_env_ids()
        if value not in ids:
            raise ValueError(f"unknown env {value!r}; expected one of {sorted(ids)}")
        return value

    @field_validator("obs_size")
    @classmethod
    def _obs_size(cls, value: int | tuple[int, int]) -> int | tuple[int, int]:
        sides = (value,) if isinstance(value, int) else value
        if any(not 8 <= v <= 256 for v in sides):
            raise ValueError(f"sides must be in [8, 256], got {value}")
        return value

    @model_validator(mode="after")
    def _square_if_needed(self) -> EnvConfig:
        if self.record.square_obs and not isinstance(self.obs_size, int):
            raise ValueError(f"obs_size for {self.domain} must be one int (a square), got {list(self.obs_size)}")
        return self

    @field_validator("kwargs")
    @classmethod
    def _reserved_kwargs(cls, value: dict[str, Any]) -> dict[str, Any]:
        reserved = {"render_mode", "obs_size", "render_size", "goal_split", "goal", "terminate_on_success"}
        bad = sorted(reserved & set(value))
        if bad:
            raise ValueError(f"{bad} are set by the trainer (use env.obs_size / env.render_size / reward.*), not env.kwargs")
        return value

    @property
    def record(self) -> Domain:
        """The env's :class:`~vlm_rewards.envs.registry.Domain` record."""
        return get_domain(self.id)

    @property
    def domain(self) -> str:
        return self.record.name


class RewardConfig(_Strict):
    """Which reward trains the agent, and the VLM that scores every evaluation episode."""

    kind: Literal["vlm", "ground_truth"] = Field(
        "vlm", description="'vlm': the VLM reward only (the paper); 'ground_truth': the oracle baseline."
    )
    model: str = Field("builtin:default", description="'builtin:<name>', a model directory or 'hf:<id>'.")
    function: str = Field("contrastive", description="Reward function: " + ", ".join(REWARDS) + ".")
    threshold: float | dict[str, float] = Field(
        0.5,
        description="β: reward = 1[p > β]. A number, or per goal {goal: β} with '*' for unlisted goals "
        "(e.g. the snippet 'vlm-rewards calibrate' writes).",
    )
    temperature: float | None = Field(None, gt=0.0, description="τ (default: the model's learned one).")
    negatives_from: str | None = Field(
        None,
        description="Goal set the negatives are drawn from, e.g. 'phone:diverse' (None: all goals of the env's goal set). "
        "A wider set guards against the reward firing on screens no goal describes.",
    )
    num_negatives: int | None = Field(None, ge=1, description="Negatives per goal drawn from the goal set (None: all).")
    negative_choice: Literal["uniform", "hard", "counterfactual", "counterfactual+uniform"] = Field(
        "uniform",
        description="How each goal's num_negatives are drawn: uniformly (the paper), the most confusable goals, "
        "counterfactuals of the goal (one attribute changed: colour, object kind, app), or half of each. "
        "Anything but uniform needs num_negatives.",
    )
    state_negatives: bool = Field(
        False,
        description="Add each goal's state negative to its negatives: its objects in a state that does not complete it "
        "('a red ball in a room' for 'go near the red ball'; domains with a state_negative template: house, babyai), "
        "so the reward can say 'not yet' when the object is in view but the goal is not met.",
    )
    baseline: str | None = Field(None, description="goal_baseline: the baseline prompt.")
    alpha: float = Field(0.5, ge=0.0, le=1.0, description="goal_baseline: regularisation strength.")
    terminate_on_success: bool = Field(True, description="End the episode when the (binary) reward fires.")
    confirm: tuple[int, int] = Field(
        (1, 1),
        description="[k, n]: the binary reward fires only once k of the last n scored frames of an episode pass β "
        "([1, 1]: the paper's rule). Higher k: fewer false successes, but the goal state must be held longer.",
    )
    # "auto": bf16 where the hardware runs it natively (AMX, AVX-512 BF16, Ampere+), else fp32.
    # Forcing bf16 on a CPU without it emulates it through fp32: 6x slower than fp32 on an
    # AVX2-only machine (measured, builtin:default, batch 8).
    dtype: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="VLM inference precision ('auto': bf16 where the device runs it natively, else fp32)."
    )
    device: str | None = Field(None, description="torch device of the VLM (default: CPU).")
    frame_cache: int = Field(50_000, ge=0, description="Image embeddings cached by frame hash (0: off); exact.")

    @field_validator("model")
    @classmethod
    def _model_exists(cls, value: str) -> str:
        from vlm_rewards.models import ModelNotAvailableError
        from vlm_rewards.models.loading import resolve_spec

        if value.startswith("hf:"):
            return value  # resolved (from the local cache) when the run starts
        try:
            resolve_spec(value)
        except (ModelNotAvailableError, TypeError) as exc:
            raise ValueError(f"model not found: {exc}") from None
        return value

    @field_validator("device")
    @classmethod
    def _device_exists(cls, value: str | None) -> str | None:
        from vlm_rewards._validation import check_device

        return check_device(value, "reward.device")

    @field_validator("threshold")
    @classmethod
    def _thresholds(cls, value: float | dict[str, float]) -> float | dict[str, float]:
        from vlm_rewards._validation import check_thresholds

        check_thresholds(value, "threshold")
        return value

    @field_validator("function")
    @classmethod
    def _known_function(cls, value: str) -> str:
        get_reward(value)  # ValueError listing the registered rewards
        return value

    @field_validator("negatives_from")
    @classmethod
    def _known_goal_set(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from vlm_rewards.envs import goals_from_spec

        try:
            goals_from_spec(value)
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"expected a goals spec like 'phone:diverse' or 'house:find': {exc}") from None
        return value

    @field_validator("confirm")
    @classmethod
    def _confirm(cls, value: tuple[int, int]) -> tuple[int, int]:
        from vlm_rewards.wrappers.core import check_confirm

        return check_confirm(value)

    @model_validator(mode="after")
    def _baseline_needed(self) -> RewardConfig:
        if self.spec.needs_baseline and not self.baseline:
            raise ValueError(f"function={self.function!r} needs reward.baseline (e.g. 'a phone screen')")
        if tuple(self.confirm) != (1, 1) and not self.spec.binary:
            raise ValueError(f"reward.confirm needs a binary reward function (e.g. contrastive), got {self.function!r}")
        if self.state_negatives and not self.spec.needs_negatives:
            raise ValueError(f"reward.state_negatives needs a reward with negatives (e.g. contrastive), got {self.function!r}")
        if self.negative_choice != "uniform" and self.num_negatives is None:
            raise ValueError(f"reward.negative_choice={self.negative_choice!r} needs reward.num_negatives "
                             "(with all other goals as negatives there is nothing to choose)")
        return self

    @property
    def spec(self):
        """The reward function's :class:`~vlm_rewards.rewards.RewardFunction` record."""
        return get_reward(self.function)


class AgentConfig(_Strict):
    """The agent: SB3 PPO (or sb3-contrib RecurrentPPO) on image + goal embedding."""

    algo: Literal["ppo", "recurrent_ppo"] = "ppo"
    head: Literal["mlp", "pointer"] = Field(
        "mlp",
        description="'mlp': CNN features -> MLP -> action logits (the paper's kind of agent); 'pointer': a "
        "goal-FiLMed fully convolutional net with one logit per tap cell from a shared detector (envs with "
        "pointer_boxes, e.g. Phone).",
    )
    region_features: bool = Field(
        False,
        description="Add the reward VLM's cosine similarity of each region with the goal's region prompt to the "
        "observation (frozen VLM features; envs with region_crops and a domain region_prompt: Phone's tap cells, House's "
        "whole view with 'a red ball in a room'); the pointer head adds it to each box's logit with a learned weight, the "
        "mlp head to its features, so held-out goals can be grounded through the VLM.",
    )
    region_score: Literal["cosine", "log_prob"] = Field(
        "cosine",
        description="How agent.region_features scores a region: 'cosine' similarity with the goal's region prompt, "
        "or 'log_prob', log p(goal | region) of a softmax at the reward's temperature over the region prompts of "
        "every goal and of reward.negatives_from (comparable across goals, so it says whether the goal is on the "
        "screen at all; the pointer head adds it to each box's logit unstandardised).",
    )
    region_weight: float | None = Field(
        None,
        gt=0,
        description="Starting weight of the region term (learned): the pointer head's weight on each box's region "
        "score (default 3 for cosine, 1 for log_prob), the mlp head's scale of it (default 20 for cosine, 1 for "
        "log_prob).",
    )
    init_from: str | None = Field(
        None,
        description="Start from the policy weights of a trained agent (a run directory, a shipped agent's "
        "directory or an SB3 zip) instead of random ones, e.g. a House curriculum: the one-room agent, then 2-4 "
        "rooms. Its architecture must match this config's (same observation, action space and agent settings); "
        "the optimizer starts afresh. A resumed run continues from its own checkpoint.",
    )
    new_action_bias: float = Field(
        0.0,
        description="With agent.init_from: the starting logit bias of actions the saved agent lacks (e.g. "
        "env.explore_action's), relative to the mean of its saved biases. 0: about as likely as an average action; "
        "4: the new action is taken most of the time at first, so the policy has to learn when not to take it "
        "(a few steps' credit) rather than when to take it (credit many steps later).",
    )
    vlm_patches: bool = Field(
        False,
        description="Add the reward VLM's frozen patch embeddings of the view (obs['patches'], (D, h, w), in the "
        "image-text space; CLIP-style models) to the observation; the mlp head reads them through a goal-FiLMed 1x1 "
        "conv beside each patch's similarity with the goal, so the policy starts from the VLM's learned vision.",
    )
    fusion: Literal["film", "film_all", "concat"] = Field(
        "film",
        description="How the goal embedding meets the image features (head=mlp): FiLM of the last conv layer, FiLM "
        "of every conv layer, or concatenation.",
    )
    cnn_channels: list[int] = Field(default_factory=lambda: [16, 32, 32], min_length=1, max_length=5)
    features_dim: int = Field(128, ge=8)
    goal_hidden: int = Field(64, ge=4, description="Width of the goal-embedding MLP.")
    augment_shift: int = Field(
        0,
        ge=0,
        description="Random-shift augmentation of the policy's image in PPO updates (head=mlp; DrQ/RAD): each "
        "image is padded by this many pixels (edge replicated) and cropped back at a random offset; rollouts and "
        "evaluation see the image as it is. 0: off.",
    )
    spatial_grid: tuple[int, int] | None = Field(
        None, description="[rows, cols]: add goal-modulated feature maps max-pooled to this grid (where-to-tap features)."
    )
    net_arch: list[int] = Field(default_factory=lambda: [128], description="Policy/value MLP widths.")
    lstm_hidden: int = Field(128, ge=8, description="recurrent_ppo: LSTM width.")
    learning_rate: float = Field(5e-4, gt=0.0)
    lr_schedule: Literal["constant", "linear"] = Field(
        "constant",
        description="'linear': the learning rate falls linearly from learning_rate at step 0 to 0 at total_steps "
        "(a resumed run continues the same line), so late updates settle the policy instead of moving it.",
    )
    n_steps: int = Field(64, ge=1, description="Rollout steps per env per update.")
    batch_size: int = Field(256, ge=2)
    n_epochs: int = Field(4, ge=1)
    gamma: float = Field(0.95, gt=0.0, le=1.0)
    gae_lambda: float = Field(0.95, ge=0.0, le=1.0)
    clip_range: float = Field(0.2, gt=0.0)
    ent_coef: float = Field(0.01, ge=0.0)
    vf_coef: float = Field(0.5, ge=0.0)
    max_grad_norm: float = Field(0.5, gt=0.0)
    device: str = Field("cpu", description="torch device of the agent ('cpu', 'cuda', 'cuda:1', 'mps', or 'auto').")
    # One thread: the agent, the VLM and the envs share the CPU, and oversubscribed torch
    # threads spin-wait (10x slower scoring measured on a busy 2-core machine).
    torch_threads: int | None = Field(1, ge=1, description="torch CPU threads (None: torch's choice).")

    @field_validator("device")
    @classmethod
    def _device_exists(cls, value: str) -> str:
        from vlm_rewards._validation import check_device

        # "auto": Stable-Baselines3 picks CUDA when there is one.
        return value if value == "auto" else check_device(value, "agent.device")

    @field_validator("cnn_channels", "net_arch", "spatial_grid")
    @classmethod
    def _positive_widths(cls, value):
        if value is not None and any(w < 1 for w in value):
            raise ValueError(f"sizes must be positive integers, got {list(value)}")
        return value


class EvalConfig(_Strict):
    """Periodic evaluation on held-out goals, judged by ground truth."""

    every: int = Field(10_000, ge=1, description="Env steps between evaluations.")
    episodes: int = Field(30, ge=1, description="Episodes per evaluation (goals taken in turn).")
    split: Literal["heldout", "train", "all"] = "heldout"
    deterministic: bool = Field(False, description="Greedy actions (default: act by sampling, as in training).")
    n_envs: int = Field(8, ge=1, description="Episodes run side by side (one VLM batch).")
    gif_episodes: int = Field(2, ge=0, description="Episodes of each evaluation saved as GIFs.")
    gif_every: int = Field(1, ge=1, description="Save GIFs at every k-th evaluation (and the last).")
    seed: int = Field(10_000, ge=0, description="Seeds of the evaluation episodes (the same at every evaluation).")


class TrainConfig(_Strict):
    """One training run. Every field has a default; see the ``configs/`` recipes."""

    name: str = Field("run", min_length=1, description="Run name (the run directory's default name).")
    seed: int = Field(0, ge=0)
    total_steps: int = Field(200_000, gt=0, description="Env steps to train for.")
    checkpoint_every: int = Field(20_000, gt=0, description="Env steps between checkpoints.")
    keep_checkpoints: int = Field(2, ge=1, description="Newest checkpoints kept on disk.")
    env: EnvConfig = Field(default_factory=EnvConfig)
    reward: RewardConfig = Field(default_factory=RewardConfig)
    agent: AgentConfig = Field(default_factory=AgentConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    tensorboard: bool = Field(True, description="Also log to TensorBoard (when it is installed).")
    ray: RayConfig = Field(default_factory=RayConfig, description="Ray resources, used with env.vec_env=ray.")

    @model_validator(mode="after")
    def _cross_checks(self) -> TrainConfig:
        if self.agent.head == "pointer" and self.agent.algo != "ppo":
            raise ValueError(f"agent.head='pointer' works with agent.algo='ppo', got {self.agent.algo!r}")
        if isinstance(self.reward.threshold, dict):
            self._threshold_goals_exist()
        if self.reward.state_negatives and self.env.record.state_negative is None:
            raise ValueError(f"reward.state_negatives needs a domain with a state_negative template (house, babyai); "
                             f"{self.env.id} has none")
        if self.agent.region_features:
            if self.env.record.region_prompt is None:
                raise ValueError(f"agent.region_features needs a domain with regions (Phone, House); {self.env.id} has none")
            if self.env.vec_env != "dummy":
                raise ValueError(f"agent.region_features needs env.vec_env='dummy' (the envs share the run's VLM), got {self.env.vec_env!r}")
        if self.agent.region_score != "cosine" and not self.agent.region_features:
            raise ValueError(f"agent.region_score={self.agent.region_score!r} needs agent.region_features=true")
        if self.agent.region_weight is not None and not self.agent.region_features:
            raise ValueError("agent.region_weight needs agent.region_features=true")
        if self.env.prev_action and self.agent.head != "mlp":
            raise ValueError(f"env.prev_action works with agent.head='mlp', got {self.agent.head!r}")
        if self.env.search_map and self.env.domain != "house":
            raise ValueError(f"env.search_map needs a House env, got {self.env.id}")
        if self.env.search_map and self.agent.head != "mlp":
            raise ValueError(f"env.search_map works with agent.head='mlp', got {self.agent.head!r}")
        if self.env.explore_action and not self.env.search_map:
            raise ValueError("env.explore_action needs env.search_map: the explorer walks on that map")
        if self.env.explore_action and self.env.kwargs.get("actions") != "walk":
            raise ValueError(f"env.explore_action needs env.kwargs.actions='walk', got {self.env.kwargs.get('actions')!r}")
        if self.agent.new_action_bias and self.agent.init_from is None:
            raise ValueError("agent.new_action_bias needs agent.init_from (the agent whose action head grows)")
        if self.agent.augment_shift and self.agent.head != "mlp":
            raise ValueError(f"agent.augment_shift works with agent.head='mlp', got {self.agent.head!r}")
        if self.agent.vlm_patches and self.agent.head != "mlp":
            raise ValueError(f"agent.vlm_patches works with agent.head='mlp', got {self.agent.head!r}")
        rollout = self.agent.n_steps * self.env.n_envs
        if self.agent.algo == "ppo" and self.agent.batch_size > rollout:
            raise ValueError(
                f"agent.batch_size={self.agent.batch_size} exceeds agent.n_steps * env.n_envs = {rollout}"
            )
        return self


    def _threshold_goals_exist(self) -> None:
        """A per-goal β for a goal the run never sees is a typo that would silently leave the
        real goal at the default β."""
        from vlm_rewards._validation import DEFAULT_GOAL, goal_key
        from vlm_rewards.envs import goals

        key = self.env.record.goal_keyword
        extra = {key: self.env.kwargs[key]} if key is not None and self.env.kwargs.get(key) is not None else {}
        known = {goal_key(g) for g in goals(self.env.domain, "all", **extra)}
        unknown = [g for g in self.reward.threshold if g != DEFAULT_GOAL and goal_key(g) not in known]
        if unknown:
            raise ValueError(
                f"reward.threshold names goals that {self.env.id} {extra or ''} does not have: {unknown[:5]} "
                f"(use '*' for the β of every unlisted goal)"
            )


def _format_errors(exc: ValidationError, source: str) -> ConfigError:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(config)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        got = err.get("input")
        suffix = "" if err["type"] in ("extra_forbidden", "missing") or isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"  {loc}: {msg}{suffix}")
    return ConfigError(f"invalid config {source}:\n" + "\n".join(lines))


def _parse_value(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_overrides(config: TrainConfig | dict[str, Any], overrides: Sequence[str]) -> TrainConfig:
    """Apply ``key.sub=value`` overrides (values parsed as YAML) and validate.

    Raises :class:`ConfigError` for a malformed override or an invalid result.
    """
    data = config.model_dump() if isinstance(config, TrainConfig) else dict(config)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value (e.g. agent.learning_rate=1e-4), got {item!r}")
        parts = key.strip().split(".")
        node = data
        for p in parts[:-1]:
            child = node.get(p)
            if child is None:
                child = node[p] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"--set {key}: {p!r} is not a section")
            node = child
        node[parts[-1]] = _parse_value(raw)
    return validate_config(data, "(with --set overrides)")


def validate_config(data: Any, source: str = "") -> TrainConfig:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"invalid config {source}: expected a mapping of fields, got {type(data).__name__}")
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        raise _format_errors(exc, source) from None


def merge_config(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` merged in: sections merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "threshold":
            out[key] = merge_config(out[key], value)
        else:
            # A threshold mapping replaces the old one whole: a calibrated β set is one unit.
            out[key] = value
    return out


def _read_yaml(path: Path, what: str) -> dict[str, Any]:
    import yaml

    if not path.is_file():
        raise ConfigError(f"{what} not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"invalid {what} {path}: expected a mapping of fields, got {type(data).__name__}")
    return data


def load_config(
    path: str | os.PathLike | None = None, overrides: Sequence[str] = (), set_files: Sequence[str | os.PathLike] = ()
) -> TrainConfig:
    """Read a YAML config (``None``: all defaults), merge ``set_files`` into it (YAML
    snippets such as ``vlm-rewards calibrate`` writes, in order), apply ``overrides``, validate.

    Example:
        >>> load_config(None, ["total_steps=5000"]).total_steps
        5000
    """
    data: Any = {}
    source = "(defaults)"
    if path is not None:
        path = Path(path)
        data = _read_yaml(path, "config file")
        source = str(path)
    for extra in set_files:
        data = merge_config(data, _read_yaml(Path(extra), "--set-file"))
        source += f" + {extra}"
    config = validate_config(data, source)
    return apply_overrides(config, overrides) if overrides else config


def dump_config(config: TrainConfig) -> str:
    """The resolved config as YAML (every field, defaults included)."""
    import yaml

    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
