"""What a distillation measured and decided: its settings, its gates and its report."""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

from rltransfer.dagger import RoundStats
from rltransfer.distill.export import OnnxCheck
from rltransfer.errors import ConfigError, GateFailedError

MAX_HIDDEN_SIZE = 4096
"""Widest student layer: a distilled student is meant to be small (and 100000-wide layers never finish)."""
MAX_HIDDEN_LAYERS = 8
MAX_SAMPLES = 1_000_000
"""Labelled states per round."""
MAX_DAGGER_ROUNDS = 100
MAX_STATES = 10_000_000
"""Labelled states in all rounds together (they are kept in memory and fitted at once)."""
MAX_EVAL_EPISODES = 10_000
MAX_SEED = 2**32 - 1


@dataclass(kw_only=True, frozen=True)
class DistillConfig:
    """Settings of one distillation.

    Attributes:
        hidden: Hidden layer sizes of the student's acting network (and of its untrained critic).
        threshold: Agreement the student needs on held-out states (0..1; above 1 can never pass).
        return_threshold: Fraction of the teacher's return (normalised by a random policy) the student
            needs; None means the same as `threshold`.
        tolerance: Continuous actions agree when |Δ| ≤ tolerance × (high − low) on every dimension.
        samples: Labelled states collected per round (teacher rollouts first, then each DAgger round).
        dagger_rounds: Rounds in which the student acts and the teacher labels the visited states.
        eval_episodes: Episodes for each return figure (teacher, student, random), at least 20.
        seed: Seed of rollouts, training and evaluation.
        updates: Minibatch gradient steps on the aggregated data after each round.
        batch_size: Minibatch size.
        learning_rate: Adam learning rate.
        temperature: τ of softmax(Q/τ) for DQN teachers (and the student's Q/τ logits).
        exploration: Probability of a random action in the teacher's rollouts (wider state coverage).
        transitions: Student transitions stored with a deployed student (for selection), 0 for none.
        latency_calls: Batch-1 calls whose median is the reported latency (at least 1000).
    """

    hidden: tuple[int, ...] = (32, 32)
    threshold: float = 0.95
    return_threshold: float | None = None
    tolerance: float = 0.05
    samples: int = 4000
    dagger_rounds: int = 4
    eval_episodes: int = 20
    seed: int = 0
    updates: int = 1500
    batch_size: int = 256
    learning_rate: float = 3e-3
    temperature: float = 0.01
    exploration: float = 0.1
    transitions: int = 2000
    latency_calls: int = 1000

    def __post_init__(self) -> None:
        def bad(what: str, fix: str) -> ConfigError:
            return ConfigError(what, fix=fix)

        if not self.hidden or any(int(size) < 1 for size in self.hidden):
            raise bad(f"hidden sizes {list(self.hidden)} must be positive integers", "write e.g. --hidden 32,32")
        if len(self.hidden) > MAX_HIDDEN_LAYERS or any(int(size) > MAX_HIDDEN_SIZE for size in self.hidden):
            raise bad(
                f"hidden sizes {list(self.hidden)} are too large for a student "
                f"(at most {MAX_HIDDEN_LAYERS} layers of at most {MAX_HIDDEN_SIZE})",
                "write e.g. --hidden 32,32",
            )
        for name in ("threshold", "return_threshold"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise bad(f"{name} {value} must be a positive number", "use e.g. 0.95")
        if self.threshold > 1:
            warnings.warn(f"threshold {self.threshold} > 1: agreement can never reach it", stacklevel=3)
        if not 0 < self.tolerance < 1:
            raise bad(f"tolerance {self.tolerance} must be in (0, 1)", "use e.g. 0.05 (5% of the action range)")
        if self.samples < 100 or self.dagger_rounds < 0:
            raise bad(
                f"samples {self.samples} and dagger rounds {self.dagger_rounds} too small",
                "use samples >= 100 and dagger rounds >= 0",
            )
        if self.samples > MAX_SAMPLES or self.dagger_rounds > MAX_DAGGER_ROUNDS:
            raise bad(
                f"samples {self.samples} and dagger rounds {self.dagger_rounds} too large",
                f"use samples <= {MAX_SAMPLES:,} and dagger rounds <= {MAX_DAGGER_ROUNDS}",
            )
        if self.samples * (self.dagger_rounds + 1) > MAX_STATES:
            raise bad(
                f"samples × (dagger rounds + 1) = {self.samples * (self.dagger_rounds + 1):,} labelled states, "
                f"more than {MAX_STATES:,}",
                "use fewer --samples or --dagger-rounds",
            )
        if self.eval_episodes < 20:
            raise bad(f"eval episodes {self.eval_episodes} < 20", "use at least 20 evaluation episodes")
        if self.eval_episodes > MAX_EVAL_EPISODES:
            raise bad(f"eval episodes {self.eval_episodes} > {MAX_EVAL_EPISODES:,}", "use e.g. 20 evaluation episodes")
        if not 0 <= self.seed <= MAX_SEED:
            raise bad(f"seed {self.seed} outside 0..{MAX_SEED}", "use e.g. --seed 0")
        if self.updates < 1 or self.batch_size < 1 or not self.learning_rate > 0 or not self.temperature > 0:
            raise bad("updates, batch size, learning rate and temperature must be positive", "fix the setting")
        if not 0 <= self.exploration < 1 or self.transitions < 0 or self.latency_calls < 1000:
            raise bad("exploration must be in [0, 1), transitions >= 0, latency calls >= 1000", "fix the setting")

    @property
    def required_return_ratio(self) -> float:
        """The return gate's threshold."""
        return self.threshold if self.return_threshold is None else self.return_threshold


@dataclass(kw_only=True, frozen=True)
class Gate:
    """One deployment check: the measured value, what was required, and by how much it fell short."""

    name: str
    value: float
    required: float
    passed: bool
    detail: str

    @property
    def shortfall(self) -> float:
        """How far below the requirement the value is (0 when passed, nan when unmeasurable)."""
        return 0.0 if self.passed else self.required - self.value


@dataclass(kw_only=True, frozen=True)
class DistillReport:
    """What a distillation measured and decided.

    Attributes:
        teacher: Teacher name.
        student: Student name (its folder in the output zoo).
        env_id: Target task.
        env_kwargs: Its gym.make kwargs.
        algo: Algorithm family of teacher and student.
        mapping: One-line description of the teacher → target mapping.
        hidden: Student hidden sizes.
        agreement: Share of held-out states (teacher's and student's evaluation episodes) where the
            student acts as the teacher.
        agreement_teacher_states: Agreement on the teacher's evaluation states only.
        agreement_student_states: Agreement on the student's evaluation states only.
        held_out_states: Number of held-out states.
        teacher_return: Mean return of the (mapped) teacher on the target.
        student_return: Mean return of the student on the same episodes (same seeds).
        random_return: Mean return of a uniformly random policy on the same episodes.
        return_ratio: (student − random) / (teacher − random); nan when the teacher is no better than random.
        eval_episodes: Episodes behind each return.
        teacher_params: Acting-network parameters of the teacher.
        student_params: Acting-network parameters of the student.
        param_ratio: student_params / teacher_params.
        params_counted: What the parameter counts include.
        latency_ms: Median batch-1 CPU latency (ms): teacher_torch, student_torch, student_onnx.
        gates: The deployment checks in order: agreement, return, onnx; preceded by a failed "teacher" gate
            when the teacher check failed and distill was called with check=False.
        passed: True when every gate passed and the student was deployed (or would be, without `out`).
        rounds: Per-round training figures.
        env_steps: Target env steps spent (teacher check and mapping search, rollouts, evaluation, stored
            transitions).
        seconds: Wall time.
        onnx_check: onnxruntime vs torch comparison (empty when not exported).
        deployed: Paths written (the student's zoo folder and its ONNX file); empty on failure.
        config: The settings used.
        teacher_check: The probe of the mapped teacher before any training (rltransfer.distill.probe):
            every mapping tried, its probe return against random's, and the env steps it cost.
    """

    teacher: str
    student: str
    env_id: str
    env_kwargs: dict[str, Any]
    algo: str
    mapping: str
    hidden: tuple[int, ...]
    agreement: float
    agreement_teacher_states: float
    agreement_student_states: float
    held_out_states: int
    teacher_return: float
    student_return: float
    random_return: float
    return_ratio: float
    eval_episodes: int
    teacher_params: int
    student_params: int
    param_ratio: float
    params_counted: str
    latency_ms: dict[str, float]
    gates: tuple[Gate, ...]
    passed: bool
    rounds: tuple[RoundStats, ...]
    env_steps: int
    seconds: float
    onnx_check: dict[str, Any] = field(default_factory=dict)
    deployed: tuple[str, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)
    teacher_check: dict[str, Any] = field(default_factory=dict)

    @property
    def failed_gates(self) -> tuple[Gate, ...]:
        """The gates that did not pass."""
        return tuple(gate for gate in self.gates if not gate.passed)

    def failure_line(self) -> str:
        """One line naming each failed gate and by how much it fell short."""
        return "; ".join(gate.detail for gate in self.failed_gates)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (non-finite floats become None)."""
        data = asdict(self)
        data["gates"] = [{**asdict(gate), "shortfall": gate.shortfall} for gate in self.gates]
        return finite(data)


def finite(value: Any) -> Any:
    """`value` with every non-finite float (nested in dicts, lists, tuples) replaced by None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


class TeacherCheckError(GateFailedError):
    """The mapped teacher did no better than random in its probe episodes: nothing was trained or written.

    A failure found by measuring at run time, like the return gate it anticipates, hence exit code 1.
    `check` holds every mapping tried (TeacherCheck.to_dict).
    """

    def __init__(self, problem: str, *, fix: str, check: dict[str, Any]) -> None:
        self.check = check
        super().__init__(problem, fix=fix)


class DistillGateError(GateFailedError):
    """The student failed the deployment gate; `report` holds every figure (nothing was deployed)."""

    def __init__(self, report: DistillReport) -> None:
        self.report = report
        super().__init__(
            f"student not deployed: {report.failure_line()}",
            fix="use a larger --hidden, more --samples or --dagger-rounds, or a lower --threshold",
        )


def return_gate(teacher: float, student: float, random: float, required: float) -> tuple[float, Gate]:
    """(ratio, gate) with ratio = (student − random) / (teacher − random), sound for negative returns."""
    gap = teacher - random
    if not gap > 1e-9 * max(1.0, abs(teacher), abs(random)):
        detail = (
            f"the teacher does no better than a random policy on this task ({teacher:.4g} vs random {random:.4g}), "
            "so there is nothing to distil (try --mapping search or another teacher)"
        )
        return float("nan"), Gate(name="return", value=float("nan"), required=required, passed=False, detail=detail)
    ratio = (student - random) / gap
    needed = random + required * gap
    passed = ratio >= required
    detail = (
        f"return ratio {ratio:.3f} {'≥' if passed else '<'} {required:.3f} "
        f"(student {student:.4g}, needed {needed:.4g}, teacher {teacher:.4g}, random {random:.4g}"
        + ("" if passed else f"; short by {needed - student:.4g} return")
        + ")"
    )
    return ratio, Gate(name="return", value=ratio, required=required, passed=passed, detail=detail)


def teacher_gate(teacher: float, random: float, detail: str) -> Gate:
    """The teacher check as a gate (reported only when it failed and distill was asked not to raise)."""
    return Gate(name="teacher", value=teacher, required=random, passed=False, detail=detail)


def agreement_gate(agreement: float, required: float, states: int) -> Gate:
    """The agreement gate: held-out agreement ≥ the threshold."""
    passed = agreement >= required
    detail = f"agreement {agreement:.4f} {'≥' if passed else '<'} {required:.4f} on {states} held-out states"
    if not passed:
        detail += f" (short by {required - agreement:.4f})"
    return Gate(name="agreement", value=agreement, required=required, passed=passed, detail=detail)


def onnx_gate(check: OnnxCheck) -> Gate:
    """The ONNX gate: onnxruntime acts as torch on every checked state."""
    detail = (
        f"onnxruntime actions equal torch's on {check.matching}/{check.states} held-out states "
        f"(max |Δ| {check.max_abs_diff:.2g})"
    )
    value = check.matching / max(check.states, 1)
    return Gate(name="onnx", value=value, required=1.0, passed=check.passed, detail=detail)
