"""`python -m benchmarks controller`: issue 12's figures from suite files, a dataset teacher, a misleading one."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import one_error_line, suite_header

from benchmarks.__main__ import main
from benchmarks.controller import identity_mapping, suite_scratch, target_grid, teacher_benefits
from benchmarks.suite_run import FORMAT
from benchmarks.suite_targets import QUICK_STEPS, select_targets
from rltransfer.errors import ConfigError
from rltransfer.io import json_safe
from rltransfer.training import TrainConfig, resolve_settings

FIXED = ("finetune", "kickstart", "jsrl", "representation")


def _suite_file(
    root: Path,
    name: str,
    *,
    normalised: dict[str, float],
    initial: float,
    instance_low: float,
    instance_initial: float,
    teacher: float,
) -> dict[str, Any]:
    """A quick suite target file (suite_run.target_result's format): 1 seed per method, of these normalised AUCs."""
    target = select_targets([name])[0]
    config = TrainConfig(env_id=target.env_id, algo=target.algo, total_timesteps=QUICK_STEPS)
    span = target.threshold - initial
    methods = {
        method: {
            "seeds": [0],
            "per_seed": {"auc": [initial + value * span]},
            "estimates": {
                "initial": {"mean": instance_initial if method == "instance" else initial},
                "transfer_ratio": {"low": instance_low if method == "instance" else 0.0},
            },
        }
        for method, value in normalised.items()
    }
    probe = {"seeds": [0], "teacher_zero_shot": [teacher], "random_zero_shot": [initial], "evidence": []}
    path = [{"step": 0, "mode": "representation", "reason": "r"}, {"step": 1000, "mode": "none", "reason": "r"}]
    result = {
        "format": FORMAT,
        "header": suite_header(quick=True, revision="abc"),
        "target": {
            "name": name,
            "env_id": target.env_id,
            "algo": target.algo,
            "steps": QUICK_STEPS,
            "threshold": target.threshold,
            "settings": json_safe(resolve_settings(config)),
        },
        "methods": methods,
        "controller": {"instance": probe, "auto": {**probe, "paths": [path]}},
    }
    (root / "suite").mkdir(parents=True, exist_ok=True)
    (root / "suite" / f"{name}.json").write_text(json.dumps(result))
    return result


def _suite(root: Path) -> dict[str, dict[str, Any]]:
    """Two targets whose oracle is instance: auto's regret 0.1 of normalised AUC on each (pooled 0.2 / 1.9)."""
    cartpole = _suite_file(
        root, "CartPole-Heavy", initial=25.0, instance_low=0.3, instance_initial=25.0, teacher=500.0,
        normalised={"scratch": 0.2, **dict.fromkeys(FIXED, 0.5), "instance": 0.8, "auto": 0.7},
    )  # fmt: skip
    pendulum = _suite_file(  # scratch's AUC far below anything a run reaches: the quick policy helps against it
        root, "Pendulum-Heavy", initial=-1200.0, instance_low=-0.1, instance_initial=-400.0, teacher=-200.0,
        normalised={"scratch": -0.8, **dict.fromkeys(FIXED, 0.2), "instance": 0.5, "auto": 0.4},
    )  # fmt: skip
    return {"CartPole-Heavy": cartpole, "Pendulum-Heavy": pendulum}


def _line(text: str, start: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(start))


def test_quick_controller_writes_every_section_and_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _suite(tmp_path / "results")
    out, work = tmp_path / "controller.md", tmp_path / "work"
    args = ["controller", "--quick", "--results", str(tmp_path / "results"), "--work", str(work), "--out", str(out)]
    args += ["--workers", "2", "--no-progress"]
    monkeypatch.setattr(sys, "argv", ["benchmarks", *args])  # the header's command is the process's own
    assert main(args) == 0
    text = out.read_text()
    assert text.startswith(
        "# Transfer controller benchmark (issue 12)\n\n- command: `python -m benchmarks controller --quick"
    )
    assert "- seeds: 0 (1 per method)" in text and "- code: " in text and "**quick run**" in text

    # 1. the suite files' figures, as suite_controller computes them, and auto's path per seed
    assert "(goal ≤ 0.1): **MISSED**" in _line(text, "- auto's regret") and "0.105" in text
    assert "on 50% of the 2 targets" in _line(text, "- instance's transfer ratio CI")
    assert _line(text, "- instance's jumpstart").endswith("on 1 of 1: MET.")  # (−400 + 1200) / (−200 + 1200) = 0.8
    assert "- **CartPole-Heavy**: seed 0: representation@0 → none@1,000" in text

    # 2. the dataset teacher: scratch from the suite file (same quick grid), instance from policy and dataset here
    row = _line(text, "| Pendulum-Heavy (SAC, teacher pendulum-sac)")
    assert "-2000 (suite file)" in row and "beats random" in row
    share = float(row.rstrip(" |").rsplit("| ", 1)[1])
    assert math.isfinite(share)
    verdict = _line(text, "- Pendulum-Heavy: share")
    assert f"share {share:.2f} (goal ≥ 0.8): " in verdict and "150 steps recorded per seed" in verdict
    assert not (work / "Pendulum-Heavy" / "policy" / "runs" / "rltransfer_Pendulum-Heavy-v0" / "scratch").exists()
    assert (work / "Pendulum-Heavy" / "datasets" / "seed0" / "data").is_dir()  # a Minari dataset

    # 3. the misleading teacher, through the identity mapping
    assert "(teacher cartpole-ppo; identity mapping (spaces match))" in text
    assert _line(text, "| auto | 1 | ").count("|") == 6
    assert "of scratch's (goal ≥ 0.95×): " in _line(text, "- auto's AUC on the misleading teacher")
    assert "- seed 0: " in text

    # finished runs are reused, the file is regenerated whole
    out.unlink()
    assert main(args) == 0
    again = out.read_text()
    assert "4 of 4 runs reused from earlier invocations" in again and _line(again, "| Pendulum-Heavy (SAC") == row


def test_suite_scratch_is_reused_only_for_the_same_grid(tmp_path: Path) -> None:
    result = _suite(tmp_path)["Pendulum-Heavy"]
    target = select_targets(["Pendulum-Heavy"])[0]

    def grid(*, seeds: int = 1, quick: bool = True) -> Any:
        return target_grid(target, methods=("instance",), seeds=seeds, teacher=target.teacher, quick=quick, zoo=None)

    assert suite_scratch(result, grid(), quick=True) == [-2000.0]
    assert suite_scratch(result, grid(seeds=2), quick=True) is None  # seed 1 is not in the file
    assert suite_scratch(result, grid(quick=False), quick=False) is None  # a quick file for a full grid
    assert suite_scratch(None, grid(), quick=True) is None
    other = json.loads(json.dumps(result))
    other["target"]["settings"]["hyperparams"]["batch_size"] = 64
    assert suite_scratch(other, grid(), quick=True) is None


def test_teacher_benefits_share_only_where_the_policy_helps() -> None:
    rows = teacher_benefits([10.0, 12.0], [30.0, 34.0], [26.0, 28.0])
    assert rows["policy"]["benefit"].mean == pytest.approx(21.0) and rows["dataset"]["benefit"].mean == pytest.approx(
        16.0
    )
    assert rows["dataset"]["ratio"].mean == pytest.approx(16.0 / 11.0)
    assert rows["policy_helps"] and rows["share"] == pytest.approx(16.0 / 21.0)
    assert rows["policy"]["benefit"].low <= 21.0 <= rows["policy"]["benefit"].high
    worse = teacher_benefits([10.0, 12.0], [8.0, 10.0], [20.0, 22.0])
    assert not worse["policy_helps"] and math.isnan(worse["share"])


def test_a_searched_mapping_is_not_the_misleading_identity() -> None:
    """CartPole-Permuted is reached through a mapping found by search, so it cannot stand for a misleading teacher."""
    target = select_targets(["CartPole-Permuted"])[0]
    spec = target_grid(target, methods=("auto",), seeds=1, teacher="cartpole-ppo", quick=True, zoo=None)
    with pytest.raises(ConfigError, match="not the identity"):
        identity_mapping(spec)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["controller", "--seeds", "0"], "--seeds must be in [1, 100], got 0"),
        (["controller", "--only", "pendulum-heavvy"], 'did you mean "pendulum-heavy"'),
    ],
)
def test_bad_input_is_one_line(argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert expected.lower() in one_error_line(captured.err, captured.out).lower()


def test_without_suite_files_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["controller", "--quick", "--results", str(tmp_path), "--work", str(tmp_path / "work")]) == 2
    captured = capsys.readouterr()
    assert "no suite target files in" in one_error_line(captured.err, captured.out)
    assert not (tmp_path / "work").exists()  # nothing recorded or trained
