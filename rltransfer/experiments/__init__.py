"""Comparison grids: targets × methods × seeds on local processes or Ray, resumable, with reports.

`run_grid(GridSpec(...), out)` trains every unfinished run into `out/runs/<env>/<method>/seed<k>/`
and renders `summary.md`, `summary.csv`, `summary.json`, `learning_curves.png` and `tb/`;
`render_report(out)` re-renders them from the finished runs.
"""

from rltransfer.experiments.backends import BACKENDS, LocalBackend, RayBackend, RunOutcome, execute_run, make_backend
from rltransfer.experiments.grid import METHODS, GridSpec, RunSpec, env_safe_name, parse_list
from rltransfer.experiments.runner import GridReport, render_report, run_grid, validate

__all__ = [
    "BACKENDS",
    "METHODS",
    "GridReport",
    "GridSpec",
    "LocalBackend",
    "RayBackend",
    "RunOutcome",
    "RunSpec",
    "env_safe_name",
    "execute_run",
    "make_backend",
    "parse_list",
    "render_report",
    "run_grid",
    "validate",
]
