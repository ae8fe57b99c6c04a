"""Atomic file output: a result is either fully written or not there at all."""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rltransfer.errors import OutputError


def output_error(path: Path, exc: OSError) -> OutputError:
    """The OutputError of an OSError while writing `path` (disk full, permissions, other)."""
    if exc.errno == errno.ENOSPC:
        return OutputError(f"disk full while writing {path}", fix="free some space and run again")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return OutputError(f"cannot write {path} ({exc.strerror})", fix="choose a writable --out")
    return OutputError(f"cannot write {path} ({exc.strerror or exc})", fix="check the output path")


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` via a temporary sibling and os.replace (no half-written file)."""
    target = Path(path)
    tmp_name = ""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except OSError as exc:
        if tmp_name:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
        raise output_error(target, exc) from exc


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write text (UTF-8) atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def json_safe(value: Any) -> Any:
    """`value` with every non-finite float (NaN, ±inf) replaced by None, so it is strict JSON (null)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def strict_json(data: Any, *, indent: int | None = None, sort_keys: bool = False) -> str:
    """Strict JSON text of `data` (NaN and infinities as null, never the non-standard `NaN`)."""
    return json.dumps(json_safe(data), indent=indent, sort_keys=sort_keys, allow_nan=False)


def atomic_write_json(path: str | os.PathLike[str], data: Any, *, sort_keys: bool = True) -> None:
    """Write strict JSON (indented, sorted keys unless told otherwise, trailing newline) atomically."""
    atomic_write_text(path, strict_json(data, indent=2, sort_keys=sort_keys) + "\n")


def append_json_line(path: str | os.PathLike[str], row: dict[str, Any]) -> None:
    """Append one JSON object as one line of a JSON Lines file (decisions.jsonl), strict JSON."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(strict_json(row) + "\n")


def finite_or_none(value: float | None) -> float | None:
    """A float for JSON: non-finite and None become None."""
    return float(value) if value is not None and math.isfinite(float(value)) else None


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that replaces `path` only if the block finishes without error.

    An existing `path` is kept untouched when the block fails; with overwrite=False an existing
    non-empty `path` raises OutputError before anything is written.
    """
    target = Path(path)
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise OutputError(f"{target} already exists", fix="pass --force or choose another name")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes 0700; a deployed folder gets normal permissions
    except OSError as exc:
        raise output_error(target, exc) from exc
    try:
        yield staging
        if target.exists():
            backup = target.with_name(f".{target.name}.old")
            shutil.rmtree(backup, ignore_errors=True)
            os.replace(target, backup)
            os.replace(staging, target)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(staging, target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise output_error(target, exc) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
