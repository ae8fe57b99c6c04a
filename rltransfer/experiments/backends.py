"""Where the runs of a grid execute: a local process pool, or Ray tasks (local Ray or a cluster).

Both backends call the same `execute_run` in a fresh process with one torch thread, so the same
seeds give the same episodes.csv on either. `execute_run` holds an exclusive lock on the run while it
trains (released by the kernel when the process dies), restarts an unfinished folder clean, and skips
a finished one: a grid killed even with SIGKILL, or two grids sharing an output folder, lose nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import multiprocessing
import os
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from rltransfer.errors import ConfigError, RLTransferError
from rltransfer.experiments.grid import RunSpec
from rltransfer.registry import lookup
from rltransfer.training import ERROR_FILE, is_finished, train_student


@dataclass(kw_only=True, frozen=True)
class RunOutcome:
    """What happened to one run.

    Attributes:
        key: The run's `<env>/<method>/seed<k>` name.
        status: "done" (trained now), "skipped" (already finished) or "failed".
        error: One line saying why it failed (empty otherwise).
        user_error: True when the failure is an RLTransferError (bad input), not a crash.
        wall_seconds: Time the run took in its worker.
        run_dir: The run folder.
    """

    key: str
    status: str
    error: str = ""
    user_error: bool = False
    wall_seconds: float = 0.0
    run_dir: str = ""


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # waits for a still-running owner (e.g. an orphan)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def single_thread() -> None:
    """One torch/BLAS thread per worker: k workers use k cores and runs are reproducible."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    torch.set_num_threads(1)


def execute_run(spec: RunSpec, command: str = "") -> RunOutcome:
    """Train one run unless it is finished; an unfinished folder is removed and the run restarted clean."""
    started = time.time()
    single_thread()
    with _exclusive(spec.lock_path):
        if is_finished(spec.run_dir):
            return RunOutcome(key=spec.key, run_dir=str(spec.run_dir), status="skipped")
        if spec.run_dir.exists():
            shutil.rmtree(spec.run_dir)
        try:
            train_student(spec.config, spec.run_dir, command=command)
        except RLTransferError as exc:
            return RunOutcome(
                key=spec.key,
                run_dir=str(spec.run_dir),
                status="failed",
                error=exc.line(),
                user_error=exc.exit_code == 2,  # RunFailedError (exit 1): a crash, traceback in error.txt
            )
        except Exception as exc:  # a crash in one run must not take the grid down
            _write_error(spec.run_dir, traceback.format_exc())
            line = f"{type(exc).__name__}: {exc}".splitlines()[0]
            return RunOutcome(
                key=spec.key,
                run_dir=str(spec.run_dir),
                status="failed",
                error=f"{line} (traceback in {spec.run_dir / ERROR_FILE})",
            )
    return RunOutcome(key=spec.key, run_dir=str(spec.run_dir), status="done", wall_seconds=time.time() - started)


def _write_error(run_dir: Path, text: str) -> None:
    with contextlib.suppress(OSError):
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / ERROR_FILE).write_text(text, encoding="utf-8")


def _die_with_parent(parent_pid: int) -> None:
    """Pool initializer: leave Ctrl-C to the grid process; on Linux, die when the grid process dies."""
    single_thread()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            pr_set_pdeathsig = 1
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(1)


class Backend(Protocol):
    """Runs a list of RunSpecs and yields their outcomes as they finish."""

    name: str
    workers: int

    def run(self, specs: Sequence[RunSpec], *, command: str = "") -> Iterator[RunOutcome]:
        """Yield one RunOutcome per spec, in completion order."""
        ...


class LocalBackend:
    """A pool of `workers` spawned processes (spawn: no forked torch or env state is shared)."""

    name = "local"

    def __init__(self, workers: int) -> None:
        if workers <= 0:
            raise ConfigError(f"--workers must be positive, got {workers}", fix="pass --workers K with K >= 1")
        self.workers = workers

    def run(self, specs: Sequence[RunSpec], *, command: str = "") -> Iterator[RunOutcome]:
        """Submit every run to the pool and yield outcomes as runs finish."""
        if not specs:
            return
        pool = ProcessPoolExecutor(
            max_workers=min(self.workers, len(specs)),
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_die_with_parent,
            initargs=(os.getpid(),),
        )
        futures: dict[Future[RunOutcome], RunSpec] = {}
        try:
            futures = {pool.submit(execute_run, spec, command): spec for spec in specs}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield _result(future, futures[future])
        finally:
            interrupted = _interrupted()
            if interrupted:  # Ctrl-C or a closed generator: stop the workers now (their runs restart clean)
                for process in list((getattr(pool, "_processes", None) or {}).values()):
                    with contextlib.suppress(Exception):
                        process.kill()
            pool.shutdown(wait=not interrupted, cancel_futures=True)


def _interrupted() -> bool:
    exc = sys.exc_info()[1]
    return isinstance(exc, (KeyboardInterrupt, GeneratorExit, SystemExit))


def _result(future: Future[RunOutcome], spec: RunSpec) -> RunOutcome:
    try:
        return future.result()
    except BrokenProcessPool:
        return RunOutcome(
            key=spec.key,
            run_dir=str(spec.run_dir),
            status="failed",
            error="its worker process died (out of memory or killed)",
        )


class RayBackend:
    """The same runs as Ray tasks (1 CPU each) on a local Ray, or on a cluster given by address.

    On a cluster the output folder must be on a file system every node sees (runs write their folders
    directly, as on the local backend).
    """

    name = "ray"

    def __init__(self, workers: int, *, address: str | None = None) -> None:
        if workers <= 0:
            raise ConfigError(f"--workers must be positive, got {workers}", fix="pass --workers K with K >= 1")
        self.workers = workers
        self.address = address

    def _init(self) -> tuple[Any, bool]:
        try:
            import ray
        except ImportError as exc:
            raise ConfigError(
                "the ray backend needs Ray installed", fix="pip install 'rltransfer[ray]' or use --backend local"
            ) from exc
        if ray.is_initialized():
            return ray, False
        options: dict[str, Any] = {"include_dashboard": False, "logging_level": "ERROR", "log_to_driver": False}
        try:
            if self.address:
                ray.init(address=self.address, **options)
            else:
                ray.init(num_cpus=self.workers, **options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"at {self.address}" if self.address else "locally"
            raise ConfigError(
                f"cannot start or reach Ray {where} ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})",
                fix="start a cluster with `ray start --head` and pass its --ray-address, or use --backend local",
            ) from exc
        return ray, True

    def run(self, specs: Sequence[RunSpec], *, command: str = "") -> Iterator[RunOutcome]:
        """Submit every run as a Ray task and yield outcomes as tasks finish."""
        if not specs:
            return
        ray, started = self._init()
        remote = ray.remote(num_cpus=1, max_retries=0)(execute_run)
        refs: dict[Any, RunSpec] = {}
        try:
            refs = {remote.remote(spec, command): spec for spec in specs}
            pending = list(refs)
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    try:
                        yield ray.get(ref)
                    except ray.exceptions.RayError as exc:
                        line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                        yield RunOutcome(
                            key=refs[ref].key,
                            run_dir=str(refs[ref].run_dir),
                            status="failed",
                            error=f"Ray task failed: {line}",
                        )
        finally:
            if _interrupted():
                for ref in refs:
                    with contextlib.suppress(Exception):
                        ray.cancel(ref, force=True)
            if started:
                ray.shutdown()


BACKENDS: dict[str, type[LocalBackend] | type[RayBackend]] = {"local": LocalBackend, "ray": RayBackend}
"""Execution backends by name."""


def make_backend(name: str, *, workers: int | None = None, address: str | None = None) -> LocalBackend | RayBackend:
    """A backend by name (did-you-mean on typos); workers default to the machine's cores."""
    backend_class = lookup(BACKENDS, name, what="backend")
    count = workers if workers is not None else (os.cpu_count() or 1)
    if backend_class is RayBackend:
        return RayBackend(count, address=address)
    if address:
        raise ConfigError("--ray-address needs --backend ray", fix="add --backend ray or drop --ray-address")
    return LocalBackend(count)
