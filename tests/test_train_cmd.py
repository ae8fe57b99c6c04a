"""`rltransfer train`: run folder contract, Ctrl-C checkpoint and --resume, one-line errors."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from rltransfer.cli import main
from rltransfer.training import EpisodeRecorder

FAST = json.dumps({"probe_episodes": 2, "demo_steps": 200, "window": 128})


def _hyperparams(tmp_path: Path, algo: str) -> str:
    path = tmp_path / f"{algo}.yml"
    if algo == "dqn":
        path.write_text(
            "policy_kwargs: {net_arch: [16]}\nlearning_starts: 100\nbatch_size: 32\nbuffer_size: 5000\n"
            "train_freq: 16\ngradient_steps: 8\n"
        )
    else:
        path.write_text("n_envs: 2\npolicy_kwargs: {net_arch: [16]}\nn_steps: 64\nbatch_size: 64\n")
    return str(path)


def _args(tiny_zoo: Path, tmp_path: Path, out: Path, algo: str = "ppo", steps: int = 512) -> list[str]:
    return [
        "train", "--env", "CartPole-v1", "--algo", algo, "--teacher", "tiny-ppo", "--zoo", str(tiny_zoo),
        "--steps", str(steps), "--hyperparams", _hyperparams(tmp_path, algo), "--transfer", FAST,
        "--mode", "representation", "--out", str(out), "--no-progress",
    ]  # fmt: skip


def test_train_writes_the_run_folder(tiny_zoo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "run"
    args = _args(tiny_zoo, tmp_path, out)
    monkeypatch.setattr(sys, "argv", ["rltransfer", *args])
    assert main(args) == 0
    for name in ("config.json", "command.txt", "episodes.csv", "decisions.jsonl", "result.json", "student/card.json"):
        assert (out / name).is_file(), name
    assert list((out / "tb").glob("*/events.out.tfevents.*"))
    assert (out / "command.txt").read_text().startswith("rltransfer train")
    config = json.loads((out / "config.json").read_text())
    assert config["method"] == "representation" and config["teacher"] == "tiny-ppo"
    assert not (out / "checkpoint").exists()


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_ctrl_c_saves_a_checkpoint_and_resume_finishes_the_run(
    algo: str, tiny_zoo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    original = EpisodeRecorder._on_step
    interrupted = {"done": False}

    def interrupting(self: EpisodeRecorder) -> bool:
        if not interrupted["done"] and self.num_timesteps >= 300:
            interrupted["done"] = True
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(EpisodeRecorder, "_on_step", interrupting)
    assert main(_args(tiny_zoo, tmp_path, out, algo, steps=600)) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--resume" in err[0]
    assert (out / "checkpoint" / "state.json").is_file() and not (out / "result.json").exists()
    steps_before = json.loads((out / "checkpoint" / "state.json").read_text())["num_timesteps"]
    decisions_before = len((out / "decisions.jsonl").read_text().splitlines())

    assert main([*_args(tiny_zoo, tmp_path, out, algo, steps=600), "--resume"]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["total_timesteps"] == 600
    rows = list(csv.reader((out / "episodes.csv").open()))
    assert rows[0] == ["timesteps", "return", "length"] and ["timesteps", "return", "length"] not in rows[1:]
    steps = [int(row[0]) for row in rows[1:]]
    assert steps == sorted(steps) and steps[-1] > steps_before, "episodes.csv continues after the checkpoint"
    decisions = [json.loads(line) for line in (out / "decisions.jsonl").read_text().splitlines()]
    assert len(decisions) > decisions_before and decisions[-1]["step"] > steps_before
    assert decisions[decisions_before]["step"] >= steps_before, "resume does not restart the controller"
    assert not (out / "checkpoint").exists()


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--env", "CartPole-v9"], "CartPole-v1"),
        (["--method", "kickstrat"], "kickstart"),
        (["--mode", "representaton"], "representation"),
        (["--transfer", '{"weigth": 1}'], "weight"),
        (["--algo", "ppoo"], "ppo"),
    ],
)
def test_bad_input_is_one_line(
    extra: list[str], needle: str, tiny_zoo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _args(tiny_zoo, tmp_path, tmp_path / "run")
    for flag, value in zip(extra[::2], extra[1::2], strict=True):
        if flag == "--method":
            args.remove("--mode")
            args.remove("representation")
            args += [flag, value]
        else:
            args[args.index(flag) + 1] = value
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "run").exists(), "nothing is written for bad input"


def test_existing_run_is_not_overwritten(tiny_zoo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text("{}")
    assert main(_args(tiny_zoo, tmp_path, out)) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert (out / "config.json").read_text() == "{}"


def test_resume_without_checkpoint_is_refused(tiny_zoo: Path, tmp_path: Path, capsys: Any) -> None:
    assert main([*_args(tiny_zoo, tmp_path, tmp_path / "nothing"), "--resume"]) == 2
    assert "no checkpoint" in capsys.readouterr().err
