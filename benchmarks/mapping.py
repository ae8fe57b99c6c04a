"""`python -m benchmarks mapping`: is the mapping selection chooses right, and is its confidence calibrated?

Targets: every registered `rltransfer/` variant (ground truth: `env.unwrapped.layout`) and Gymnasium's own
parametric envs (ground truth: the layout of the family's base id, i.e. identity for the matching spaces,
binning for MountainCarContinuous with the discrete teacher), each with its family's main zoo teacher. Per
(target, search seed): `rltransfer.selection.find_mapping` at its default budget (or, with --via rank, the
teacher's row of a ranking of the whole zoo), the env steps it spent, its confidence, and the whole-episode
zero-shot returns of the chosen, true and identity mappings (rltransfer.transfer.probes.teacher_probe, the
same episodes for all). Writes results/mapping.md (headed by the command, seeds, machine and date),
results/mapping.json and the reliability plot results/mapping.png. The ground truth and the judgement live
in benchmarks/mapping_truth.py, the reliability table and plot in benchmarks/mapping_reliability.py.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from benchmarks import PROGRAM
from benchmarks.mapping_reliability import CONFIDENCE_BINS, plot_reliability, reliability
from benchmarks.mapping_truth import (
    BELOW_IDENTITY_SHARE,
    RIGHT_SHARE,
    SCALE_RTOL,
    below_identity,
    ground_truth_layout,
    is_right,
    plain_action,
    same_mapping,
    truth_mapping,
)
from rltransfer.distill.probe import StepCounter
from rltransfer.envs import CATALOGUE
from rltransfer.experiments.provenance import command_line, machine_description, now_utc, source_revision
from rltransfer.io import atomic_write_json, atomic_write_text
from rltransfer.make import env_family, make_env
from rltransfer.mapping import ActionMap, MappedTeacher, Mapping, ObsMap, identity_fits
from rltransfer.selection import find_mapping, rank_teachers
from rltransfer.spaces import SpaceSignature
from rltransfer.transfer.probes import teacher_probe
from rltransfer.zoo import Teacher, load_teacher

FAMILY_TEACHERS = {
    "CartPole": "cartpole-ppo",
    "Acrobot": "acrobot-dqn",
    "MountainCar": "mountaincar-dqn",
    "MountainCarContinuous": "mountaincar-dqn",
    "Pendulum": "pendulum-sac",
    "LunarLander": "lunarlander-dqn",
}
"""The main zoo teacher of each family (MountainCarContinuous has only the discrete one)."""
NATIVE_TARGETS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("LunarLander-v3", {}),
    ("LunarLander-v3", {"gravity": -5.0}),
    ("LunarLander-v3", {"gravity": -3.0}),
    ("LunarLander-v3", {"gravity": -5.0, "enable_wind": True, "wind_power": 10.0}),
    ("LunarLander-v3", {"enable_wind": True, "wind_power": 15.0, "turbulence_power": 1.5}),
    ("LunarLander-v3", {"gravity": -8.0, "enable_wind": True, "wind_power": 5.0}),
    ("Pendulum-v1", {}),
    ("Pendulum-v1", {"g": 5.0}),
    ("Pendulum-v1", {"g": 15.0}),
    ("Acrobot-v1", {}),
    ("MountainCar-v0", {}),
    ("MountainCarContinuous-v0", {}),
    ("CartPole-v1", {}),
)
"""Gymnasium-native targets (id, kwargs): the issue's LunarLander, Pendulum g and MountainCarContinuous cases."""
VIA = ("find_mapping", "rank")
"""How the mapping is searched: find_mapping (one teacher, the whole budget) or rank_teachers (the zoo shares it)."""


@dataclass(frozen=True)
class Case:
    """One (target, teacher, search seed): the mapping selection chose and whether it is right."""

    target: str
    teacher: str
    seed: int
    mapping: str
    confidence: float
    env_steps: int
    exact: bool
    chosen_return: float
    truth_return: float
    identity_return: float | None
    right: bool
    below_identity: bool
    rule: str
    flagged_probes: int


def target_label(env_id: str, kwargs: dict[str, Any]) -> str:
    """`id` or `id {json kwargs}`: how a target is named in the report."""
    return f"{env_id} {json.dumps(kwargs, sort_keys=True)}" if kwargs else env_id


def all_targets() -> list[tuple[str, dict[str, Any]]]:
    """Every registered rltransfer/ id with a family teacher, then the Gymnasium-native targets."""
    registered: list[tuple[str, dict[str, Any]]] = [
        (env_id, {}) for env_id, info in CATALOGUE.items() if info.family in FAMILY_TEACHERS
    ]
    return [*registered, *NATIVE_TARGETS]


def search_mapping(
    teacher: Teacher, env: gym.Env[Any, Any], *, via: str, seed: int, budget: int, zoo: str | None
) -> Mapping:
    """The mapping selection chooses for `teacher`: find_mapping alone, or its row of a ranking of the whole zoo."""
    if via == "find_mapping":
        return find_mapping(teacher, env, seed=seed, budget=budget)
    rankings = rank_teachers(env, zoo, seed=seed, budget=budget)
    return next(r.mapping for r in rankings if r.teacher == teacher.name)


def measure_target(
    env_id: str,
    kwargs: dict[str, Any],
    teacher: Teacher,
    *,
    seeds: list[int],
    budget: int,
    episodes: int,
    via: str = "find_mapping",
    zoo: str | None = None,
) -> list[Case]:
    """Selection's mapping on one target for each seed, judged against the ground truth and identity."""
    env = make_env(env_id, kwargs)
    returns: dict[tuple[ObsMap, ActionMap], float] = {}

    def zero_shot(mapping: Mapping) -> float:
        key = (mapping.obs, plain_action(mapping.action))
        if key not in returns:
            mapped = MappedTeacher(teacher, mapping, env.action_space)
            returns[key] = teacher_probe(env, mapped, episodes=episodes, seed=0).mean
        return returns[key]

    try:
        truth = truth_mapping(ground_truth_layout(env_id, env), teacher.action_space, env.action_space)
        student_obs, student_action = SpaceSignature.of(env.observation_space), SpaceSignature.of(env.action_space)
        card = teacher.card
        admissible = identity_fits(student_obs, student_action, card.observation_space, card.action_space)
        identity_return = zero_shot(Mapping.identity(card.observation_space)) if admissible else None
        truth_return = zero_shot(truth)
        cases = []
        for seed in seeds:
            counted = StepCounter(env)
            mapping = search_mapping(teacher, counted, via=via, seed=seed, budget=budget, zoo=zoo)
            chosen_return = zero_shot(mapping)
            exact = same_mapping(mapping, truth)
            candidates = mapping.evidence.get("candidates", [])
            cases.append(
                Case(
                    target=target_label(env_id, kwargs),
                    teacher=teacher.name,
                    seed=seed,
                    mapping=mapping.describe(student_obs.dim),
                    confidence=float(mapping.confidence),
                    env_steps=counted.steps,
                    exact=exact,
                    chosen_return=chosen_return,
                    truth_return=truth_return,
                    identity_return=identity_return,
                    right=is_right(exact=exact, chosen_return=chosen_return, truth_return=truth_return),
                    below_identity=below_identity(chosen_return, identity_return),
                    rule=str(mapping.evidence.get("rule", mapping.source)),
                    flagged_probes=sum(bool(c.get("too_short")) for c in candidates),
                )
            )
        return cases
    finally:
        env.close()


def _number(value: float | None) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.1f}"


def _mean_confidence(cases: list[Case], *, right: bool) -> str:
    values = [c.confidence for c in cases if c.right == right]
    return f"{np.mean(values):.2f} (n={len(values)})" if values else "– (n=0)"


def render_report(
    cases: list[Case],
    *,
    command: str,
    seeds: list[int],
    budget: int,
    episodes: int,
    wall_minutes: float,
    plot: str = "mapping.png",
    via: str = VIA[0],
) -> str:
    """results/mapping.md: the command first, then seeds, code, machine, date, the summary and every case."""
    targets = list(dict.fromkeys(c.target for c in cases))
    right_targets = [t for t in targets if all(c.right for c in cases if c.target == t)]
    misses = [c for c in cases if not c.right]
    below = [c for c in cases if c.below_identity]
    by_return = [c for c in cases if c.right and not c.exact]
    share = len(right_targets) / max(len(targets), 1)
    lines = [
        "# Mapping benchmark",
        "",
        f"Command: `{command}`",
        "",
        f"- seeds: search {seeds} per target; zero-shot returns over {episodes} whole episodes "
        f"(reset seeds {30_000}–{30_000 + episodes - 1}, deterministic teacher, the same for every mapping)",
        f"- search: {via}, budget {budget} env steps per search",
        f"- code: {source_revision()}",
        f"- machine: {machine_description()}, shared with other jobs",
        f"- date: {now_utc()}; wall time {wall_minutes:.1f} min",
        "",
        "## Summary against the issue's targets",
        "",
        f"- Targets right (every seed's mapping right): {len(right_targets)} of {len(targets)} = {100 * share:.0f}% "
        f"(goal ≥ 95%); (target, seed) cases right: {sum(c.right for c in cases)} of {len(cases)}.",
        "- Misses: "
        + ("none." if not misses else "; ".join(f"{c.target} seed {c.seed} ({c.mapping})" for c in misses) + "."),
        f"- Chosen mapping more than {100 * BELOW_IDENTITY_SHARE:.0f}% below identity's return (identity admissible): "
        f"{len(below)} (goal 0)" + ("." if not below else ": " + "; ".join(f"{c.target} seed {c.seed}" for c in below)),
        f"- Right by return only (not the ground truth, within {100 * RIGHT_SHARE:.0f}% of its return or above): "
        f"{len(by_return)}"
        + ("" if not by_return else ": " + "; ".join(f"{c.target} seed {c.seed} ({c.mapping})" for c in by_return))
        + ". Where the truth itself fails zero-shot, this criterion is weak: any map that fails as badly passes.",
        f"- Env steps per search: mean {np.mean([c.env_steps for c in cases]):.0f}, "
        f"max {max(c.env_steps for c in cases)}.",
        "",
        "Right: equal to the ground truth (same dims and signs, scales and action values within "
        f"{100 * SCALE_RTOL:.0f}%), or a whole-episode zero-shot return at most {100 * RIGHT_SHARE:.0f}% of |truth's| "
        "below the truth's. Ground truth: `env.unwrapped.layout` for rltransfer/ ids; for Gymnasium's own envs the "
        "layout of the family's base id (identity; MountainCarContinuous: the discrete teacher's pushes binned onto "
        "−1, 0, +1).",
        "",
        "## Reliability of `mapping.confidence`",
        "",
        "| confidence bin | cases | mean confidence | share right |",
        "|---|---|---|---|",
    ]
    for row in reliability([c.confidence for c in cases], [c.right for c in cases]):
        closing = "]" if row.high == CONFIDENCE_BINS[-1] else ")"
        shown = "–" if not row.count else f"{row.share_right:.2f}"
        mean = "–" if not row.count else f"{row.mean_confidence:.2f}"
        lines.append(f"| [{row.low:.2f}, {row.high:.2f}{closing} | {row.count} | {mean} | {shown} |")
    lines += [
        "",
        f"Mean confidence of the right cases {_mean_confidence(cases, right=True)}, of the wrong ones "
        f"{_mean_confidence(cases, right=False)}. Identity chosen on equal spaces has confidence 1 by construction "
        "(rltransfer.selection.scoring.mapping_confidence).",
        "",
        f"![reliability of mapping.confidence]({plot})",
        "",
        "## Every case",
        "",
        "| target | teacher | seed | chosen mapping | confidence | env steps | ground truth | zero-shot chosen | "
        "truth | identity | right | > 10% below identity | rule |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cases:
        flagged = f" ({c.flagged_probes} probe(s) flagged too short)" if c.flagged_probes else ""
        lines.append(
            f"| {c.target} | {c.teacher} | {c.seed} | {c.mapping} | {c.confidence:.2f} | {c.env_steps} | "
            f"{'yes' if c.exact else 'no'} | {_number(c.chosen_return)} | {_number(c.truth_return)} | "
            f"{_number(c.identity_return)} | {'yes' if c.right else '**no**'} | "
            f"{'**yes**' if c.below_identity else 'no'} | {c.rule}{flagged} |"
        )
    return "\n".join(lines) + "\n"


def register(subparsers: Any) -> None:
    """Add `python -m benchmarks mapping`."""
    parser = subparsers.add_parser(
        "mapping",
        help="is the chosen mapping right, and is its confidence calibrated (issue 15)",
        description="Run find_mapping on every registered variant and on Gymnasium's parametric envs, judge each "
        "mapping against the ground truth by whole-episode zero-shot returns; write results/mapping.md.",
    )
    parser.add_argument("--seeds", type=int, default=5, help="search seeds per target (default 5)")
    parser.add_argument(
        "--via",
        choices=VIA,
        default=VIA[0],
        help="find_mapping for the family teacher alone (default), or its row of `rank` over the whole zoo "
        "(env steps: the whole ranking's)",
    )
    parser.add_argument("--episodes", type=int, default=10, help="whole episodes per zero-shot return (default 10)")
    parser.add_argument("--budget", type=int, default=1000, help="find_mapping budget in env steps (default 1000)")
    parser.add_argument("--zoo", default=None, metavar="DIR", help="teacher zoo (default: the shipped one)")
    parser.add_argument(
        "--targets",
        default="",
        help="semicolon-separated env ids or labels (e.g. 'LunarLander-v3 {\"gravity\": -3.0}') to run (default: all)",
    )
    parser.add_argument("--out", default="results/mapping.md", help="output file (.json and .png beside it)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    torch.set_num_threads(1)
    started = time.time()
    command = command_line(PROGRAM)
    seeds = list(range(args.seeds))
    wanted = {t.strip() for t in args.targets.split(";") if t.strip()}
    teachers = {name: load_teacher(name, args.zoo) for name in set(FAMILY_TEACHERS.values())}
    cases: list[Case] = []
    for env_id, kwargs in all_targets():
        if wanted and env_id not in wanted and target_label(env_id, kwargs) not in wanted:
            continue
        teacher = teachers[FAMILY_TEACHERS[env_family(env_id)]]
        begun = time.time()
        found = measure_target(
            env_id, kwargs, teacher, seeds=seeds, budget=args.budget, episodes=args.episodes, via=args.via, zoo=args.zoo
        )
        cases += found
        verdict = ", ".join(f"{c.mapping} ({'right' if c.right else 'WRONG'})" for c in found)
        print(f"{target_label(env_id, kwargs)}: {verdict} [{time.time() - begun:.0f}s]", flush=True)
    out = Path(args.out)
    minutes = (time.time() - started) / 60
    plot = out.with_suffix(".png")
    report = render_report(
        cases,
        command=command,
        seeds=seeds,
        budget=args.budget,
        episodes=args.episodes,
        wall_minutes=minutes,
        plot=plot.name,
        via=args.via,
    )
    atomic_write_text(out, report)
    atomic_write_json(
        out.with_suffix(".json"), {"command": command, "cases": [asdict(c) for c in cases]}, sort_keys=False
    )
    plot_reliability(reliability([c.confidence for c in cases], [c.right for c in cases]), plot, command=command)
    print(f"wrote {out}, {out.with_suffix('.json')}, {plot}")
    return 0
