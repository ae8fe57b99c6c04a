"""Name → object lookups with a "did you mean …?" hint (as rl_zoo3's ALGOS and Gymnasium's registry)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import TypeVar

from rltransfer.errors import UnknownNameError

T = TypeVar("T")


def suggest(name: str, candidates: Iterable[str]) -> str:
    """Return ' Did you mean "x"?' for the closest candidate, or an empty string."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.5)
    return f' Did you mean "{close[0]}"?' if close else ""


def lookup(table: Mapping[str, T], name: str, *, what: str) -> T:
    """Look `name` up in `table`; unknown names raise UnknownNameError listing the choices."""
    key = name.lower()
    if key in table:
        return table[key]
    choices = ", ".join(sorted(table))
    raise UnknownNameError(
        f'unknown {what} "{name}".{suggest(key, table)}',
        fix=f"choose one of: {choices}",
    )
