"""`python -m benchmarks controller`: issue 12's figures of the transfer controller → results/controller.md.

1. Over the suite, from results/suite/*.json alone (benchmarks/suite_controller): auto against every fixed
   method and the per-target oracle, instance where the mapped teacher beats random, auto's mode paths.
2. A teacher that is only data: on suite targets, `instance` from the target's teacher and from a Minari
   dataset recorded from it in the target (instance's demonstration budget), both trained here, in one
   invocation, on the target's grid of record (suite_run.plan_grids), against scratch.
3. A misleading teacher: CartPole-Reversed (actions swapped) from cartpole-ppo through the identity mapping
   (equal spaces: no mapping search), scratch and auto, at the suite's CartPole budget.

Finished run folders in --work are reused; the results file is regenerated whole (benchmarks/controller_report).
"""

from __future__ import annotations

import argparse
import math
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks import PROGRAM
from benchmarks.controller_report import render
from benchmarks.suite import MAX_SEEDS
from benchmarks.suite_aggregate import read_results
from benchmarks.suite_controller import controller_figures
from benchmarks.suite_run import controller_choices, plan_grids
from benchmarks.suite_scores import finite_values
from benchmarks.suite_targets import SuiteTarget, select_targets
from rltransfer import metrics
from rltransfer.data import read_dataset, record_teacher, write_dataset
from rltransfer.errors import ConfigError
from rltransfer.experiments import GridSpec, run_grids
from rltransfer.experiments.grid import read_grid_file
from rltransfer.experiments.provenance import command_line, machine_description, now_utc, source_revision
from rltransfer.experiments.summary import MethodSummary, collect_runs, summarize
from rltransfer.io import atomic_write_text, json_safe
from rltransfer.make import make_env
from rltransfer.training import TrainConfig, resolve_settings
from rltransfer.transfer.teacher import resolve_teacher

DATASET_TARGETS = ("CartPole-Heavy", "CartPole-Permuted", "Acrobot-Permuted", "Pendulum-Heavy")
"""Suite targets of the dataset grid by default: teachers that beat random there, three families, PPO and SAC."""
QUICK_DATASET_TARGETS = ("Pendulum-Heavy",)
DATASET_SEED = 50_000
"""Recording seed offset of the Minari datasets (instance's own demonstrations use 20,000)."""
MISLEADING = replace(
    select_targets(["CartPole-Heavy"])[0],
    name="CartPole-Reversed",
    env_id="rltransfer/CartPole-Reversed-v0",
    about="actions swapped; the teacher's spaces equal the target's, so it is mapped by identity and pushes "
    "the wrong way",
)
"""The misleading target: the suite's CartPole target of record (teacher, PPO, budget, threshold), reversed."""
MISLEADING_METHODS = ("scratch", "auto")


@dataclass(kw_only=True, frozen=True)
class DatasetTarget:
    """One target of the dataset grid.

    Attributes:
        target: The suite target.
        policy: Grid of `instance` from the target's teacher (and scratch, unless taken from the suite file).
        policy_folder: Where the policy grid's runs live.
        datasets: Per seed: the grid of `instance` from that seed's dataset, its folder, the dataset's folder.
        suite_scratch: Scratch's per-seed AUCs from the suite's target file (None: trained in the policy grid).
    """

    target: SuiteTarget
    policy: GridSpec
    policy_folder: Path
    datasets: tuple[tuple[GridSpec, Path, Path], ...]
    suite_scratch: list[float] | None


def register(subparsers: Any) -> None:
    """Add `python -m benchmarks controller`."""
    parser = subparsers.add_parser(
        "controller",
        help="issue 12's controller figures over the suite, a dataset-only teacher, a misleading teacher",
        description="Score auto and instance over the suite's target files; train instance from a policy teacher "
        "and from a Minari dataset recorded from it, and scratch and auto on a misleading teacher; write "
        "results/controller.md.",
    )
    parser.add_argument("--seeds", type=int, default=None, help="seeds per method (default 5; --quick 1)")
    parser.add_argument(
        "--only",
        default=None,
        help=f"comma-separated suite targets of the dataset grid (default {','.join(DATASET_TARGETS)})",
    )
    parser.add_argument("--results", default="results", help="results root holding suite/*.json (default results)")
    parser.add_argument(
        "--work", default=None, help="run folders, reused when finished (default runs/bench-controller[-quick])"
    )
    parser.add_argument("--out", default="results/controller.md", help="markdown file to write")
    parser.add_argument("--zoo", default=None, help="teacher zoo (default: agents/)")
    parser.add_argument("--workers", type=int, default=None, help="parallel runs (default: CPU cores)")
    parser.add_argument(
        "--quick", action="store_true", help="the suite's quick budgets, 1 seed, Pendulum-Heavy: tests the structure"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=_run)


def target_grid(
    target: SuiteTarget, *, methods: tuple[str, ...], seeds: int, teacher: str, quick: bool, zoo: str | None
) -> GridSpec:
    """The suite's grid of record for `target` (suite_run.plan_grids), narrowed to `methods` and `teacher`."""
    main, _ = plan_grids(target, seeds=seeds, benefit_seeds=1, quick=quick, work=Path(), zoo=zoo)
    return replace(main, methods=methods, teacher=teacher)


def suite_scratch(result: dict[str, Any] | None, spec: GridSpec, *, quick: bool) -> list[float] | None:
    """Scratch's per-seed AUCs from a suite target file when it ran the same grid (steps, settings, seeds).

    None when the file is missing, differs in budget, threshold or hyperparameters of record, or lacks a seed.
    """
    if result is None or bool(result["header"].get("quick")) != quick:
        return None
    target = result["target"]
    config = TrainConfig(env_id=spec.env_ids[0], algo=spec.algo, total_timesteps=spec.total_timesteps)
    same = (
        target["env_id"] == spec.env_ids[0]
        and target["algo"] == spec.algo
        and target["steps"] == spec.total_timesteps
        and target["threshold"] == spec.threshold
        and target.get("settings") == json_safe(resolve_settings(config))
    )
    scratch = result["methods"].get("scratch")
    if not same or scratch is None:
        return None
    by_seed = dict(zip(scratch["seeds"], scratch["per_seed"]["auc"], strict=True))
    values = finite_values([by_seed.get(seed) for seed in spec.seeds])
    return values if len(values) == len(spec.seeds) else None


def record(spec: GridSpec, *, seed: int, out: Path, name: str) -> Path:
    """The grid's teacher recorded in its target as a Minari dataset of instance's demonstration budget (once).

    The budget is the one instance collects in the run (TransferEngine.demo_budget: demo_steps, at most
    demo_fraction of the run), and the DART noise the one its demonstrations get (demo_noise_for), so both
    teachers give the student as many transitions, recorded alike.
    """
    if not out.exists():
        options = TrainConfig(
            env_id=spec.env_ids[0], algo=spec.algo, total_timesteps=spec.total_timesteps, method="instance",
            transfer=dict(spec.transfer),
        ).transfer_config  # fmt: skip
        steps = max(1, min(options.demo_steps, int(options.demo_fraction * spec.total_timesteps)))
        env = make_env(spec.env_ids[0])
        noise = options.demo_noise_for(env.action_space)
        env.close()
        recorded = record_teacher(
            str(spec.teacher), spec.env_ids[0], zoo=spec.zoo, steps=steps, seed=DATASET_SEED + seed, dataset_id=name,
            noise=noise,
        )  # fmt: skip
        write_dataset(recorded, out)
    return out.resolve()


def plan_dataset_target(
    target: SuiteTarget, *, seeds: int, quick: bool, work: Path, zoo: str | None, suite: dict[str, Any] | None
) -> DatasetTarget:
    """The policy grid, one dataset grid per seed (datasets recorded now), and scratch's source."""
    folder = work / target.name
    policy = target_grid(target, methods=("instance",), seeds=seeds, teacher=target.teacher, quick=quick, zoo=zoo)
    scratch = suite_scratch(suite, policy, quick=quick)
    if scratch is None:
        policy = replace(policy, methods=("scratch", "instance"))
    datasets = []
    for seed in policy.seeds:
        name = f"{target.name.lower()}-{target.teacher}-seed{seed}-v0"
        dataset = record(policy, seed=seed, out=folder / "datasets" / f"seed{seed}", name=name)
        spec = replace(policy, methods=("instance",), seeds=(seed,), teacher=str(dataset))
        datasets.append((spec, folder / "dataset" / f"seed{seed}", dataset))
    return DatasetTarget(
        target=target,
        policy=policy,
        policy_folder=folder / "policy",
        datasets=tuple(datasets),
        suite_scratch=scratch,
    )


def method_summaries(folders: list[Path], threshold: float) -> dict[str, MethodSummary]:
    """The finished runs of these grid folders, summarised by rltransfer.experiments (empty: none finished)."""
    records = [run for folder in folders for run in collect_runs(folder)[0]]
    return summarize(records, threshold=threshold)[0].methods if records else {}


def _auc(methods: dict[str, MethodSummary], name: str) -> list[float]:
    return methods[name].per_seed["auc"] if name in methods else []


def invocations(folders: list[Path]) -> int:
    """How many invocations trained runs of these grids (more than 1: resumed, possibly other code)."""
    dates = {
        entry["date"]
        for folder in folders
        for entry in read_grid_file(folder).get("invocations", [])
        if entry.get("finished") and entry.get("runs_trained")
    }
    return len(dates)


def teacher_benefits(scratch: list[float], policy: list[float], dataset: list[float]) -> dict[str, Any]:
    """Per-seed AUCs → each teacher's benefit over scratch (AUC difference, transfer ratio; 95% CIs) and the share.

    share = the dataset's benefit / the policy's, defined only where the policy helps (benefit > 0).
    """
    rows: dict[str, Any] = {"scratch": {"auc": metrics.aggregate(scratch), "seeds": len(scratch)}}
    for label, auc in (("policy", policy), ("dataset", dataset)):
        rows[label] = {
            "auc": metrics.aggregate(auc),
            "benefit": metrics.compare_to_scratch(auc, scratch, kind="difference"),
            "ratio": metrics.compare_to_scratch(auc, scratch, kind="ratio"),
            "seeds": len(auc),
        }
    gain = rows["policy"]["benefit"].mean
    helps = math.isfinite(gain) and gain > 0
    rows["policy_helps"] = helps
    rows["share"] = rows["dataset"]["benefit"].mean / gain if helps else math.nan
    return rows


def dataset_figures(plan: DatasetTarget) -> dict[str, Any]:
    """teacher_benefits of one target's runs, with the teacher's probe and what the recordings spent."""
    threshold = float(plan.target.threshold)
    policy = method_summaries([plan.policy_folder], threshold)
    data = method_summaries([folder for _, folder, _ in plan.datasets], threshold)
    scratch = plan.suite_scratch if plan.suite_scratch is not None else _auc(policy, "scratch")
    probe = controller_choices(plan.policy_folder).get("instance", {})
    recorded = [read_dataset(path).metadata["env_steps"] for _, _, path in plan.datasets]
    return {
        **teacher_benefits(scratch, _auc(policy, "instance"), _auc(data, "instance")),
        "scratch_source": "suite file" if plan.suite_scratch is not None else "trained here",
        "teacher_zero_shot": finite_values(probe.get("teacher_zero_shot", [])),
        "random_zero_shot": finite_values(probe.get("random_zero_shot", [])),
        "recorded_steps": [int(steps["recorded"]) for steps in recorded],
        "search_steps": [int(steps["mapping_search"]) for steps in recorded],
        "invocations": invocations([plan.policy_folder, *(folder for _, folder, _ in plan.datasets)]),
    }


def identity_mapping(spec: GridSpec) -> str:
    """How the runs resolve the grid's teacher in its target; ConfigError unless through the identity mapping.

    The runs resolve it the same way (rltransfer.transfer.teacher.resolve_teacher: identity when spaces match).
    """
    env_id = spec.env_ids[0]
    resolved = resolve_teacher(str(spec.teacher), env_factory=lambda: make_env(env_id), zoo=spec.zoo)
    mapping = resolved.mapping
    if not (mapping.obs.is_identity(mapping.obs.teacher_dim) and mapping.action.kind == "identity"):
        raise ConfigError(
            f"{spec.teacher} reaches {env_id} through {mapping.describe()}, not the identity",
            fix="give a teacher whose spaces equal the target's",
        )
    return resolved.how


def misleading_figures(folder: Path, spec: GridSpec, mapping: str) -> dict[str, Any]:
    """Scratch and auto on the misleading target: AUCs, auto's AUC as a fraction of scratch's, its mode paths."""
    methods = method_summaries([folder], float(MISLEADING.threshold))
    scratch, auto = _auc(methods, "scratch"), _auc(methods, "auto")
    choices = controller_choices(folder).get("auto", {})
    return {
        "scratch": metrics.aggregate(scratch),
        "auto": metrics.aggregate(auto),
        "fraction": metrics.compare_to_scratch(auto, scratch, kind="fraction"),
        "ratio": metrics.compare_to_scratch(auto, scratch, kind="ratio"),
        "seeds": (len(scratch), len(auto)),
        "paths": choices.get("paths", []),
        "evidence": choices.get("evidence", []),
        "mapping": mapping,
        "steps": spec.total_timesteps,
    }


def _seeds(args: argparse.Namespace) -> int:
    count = args.seeds if args.seeds is not None else (1 if args.quick else 5)
    if not 1 <= count <= MAX_SEEDS:
        raise ConfigError(f"--seeds must be in [1, {MAX_SEEDS}], got {count}", fix="pass e.g. --seeds 5")
    return count


def _run(args: argparse.Namespace) -> int:
    """Read the suite files, record the datasets, run every grid in one invocation, write the report."""
    started, date, revision = time.time(), now_utc(), source_revision()  # the code that runs, not the code at the end
    seeds, quick = _seeds(args), bool(args.quick)
    names = args.only.split(",") if args.only else (QUICK_DATASET_TARGETS if quick else DATASET_TARGETS)
    targets = select_targets([name.strip() for name in names if name.strip()])
    suite = read_results(Path(args.results) / "suite")
    by_name = {result["target"]["name"]: result for result in suite}
    work = Path(args.work or ("runs/bench-controller-quick" if quick else "runs/bench-controller"))
    zoo = str(Path(args.zoo).resolve()) if args.zoo else None
    workers = args.workers or os.cpu_count() or 1
    plans = [
        plan_dataset_target(t, seeds=seeds, quick=quick, work=work, zoo=zoo, suite=by_name.get(t.name)) for t in targets
    ]
    misleading = target_grid(
        MISLEADING, methods=MISLEADING_METHODS, seeds=seeds, teacher=MISLEADING.teacher, quick=quick, zoo=zoo
    )
    mapping = identity_mapping(misleading)
    grids = [(plan.policy, plan.policy_folder) for plan in plans]
    grids += [(spec, folder) for plan in plans for spec, folder, _ in plan.datasets]
    grids.append((misleading, work / MISLEADING.name))
    reports = run_grids(grids, workers=workers, progress=not args.no_progress, command=command_line(PROGRAM))
    header = {
        "command": command_line(PROGRAM),
        "seeds": list(misleading.seeds),
        "steps": {plan.target.name: plan.policy.total_timesteps for plan in plans}
        | {MISLEADING.name: misleading.total_timesteps},
        "revision": revision,
        "machine": machine_description(),
        "date": date,
        "wall_seconds": time.time() - started,
        "workers": workers,
        "runs": sum(r.total for r in reports),
        "runs_reused": sum(r.skipped for r in reports),
        "failed": [f"{o.key}: {o.error}" for r in reports for o in r.failed],
        "quick": quick,
        "work": str(work),
        "results": str(Path(args.results) / "suite"),
    }
    text = render(
        header,
        suite=suite,
        figures=controller_figures(suite),
        datasets={plan.target: dataset_figures(plan) for plan in plans},
        misleading=(MISLEADING, misleading_figures(work / MISLEADING.name, misleading, mapping)),
    )
    atomic_write_text(args.out, text)
    print(f"wrote {args.out} ({time.time() - started:.0f}s, {len(header['failed'])} failed runs)")
    return 1 if header["failed"] else 0
