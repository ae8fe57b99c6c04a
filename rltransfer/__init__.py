"""rltransfer: make a new reinforcement-learning task learn faster by reusing trained policies.

Importing the package registers the ``rltransfer/`` Gymnasium ids (:mod:`rltransfer.envs`). The names
below are the short public API; each loads its module (torch, SB3) on first use, so ``import
rltransfer`` stays cheap:

- :func:`rank_teachers`, :class:`Ranking`: which zoo teacher to start from, without training.
- :func:`load_teacher`, :class:`Teacher`: a zoo entry (card + safetensors weights).
- :class:`TransferPPO` (and A2C, DQN, SAC, TD3), :class:`TransferConfig`: SB3 with transfer.
- :func:`train_student`, :class:`TrainConfig`: one run folder, as ``rltransfer train`` writes it.
- :class:`DistillConfig`: settings of :func:`rltransfer.distill.distill`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rltransfer import envs  # registers the rltransfer/ Gymnasium ids

if TYPE_CHECKING:
    from rltransfer.distill import DistillConfig
    from rltransfer.selection import Ranking, rank_teachers
    from rltransfer.training import TrainConfig, train_student
    from rltransfer.transfer import (
        TransferA2C,
        TransferConfig,
        TransferDQN,
        TransferPPO,
        TransferSAC,
        TransferTD3,
    )
    from rltransfer.zoo import Teacher, load_teacher

__version__ = "0.1.0"

_EXPORTS = {
    "rank_teachers": "rltransfer.selection",
    "Ranking": "rltransfer.selection",
    "load_teacher": "rltransfer.zoo",
    "Teacher": "rltransfer.zoo",
    "TransferConfig": "rltransfer.transfer",
    "TransferPPO": "rltransfer.transfer",
    "TransferA2C": "rltransfer.transfer",
    "TransferDQN": "rltransfer.transfer",
    "TransferSAC": "rltransfer.transfer",
    "TransferTD3": "rltransfer.transfer",
    "train_student": "rltransfer.training",
    "TrainConfig": "rltransfer.training",
    "DistillConfig": "rltransfer.distill",
}
"""Public name → the module that defines it (imported on first access)."""

__all__ = [
    "DistillConfig",
    "Ranking",
    "Teacher",
    "TrainConfig",
    "TransferA2C",
    "TransferConfig",
    "TransferDQN",
    "TransferPPO",
    "TransferSAC",
    "TransferTD3",
    "__version__",
    "envs",
    "load_teacher",
    "rank_teachers",
    "train_student",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rltransfer' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
