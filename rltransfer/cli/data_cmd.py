"""`rltransfer data ...`: record a teacher's trajectories in a target, filter and relabel them, show a dataset."""

from __future__ import annotations

import argparse
from typing import Any

from rltransfer.cli.common import add_env_args, add_json_arg, add_zoo_arg, print_json
from rltransfer.data import (
    FORMATS,
    EpisodeFilter,
    default_dataset_id,
    filter_dataset,
    read_dataset,
    record_teacher,
    relabel,
    summary,
    write_dataset,
)
from rltransfer.data.store import check_output_folder
from rltransfer.make import parse_env_kwargs


def register(subparsers: Any) -> None:
    """Add the data subcommand and its sub-subcommands."""
    data = subparsers.add_parser(
        "data",
        help="record, filter, relabel and inspect trajectory datasets (Minari)",
        description="Teachers that are only data: write a teacher's trajectories in a target as a local Minari "
        "dataset, keep the episodes that matter, relabel actions with another teacher, inspect a dataset.",
    )
    commands = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND", required=True)

    export = commands.add_parser(
        "export",
        help="record a teacher in a target env as a Minari dataset",
        description="Roll the deterministic zoo teacher in the target env, through the mapping selection finds "
        "when the spaces differ, with the target's own rewards; write the episodes as a Minari dataset whose "
        "metadata names the teacher, its card checksums, the mapping, the seed and every env step spent.",
    )
    export.add_argument("teacher", metavar="TEACHER", help="teacher name in the zoo, or its folder")
    add_env_args(export)
    _add_out_args(export)
    budget = export.add_mutually_exclusive_group()
    budget.add_argument("--episodes", type=int, default=None, metavar="N", help="full episodes to record (default 10)")
    budget.add_argument("--steps", type=int, default=None, metavar="N", help="env steps to record (last episode cut)")
    export.add_argument("--seed", type=int, default=0, help="episode i is reset with seed + i (default 0)")
    export.add_argument(
        "--noise",
        type=float,
        default=0.0,
        metavar="X",
        help="DART noise on the executed actions (half-ranges, or a random-action probability; default 0); the "
        "teacher's own actions are kept as labels, which instance transfer imitates",
    )
    add_zoo_arg(export)
    export.set_defaults(handler=_export)

    filtering = commands.add_parser(
        "filter",
        help="keep episodes by return or length, optionally relabel actions with another teacher",
        description="Read a local dataset (never modified), keep the episodes within the bounds (or the best "
        "--top K by return), optionally replace every action with another teacher's greedy action on that "
        "observation (through its mapping), and write a new dataset.",
    )
    _add_dataset_args(filtering)
    _add_out_args(filtering)
    filtering.add_argument("--min-return", type=float, default=None, metavar="R", help="keep returns >= R")
    filtering.add_argument("--max-return", type=float, default=None, metavar="R", help="keep returns <= R")
    filtering.add_argument("--min-length", type=int, default=None, metavar="L", help="keep episodes of >= L steps")
    filtering.add_argument("--max-length", type=int, default=None, metavar="L", help="keep episodes of <= L steps")
    filtering.add_argument("--top", type=int, default=None, metavar="K", help="then keep the K of highest return")
    filtering.add_argument(
        "--relabel", default=None, metavar="TEACHER", help="replace every action by this teacher's greedy action"
    )
    filtering.add_argument("--seed", type=int, default=0, help="seed of the relabelling teacher's mapping search")
    add_zoo_arg(filtering)
    filtering.set_defaults(handler=_filter)

    show = commands.add_parser(
        "show", help="print a dataset's size, returns, env and metadata", description="Summarise a local dataset."
    )
    _add_dataset_args(show)
    add_json_arg(show)
    show.set_defaults(handler=_show)


def _add_out_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="DIR", help="new (or empty) folder for the dataset")
    parser.add_argument(
        "--name", default=None, metavar="DATASET_ID", help='Minari dataset id, "name-v0" (default: from --out)'
    )
    parser.add_argument("--format", choices=FORMATS, default="minari", help="minari (default) or the zoo's npz")


def _add_dataset_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dataset", metavar="DATASET", help="dataset folder, its data/ folder, a transitions.npz, or a dataset id"
    )
    parser.add_argument(
        "--datasets",
        default=None,
        metavar="DIR",
        help="where dataset ids are looked up (default: $MINARI_DATASETS_PATH, else ~/.minari/datasets)",
    )


def _export(args: argparse.Namespace) -> int:
    out = check_output_folder(args.out)  # before any env step is spent
    dataset = record_teacher(
        args.teacher,
        args.env,
        env_kwargs=parse_env_kwargs(args.env_kwargs),
        zoo=args.zoo,
        episodes=args.episodes,
        steps=args.steps,
        seed=args.seed,
        dataset_id=args.name or default_dataset_id(out),
        noise=args.noise,
    )
    path = write_dataset(dataset, out, format=args.format)
    returns, teacher = dataset.returns, dataset.metadata["teacher"]
    print(
        f"wrote {len(dataset.episodes)} episodes, {dataset.total_steps} steps, mean return {returns.mean():.1f} ± "
        f"{returns.std():.1f} ({teacher['name']} on {args.env}, mapping: {teacher['mapping_summary']}; "
        f"{dataset.metadata['env_steps']['total']} env steps in all) to {path}"
    )
    return 0


def _filter(args: argparse.Namespace) -> int:
    episode_filter = EpisodeFilter(
        min_return=args.min_return,
        max_return=args.max_return,
        min_length=args.min_length,
        max_length=args.max_length,
        top=args.top,
    )
    source = read_dataset(args.dataset, root=args.datasets)
    out = check_output_folder(args.out, not_inside=source.path)
    kept = filter_dataset(source, episode_filter, dataset_id=args.name or default_dataset_id(out))
    line = (
        f"kept {len(kept.episodes)} of {len(source.episodes)} episodes ({episode_filter.describe()}); mean return "
        f"{source.returns.mean():.1f} → {kept.returns.mean():.1f}"
    )
    if args.relabel:
        kept = relabel(kept, args.relabel, zoo=args.zoo, seed=args.seed)
        block = kept.metadata["relabel"]
        agreement = block.get("agreement_with_recorded")
        line += (
            f"; relabelled {kept.total_steps} actions with {block['name']} (mapping: {block['mapping_summary']}"
            + (f", {agreement:.1%} equal to the recorded ones" if agreement is not None else "")
            + ")"
        )
    path = write_dataset(kept, out, format=args.format)
    print(f"{line}; wrote {path}")
    return 0


def _show(args: argparse.Namespace) -> int:
    info = summary(read_dataset(args.dataset, root=args.datasets))
    if args.json:
        print_json(info)
        return 0
    ret, length = info["return"], info["length"]
    print(f"{info['dataset_id']} ({info['format']}) at {info['path']}")
    print(
        f"env {info['env_id'] or 'unknown'}: observations {info['observation_space']}, actions {info['action_space']}"
    )
    print(
        f"{info['episodes']} episodes ({info['terminated']} terminated), {info['steps']} steps; return "
        f"{ret['mean']:.1f} ± {ret['std']:.1f} [{ret['min']:.4g}, {ret['max']:.4g}]; length {length['mean']:.1f} "
        f"[{length['min']}, {length['max']}]"
    )
    meta = info["metadata"]
    teacher = meta.get("teacher") or (meta.get("source") or {}).get("metadata", {}).get("teacher")
    if teacher:
        print(f"teacher {teacher.get('name')}: mapping {teacher.get('mapping_summary', 'none (its own source task)')}")
    if "filter" in meta:
        print(f"filtered from {meta['source']['dataset_id']}: kept {len(meta['kept_episodes'])} episodes")
    if "relabel" in meta:
        print(f"actions relabelled by {meta['relabel']['name']} ({meta['relabel']['mapping_summary']})")
    if "env_steps" in meta:
        print(f"env steps spent: {meta['env_steps']}")
    return 0
