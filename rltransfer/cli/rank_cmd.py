"""`rltransfer rank --env ID`: rank the zoo's teachers for a target without training."""

from __future__ import annotations

import argparse
from typing import Any

from rltransfer.cli.common import add_env_args, add_json_arg, add_zoo_arg, format_cell, format_table, print_json
from rltransfer.cli.zoo_cmd import one_line_warnings
from rltransfer.data.store import read_dataset
from rltransfer.errors import ConfigError
from rltransfer.io import atomic_write_json, json_safe
from rltransfer.make import parse_env_kwargs
from rltransfer.selection import DEFAULT_BUDGET, Ranking, Student, rank_teachers, ranking_cost, recommendation
from rltransfer.selection.target import TOO_SHORT_NOTE


def register(subparsers: Any) -> None:
    """Add the rank subcommand."""
    parser = subparsers.add_parser(
        "rank",
        help="rank teachers for a target env, without training",
        description="Rank the zoo's teachers for a target environment from space signatures, dynamics "
        "similarity and zero-shot probes of each mapped teacher; find the mapping (observation "
        "dimension assignment and rescaling, action permutation, sign or binning) on the way.",
    )
    add_env_args(parser)
    add_zoo_arg(parser)
    parser.add_argument(
        "--budget",
        type=int,
        default=None,
        metavar="STEPS",
        help="target env steps the whole ranking may spend (default 1000)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of rollouts and probes (default 0)")
    parser.add_argument(
        "--teachers", default=None, metavar="NAMES", help="comma-separated teacher names (default: the whole zoo)"
    )
    parser.add_argument(
        "--dataset",
        action="append",
        default=[],
        metavar="DATASET",
        help="also rank a teacher that is only data (a dataset folder, Minari id or transitions.npz); repeatable",
    )
    parser.add_argument(
        "--algo",
        default="ppo",
        help="SB3 algorithm of the student that will learn (default ppo, as compare's): each teacher's route "
        "into it (weights copy, distillation, data only) breaks near-ties",
    )
    parser.add_argument(
        "--net-arch",
        default=None,
        metavar="WIDTHS",
        help="hidden widths of the student, e.g. 64,64 (default: the hyperparams of record, what train uses)",
    )
    parser.add_argument(
        "--out", default=None, metavar="FILE", help="also write the ranking (with full mappings) as JSON to FILE"
    )
    add_json_arg(parser)
    parser.set_defaults(handler=_rank)


def _rank(args: argparse.Namespace) -> int:
    teachers = [name.strip() for name in args.teachers.split(",") if name.strip()] if args.teachers else None
    with one_line_warnings():  # a broken teacher is skipped with one line, not a failed ranking
        rankings = rank_teachers(
            args.env,
            args.zoo,
            env_kwargs=parse_env_kwargs(args.env_kwargs),
            budget=args.budget if args.budget is not None else DEFAULT_BUDGET,
            seed=args.seed,
            teachers=teachers,
            datasets=[read_dataset(source) for source in args.dataset],
            student=Student(algo=args.algo, net_arch=_net_arch(args.net_arch)),
        )
    rows = [
        {
            "rank": position,
            "teacher": ranking.teacher,
            "score": ranking.score,
            "mapping": ranking.mapping.to_dict(),
            "mapping_summary": ranking.mapping_summary,
            "zero_shot_return": ranking.zero_shot_return,
            "probe_too_short": bool(ranking.evidence.get("zero_shot", {}).get("too_short", False)),
            "mapping_rule": ranking.mapping.evidence.get("rule", ""),
            "runner_up": ranking.mapping.evidence.get("runner_up"),
            "competence": ranking.evidence.get("competence", {}).get("value", float("nan")),
            "dynamics_similarity": ranking.evidence.get("dynamics", {}).get("similarity", 0.0),
            "space_compatibility": ranking.evidence["space"]["compatibility"],
            "route": ranking.route,
            "predicted_benefit": ranking.evidence.get("predicted_benefit"),
            "recommended": position == 1 and ranking.fits,
            "env_steps": ranking.env_steps,
            "seconds": ranking.seconds,
            "evidence": ranking.evidence,
        }
        for position, ranking in enumerate(rankings, start=1)
    ]
    if args.out:
        atomic_write_json(
            args.out,
            json_safe({"env": args.env, "recommendation": recommendation(rankings), "rankings": rows}),
        )
    if args.json:
        print_json(json_safe(rows))
        return 0
    table = [
        [
            row["rank"],
            row["teacher"],
            row["score"],
            row["mapping_summary"],
            row["space_compatibility"],
            row["dynamics_similarity"],
            _zero_shot_cell(row["zero_shot_return"], too_short=row["probe_too_short"]),
            row["competence"],
            row["route"],
            _benefit_cell(row["predicted_benefit"]),
            row["env_steps"],
            f"{row['seconds']:.1f}s",
        ]
        for row in rows
    ]
    headers = [
        "rank",
        "teacher",
        "score",
        "mapping",
        "space",
        "dynamics",
        "zero-shot",
        "competence",
        f"route into {args.algo.lower()}",
        "predicted benefit [80%]",
        "env steps",
        "time",
    ]
    print(format_table(headers, table))
    for line in _mapping_lines(rankings):
        print(line)
    if rankings and rankings[0].route:
        top = rankings[0]
        print(f"route of {top.teacher} into the student: {top.route} ({top.evidence['transfer']['why']})")
    predicted = rows[0]["predicted_benefit"] if rows else None
    if predicted:
        print(f"predicted benefit: transfer ratio against scratch, {predicted['basis']}")
    print(f"ranking cost: {ranking_cost(rankings)} target env steps")
    print(f"recommendation: {recommendation(rankings)}")
    return 0


def _net_arch(text: str | None) -> tuple[int, ...] | None:
    """'64,64' → (64, 64); a ConfigError naming the bad value."""
    if text is None:
        return None
    try:
        return tuple(int(width) for width in text.split(","))
    except ValueError:
        raise ConfigError(f'--net-arch "{text}" is not a list of widths', fix="write e.g. --net-arch 64,64") from None


def _benefit_cell(predicted: dict[str, float] | None) -> str:
    """The predicted transfer ratio and its interval ("–" without a calibration or a mapping)."""
    if not predicted:
        return "–"
    return f"{predicted['mean']:+.2f} [{predicted['low']:+.2f}, {predicted['high']:+.2f}]"


def _zero_shot_cell(value: float, *, too_short: bool) -> str:
    """The zero-shot column: the normalized return, marked when the probe was too short to count."""
    cell = format_cell(value)
    return f"{cell} (too short)" if too_short else cell


def _probe_text(block: dict[str, Any]) -> str:
    """'zero-shot 1.00 over 2×111 steps (0 ended)' for a candidate's evidence block; '' when not probed."""
    probe = block.get("probe")
    if not probe or block.get("zero_shot") is None:
        return "not probed"
    text = f"zero-shot {format_cell(float(block['zero_shot']))} over {probe['episodes']}×{probe['horizon']} steps"
    text += f" ({probe['episodes_ended']} ended)"
    return f"{text}, probe too short" if block.get("too_short") else text


def _mapping_lines(rankings: list[Ranking]) -> list[str]:
    """Why the top teacher's mapping was chosen, its runner-up, and every probe flagged too short."""
    lines = []
    if rankings and "reason" not in rankings[0].evidence:
        top = rankings[0]
        evidence = top.mapping.evidence
        lines.append(f"mapping of {top.teacher}: {top.mapping_summary} ({evidence.get('rule', 'no alternative')})")
        runner = evidence.get("runner_up")
        if runner:
            lines.append(
                f"  runner-up: {runner['mapping']} (model error {format_cell(float(runner['model_error']))}, "
                f"{runner['complexity']} parts, {_probe_text(runner)})"
            )
            lines.append(
                "  to override: --mapping identity, or --mapping FILE (the runner-up's map is in the --out JSON), "
                "with train or distill"
            )
    for ranking in rankings:
        block = ranking.evidence.get("zero_shot", {})
        if block.get("too_short"):
            normalized, term = format_cell(float(block["normalized"])), format_cell(float(block["score_term"]))
            lines.append(
                f"{ranking.teacher}: {TOO_SHORT_NOTE} (normalized zero-shot {normalized} over "
                f"{block['episodes']}×{block['horizon']} steps confirms nothing; score term {term}, the stand-in)"
            )
    return lines
