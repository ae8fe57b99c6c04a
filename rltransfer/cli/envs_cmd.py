"""`rltransfer envs`: list the registered rltransfer/ environments."""

from __future__ import annotations

import argparse
from typing import Any

from rltransfer.cli.common import add_json_arg, format_table, print_json
from rltransfer.envs import CATALOGUE
from rltransfer.make import make_env
from rltransfer.spaces import SpaceSignature


def register(subparsers: Any) -> None:
    """Add the envs subcommand."""
    parser = subparsers.add_parser(
        "envs",
        help="list rltransfer's task families and variants",
        description="List every rltransfer/ environment id with its family, "
        "observation and action space, and a one-line description.",
    )
    add_json_arg(parser)
    parser.set_defaults(handler=run)


def env_rows() -> list[dict[str, Any]]:
    """One dict per registered rltransfer/ id (spaces read from a made instance)."""
    rows = []
    for env_id, info in sorted(CATALOGUE.items()):
        env = make_env(env_id)
        rows.append(
            {
                "id": env_id,
                "family": info.family,
                "observation_space": SpaceSignature.of(env.observation_space).describe(),
                "action_space": SpaceSignature.of(env.action_space).describe(),
                "description": info.description,
            }
        )
        env.close()
    return rows


def run(args: argparse.Namespace) -> int:
    """Print the table or JSON."""
    rows = env_rows()
    if args.json:
        print_json(rows)
    else:
        keys = ["id", "family", "observation_space", "action_space", "description"]
        print(
            format_table(
                ["id", "family", "observation", "action", "description"], [[row[k] for k in keys] for row in rows]
            )
        )
    return 0
