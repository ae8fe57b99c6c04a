"""One exception hierarchy for every problem a user can cause.

Each error carries the problem and the fix, so the command line prints one clear line and exits 2.
"""

from __future__ import annotations


class RLTransferError(Exception):
    """Base class: a problem with the user's input or files, not a bug in rltransfer."""

    exit_code = 2

    def __init__(self, problem: str, *, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(self.line())

    def line(self) -> str:
        """The one line shown to a person: the problem, then the fix."""
        return f"{self.problem} — {self.fix}" if self.fix else self.problem


class UnknownEnvError(RLTransferError):
    """An environment id that Gymnasium does not know."""


class EnvKwargsError(RLTransferError):
    """Environment kwargs that do not parse or that the environment rejects."""


class UnknownTeacherError(RLTransferError):
    """A teacher name or path that is not in the zoo."""


class ChecksumError(RLTransferError):
    """Teacher weights whose sha256 differs from the one on the card (tampered or corrupt)."""


class CardFormatError(RLTransferError):
    """A teacher card that is missing, malformed, or of a newer format version."""


class ForeignFileError(RLTransferError):
    """A file that is not a teacher (e.g. a pickled SB3 zip where safetensors + card were expected)."""


class RecipeError(RLTransferError):
    """A training recipe (YAML) that is malformed or names unknown things."""


class UnknownNameError(RLTransferError):
    """An unknown algorithm, method, mode or other registered name."""


class IncompatibleSpacesError(RLTransferError):
    """Teacher and student spaces that no mapping bridges."""


class ConfigError(RLTransferError):
    """A configuration value out of its allowed range."""


class EntryNameError(ConfigError):
    """A zoo entry name that is not a plain folder name (empty, a path, or odd characters)."""


class DatasetError(RLTransferError):
    """A dataset of trajectories (Minari or transitions.npz) that is missing, malformed or filtered to nothing."""


class OutputError(RLTransferError):
    """An output location that cannot be written (full disk, permissions, existing run)."""


class GateFailedError(RLTransferError):
    """A distilled student that did not pass the deployment gate."""

    exit_code = 1


class BrokenTeacherWarning(UserWarning):
    """A teacher skipped by `zoo list` or `rank` because its card or weights do not load."""


class RunFailedError(RLTransferError):
    """A run that failed while it ran: an env that raised or returned NaN/inf, or a crash (traceback in error.txt)."""

    exit_code = 1
