"""Transfer from a teacher into a student that trains with an ordinary SB3 algorithm.

Public API: TransferConfig and Mode; TransferPPO, TransferA2C, TransferDQN, TransferSAC, TransferTD3
(SB3 classes with `teacher=` and `transfer=`); transfer_algorithm(name); the method registry METHODS
used by `rltransfer.training.train_student`. Names load on first use, so listing methods and modes
(`rltransfer --help`) does not import torch.
"""

from __future__ import annotations

from rltransfer.registry import lazy_exports

_EXPORTS = {
    "TRANSFER_ALGOS": "algorithms",
    "TransferA2C": "algorithms",
    "TransferDQN": "algorithms",
    "TransferPPO": "algorithms",
    "TransferSAC": "algorithms",
    "TransferTD3": "algorithms",
    "transfer_algorithm": "algorithms",
    "MODES": "config",
    "Mode": "config",
    "TransferConfig": "config",
    "METHODS": "methods",
    "Method": "methods",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS, globals())
