"""One definition per metric: compare, report, diagnose and the suite all take time to threshold and AUC from
rltransfer.metrics. Replacing the two functions there changes every one of their outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import suite_header

from benchmarks import suite_run
from benchmarks.suite_targets import SuiteTarget
from rltransfer import metrics
from rltransfer.cli import main
from rltransfer.experiments import GridSpec, run_grid

TIME_TO_THRESHOLD, AUC = 777.0, 4242.0
"""What the replaced definitions return: no honest run gives either."""


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    counted = {"time_to_threshold": 0, "area_under_curve": 0}

    def time_to_threshold(episodes: np.ndarray, threshold: float | None, **_: object) -> float:
        counted["time_to_threshold"] += 1
        return TIME_TO_THRESHOLD

    def area_under_curve(episodes: np.ndarray, total_steps: int, **_: object) -> float:
        counted["area_under_curve"] += 1
        return AUC

    monkeypatch.setattr(metrics, "time_to_threshold", time_to_threshold)
    monkeypatch.setattr(metrics, "area_under_curve", area_under_curve)
    return counted


def per_seed(out: Path, method: str) -> dict[str, list[float]]:
    return json.loads((out / "summary.json").read_text())["envs"][0]["methods"][method]["per_seed"]


def test_compare_report_diagnose_and_suite_share_one_definition(
    tiny_zoo: Path, tmp_path: Path, calls: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    spec = GridSpec(
        env_ids=("CartPole-v1",),
        methods=("scratch", "finetune"),
        seeds=(0,),
        total_timesteps=600,
        teacher="tiny-ppo",
        zoo=str(tiny_zoo),
        n_envs=2,
        policy_kwargs={"net_arch": [16]},
        hyperparams={"n_steps": 64, "batch_size": 64, "n_epochs": 2},
    )
    out = tmp_path / "out"
    run_grid(spec, out, workers=1, progress=False)  # compare
    for method in ("scratch", "finetune"):
        assert per_seed(out, method)["time_to_threshold"] == [TIME_TO_THRESHOLD]
        assert per_seed(out, method)["auc"] == [AUC]
    (out / "summary.json").unlink()
    before = dict(calls)
    assert main(["report", str(out)]) == 0
    assert per_seed(out, "finetune")["auc"] == [AUC] and calls["area_under_curve"] > before["area_under_curve"]
    before = dict(calls)
    assert main(["diagnose", str(out)]) == 0
    assert all(calls[name] > before[name] for name in calls)  # diagnose summarises with the same functions
    capsys.readouterr()
    target = SuiteTarget(
        name="CartPole", env_id="CartPole-v1", algo="ppo", teacher="tiny-ppo", steps=600, threshold=475,
        about="test", budget="test",
    )  # fmt: skip
    cells = [suite_run.BenefitCell(teacher="tiny-ppo", compatibility=1.0, spec=None, folder=out)]
    result = suite_run.target_result(target, out, cells, steps=600, header=suite_header())
    assert result["methods"]["finetune"]["per_seed"]["time_to_threshold"] == [TIME_TO_THRESHOLD]
    assert result["methods"]["finetune"]["per_seed"]["auc"] == [AUC]
    text = suite_run.render_target(result)
    assert "777" in text and "4242" in text.replace(",", ""), text
