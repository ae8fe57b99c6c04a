"""Distillation checks the mapped teacher before it spends (issue 10, item 9) and rejects bad settings (item 3).

Env steps are counted by a wrapper around the target env that distill makes, never estimated from time.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
import torch
import yaml
from conftest import one_error_line

import rltransfer.distill.core as distill_core
from rltransfer.cli import main
from rltransfer.distill import DistillConfig, TeacherCheckError, distill
from rltransfer.errors import GateFailedError
from rltransfer.make import make_env
from rltransfer.mapping import Mapping
from rltransfer.spaces import SpaceSignature
from rltransfer.zoo import load_teacher, save_teacher

REVERSED = "rltransfer/CartPole-Reversed-v0"
QUICK = ["--hidden", "16", "--samples", "300", "--dagger-rounds", "0"]
FAST_FAIL_STEPS = 1500
"""Target env steps within which a useless teacher must be turned away (the probes cost ~750 here)."""


class CountedEnv(gym.Wrapper[Any, Any, Any, Any]):
    """The target env, counting every step taken in it."""

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        super().__init__(env)
        self.steps = 0

    def step(self, action: Any) -> Any:
        self.steps += 1
        return self.env.step(action)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Wrap distill's target env in CountedEnv; record the steps taken before the first DAgger round."""
    seen: dict[str, Any] = {"env": None, "before_training": None, "forbid_training": False}

    def counted_make_env(env_id: str, env_kwargs: dict[str, Any] | None = None) -> gym.Env[Any, Any]:
        seen["env"] = CountedEnv(make_env(env_id, env_kwargs))
        return seen["env"]

    train = distill_core._train

    def recorded_train(*args: Any, **kwargs: Any) -> Any:
        seen["before_training"] = seen["env"].steps
        if seen["forbid_training"]:
            raise AssertionError("distill started training")
        return train(*args, **kwargs)

    monkeypatch.setattr(distill_core, "make_env", counted_make_env)
    monkeypatch.setattr(distill_core, "_train", recorded_train)
    return seen


@pytest.fixture(scope="module")
def useless_zoo(tiny_zoo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A zoo with "always-left": tiny-ppo with its action head zeroed and biased, so it ignores every observation.

    No observation or action mapping can make a constant action better than random on CartPole.
    """
    teacher = load_teacher("tiny-ppo", tiny_zoo)
    with torch.no_grad():
        teacher.policy.action_net.weight.zero_()
        teacher.policy.action_net.bias.copy_(torch.tensor([5.0, -5.0]))
    zoo = tmp_path_factory.mktemp("useless_zoo")
    card = dataclasses.replace(teacher.card, name="always-left", weights_sha256="", transitions_sha256=None)
    save_teacher(teacher.policy, card, zoo / "always-left", transitions=teacher.load_transitions())
    return zoo


@pytest.mark.parametrize(
    ("env_id", "searched"),
    [(REVERSED, True), ("CartPole-v1", False)],
    ids=["reversed-actions-search", "same-task-identity"],
)
def test_teacher_is_probed_and_the_mapping_searched_before_training(
    tiny_zoo: Path,
    tmp_path: Path,
    counted: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    env_id: str,
    searched: bool,
) -> None:
    out = tmp_path / "students"
    argv = ["distill", "--teacher", "tiny-ppo", "--zoo", str(tiny_zoo), "--env", env_id, "--out", str(out), *QUICK]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert "teacher check: identity mapping" in captured.out
    assert ("using the searched mapping" in captured.out) is searched

    report = json.loads(next(out.glob("*/distill.json")).read_text())
    check = report["teacher_check"]
    trials = check["trials"]
    assert trials[0]["origin"] == "identity" and trials[0]["beats_random"] is not searched
    assert check["searched_after_identity"] is searched
    assert trials[-1]["beats_random"] and trials[-1]["teacher_return"] > trials[-1]["random_return"]
    if searched:
        assert [trial["origin"] for trial in trials] == ["identity", "searched"]
        assert report["mapping"] == trials[-1]["mapping"] != "identity"
        assert report["student_return"] > report["random_return"]  # the searched mapping made it teachable
        card = json.loads(next(out.glob("*/card.json")).read_text())
        assert (
            card["hyperparams"]["mapping"]
            != Mapping.identity(SpaceSignature.of(gym.make(env_id).observation_space)).to_dict()
        )
    else:
        assert len(trials) == 1 and report["mapping"] == "identity"

    # The check's steps are counted exactly, few, and part of the run's total.
    assert counted["before_training"] == check["env_steps"] <= 2000
    assert report["env_steps"] == counted["env"].steps


@pytest.mark.parametrize(
    ("env_id", "extra", "needles"),
    [
        (REVERSED, [], ["identity mapping", "searched mapping (actions permutation [1, 0])", "choose another teacher"]),
        ("CartPole-v1", [], ["identity mapping", "found no other mapping", "choose another teacher"]),
        (REVERSED, ["--mapping", "search"], ["searched mapping", "choose another teacher"]),
        (REVERSED, ["--mapping", "IDENTITY_FILE"], ["given mapping (identity)", "try --mapping search"]),
    ],
    ids=["reversed", "same-task", "mapping-search", "mapping-file"],
)
def test_useless_teacher_fails_fast_with_one_line(
    useless_zoo: Path,
    tmp_path: Path,
    counted: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    env_id: str,
    extra: list[str],
    needles: list[str],
) -> None:
    if "IDENTITY_FILE" in extra:
        identity = Mapping.identity(SpaceSignature.of(gym.make(env_id).observation_space))
        path = tmp_path / "identity.yaml"
        path.write_text(yaml.safe_dump(identity.to_dict()))
        extra = ["--mapping", str(path)]
    out = tmp_path / "students"
    argv = ["distill", "--teacher", "always-left", "--zoo", str(useless_zoo), "--env", env_id, "--out", str(out)]
    counted["forbid_training"] = True  # a useless teacher must be turned away before any DAgger round
    code = main([*argv, "--samples", "2000", "--dagger-rounds", "1", *extra])
    captured = capsys.readouterr()
    assert code == 1  # a failure measured at run time, like the return gate it anticipates
    line = one_error_line(captured.err)
    assert "teacher always-left does no better than a random policy" in line and "nothing trained or written" in line
    for needle in needles:
        assert needle in line
    assert line.count(" — ") == 1  # one problem, one fix
    assert counted["env"].steps <= FAST_FAIL_STEPS
    assert f"({counted['env'].steps} env steps)" in line  # the line counts what was spent
    assert not out.exists()


def test_teacher_check_raises_a_gate_failure_or_is_the_first_failed_gate_with_check_false(useless_zoo: Path) -> None:
    with pytest.raises(TeacherCheckError) as caught:
        distill("always-left", REVERSED, zoo=useless_zoo)
    error = caught.value
    assert isinstance(error, GateFailedError) and error.exit_code == 1
    assert [trial["origin"] for trial in error.check["trials"]] == ["identity", "searched"]
    assert not any(trial["beats_random"] for trial in error.check["trials"])

    config = DistillConfig(hidden=(8,), samples=300, dagger_rounds=0, updates=50)
    report = distill("always-left", REVERSED, zoo=useless_zoo, check=False, config=config)  # measure everything
    assert not report.passed and report.gates[0].name == "teacher" and not report.gates[0].passed
    assert "does no better than a random policy" in report.failure_line()
    assert report.teacher_check["passed"] is False


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--threshold", "nan"], "threshold nan"),
        (["--return-threshold", "inf"], "return_threshold inf"),
        (["--tolerance", "nan"], "tolerance nan"),
        (["--samples", "0"], "samples 0"),
        (["--samples", "99999999999999999999"], "too large"),
        (["--dagger-rounds", "100000000"], "too large"),
        (["--samples", "1000000", "--dagger-rounds", "100"], "labelled states"),
        (["--eval-episodes", "0"], "eval episodes 0"),
        (["--eval-episodes", "100000000000"], "eval episodes 100000000000"),
        (["--hidden", "0"], "hidden sizes [0]"),
        (["--hidden", "32,,32"], "not a list of integers"),
        (["--hidden", "99999999999"], "too large for a student"),
        (["--hidden", "100000,100000"], "too large for a student"),
        (["--seed", "-1"], "seed -1"),
        (["--seed", "99999999999999999999999"], "seed 99999999999999999999999"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_bad_settings_are_one_line_exit_2_before_any_step(
    tiny_zoo: Path,
    tmp_path: Path,
    counted: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    needle: str,
) -> None:
    counted["forbid_training"] = True
    argv = ["distill", "--teacher", "tiny-ppo", "--zoo", str(tiny_zoo), "--env", "CartPole-v1"]
    assert main([*argv, "--out", str(tmp_path / "students"), *extra]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert needle in line and " — " in line
    assert counted["env"] is None  # rejected before the target env was even made
    assert not (tmp_path / "students").exists()
