"""The run-folder contract: every file a run writes, and how to read and write them.

A run folder holds `config.json` (resolved), `command.txt`, `episodes.csv` (timesteps,return,length
per finished training episode), `decisions.jsonl` (transfer decisions), `tb/` (TensorBoard events),
`student/` (the final student as a zoo teacher), `checkpoint/` while interrupted and, last,
`result.json`, whose presence marks the run as finished. A failed run writes `error.txt` (the one-line
error, then the traceback) instead.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import json
import os
import shutil
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rltransfer.errors import OutputError
from rltransfer.io import atomic_write_json, atomic_write_text, output_error

CONFIG_FILE = "config.json"
COMMAND_FILE = "command.txt"
EPISODES_FILE = "episodes.csv"
DECISIONS_FILE = "decisions.jsonl"
RESULT_FILE = "result.json"
ERROR_FILE = "error.txt"
TB_DIR = "tb"
CHECKPOINT_DIR = "checkpoint"
CHECKPOINT_STATE = "state.json"
"""The file inside CHECKPOINT_DIR whose presence makes a checkpoint complete."""
STUDENT_DIR = "student"
RUN_ENTRIES = (
    CONFIG_FILE,
    COMMAND_FILE,
    EPISODES_FILE,
    DECISIONS_FILE,
    RESULT_FILE,
    ERROR_FILE,
    TB_DIR,
    CHECKPOINT_DIR,
    STUDENT_DIR,
)
"""What a run writes into its folder (plus hidden temporary siblings of these while writing)."""


def read_episodes(run_dir: str | Path) -> np.ndarray:
    """episodes.csv of a run as an (n, 3) float array: timesteps, return, length."""
    path = Path(run_dir) / EPISODES_FILE
    if not path.exists():
        return np.zeros((0, 3))
    rows = [row for row in csv.reader(path.open(encoding="utf-8"))][1:]
    return np.asarray([[float(v) for v in row] for row in rows if len(row) == 3], dtype=np.float64).reshape(-1, 3)


def read_config(run_dir: str | Path) -> Any:
    """The parsed config.json of a run (OSError or ValueError when missing or not JSON)."""
    return json.loads((Path(run_dir) / CONFIG_FILE).read_text(encoding="utf-8"))


def read_result(run_dir: str | Path) -> Any:
    """The parsed result.json of a finished run (OSError or ValueError when missing or not JSON)."""
    return json.loads((Path(run_dir) / RESULT_FILE).read_text(encoding="utf-8"))


def is_finished(run_dir: str | Path) -> bool:
    """True when the run wrote result.json (finished runs are skipped on resume)."""
    return (Path(run_dir) / RESULT_FILE).is_file()


def has_checkpoint(run_dir: str | Path) -> bool:
    """True when run_dir holds a complete checkpoint."""
    return (Path(run_dir) / CHECKPOINT_DIR / CHECKPOINT_STATE).is_file()


def write_run_header(run_dir: Path, config: dict[str, Any], command: str) -> None:
    """config.json (from TrainConfig.to_dict()) and command.txt, written atomically before training starts."""
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(run_dir / CONFIG_FILE, config)
    atomic_write_text(run_dir / COMMAND_FILE, command + "\n")


def run_folder_state(run_dir: str | Path) -> str:
    """What a run folder holds: "empty", "finished", "interrupted", "failed", "unreadable" or "foreign".

    "interrupted" has a checkpoint to resume; "failed" stopped before its first checkpoint (it can be run
    again); "unreadable" has a config.json that is not a run's; "foreign" holds files that are not a run's.
    """
    path = Path(run_dir)
    if not path.is_dir() or not any(path.iterdir()):
        return "empty"
    if is_finished(path):
        return "finished"
    if has_checkpoint(path):
        return "interrupted"
    if (path / CONFIG_FILE).is_file():
        try:
            data = read_config(path)
        except (OSError, ValueError):
            return "unreadable"
        return "failed" if isinstance(data, dict) and {"env_id", "method", "seed"} <= set(data) else "unreadable"
    return "failed" if all(_is_run_entry(entry.name) for entry in path.iterdir()) else "foreign"


def _is_run_entry(name: str) -> bool:
    return name in RUN_ENTRIES or any(name.startswith(f".{entry}.") for entry in RUN_ENTRIES)


def clear_run_folder(run_dir: str | Path) -> None:
    """Remove everything a run wrote into `run_dir` (other files are kept): a fresh start."""
    path = Path(run_dir)
    if not path.is_dir():
        return
    for entry in path.iterdir():
        if _is_run_entry(entry.name):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


@contextlib.contextmanager
def exclusive_run_folder(run_dir: str | Path) -> Iterator[Path]:
    """Create `run_dir` and hold an exclusive lock on it while the block runs (another process is refused)."""
    path = Path(run_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise output_error(path, exc) from exc
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise OutputError(
                f"{path} is in use by another rltransfer process", fix="wait for it to finish, or choose another --out"
            ) from exc
        yield path
    finally:
        os.close(handle)


def write_error(run_dir: Path, line: str) -> None:
    """Write run_dir/error.txt: the one-line error, then the traceback being handled (best effort)."""
    with contextlib.suppress(OSError):
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / ERROR_FILE).write_text(f"{line}\n\n{traceback.format_exc()}", encoding="utf-8")


def read_error(run_dir: str | Path) -> str:
    """The one-line error a failed run left in error.txt ("" when there is none)."""
    path = Path(run_dir) / ERROR_FILE
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError):
        return ""
    if not lines:
        return ""
    return lines[-1] if lines[0].startswith("Traceback") else lines[0]
