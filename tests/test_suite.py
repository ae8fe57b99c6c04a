"""The benchmark suite's structure: `suite run --quick` for its three targets, then `suite aggregate` (CI-sized)."""

from __future__ import annotations

import contextlib
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import one_error_line

from benchmarks import suite_setup
from benchmarks.__main__ import main
from benchmarks.suite_aggregate import normalise
from benchmarks.suite_controller import controller_figures
from benchmarks.suite_targets import BENEFIT_METHOD, METHOD_ORDER, QUICK_STEPS, QUICK_TARGETS, TARGETS
from rltransfer.zoo.card import read_card


def _finite(value: Any) -> bool:
    return value is not None and math.isfinite(value)


def _check_target(path: Path, name: str) -> dict[str, Any]:
    result = json.loads(path.read_text())
    assert result["target"]["name"] == name and result["target"]["steps"] == QUICK_STEPS
    assert result["header"]["quick"] and result["header"]["failed"] == [] and result["header"]["seeds"] == [0]
    assert list(result["methods"]) == list(METHOD_ORDER)
    for method, entry in result["methods"].items():
        estimates = entry["estimates"]
        for metric in ("jumpstart", "auc", "asymptote", "transfer_ratio"):
            assert _finite(estimates[metric]["mean"]), (name, method, metric)
        assert estimates["time_to_threshold"]["n"] == 1
    scratch = result["methods"]["scratch"]["estimates"]
    assert scratch["transfer_ratio"]["mean"] == 0 and scratch["jumpstart"]["mean"] == 0
    own, *others = result["benefit"].items()
    assert own[0] == result["target"]["teacher"] and own[1]["source"] == "main grid" and len(others) == 1
    representation = result["methods"][BENEFIT_METHOD]["estimates"]["transfer_ratio"]["mean"]
    assert own[1]["transfer_ratio"]["mean"] == pytest.approx(representation)
    assert all(_finite(entry["transfer_ratio"]["mean"]) and entry["compatibility"] > 0 for _, entry in others)
    text = path.with_suffix(".md").read_text()
    assert text.startswith(f"# Suite target {name}\n\n- command: `python -m benchmarks suite run --quick")
    assert "## Benefit matrix" in text and "quick run" in text
    auto = result["controller"]["auto"]  # which mode auto chose and when, beside every fixed mode (issue 12)
    assert auto["seeds"] == [0] and auto["paths"][0][0]["step"] == 0 and auto["paths"][0][0]["mode"]
    assert _finite(auto["teacher_zero_shot"][0]) and _finite(auto["random_zero_shot"][0])
    assert "## The controller's decisions" in text and "**auto**: Teacher in the target" in text
    return result


def _check_interval(value: dict[str, float], low: float = -math.inf, high: float = math.inf) -> None:
    assert all(_finite(value[k]) for k in ("point", "low", "high")), value
    assert low <= value["low"] <= value["point"] <= value["high"] <= high, value


def test_quick_suite_runs_each_target_then_aggregates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "results"
    args = ["suite", "run", "--quick", "--work", str(tmp_path / "work"), "--results", str(results)]
    args += ["--workers", "2", "--no-progress"]
    monkeypatch.setattr(sys, "argv", ["benchmarks", *args])  # the header's command is the process's own
    assert main(args) == 0
    targets = {name: _check_target(results / "suite" / f"{name}.json", name) for name in QUICK_TARGETS}
    assert not list(tmp_path.glob("work/*.md")), "target files go to --results, run folders to --work"

    args = ["suite", "aggregate", "--results", str(results), "--reps", "100"]
    monkeypatch.setattr(sys, "argv", ["benchmarks", *args])
    assert main(args) == 0
    capsys.readouterr()
    summary = json.loads((results / "suite.json").read_text())
    assert list(summary["targets"]) == list(QUICK_TARGETS) and summary["methods"] == list(METHOD_ORDER)
    assert summary["header"]["missing"] == [t.name for t in TARGETS if t.name not in QUICK_TARGETS]
    for name, entry in summary["targets"].items():
        assert entry["estimates"] == {m: v["estimates"] for m, v in targets[name]["methods"].items()}
    aggregate = summary["aggregate"]
    for score in ("auc", "asymptote"):
        assert set(aggregate["iqm"][score]) == set(METHOD_ORDER)
        for value in aggregate["iqm"][score].values():
            _check_interval(value)
    assert set(aggregate["probability_of_improvement"]) == set(METHOD_ORDER) - {"scratch"}
    for value in aggregate["probability_of_improvement"].values():
        _check_interval(value, 0.0, 1.0)
    profile = aggregate["performance_profile"]
    assert len(profile["profiles"]["auto"]["point"]) == len(profile["taus"])
    assert all(0 <= p <= 1 for entry in profile["profiles"].values() for p in entry["point"])
    scratch_auc = [
        normalise(
            targets[name]["methods"]["scratch"]["per_seed"]["auc"],
            low=targets[name]["methods"]["scratch"]["estimates"]["initial"]["mean"],
            high=targets[name]["target"]["threshold"],
        )[0]
        for name in QUICK_TARGETS
    ]
    assert aggregate["iqm"]["auc"]["scratch"]["point"] == pytest.approx(np.mean(scratch_auc))  # 3 runs: IQM = mean
    steps = summary["steps_ratio"]
    assert steps["goal"] == 0.25 and set(steps["per_method"]) == set(METHOD_ORDER) - {"scratch"}

    controller = summary["controller"]
    assert set(controller["per_target"]) <= set(QUICK_TARGETS) and not controller["not_probed"]
    assert set(controller["mean_normalised_auc"]) == set(METHOD_ORDER)

    matrix = json.loads((results / "benefit_matrix.json").read_text())
    assert matrix["method"] == BENEFIT_METHOD and list(matrix["targets"]) == list(QUICK_TARGETS)
    for name, entry in matrix["targets"].items():
        assert entry["teachers"] == targets[name]["benefit"]
    text = (results / "suite.md").read_text()
    assert text.startswith("# rltransfer benchmark suite\n\n- command: `python -m benchmarks suite aggregate")
    for plot in ("iqm", "probability_of_improvement", "performance_profile"):
        path = results / "suite" / "plots" / f"{plot}.png"
        assert path.read_bytes().startswith(b"\x89PNG") and f"(suite/plots/{plot}.png)" in text


def test_normalise_maps_scratch_start_to_0_and_threshold_to_1() -> None:
    assert normalise([-500.0, -100.0, -300.0], low=-500.0, high=-100.0).tolist() == [0.0, 1.0, 0.5]
    assert np.isnan(normalise([1.0], low=5.0, high=5.0)).all()  # no span: undefined, not a division by zero


def _result(name: str, aucs: dict[str, float], *, teacher: float, low: float) -> dict[str, Any]:
    """A target file reduced to what controller_figures reads: scratch starts at 0, the threshold is 100."""
    methods = {
        m: {"per_seed": {"auc": [auc]}, "estimates": {"initial": {"mean": 0.0}, "transfer_ratio": {"low": low}}}
        for m, auc in aucs.items()
    }
    probe = {"teacher_zero_shot": [teacher], "random_zero_shot": [10.0], "evidence": []}
    return {
        "target": {"name": name, "algo": "ppo", "threshold": 100.0},
        "methods": methods,
        "controller": {"auto": probe},
    }


def test_controller_figures_score_auto_against_the_per_target_oracle() -> None:
    fixed = dict.fromkeys(("finetune", "kickstart", "jsrl", "representation"), 20.0)
    results = [  # A: auto matches the oracle (instance); B: auto gets half of the oracle's gain over scratch
        _result("A", {**fixed, "scratch": 10.0, "instance": 50.0, "auto": 50.0}, teacher=90.0, low=0.2),
        _result("B", {**fixed, "scratch": 10.0, "instance": 30.0, "auto": 20.0}, teacher=5.0, low=-0.1),
    ]
    figures = controller_figures(results)
    a, b = figures["per_target"]["A"], figures["per_target"]["B"]
    assert (a["oracle"], b["oracle"]) == ("instance", "instance")
    assert a["auto_regret"] == pytest.approx(0.0) and b["auto_regret"] == pytest.approx(0.1)
    assert figures["auto_pooled_regret"] == pytest.approx(0.1 / (0.4 + 0.2))
    assert figures["mean_normalised_auc"]["auto"] == pytest.approx(0.35)
    assert not figures["auto_at_least_every_fixed"]  # instance's mean 0.4 is above auto's 0.35
    assert (a["teacher_beats_random"], b["teacher_beats_random"]) == (True, False)
    assert figures["instance_share"] == 1.0 and figures["instance_targets"] == 1  # B's teacher is below random


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["suite", "run", "cartpole-longpol"], 'did you mean "cartpole-longpole"'),
        (["suite", "run", "CartPole-Heavy", "--seeds", "0"], "--seeds must be in [1, 100], got 0"),
        (["suite", "run", "--quick", "--benefit-seeds", "-2"], "--benefit-seeds must be in [1, 100], got -2"),
        (["suite", "run"], "no target named"),
        (["suite", "run", "CartPole-Heavy", "--seeds", "five"], "invalid int value: 'five'"),
    ],
)
def test_bad_input_is_one_line(argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) if "five" in argv else contextlib.nullcontext():  # argparse's own errors exit
        assert main(argv) == 2
    captured = capsys.readouterr()
    assert expected.lower() in one_error_line(captured.err, captured.out).lower()


def test_aggregate_without_target_files_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["suite", "aggregate", "--results", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert "no suite target files in" in one_error_line(captured.err, captured.out)


def test_setup_imports_a_plain_sb3_teacher_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite's set-up trains with plain SB3 and brings the model in through zoo import-sb3; then reuses it."""
    monkeypatch.setattr(suite_setup, "USER_STEPS", 256)
    assert suite_setup.ensure_user_teacher(str(tmp_path)) is True
    card = read_card(tmp_path / suite_setup.USER_TEACHER)
    assert card.algo == "ppo" and card.policy_kwargs["net_arch"] == [32, 32]
    assert "imported" in card.notes
    assert suite_setup.ensure_user_teacher(str(tmp_path)) is False
