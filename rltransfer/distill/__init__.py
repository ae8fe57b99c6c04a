"""Distil a (general or large) teacher into a small task-specific student, deployed only past a gate.

The teacher answers many states of the target task; the student, a small SB3 policy of the teacher's
algorithm family, learns those answers: cross-entropy to the teacher's action probabilities (softmax of
the logits for PPO/A2C, softmax(Q/τ) for DQN, Rusu et al. 2016) or regression to its deterministic
action (continuous). States come from teacher rollouts, then DAgger rounds (Ross et al., 2011) in which
the student acts and the teacher labels what it visits. The student is deployed (zoo card + safetensors
+ ONNX) only when it agrees with the teacher on held-out states and keeps its return on the task.

Before any of that, a few probe episodes check that the mapped teacher beats a random policy (searching
the mapping when identity does not), so a useless pairing fails in seconds.

Modules: `report` (settings, gates, report), `learning` (labels, rollouts, supervised fit), `probe` (the
teacher check), `core` (`distill`), `deploy` (the student's zoo
folder), `export` (ONNX export and latency).
"""

from rltransfer.distill.core import distill
from rltransfer.distill.deploy import ONNX_FILE, REPORT_FILE
from rltransfer.distill.probe import TeacherCheck, check_teacher
from rltransfer.distill.report import (
    DistillConfig,
    DistillGateError,
    DistillReport,
    Gate,
    RoundStats,
    TeacherCheckError,
)

__all__ = [
    "ONNX_FILE",
    "REPORT_FILE",
    "DistillConfig",
    "DistillGateError",
    "DistillReport",
    "Gate",
    "RoundStats",
    "TeacherCheck",
    "TeacherCheckError",
    "check_teacher",
    "distill",
]
