"""Comparison grids: targets × methods × seeds on local processes or Ray, resumable, with reports.

`run_grid(GridSpec(...), out)` trains every unfinished run into `out/runs/<env>/<method>/seed<k>/`
and renders `summary.md`, `summary.csv`, `summary.json`, `learning_curves.png` and `tb/`;
`render_report(out)` re-renders them from the finished runs. Names are imported on first use, so
`rltransfer --help` does not load torch.
"""

from __future__ import annotations

from rltransfer.registry import lazy_exports

_EXPORTS = {
    "BACKENDS": "backends",
    "LocalBackend": "backends",
    "RayBackend": "backends",
    "RunOutcome": "backends",
    "execute_run": "backends",
    "make_backend": "backends",
    "METHODS": "grid",
    "GridSpec": "grid",
    "RunSpec": "grid",
    "env_safe_name": "grid",
    "parse_list": "grid",
    "GridReport": "runner",
    "render_report": "runner",
    "run_grid": "runner",
    "run_grids": "runner",
    "validate": "runner",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS, globals())
