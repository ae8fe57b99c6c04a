"""Name → object lookups with a "did you mean …?" hint (as rl_zoo3's ALGOS and Gymnasium's registry)."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

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


def lazy_exports(package: str, exports: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) importing ``package.<exports[name]>`` on first access.

    Keeps ``import package`` cheap (no torch or SB3) while ``package.Name`` still works; the value is
    cached in the module's `namespace`, so later look-ups skip the hook.
    """

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
        namespace[name] = value
        return value

    return __getattr__
