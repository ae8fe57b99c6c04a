"""Issue 10, training side: failed run folders re-run, one line per bad input, bounds, resume record, strict JSON."""

from __future__ import annotations

import csv
import errno
import json
import math
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from conftest import one_error_line
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rltransfer.cli import main
from rltransfer.training import EpisodeRecorder

# ----------------------------------------------------------------------------------------- test envs
FAULTS: dict[str, str] = {}
"""What the test envs do wrong now, by id: cleared to make the same command succeed on a re-run."""


class FaultyEnv(gym.Env[np.ndarray, int]):
    """CartPole-sized env that misbehaves at step 5 (or at reset) while FAULTS names it."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, name: str = "", fault_seed: int | None = None) -> None:
        self.name = name
        self.fault_seed = fault_seed  # raise in step() when seeded with it (a fault that reaches spawned workers)
        self.seeded: int | None = None
        self.t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.seeded = seed if seed is not None else self.seeded
        if FAULTS.get(self.name) == "reset":
            raise RuntimeError("reset exploded")
        self.t = 0
        return np.zeros(4, np.float32), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        obs, reward = np.zeros(4, np.float32), 1.0
        fault = FAULTS.get(self.name) if self.t >= 5 else None
        if self.fault_seed is not None and self.seeded == self.fault_seed:
            fault = "step"
        if fault == "step":
            raise ValueError("step exploded")
        if fault == "nan_obs":
            obs[2] = np.nan
        if fault == "inf_obs":
            obs[0] = np.inf
        if fault == "nan_reward":
            reward = math.nan
        return obs, reward, False, self.t >= 20, {}


class DictObsEnv(FaultyEnv):
    observation_space = gym.spaces.Dict({"a": gym.spaces.Box(-1.0, 1.0, (2,), np.float32)})  # type: ignore[assignment]


class MultiDiscreteEnv(FaultyEnv):
    action_space = gym.spaces.MultiDiscrete([2, 3])  # type: ignore[assignment]


IDS = {"Faulty": FaultyEnv, "DictObs": DictObsEnv, "MultiDiscrete": MultiDiscreteEnv}


for _name, _cls in IDS.items():  # registered on import: `--env test_reliability_train:reliability/...` works too
    if f"reliability/{_name}-v0" not in gym.registry:
        gym.register(id=f"reliability/{_name}-v0", entry_point=_cls, kwargs={"name": f"reliability/{_name}-v0"})


@pytest.fixture(autouse=True)
def _no_faults() -> Iterator[None]:
    FAULTS.clear()
    yield
    FAULTS.clear()


FAULTY = "reliability/Faulty-v0"


def _hyperparams(tmp_path: Path, body: str = "") -> str:
    path = tmp_path / "hp.yml"
    path.write_text(body or "n_envs: 1\npolicy_kwargs: {net_arch: [16]}\nn_steps: 32\nbatch_size: 32\nn_epochs: 1\n")
    return str(path)


def _train(tmp_path: Path, out: Path, *extra: str, env: str = FAULTY, algo: str = "ppo", steps: int = 64) -> list[str]:
    args = ["train", "--env", env, "--algo", algo, "--steps", str(steps), "--out", str(out), "--no-progress"]
    if "--hyperparams" not in extra:
        args += ["--hyperparams", _hyperparams(tmp_path)]
    return [*args, *extra]


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    return one_error_line(captured.err, captured.out)


def _strict(text: str) -> Any:
    def refuse(name: str) -> None:
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


# --------------------------------------------------------------------- item 2: failed folders re-run
@pytest.mark.parametrize(
    ("fault", "code", "needle"),
    [
        ("step", 1, "ValueError: step exploded in step() at step 5"),
        ("reset", 1, "RuntimeError: reset exploded in reset()"),
        ("nan_obs", 1, "NaN in its observation at step 5"),
        ("inf_obs", 1, "inf in its observation at step 5"),
        ("nan_reward", 1, "NaN in its reward at step 5"),
        ("disk_full", 2, "disk full"),
    ],
)
def test_a_failed_run_is_one_line_and_the_same_command_runs_again(
    fault: str, code: int, needle: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    out = tmp_path / "run"
    args = _train(tmp_path, out)
    original = EpisodeRecorder._on_step
    if fault == "disk_full":

        def full(self: EpisodeRecorder) -> bool:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(EpisodeRecorder, "_on_step", full)
    else:
        FAULTS[FAULTY] = fault
    try:
        assert main(args) == code
    finally:
        FAULTS.clear()
        monkeypatch.setattr(EpisodeRecorder, "_on_step", original)
    line = _one_line(capsys)
    assert needle in line and (fault == "disk_full" or FAULTY in line), line
    assert "again" in line, "the message names the way out"
    error = (out / "error.txt").read_text()
    assert error.startswith(line.removeprefix("rltransfer: error: ")) and "Traceback" in error
    assert not (out / "result.json").exists()

    # --resume names the way out, and the way out works
    assert main([*args, "--resume"]) == 2
    assert "without --resume" in _one_line(capsys)
    assert main(args) == 0, capsys.readouterr().err
    assert "stopped before its first checkpoint" in capsys.readouterr().out
    assert (out / "result.json").is_file() and not (out / "error.txt").exists()


def test_unknown_teacher_writes_nothing_and_the_fixed_command_runs(tiny_zoo: Path, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "run"
    base = _train(tmp_path, out, "--zoo", str(tiny_zoo), "--method", "finetune", env="CartPole-v1")
    assert main([*base, "--teacher", "tiny-ppp"]) == 2
    assert "tiny-ppo" in _one_line(capsys)
    assert not out.exists()
    assert main([*base, "--teacher", "tiny-ppo"]) == 0


def test_a_folder_left_by_a_failed_run_is_run_again(tmp_path: Path, capsys: Any) -> None:
    """What earlier versions left after a crash (header and decisions, no checkpoint) is no dead end."""
    out = tmp_path / "run"
    assert main(_train(tmp_path, out)) == 0
    for name in ("result.json", "episodes.csv", "student"):
        shutil.rmtree(out / name) if (out / name).is_dir() else (out / name).unlink()
    assert main(_train(tmp_path, out)) == 0
    assert (out / "result.json").is_file()


def test_finished_and_interrupted_runs_name_resume_and_overwrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    out = tmp_path / "run"
    args = _train(tmp_path, out, env="CartPole-v1", steps=128)
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 2
    line = _one_line(capsys)
    assert "already holds a finished run" in line and "--overwrite" in line
    first = (out / "result.json").read_text()

    original = EpisodeRecorder._on_step

    def interrupting(self: EpisodeRecorder) -> bool:
        if self.num_timesteps >= 64:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(EpisodeRecorder, "_on_step", interrupting)
    assert main([*args, "--overwrite"]) == 130
    capsys.readouterr()
    monkeypatch.setattr(EpisodeRecorder, "_on_step", original)
    assert (out / "checkpoint" / "state.json").is_file() and not (out / "result.json").exists()
    assert main(args) == 2
    line = _one_line(capsys)
    assert "interrupted run" in line and "--resume" in line and "--overwrite" in line
    assert main([*args, "--overwrite"]) == 0
    assert json.loads((out / "result.json").read_text())["episodes"] == json.loads(first)["episodes"]
    assert main([*args, "--resume", "--overwrite"]) == 2
    _one_line(capsys)


def test_a_folder_of_other_files_is_never_replaced(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("keep me")
    for extra in ((), ("--overwrite",)):
        assert main(_train(tmp_path, out, *extra)) == 2
        assert "not an rltransfer run" in _one_line(capsys)
    assert [p.name for p in out.iterdir()] == ["thesis.tex"]


# ------------------------------------------------------------- item 3 and 5: one line before training
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--env", "rltransfer/Pendulum-v0", "--algo", "dqn"], "use --algo ppo or a2c or sac or td3"),
        (["--env", "CartPole-v1", "--algo", "sac"], "use --algo ppo or a2c or dqn"),
        (["--env", "CartPole-v1", "--algo", "td3"], "use --algo ppo or a2c or dqn"),
        (["--env", "reliability/DictObs-v0"], "FlattenObservation"),
        (["--env", "reliability/MultiDiscrete-v0"], "ActionWrapper"),
        (["--steps", "99999999999999999999"], "--steps must be in [1, 1e+10]"),
        (["--steps", "0"], "--steps"),
        (["--n-envs", "100000"], "n_envs must be in [1, 1024]"),
        (["--seed", "-1"], "--seed"),
        (["--seed", "99999999999"], "--seed"),
        (["--hp", "learning_rate: fast\n"], "learning_rate must be a number in (0, 1], got 'fast'"),
        (["--hp", "learning_rate: 1e-3\n"], "write 1.0e-3"),
        (["--hp", "learning_rate: .nan\n"], "learning_rate"),
        (["--hp", "policy_kwargs: {net_arch: [0]}\n"], "net_arch"),
        (["--hp", "policy_kwargs: {net_arch: [16, -3]}\n"], "net_arch"),
        (["--hp", "policy_kwargs: {net_arch: [1000000]}\n"], "net_arch"),
        (["--hp", "policy_kwargs: {net_arch: 16}\n"], "net_arch"),
        (["--hp", "policy_kwargs: {net_arch: {pi: [0]}}\n"], "net_arch"),
        (["--hp", "policy_kwargs: {activation_fn: relux}\n"], "relu"),
        (["--hp", "policy_kwargs: {features_extractor_class: X}\n"], "policy kwarg"),
        (["--hp", "policy_kwargs: 5\n"], "policy_kwargs"),
        (["--hp", "n_envs: many\n"], "n_envs"),
        (["--hp", "n_envs: 100000\n"], "n_envs"),
        (["--hp", "n_step: 32\n"], 'Did you mean "n_steps"'),
        (["--hp", "n_steps: 2.5\n"], "n_steps must be an integer"),
        (["--hp", "n_steps: 1000000000000\n"], "n_steps"),
        (["--hp", "gamma: 2\n"], "gamma"),
        (["--hp", "seed: 3\n"], "--seed"),
        (["--hp", "ent_coef: auto\n"], "ent_coef"),
        (["--hp", "[1, 2]\n"], "mapping"),
    ],
)
def test_bad_input_is_one_line_before_anything_is_written(
    args: list[str], needle: str, tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "run"
    extra = list(args)
    if extra[0] == "--hp":
        extra = ["--hyperparams", _hyperparams(tmp_path, extra[1])]
    elif "--algo" in extra:  # the default hyperparams are PPO's
        extra += ["--hyperparams", _hyperparams(tmp_path, "policy_kwargs: {net_arch: [16]}\n")]
    full = _train(tmp_path, out, *extra)
    assert main(full) == 2
    line = _one_line(capsys)
    assert needle in line, line
    assert not out.exists(), "nothing is written for bad input"


def test_multidiscrete_actions_do_not_suggest_an_observation_wrapper(tmp_path: Path, capsys: Any) -> None:
    assert main(_train(tmp_path, tmp_path / "run", env="reliability/MultiDiscrete-v0")) == 2
    line = _one_line(capsys)
    assert "action space" in line and "FlattenObservation" not in line


@pytest.mark.parametrize("command", ["report", "diagnose"])
def test_threshold_nan_is_refused_by_report_and_diagnose(command: str, tmp_path: Path, capsys: Any) -> None:
    assert main([command, str(tmp_path), "--threshold", "nan"]) == 2
    assert "--threshold must be a finite number" in _one_line(capsys)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--threshold", "nan"], "--threshold must be a finite number"),
        (["--threshold", "inf"], "--threshold must be a finite number"),
        (["--steps", "99999999999999999999"], "--steps"),
        (["--n-envs", "100000"], "n_envs"),
        (["--seeds", "99999999999999999999"], "--seeds"),
        (["--algo", "dqn", "--env", "rltransfer/Pendulum-v0"], "use --algo"),
        (["--hyperparams", "HP:learning_rate: fast\n"], "learning_rate"),
        (["--hyperparams", "HP:policy_kwargs: {net_arch: [0]}\n"], "net_arch"),
    ],
)
def test_compare_refuses_bad_input_before_any_run(args: list[str], needle: str, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "grid"
    full = ["compare", "--env", "CartPole-v1", "--methods", "scratch", "--seeds", "1", "--steps", "64"]
    full += ["--out", str(out), "--no-progress", "--workers", "1"]
    for flag, value in zip(args[::2], args[1::2], strict=True):
        if value.startswith("HP:"):
            value = _hyperparams(tmp_path, value[3:])
        if flag in full:
            full[full.index(flag) + 1] = value
        else:
            full += [flag, value]
    assert main(full) == 2
    assert needle in _one_line(capsys)
    assert not out.exists()


# ------------------------------------------------------------------------ item 6: resume tells the truth
@pytest.mark.parametrize(("algo", "env"), [("ppo", "CartPole-v1"), ("sac", "rltransfer/Pendulum-v0")])
def test_resumed_result_counts_every_episode(
    algo: str, env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    out = tmp_path / "run"
    body = "policy_kwargs: {net_arch: [16]}\n" + (
        "n_envs: 1\nn_steps: 64\nbatch_size: 64\nn_epochs: 1\n" if algo == "ppo" else "learning_starts: 100\n"
    )
    steps = 640 if algo == "ppo" else 700
    args = _train(tmp_path, out, "--hyperparams", _hyperparams(tmp_path, body), env=env, algo=algo, steps=steps)
    original = EpisodeRecorder._on_step
    stop = steps - 150 if algo == "ppo" else 500

    def interrupting(self: EpisodeRecorder) -> bool:
        if self.num_timesteps >= stop:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(EpisodeRecorder, "_on_step", interrupting)
    assert main(args) == 130
    monkeypatch.setattr(EpisodeRecorder, "_on_step", original)
    before = len(list(csv.reader((out / "episodes.csv").open()))) - 1
    assert before > 0
    assert main([*args, "--resume"]) == 0
    capsys.readouterr()
    returns = [float(row[1]) for row in list(csv.reader((out / "episodes.csv").open()))[1:]]
    result = _strict((out / "result.json").read_text())
    assert result["episodes"] == len(returns) > before
    assert result["final_return"] == pytest.approx(float(np.mean(returns[-10:])))


# ------------------------------------------------------------------------------ item 7: strict JSON
def test_run_folder_json_is_strict_when_no_episode_finished(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "run"
    assert main(_train(tmp_path, out, env="rltransfer/Pendulum-v0")) == 0
    result = _strict((out / "result.json").read_text())
    assert result["episodes"] == 0 and result["final_return"] is None
    assert list(result)[:3] == ["run_dir", "env_id", "method"], "result.json keeps its field order"
    for line in (out / "decisions.jsonl").read_text().splitlines():
        _strict(line)
    _strict((out / "config.json").read_text())
    assert "final return nan" in capsys.readouterr().out


def test_append_json_line_and_print_json_write_null_for_nan(tmp_path: Path, capsys: Any) -> None:
    from rltransfer.cli.common import print_json
    from rltransfer.io import append_json_line, atomic_write_json

    append_json_line(tmp_path / "d.jsonl", {"a": math.nan, "b": [math.inf, 1.0]})
    assert _strict((tmp_path / "d.jsonl").read_text()) == {"a": None, "b": [None, 1.0]}
    atomic_write_json(tmp_path / "x.json", {"z": -math.inf})
    assert _strict((tmp_path / "x.json").read_text()) == {"z": None}
    print_json({"n": math.nan})
    assert _strict(capsys.readouterr().out) == {"n": None}


def test_compare_says_why_finetune_rows_are_empty(tiny_zoo: Path, tmp_path: Path, capsys: Any) -> None:
    """A finetune that copies nothing and runs without a finished episode say so, in strict JSON too."""
    out = tmp_path / "grid"
    args = ["compare", "--env", "rltransfer/Pendulum-v0", "--methods", "scratch,finetune", "--teacher", "tiny-ppo"]
    args += ["--zoo", str(tiny_zoo), "--algo", "sac", "--seeds", "1", "--steps", "64", "--out", str(out)]
    hp = _hyperparams(tmp_path, "learning_starts: 32\npolicy_kwargs: {net_arch: [16, 16]}\n")
    assert main([*args, "--no-progress", "--workers", "1", "--hyperparams", hp]) == 0
    captured = capsys.readouterr()
    notes = _strict((out / "summary.json").read_text())["header"]["notes"]
    _strict((out / "grid.json").read_text())
    assert any("finetune seed0: no teacher weight could be copied" in note for note in notes), notes
    assert any("finetune: no training episode finished" in note for note in notes), notes
    assert "## Notes" in (out / "summary.md").read_text() and "no teacher weight could be copied" in captured.out


def test_compare_names_the_error_of_a_failed_run(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "grid"
    args = ["compare", "--env", f"test_reliability_train:{FAULTY}", "--env-kwargs", '{"fault_seed": 1}']
    args += ["--methods", "scratch", "--seeds", "2", "--steps", "64", "--out", str(out), "--no-progress"]
    assert main([*args, "--workers", "1", "--hyperparams", _hyperparams(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    notes = _strict((out / "summary.json").read_text())["header"]["notes"]
    assert any("scratch/seed1 failed: environment" in note and "ValueError" in note for note in notes), notes
    assert "Traceback" in next((out / "runs").glob("*/scratch/seed1/error.txt")).read_text()


# ----------------------------------------------------------------------------------- item 8: bench %
def test_bench_help_prints_its_help() -> None:
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--help"], capture_output=True, text=True, timeout=120, cwd=root
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "into ≤10%-size students" in done.stdout and "option_strings" not in done.stdout, "no argparse internals"


# ------------------------------------------------------------------------------ property tests
_junk = st.one_of(
    st.text(max_size=12),
    st.integers(min_value=-(10**25), max_value=10**25),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.lists(st.integers(min_value=-5, max_value=5), max_size=3),
)


def _run_quietly(args: list[str], capsys: Any) -> None:
    capsys.readouterr()
    code = main(args)
    captured = capsys.readouterr()
    assert code in (0, 1, 2), code
    assert "Traceback" not in captured.err and "Traceback" not in captured.out
    if code:
        assert len(captured.err.strip().splitlines()) == 1, captured.err


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kwargs=st.dictionaries(
        st.sampled_from(["gravity", "length", "masscart", "force_mag", "junk", ""]), _junk, min_size=1, max_size=2
    )
)
def test_env_kwargs_never_give_a_traceback(kwargs: dict[str, Any], capsys: Any) -> None:
    folder = Path(tempfile.mkdtemp())
    try:
        hp = folder / "hp.yml"
        hp.write_text("n_envs: 1\npolicy_kwargs: {net_arch: [8]}\nn_steps: 32\nbatch_size: 32\nn_epochs: 1\n")
        text = json.dumps(kwargs)  # NaN and Infinity as Python's json writes them: parsed back the same
        args = ["train", "--env", "rltransfer/CartPole-v0", "--algo", "ppo", "--steps", "32", "--env-kwargs", text]
        _run_quietly([*args, "--hyperparams", str(hp), "--out", str(folder / "run"), "--no-progress"], capsys)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    hyperparams=st.dictionaries(
        st.sampled_from(["learning_rate", "n_steps", "batch_size", "gamma", "n_epochs", "ent_coef", "n_envs", "x"]),
        _junk,
        max_size=3,
    ),
    net_arch=st.one_of(st.none(), _junk),
)
def test_hyperparams_never_give_a_traceback(hyperparams: dict[str, Any], net_arch: Any, capsys: Any) -> None:
    folder = Path(tempfile.mkdtemp())
    try:
        body = {"n_steps": 32, "batch_size": 32, "n_epochs": 1, "n_envs": 1, **hyperparams}
        body["policy_kwargs"] = {"net_arch": [8] if net_arch is None else net_arch}
        hp = folder / "hp.yml"
        hp.write_text(json.dumps(body).replace("NaN", ".nan").replace("-Infinity", "-.inf").replace("Infinity", ".inf"))
        args = ["train", "--env", "CartPole-v1", "--algo", "ppo", "--steps", "32", "--hyperparams", str(hp)]
        _run_quietly([*args, "--out", str(folder / "run"), "--no-progress"], capsys)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
