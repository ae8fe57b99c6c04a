"""Argument helpers and output formatting shared by the subcommands."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rltransfer.errors import ConfigError
from rltransfer.io import strict_json
from rltransfer.make import make_env, parse_env_kwargs
from rltransfer.mapping import IDENTITY, load_mapping, user_identity
from rltransfer.spaces import SpaceSignature


def add_env_args(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """--env and --env-kwargs, as every command that takes an environment has them."""
    parser.add_argument(
        "--env",
        required=required,
        metavar="ID",
        help="Gymnasium id: rltransfer/..., any registered id, or module:EnvId",
    )
    parser.add_argument(
        "--env-kwargs",
        default=None,
        metavar="KWARGS",
        help="gym.make kwargs as JSON ('{\"gravity\": 15}') or key=value,key=value",
    )


def add_zoo_arg(parser: argparse.ArgumentParser) -> None:
    """--zoo DIR."""
    parser.add_argument(
        "--zoo",
        default=None,
        metavar="DIR",
        help="teacher zoo folder (default: $RLTRANSFER_ZOO, ./agents, or the shipped zoo)",
    )


def add_json_arg(parser: argparse.ArgumentParser) -> None:
    """--json."""
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON instead of a table")


def print_json(data: Any) -> None:
    """Print strict JSON on stdout (NaN as null)."""
    print(strict_json(data, indent=2))


def format_cell(value: Any) -> str:
    """Human form of one table cell."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.0f}"
    return str(value)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned text table."""
    cells = [[format_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def add_compare_dir_args(parser: argparse.ArgumentParser) -> None:
    """DIR (a compare output folder) and --threshold, shared by `report` and `diagnose`."""
    parser.add_argument("dir", metavar="DIR", help="the --out folder of `rltransfer compare`")
    parser.add_argument(
        "--threshold", type=float, default=None, metavar="X", help="return threshold (default: the grid's)"
    )


def compare_dir(path: str) -> Path:
    """The Path of a compare output folder; ConfigError when it is not a folder."""
    folder = Path(path)
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder", fix="pass the --out folder of `rltransfer compare`")
    return folder


def check_threshold(value: float | None) -> float | None:
    """--threshold as given, or ConfigError when it is NaN or infinite."""
    if value is not None and not math.isfinite(value):
        raise ConfigError(f"--threshold must be a finite number, got {value}", fix="pass --threshold X, e.g. 475")
    return value


def parse_transfer_options(text: str | None) -> dict[str, Any]:
    """The JSON object of `--transfer` (transfer options overriding the method's defaults); {} when not given."""
    if not text:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--transfer is not valid JSON ({exc.msg})", fix="write e.g. '{\"weight\": 0.5}'") from exc
    if not isinstance(data, dict):
        raise ConfigError("--transfer must be a JSON object", fix='write {"option": value}')
    return data


def mapping_option(value: str | None, *, env_id: str, env_kwargs: str | None) -> dict[str, Any] | None:
    """`--mapping` of a command that takes a YAML file or "identity", as Mapping.to_dict(); None when not given.

    "identity" is the identity of the target's observation space (made once to read it); whether it fits
    the teacher is checked where the teacher is loaded.
    """
    if not value:
        return None
    if value != IDENTITY:
        return load_mapping(value).to_dict()
    env = make_env(env_id, parse_env_kwargs(env_kwargs))
    try:
        return user_identity(SpaceSignature.of(env.observation_space)).to_dict()
    finally:
        env.close()
