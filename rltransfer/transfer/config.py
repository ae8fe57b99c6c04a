"""TransferConfig: every option of the transfer controller and the baselines built on it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any

import gymnasium as gym

from rltransfer.errors import ConfigError
from rltransfer.registry import lookup, suggest


class Mode(StrEnum):
    """A transfer mode; the value is the string written to config.json, decisions.jsonl and logs."""

    AUTO = "auto"
    """The controller chooses among the concrete modes and switches between them."""
    REPRESENTATION = "representation"
    INSTANCE = "instance"
    NONE = "none"


MODES = tuple(mode.value for mode in Mode)
"""Transfer modes a TransferConfig accepts ("auto" lets the controller switch among the others)."""

WEIGHT_SCHEDULES = ("return", "linear", "exponential", "constant")
"""How the distillation weight decays: QDagger's return ratio, kickstarting's linear/exponential, or fixed."""

MODE_CODES = {Mode.NONE: 0, Mode.REPRESENTATION: 1, Mode.INSTANCE: 2}
"""TensorBoard value of `transfer/mode` for each concrete mode."""


CONTINUOUS_DEMO_NOISE = 0.5
"""Default DART noise for a continuous target (half-ranges): behaviour cloning from clean Pendulum
demonstrations returned about a random policy's −1,200, from demonstrations at 0.5 about −280 (docs/decisions.md)."""

MAX_INIT_COUNT = 10_000_000
"""Upper bound on the distil-initialise step and update counts (against a typo that would run for days)."""

_COUNTS = (
    "init_steps",
    "init_round_steps",
    "init_updates",
    "critic_updates",
    "distill_epochs",
    "demo_steps",
    "probe_episodes",
    "patience",
    "jsrl_stages",
    "jsrl_window",
)


@dataclass(kw_only=True, frozen=True)
class TransferConfig:
    """How the teacher's knowledge reaches the student.

    The defaults follow the papers in /work/shared/ANCHORS.md: QDagger's return-ratio weight with
    τ = 0.1 and coefficient 3.0 for DQN, RLPD's 50/50 replay start, DQfD's margin 0.8, DAPG's
    λ0 = 0.1 demonstration weight, JSRL's tolerance 0.05 over 10 curriculum stages.
    """

    mode: Mode = Mode.AUTO
    """"auto", "representation", "instance" or "none" (any case; stored as a Mode)."""
    weight: float = 1.0
    """Initial distillation weight λ0 (scales the policy-distillation and hidden-matching losses)."""
    weight_schedule: str = "return"
    """"return" (QDagger: λ = λ0·max(1 − (G_student − G_random)/(G_teacher − G_random), 0)), "linear" or
    "exponential" (kickstarting: decay to ~0 over `decay_fraction` of training), or "constant"."""
    decay_fraction: float = 0.5
    """Fraction of total_timesteps over which linear/exponential schedules and the instance ratio decay."""
    temperature: float = 0.1
    """Softmax temperature τ applied to Q-values (QDagger) when a Q-network is teacher or student."""
    dqn_distill_coef: float = 3.0
    """Extra factor on the distillation loss of DQN students (QDagger reference config)."""
    hidden_matching: bool = True
    """Match hidden layers through learned linear projections (Aguilar et al. 2020), lowest layer first."""
    hidden_coef: float = 1.0
    """Weight of the hidden-matching loss relative to the policy-distillation loss."""
    hidden_stage_fraction: float = 0.05
    """Fraction of total_timesteps each hidden layer is matched for, bottom-up, before the next one."""
    init_from_teacher: bool = True
    """Copy the teacher's weights (through the mapping) into the student where the architectures allow."""
    warmup_with_student: bool = True
    """Off-policy: once the whole actor or Q-network is copied from the teacher, act with it during SB3's
    warm-up (the first learning_starts steps, uniformly random in plain SB3; DQN keeps its final ε from the
    start), so replay starts with the transferred behaviour. Distil-initialise always does this."""
    distil_init: bool = True
    """Before the first RL update, fit the student to the mapped teacher by DAgger on states it visits, then
    warm up its critic (rltransfer.transfer.initialise). Needed when the teacher's weights cannot be copied."""
    init_steps: int = 10_000
    """Most target env steps distil-initialise may spend (and at most `init_fraction` of total_timesteps)."""
    init_fraction: float = 0.1
    """Share of total_timesteps distil-initialise may spend (rounds shrink to fit; 0 fits the probe states only)."""
    init_round_steps: int = 1000
    """Env steps the student acts for in each DAgger round."""
    init_updates: int = 300
    """Supervised minibatch steps of each DAgger fit."""
    init_learning_rate: float = 1e-3
    """Adam learning rate of the DAgger fits and the critic warm-up."""
    init_agreement: float = 0.95
    """Distil-initialise stops once the student agrees this often with the teacher on its own new states."""
    init_hold_fraction: float = 0.25
    """After distil-initialise the distillation weight is at least λ0 decaying linearly to 0 over this share of
    the remaining steps, and the QDagger cutoff waits until then: right after distillation the student's
    return is the teacher's, not yet its own, and a weight of ~0 would hand it to RL updates unprotected."""
    init_action_std: float = 0.1
    """Exploration std of a distilled student in half-ranges of its action space, from the first DAgger round
    (PPO/A2C Gaussian and SAC std; the noise of SAC/TD3 rounds); TD3's action noise, RL Zoo's log_std_init ≈ −2."""
    critic_warmup: bool = True
    """Fit the student's value function / Q-network / critics to its own returns before RL begins."""
    critic_layer_norm: bool | None = None
    """DQN students: a LayerNorm after each hidden layer of the Q-network (RLPD, Ball et al. 2023), so Q-values
    fitted to demonstrations do not extrapolate upwards into the states the student reaches next. None: on when
    the run starts in instance mode (fixed `instance`; `auto` with a teacher that is only data or a mapping below
    `min_confidence`), where the Q-network is pre-trained on demonstrations; a student built for weight copies
    keeps SB3's network. Other algorithms ignore it."""
    critic_updates: int = 400
    """Minibatch steps of the critic warm-up."""
    distill_epochs: int = 1
    """On-policy: passes of the distillation step over each rollout's (student) states."""
    distill_steps_ratio: float | None = None
    """Off-policy: distillation gradient steps per SB3 gradient step. None: 1.0 for DQN (QDagger's term on
    every update; fewer lets the TD steps overturn a distilled greedy policy), 0.25 for SAC/TD3."""
    distill_batch_size: int | None = None
    """Minibatch of the distillation step (None: the algorithm's batch size)."""
    instance_ratio: float = 0.5
    """Off-policy: initial share of teacher transitions in each replay batch (RLPD's symmetric 50/50)."""
    demo_steps: int = 2000
    """Most teacher transitions collected in the target (MappedTeacher roll-outs) for instance transfer."""
    demo_noise: float | None = None
    """DART noise on the teacher's executed actions while demonstrations are collected (Laskey et al. 2017):
    Gaussian of this many half-ranges (continuous) or this chance of a random action (discrete); the teacher's
    own actions stay the imitation labels. None: 0.5 for a continuous action space, 0 for a discrete one."""
    offline_updates: int = 4000
    """Instance's offline phase: least minibatch steps of behaviour cloning, and of the critic warm-up, on the
    demonstrations (no env step)."""
    demo_fraction: float = 0.1
    """...and at most this fraction of total_timesteps: every demonstration step is a target env step the
    run pays for, so a short run gets fewer (a 5,000-step run spent 2,000 on demonstrations before)."""
    margin_loss: bool = True
    """DQN students in instance mode: DQfD's large-margin loss on the teacher's actions."""
    margin: float = 0.8
    """DQfD margin l(a_E, a) for a != a_E."""
    demo_regression: bool = True
    """SAC/TD3 students in instance mode: the actor's mean regressed onto the teacher's actions in the
    demonstrations (the off-policy twin of DAPG's term; rltransfer.transfer.imitation)."""
    instance_pretrain: bool = True
    """Instance mode entered before the first RL update: fit the student's policy to the demonstrations'
    actions and its critic to their returns first (rltransfer.transfer.offline)."""
    dapg_weight: float = 0.1
    """On-policy instance mode: initial weight λ0 of the demonstration log-likelihood term (DAPG)."""
    probe_episodes: int = 5
    """Zero-shot episodes of the mapped teacher and of a random policy measured at the start."""
    window: int | None = None
    """Controller window in env steps (None: total_timesteps / 40, at least 500)."""
    patience: int = 3
    """Windows of stalled or falling signals before the controller switches."""
    tolerance: float = 0.05
    """Student counts as caught up when G_student ≥ G_teacher − tolerance·|G_teacher − G_random|."""
    useful_margin: float = 0.1
    """The teacher helps only if G_teacher − G_random > useful_margin·max(|G_random|, |G_teacher|, 1)."""
    min_confidence: float = 0.3
    """Below this mapping confidence, auto prefers instance over representation transfer."""
    agreement_target: float = 0.9
    """Agreement at which distillation counts as done rather than stalled."""
    max_switches: int = 4
    """Most mode switches auto makes in one run (against oscillation)."""
    jsrl_stages: int = 10
    """JSRL: curriculum stages from the full guide horizon down to 0."""
    jsrl_tolerance: float = 0.05
    """JSRL: advance when the moving return ≥ best − tolerance·|best| (Uchendu et al. 2023)."""
    jsrl_window: int = 10
    """JSRL: episodes in the moving return."""

    def __post_init__(self) -> None:
        # names are case-insensitive as everywhere in rltransfer (registry.lookup); stored lower-case, as
        # the controller compares them ("Instance" used to pass here and fail later, "LINEAR" acted as constant)
        for name, choices, what in (
            ("mode", MODES, "transfer mode"),
            ("weight_schedule", WEIGHT_SCHEDULES, "weight schedule"),
        ):
            lookup(dict.fromkeys(choices, None), getattr(self, name), what=what)
            object.__setattr__(self, name, getattr(self, name).lower())
        object.__setattr__(self, "mode", Mode(self.mode))
        if self.critic_layer_norm not in (None, True, False):
            raise ConfigError(
                f"critic_layer_norm must be true, false or null, got {self.critic_layer_norm!r}",
                fix='pass e.g. {"critic_layer_norm": false}',
            )
        _check_range("weight", self.weight, 0.0, 100.0)
        _check_range("decay_fraction", self.decay_fraction, 1e-6, 1.0)
        _check_range("temperature", self.temperature, 1e-6, 100.0)
        _check_range("dqn_distill_coef", self.dqn_distill_coef, 0.0, 100.0)
        _check_range("hidden_coef", self.hidden_coef, 0.0, 100.0)
        _check_range("hidden_stage_fraction", self.hidden_stage_fraction, 1e-6, 1.0)
        if self.distill_steps_ratio is not None:
            _check_range("distill_steps_ratio", self.distill_steps_ratio, 0.0, 10.0)
        _check_range("init_hold_fraction", self.init_hold_fraction, 0.0, 1.0)
        _check_range("instance_ratio", self.instance_ratio, 0.0, 1.0)
        _check_range("demo_fraction", self.demo_fraction, 1e-6, 1.0)
        _check_range("margin", self.margin, 0.0, 100.0)
        _check_range("dapg_weight", self.dapg_weight, 0.0, 100.0)
        _check_range("tolerance", self.tolerance, 0.0, 1.0)
        _check_range("useful_margin", self.useful_margin, 0.0, 10.0)
        _check_range("min_confidence", self.min_confidence, 0.0, 1.0)
        _check_range("agreement_target", self.agreement_target, 0.0, 1.0)
        _check_range("init_fraction", self.init_fraction, 0.0, 1.0)
        _check_range("init_learning_rate", self.init_learning_rate, 1e-8, 1.0)
        _check_range("init_agreement", self.init_agreement, 0.0, 1.0)
        _check_range("init_action_std", self.init_action_std, 1e-3, 1.0)
        _check_range("jsrl_tolerance", self.jsrl_tolerance, 0.0, 1.0)
        if self.demo_noise is not None:
            _check_range("demo_noise", self.demo_noise, 0.0, 1.0)
        _check_range("offline_updates", self.offline_updates, 0, MAX_INIT_COUNT)
        for name in _COUNTS:
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}", fix=f"set {name} ≥ 1")
        for name in ("init_steps", "init_round_steps", "init_updates", "critic_updates"):
            if int(getattr(self, name)) > MAX_INIT_COUNT:
                raise ConfigError(
                    f"{name} must be at most {MAX_INIT_COUNT:,}, got {getattr(self, name)}", fix=f"lower {name}"
                )
        if self.max_switches < 0:
            raise ConfigError(f"max_switches must be ≥ 0, got {self.max_switches}", fix="set max_switches ≥ 0")
        if self.window is not None and self.window < 1:
            raise ConfigError(f"window must be positive, got {self.window}", fix="set window ≥ 1 or None")
        if self.distill_batch_size is not None and self.distill_batch_size < 1:
            raise ConfigError("distill_batch_size must be positive", fix="set it ≥ 1 or None")

    def demo_noise_for(self, action_space: gym.Space[Any]) -> float:
        """The DART noise of demonstrations collected in a target with this action space (demo_noise)."""
        if self.demo_noise is not None:
            return float(self.demo_noise)
        return CONTINUOUS_DEMO_NOISE if isinstance(action_space, gym.spaces.Box) else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> TransferConfig:
        """Build from a dict (e.g. TrainConfig.transfer); unknown keys raise ConfigError."""
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"unknown transfer option {unknown[0]!r}.{suggest(unknown[0], known)}",
                fix=f"use only {sorted(known)}",
            )
        return cls(**data)


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= float(value) <= high:
        raise ConfigError(f"{name} must be in [{low}, {high}], got {value}", fix=f"set {name} inside that range")
