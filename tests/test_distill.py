"""Distillation: the gate both ways, deployment as a zoo teacher + ONNX, continuous and discrete teachers, bad input."""

from __future__ import annotations

import errno
import json
import math
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from rltransfer.cli import main
from rltransfer.distill import ONNX_FILE, REPORT_FILE, DistillConfig, DistillGateError, distill
from rltransfer.distill.export import ActingNetwork, check_onnx, count_acting_parameters, export_onnx, onnx_session
from rltransfer.distill.report import return_gate
from rltransfer.errors import (
    ConfigError,
    GateFailedError,
    IncompatibleSpacesError,
    OutputError,
    UnknownEnvError,
    UnknownTeacherError,
)
from rltransfer.policies import build_policy
from rltransfer.zoo import load_teacher, verify_zoo
from rltransfer.zoo.recipes import Recipe, train_teacher

SHORT = {"max_episode_steps": 200}  # keeps the 3 x 20 evaluation episodes cheap
QUICK = {"samples": 500, "dagger_rounds": 1, "updates": 300}
PPO_HYPERPARAMS = {
    "n_steps": 64,
    "batch_size": 128,
    "n_epochs": 10,
    "gae_lambda": 0.8,
    "gamma": 0.98,
    "learning_rate": 1e-3,
    "ent_coef": 0.0,
}


@pytest.fixture(scope="session")
def distill_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Teachers trained with small budgets: PPO on CartPole (discrete and continuous actions), DQN on CartPole."""
    zoo = tmp_path_factory.mktemp("distill_zoo")
    common = {"n_envs": 4, "policy_kwargs": {"net_arch": [32]}, "eval_episodes": 2, "transitions": 0}
    recipes = [
        Recipe(name="ppo", algo="ppo", env="CartPole-v1", n_timesteps=10_000, hyperparams=PPO_HYPERPARAMS, **common),
        Recipe(
            name="ppo-continuous",
            algo="ppo",
            env="rltransfer/CartPole-Continuous-v0",
            n_timesteps=10_000,
            hyperparams=PPO_HYPERPARAMS,
            **common,
        ),
        Recipe(
            name="dqn",
            algo="dqn",
            env="CartPole-v1",
            n_timesteps=2_000,
            policy_kwargs={"net_arch": [32]},
            hyperparams={"learning_starts": 500, "exploration_fraction": 0.5, "target_update_interval": 250},
            eval_episodes=2,
            transitions=0,
        ),
    ]
    for recipe in recipes:
        train_teacher(recipe, zoo, progress_bar=False)
    return zoo


def test_passing_student_is_deployed_as_a_teacher_with_matching_onnx(distill_zoo: Path, tmp_path: Path) -> None:
    out = tmp_path / "students"
    config = DistillConfig(hidden=(16,), threshold=0.95, **QUICK)
    report = distill("ppo", "CartPole-v1", env_kwargs=SHORT, zoo=distill_zoo, out=out, config=config)
    assert report.passed and [gate.name for gate in report.gates] == ["agreement", "return", "onnx"]
    assert report.agreement >= 0.95 and report.return_ratio >= 0.95
    assert report.teacher_return > report.random_return
    assert report.student_params == 4 * 16 + 16 + 16 * 2 + 2  # acting network only, no value net
    assert report.param_ratio == pytest.approx(report.student_params / report.teacher_params)
    assert set(report.latency_ms) == {"teacher_torch", "student_torch", "student_onnx"}
    assert all(value > 0 for value in report.latency_ms.values())

    folder = out / report.student
    assert report.deployed == (str(folder), str(folder / ONNX_FILE))
    assert [result.ok for result in verify_zoo(out)] == [True]
    student = load_teacher(report.student, out)
    assert student.card.env_id == "CartPole-v1" and student.card.algo == "ppo"
    assert student.card.policy_kwargs["net_arch"] == [16]
    assert student.card.hyperparams["teacher"] == "ppo"
    saved = json.loads((folder / REPORT_FILE).read_text())
    assert saved["passed"] is True and saved["onnx_check"]["passed"] is True
    assert saved["onnx_check"]["states"] >= 1000

    # The deployed ONNX file acts exactly as the reloaded torch student on 1000 fresh states.
    env = gym.make("CartPole-v1")
    env.observation_space.seed(1)
    states = np.stack([env.observation_space.sample() * 0.1 for _ in range(1000)]).astype(np.float32)
    onnx_actions = onnx_session((folder / ONNX_FILE).read_bytes()).run(["action"], {"obs": states})[0]
    torch_actions, _ = student.policy.predict(states, deterministic=True)
    np.testing.assert_array_equal(onnx_actions, torch_actions)


def test_too_small_student_fails_the_gate_and_deploys_nothing(distill_zoo: Path, tmp_path: Path) -> None:
    out = tmp_path / "students"
    config = DistillConfig(hidden=(1,), threshold=0.95, **QUICK)
    with pytest.raises(DistillGateError) as caught:
        distill("ppo", "CartPole-v1", env_kwargs=SHORT, zoo=distill_zoo, out=out, config=config)
    report = caught.value.report
    assert caught.value.exit_code == 1 and isinstance(caught.value, GateFailedError)
    assert not report.passed and report.deployed == ()
    failed = {gate.name: gate for gate in report.failed_gates}
    assert "agreement" in failed and failed["agreement"].shortfall > 0
    assert f"short by {failed['agreement'].shortfall:.4f}" in caught.value.line()
    assert not out.exists()


def test_cli_impossible_threshold_exits_1_and_writes_nothing(
    distill_zoo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "students"
    argv = ["distill", "--teacher", "ppo", "--zoo", str(distill_zoo), "--env", "CartPole-v1"]
    argv += ["--env-kwargs", "max_episode_steps=200", "--hidden", "16", "--samples", "300", "--dagger-rounds", "0"]
    assert main([*argv, "--threshold", "1.01", "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert "[FAIL] agreement" in captured.out and "return (20 episodes)" in captured.out
    assert "acting parameters" in captured.out and "latency onnxruntime" in captured.out
    assert captured.err.count("\n") == 1 and "not deployed" in captured.err and "Traceback" not in captured.err
    assert not out.exists()


def test_continuous_teacher_distils_within_tolerance(distill_zoo: Path, tmp_path: Path) -> None:
    out = tmp_path / "students"
    config = DistillConfig(hidden=(16,), threshold=0.9, **QUICK)
    report = distill(
        "ppo-continuous", "rltransfer/CartPole-Continuous-v0", env_kwargs=SHORT, zoo=distill_zoo, out=out, config=config
    )
    assert report.passed and report.agreement >= 0.9
    assert report.onnx_check["atol"] > 0 and report.onnx_check["max_abs_diff"] <= report.onnx_check["atol"]
    student = load_teacher(report.student, out)
    assert isinstance(student.action_space, gym.spaces.Box)
    # A much tighter tolerance is harder to meet: agreement is measured, not assumed.
    strict = distill(
        "ppo-continuous",
        "rltransfer/CartPole-Continuous-v0",
        env_kwargs=SHORT,
        zoo=distill_zoo,
        check=False,
        config=DistillConfig(hidden=(16,), threshold=0.9, tolerance=0.0005, **QUICK),
    )
    assert strict.agreement < report.agreement


def test_dqn_teacher_labels_are_softmax_q(distill_zoo: Path) -> None:
    config = DistillConfig(hidden=(16,), threshold=0.9, **QUICK)
    report = distill("dqn", "CartPole-v1", env_kwargs=SHORT, zoo=distill_zoo, check=False, config=config)
    assert report.algo == "dqn" and report.agreement >= 0.85
    assert report.rounds[-1].loss < report.rounds[0].loss * 2  # KL stays small as DAgger adds the student's states
    assert report.deployed == ()  # no out: measured, never written


def test_return_gate_is_sound_for_negative_returns() -> None:
    ratio, gate = return_gate(-150.0, -200.0, -1250.0, 0.95)  # Pendulum-like returns
    assert ratio == pytest.approx(1050 / 1100) and gate.passed
    ratio, gate = return_gate(-150.0, -300.0, -1250.0, 0.95)
    assert not gate.passed and gate.shortfall == pytest.approx(0.95 - 950 / 1100)
    ratio, gate = return_gate(20.0, 25.0, 22.0, 0.95)  # teacher no better than random
    assert math.isnan(ratio) and not gate.passed and "no better than a random policy" in gate.detail


@pytest.mark.parametrize(
    ("algo", "env_id", "expected"),
    [
        ("ppo", "CartPole-v1", 4 * 32 + 32 + 32 * 32 + 32 + 32 * 2 + 2),
        ("dqn", "CartPole-v1", 4 * 32 + 32 + 32 * 32 + 32 + 32 * 2 + 2),
        ("sac", "Pendulum-v1", 3 * 32 + 32 + 32 * 32 + 32 + 32 + 1),
        ("td3", "Pendulum-v1", 3 * 32 + 32 + 32 * 32 + 32 + 32 + 1),
        ("ppo", "Pendulum-v1", 3 * 32 + 32 + 32 * 32 + 32 + 32 + 1),
    ],
)
def test_acting_network_matches_predict_and_onnx(algo: str, env_id: str, expected: int) -> None:
    env = gym.make(env_id)
    torch.manual_seed(0)
    policy = build_policy(algo, env.observation_space, env.action_space, {"net_arch": [32, 32]})
    assert count_acting_parameters(policy) == expected
    env.observation_space.seed(0)
    states = np.stack([env.observation_space.sample() for _ in range(1000)]).astype(np.float32)
    predicted, _ = policy.predict(states, deterministic=True)
    np.testing.assert_allclose(ActingNetwork(policy).act(states), predicted, atol=1e-6)
    check = check_onnx(export_onnx(policy), policy, states)
    assert check.passed and check.states == 1000


def test_bad_input_is_one_clear_error(distill_zoo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UnknownTeacherError, match="Did you mean"):
        distill("ppo-contnuous", "CartPole-v1", zoo=distill_zoo)
    with pytest.raises(UnknownEnvError):
        distill("ppo", "CartPole-v9", zoo=distill_zoo)
    with pytest.raises(IncompatibleSpacesError, match="dqn student"):
        distill("dqn", "rltransfer/CartPole-Continuous-v0", zoo=distill_zoo)
    with pytest.raises(ConfigError, match="at least 20"):
        distill("ppo", "CartPole-v1", zoo=distill_zoo, config=DistillConfig(eval_episodes=5))
    with pytest.raises(ConfigError):
        DistillConfig(threshold=0.0)
    (tmp_path / "zoo" / "taken").mkdir(parents=True)
    (tmp_path / "zoo" / "taken" / "card.json").write_text("{}")
    with pytest.raises(OutputError, match="already exists"):
        distill("ppo", "CartPole-v1", zoo=distill_zoo, out=tmp_path / "zoo", name="taken")
    base = ["distill", "--teacher", "ppo", "--zoo", str(distill_zoo), "--env", "CartPole-v1", "--out", str(tmp_path)]
    for extra in (["--hidden", "32,x"], ["--eval-episodes", "10"], ["--env-kwargs", "{bad json"]):
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err and " — " in err


def test_failed_write_leaves_nothing_behind(distill_zoo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import rltransfer.zoo.publish

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rltransfer.zoo.publish, "save_teacher", disk_full)
    out = tmp_path / "deep" / "students"
    config = DistillConfig(hidden=(16,), threshold=0.5, **QUICK)
    with pytest.raises(OutputError, match="disk full"):
        distill("ppo", "CartPole-v1", env_kwargs=SHORT, zoo=distill_zoo, out=out, config=config)
    assert not (tmp_path / "deep").exists()
