"""The comparison grid: local and Ray backends, resume after a kill, reports, bad input."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import suite_header

from rltransfer import metrics
from rltransfer.cli import main
from rltransfer.errors import OutputError
from rltransfer.experiments import GridSpec, render_report, run_grid
from rltransfer.experiments.provenance import code_fingerprint
from rltransfer.training import is_finished, read_episodes

TINY = {
    "n_envs": 2,
    "policy_kwargs": {"net_arch": [16]},
    "hyperparams": {"n_steps": 64, "batch_size": 64, "n_epochs": 2},
}


def tiny_spec(methods: tuple[str, ...], *, teacher: str | None = None, zoo: Path | None = None) -> GridSpec:
    return GridSpec(
        env_ids=("CartPole-v1",),
        methods=methods,
        seeds=(0, 1),
        total_timesteps=1000,
        teacher=teacher,
        zoo=str(zoo) if zoo else None,
        **TINY,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def local_grid(tiny_zoo: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[GridSpec, Path]:
    spec = tiny_spec(("scratch", "finetune"), teacher="tiny-ppo", zoo=tiny_zoo)
    out = tmp_path_factory.mktemp("grid") / "out"
    report = run_grid(spec, out, workers=2, progress=False, command="pytest local grid")
    assert report.failed == [], report.failed
    assert (report.done, report.skipped, report.total) == (4, 0, 4)
    return spec, out


def run_folder(out: Path, method: str, seed: int) -> Path:
    return out / "runs" / "CartPole-v1" / method / f"seed{seed}"


def test_local_grid_writes_runs_and_report(local_grid: tuple[GridSpec, Path]) -> None:
    _, out = local_grid
    for method in ("scratch", "finetune"):
        for seed in (0, 1):
            folder = run_folder(out, method, seed)
            assert is_finished(folder)
            assert read_episodes(folder).shape[0] > 5
            assert list((out / "tb" / "CartPole-v1" / method / f"seed{seed}").glob("events.out.tfevents.*"))
    for name in ("summary.md", "summary.csv", "summary.json", "learning_curves.png"):
        assert (out / name).stat().st_size > 0
    assert (out / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"
    text = (out / "summary.md").read_text()
    assert "- command: `pytest local grid`" in text and "- machine:" in text and "- seeds: 0, 1" in text
    assert "| scratch | 2 |" in text and "| finetune | 2 |" in text and "**" in text


def test_summary_matches_metrics_of_the_runs(local_grid: tuple[GridSpec, Path]) -> None:
    _, out = local_grid
    summary = json.loads((out / "summary.json").read_text())
    (env,) = summary["envs"]
    assert env["threshold"] == 475.0 and env["total_timesteps"] == 1000
    aucs = [metrics.area_under_curve(read_episodes(run_folder(out, "finetune", s)), 1000) for s in (0, 1)]
    finetune = env["methods"]["finetune"]
    assert finetune["per_seed"]["auc"] == pytest.approx(aucs)
    assert finetune["estimates"]["auc"]["mean"] == pytest.approx(np.mean(aucs))
    scratch_initial = env["methods"]["scratch"]["per_seed"]["initial"]
    jump = finetune["estimates"]["jumpstart"]["mean"]
    assert jump == pytest.approx(np.mean(finetune["per_seed"]["initial"]) - np.mean(scratch_initial))
    rows = (out / "summary.csv").read_text().splitlines()
    assert rows[0] == "env_id,method,metric,mean,low,high,iqm,n,reached" and len(rows) == 1 + 2 * 6


def test_rerun_skips_finished_runs(local_grid: tuple[GridSpec, Path]) -> None:
    spec, out = local_grid
    stamps = {p: p.stat().st_mtime_ns for p in (out / "runs").rglob("result.json")}
    report = run_grid(spec, out, workers=2, progress=False)
    assert (report.done, report.skipped, report.failed) == (0, 4, [])
    assert {p: p.stat().st_mtime_ns for p in (out / "runs").rglob("result.json")} == stamps


def test_unfinished_run_restarts_clean_with_identical_episodes(local_grid: tuple[GridSpec, Path]) -> None:
    spec, out = local_grid
    folder = run_folder(out, "scratch", 1)
    before = (folder / "episodes.csv").read_text()
    (folder / "result.json").unlink()  # as if killed before finishing
    (folder / "stale.txt").write_text("left by a killed run")
    report = run_grid(spec, out, workers=1, progress=False)
    assert (report.done, report.skipped) == (1, 3)
    assert not (folder / "stale.txt").exists()
    assert (folder / "episodes.csv").read_text() == before  # same seed, fresh process: same episodes


def test_grid_refuses_runs_of_another_configuration(local_grid: tuple[GridSpec, Path], capsys) -> None:
    _, out = local_grid
    code = main(["compare", "--env", "CartPole-v1", "--methods", "scratch", "--seeds", "1", "--steps", "999",
                 "--out", str(out), "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "another configuration" in err[0] and "total_timesteps" in err[0]


def test_grid_refuses_runs_finished_under_other_code(local_grid: tuple[GridSpec, Path]) -> None:
    """A finished run records the code that trained it; a grid under other code refuses to mix it in."""
    spec, out = local_grid
    result = run_folder(out, "scratch", 0) / "result.json"
    recorded = json.loads(result.read_text())
    assert recorded["code"] == code_fingerprint()
    result.write_text(json.dumps({**recorded, "code": "0123456789ab"}))
    try:
        with pytest.raises(OutputError, match=r"scratch/seed0 \(0123456789ab\) finished under other code"):
            run_grid(spec, out, workers=1, progress=False)
        assert json.loads(result.read_text())["code"] == "0123456789ab"  # refused before anything was written
    finally:
        result.write_text(json.dumps(recorded))


def test_transfer_options_reach_the_teacher_methods_and_are_part_of_a_runs_identity(
    local_grid: tuple[GridSpec, Path],
) -> None:
    spec, out = local_grid
    ablation = dataclasses.replace(spec, transfer={"weight": 0.5})
    options = {run.config.method: run.config.transfer_options() for run in ablation.runs(out)}
    assert options == {"scratch": {}, "finetune": {"weight": 0.5}}
    assert GridSpec.from_dict(ablation.to_dict()) == ablation
    with pytest.raises(OutputError, match=r"finetune/seed0 holds a finished run of another configuration \(transfer"):
        run_grid(ablation, out, workers=1, progress=False)


def test_report_rerenders(local_grid: tuple[GridSpec, Path], capsys) -> None:
    _, out = local_grid
    before = (out / "summary.md").read_text()
    for name in ("summary.md", "summary.csv", "learning_curves.png"):
        (out / name).unlink()
    assert main(["report", str(out)]) == 0
    assert (out / "summary.md").read_text() == before
    assert (out / "learning_curves.png").is_file() and (out / "summary.csv").is_file()
    assert "| finetune | 2 |" in capsys.readouterr().out


def test_report_of_an_empty_folder_is_one_line(tmp_path: Path, capsys) -> None:
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no finished runs" in err[0]
    with pytest.raises(Exception, match="no finished runs"):
        render_report(tmp_path)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--env", "CartPole-v1", "--methods", "scratch,kikstart"], 'Did you mean "kickstart"'),
        (["--env", "CartPole-v9", "--methods", "scratch"], "unknown environment id"),
        (["--env", "CartPole-v1", "--methods", "scratch", "--backend", "dask"], "unknown backend"),
        (["--env", "CartPole-v1", "--methods", "scratch", "--workers", "0"], "--workers must be positive"),
        (["--env", "CartPole-v1", "--methods", "finetune", "--teacher", "nobody"], "unknown teacher"),
        (["--env", "CartPole-v1", "--methods", "scratch", "--transfer", '{"critic_warmpu": false}'], "critic_warmup"),
        (["--env", "CartPole-v1", "--methods", "scratch", "--transfer", "[1]"], "must be a JSON object"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path: Path, capsys, args: list[str], expected: str) -> None:
    out = tmp_path / "out"
    code = main(["compare", *args, "--seeds", "1", "--steps", "100", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and expected in err[0] and err[0].startswith("rltransfer: error:")
    assert not out.exists()  # nothing written


def test_sigkilled_grid_resumes_without_rerunning_finished_runs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    hyperparams = tmp_path / "tiny.yaml"
    hyperparams.write_text(json.dumps(TINY))  # JSON is YAML
    seeds = 4  # one worker runs them in turn: the kill lands after the first and well before the last
    command = [sys.executable, "-m", "rltransfer", "compare", "--env", "CartPole-v1", "--methods", "scratch",
               "--seeds", str(seeds), "--steps", "600", "--hyperparams", str(hyperparams), "--workers", "1",
               "--out", str(out), "--no-progress"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    grid = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    finished: list[Path] = []
    while time.time() < deadline and not finished:
        finished = list((out / "runs").rglob("result.json")) if (out / "runs").exists() else []
        time.sleep(0.05)
    assert finished, "no run finished in time"
    os.kill(grid.pid, signal.SIGKILL)
    grid.wait()
    stamps = {p: p.stat().st_mtime_ns for p in (out / "runs").rglob("result.json")}
    assert 1 <= len(stamps) < seeds, "killed mid-grid"
    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(stamps)} already finished" in resumed.stdout
    assert len(list((out / "runs").rglob("result.json"))) == seeds
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # finished runs untouched
    invocations = json.loads((out / "grid.json").read_text())["invocations"]
    assert invocations[-1]["runs_skipped"] == len(stamps) and invocations[-1]["runs_trained"] == seeds - len(stamps)


@pytest.mark.slow
def test_ray_backend_gives_identical_results(local_grid: tuple[GridSpec, Path], tmp_path: Path) -> None:
    pytest.importorskip("ray")
    spec = tiny_spec(("scratch",))
    out = tmp_path / "ray"
    report = run_grid(spec, out, backend="ray", workers=2, progress=False)
    assert report.failed == [] and report.done == 2
    _, local_out = local_grid
    for seed in (0, 1):
        ray_csv = (run_folder(out, "scratch", seed) / "episodes.csv").read_text()
        assert ray_csv == (run_folder(local_out, "scratch", seed) / "episodes.csv").read_text()
    assert (out / "summary.md").is_file() and (out / "tb" / "CartPole-v1" / "scratch" / "seed1").is_dir()


def test_suite_target_file_and_throughput_section(local_grid: tuple[GridSpec, Path]) -> None:
    from benchmarks import suite_run, throughput
    from benchmarks.suite_targets import SuiteTarget, select_targets

    _, out = local_grid
    target = SuiteTarget(
        name="CartPole", env_id="CartPole-v1", algo="ppo", teacher="tiny-ppo", steps=1000, threshold=475,
        about="test", budget="test",
    )  # fmt: skip
    cells = [suite_run.BenefitCell(teacher="tiny-ppo", compatibility=1.0, spec=None, folder=out)]
    result = suite_run.target_result(target, out, cells, steps=1000, header=suite_header(seeds=[0, 1]))
    text = suite_run.render_target(result)
    summary = json.loads((out / "summary.json").read_text())["envs"][0]["methods"]["finetune"]["estimates"]
    assert result["methods"]["finetune"]["estimates"]["transfer_ratio"] == summary["transfer_ratio"]
    assert "- command: `python -m benchmarks suite run CartPole`" in text and "| finetune | 2 |" in text
    assert "| tiny-ppo | 1.00 | 0 | – | main grid |" in text  # no representation runs in this grid
    rows = [
        {"workers": 1, "repeat": 1, "runs": 4, "steps": 4000, "seconds": 10.0, "steps_per_second": 400.0,
         "load_before": 0.1},
        {"workers": 2, "repeat": 1, "runs": 4, "steps": 4000, "seconds": 6.0, "steps_per_second": 666.7,
         "load_before": 0.2},
    ]  # fmt: skip
    section = "\n".join(throughput.throughput_section(rows, 2))
    assert "**1.67×**" in section and "**met**" in section  # 666.7 / 400 ≥ 0.8 · 2
    rows += [
        {"workers": 1, "repeat": 1, "runs": 4, "steps": 16000, "seconds": 34.0, "steps_per_second": 470.6,
         "load_before": 0.1},
        {"workers": 2, "repeat": 1, "runs": 4, "steps": 16000, "seconds": 18.0, "steps_per_second": 888.9,
         "load_before": 0.2},
    ]  # fmt: skip
    section = "\n".join(throughput.throughput_section(rows, 2))  # 2 s fixed in both; 8 s vs 4 s per 1,000 steps
    assert "1 worker 2.0 s + 8.00 s, 2 workers 2.0 s + 4.00 s" in section and "**100%**" in section
    with pytest.raises(Exception, match=r'(?i)did you mean "cartpole-longpole"'):
        select_targets(["cartpole-longpol"])
