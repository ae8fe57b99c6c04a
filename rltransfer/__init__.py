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

from typing import TYPE_CHECKING

from rltransfer import envs  # registers the rltransfer/ Gymnasium ids
from rltransfer.registry import lazy_exports

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
    "rank_teachers": "selection",
    "Ranking": "selection",
    "load_teacher": "zoo",
    "Teacher": "zoo",
    "TransferConfig": "transfer",
    "TransferPPO": "transfer",
    "TransferA2C": "transfer",
    "TransferDQN": "transfer",
    "TransferSAC": "transfer",
    "TransferTD3": "transfer",
    "train_student": "training",
    "TrainConfig": "training",
    "DistillConfig": "distill",
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


__getattr__ = lazy_exports(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
