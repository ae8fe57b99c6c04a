"""Provenance of a results file: the command that ran, the code, the machine it ran on and when.

Every header (summary.md/json, the benchmark reports) takes these three facts from here, so the
files agree on their format.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import platform
import shlex
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import torch


def command_line(program: str = "rltransfer") -> str:
    """The command that is running, its arguments shell-quoted (saved as command.txt in run folders)."""
    return " ".join([program, *(shlex.quote(a) for a in sys.argv[1:])])


def machine_description() -> str:
    """`platform` facts about this machine: OS, CPU, cores, Python, torch."""
    return (
        f"{platform.platform()}, {platform.machine()} {platform.processor() or 'CPU'}, "
        f"{os.cpu_count()} CPU cores, Python {platform.python_version()}, torch {torch.__version__} (CPU)"
    )


def source_revision() -> str:
    """The git commit of the working directory's checkout, "+changes" when it has uncommitted ones.

    So a results file built up over several invocations (one suite target at a time) says which code
    made each part. "not a git checkout" where there is none.
    """
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout"
    return commit + ("+changes" if status else "")


def now_utc() -> str:
    """The current date and time, UTC, to the second."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


@functools.cache
def code_fingerprint() -> str:
    """A hash of the Python sources that train and define the targets (the rltransfer and envs packages).

    Each run records it in result.json, so a grid reuses a finished run only under the code that trained
    it: a git revision says nothing of uncommitted changes or of an installed copy.
    """
    envs = importlib.util.find_spec("rltransfer.envs")
    roots = [Path(__file__).resolve().parents[1]]
    if envs is not None and envs.origin is not None:
        roots.append(Path(envs.origin).resolve().parent)
    digest = hashlib.sha256()
    for root in dict.fromkeys(roots):
        for source in sorted(root.rglob("*.py")):
            digest.update(source.relative_to(root).as_posix().encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:12]
