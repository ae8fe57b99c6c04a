"""rltransfer: make a new reinforcement-learning task learn faster by reusing trained policies."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
