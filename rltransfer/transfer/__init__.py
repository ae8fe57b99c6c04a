"""Transfer from a teacher into a student that trains with an ordinary SB3 algorithm.

Public API: TransferConfig; TransferPPO, TransferA2C, TransferDQN, TransferSAC, TransferTD3 (SB3
classes with `teacher=` and `transfer=`); transfer_algorithm(name); the method registry METHODS used
by `rltransfer.training.train_student`.
"""

from rltransfer.transfer.algorithms import (
    TRANSFER_ALGOS,
    TransferA2C,
    TransferDQN,
    TransferPPO,
    TransferSAC,
    TransferTD3,
    transfer_algorithm,
)
from rltransfer.transfer.config import MODES, TransferConfig

__all__ = [
    "MODES",
    "TRANSFER_ALGOS",
    "TransferA2C",
    "TransferConfig",
    "TransferDQN",
    "TransferPPO",
    "TransferSAC",
    "TransferTD3",
    "transfer_algorithm",
]
