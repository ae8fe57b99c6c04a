"""Teachers that are only data: a Minari dataset written, read back offline and replayed by instance transfer."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import one_error_line

from rltransfer.cli import main
from rltransfer.data import read_dataset, record_teacher, write_dataset
from rltransfer.errors import ConfigError, IncompatibleSpacesError
from rltransfer.make import make_env
from rltransfer.training import TrainConfig, train_student
from rltransfer.transfer.teacher import resolve_teacher
from rltransfer.zoo import load_teacher

ZOO = Path(__file__).resolve().parents[1] / "agents"
CARTPOLE = "rltransfer/CartPole-v0"
PENDULUM = "rltransfer/Pendulum-v0"
FAST = {"probe_episodes": 2, "demo_steps": 400, "window": 200}
OFF_POLICY = {"learning_starts": 100, "batch_size": 32, "buffer_size": 5000}


@pytest.fixture(autouse=True)
def _no_home_datasets(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No dataset is looked up in (or written to) the user's ~/.minari."""
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.delenv("MINARI_DATASETS_PATH", raising=False)


def _record(root: Path, teacher: str, env_id: str, steps: int) -> Path:
    dataset = record_teacher(teacher, env_id, zoo=ZOO, steps=steps, seed=5, dataset_id=f"{teacher}-demos-v0")
    return write_dataset(dataset, root / f"{teacher}-demos")


@pytest.fixture(scope="module")
def cartpole_demos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """cartpole-ppo (return 500) recorded on the target itself: 1,000 steps, a Minari dataset on disk."""
    return _record(tmp_path_factory.mktemp("demos"), "cartpole-ppo", CARTPOLE, 1000)


@pytest.fixture(scope="module")
def pendulum_demos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _record(tmp_path_factory.mktemp("demos"), "pendulum-sac", PENDULUM, 600)


def _decisions(run: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (run / "decisions.jsonl").read_text().splitlines()]


def _config(algo: str, method: str, teacher: str | None, steps: int, **extra: object) -> TrainConfig:
    discrete = algo in ("ppo", "a2c", "dqn")
    hyperparams: dict[str, object] = (
        {"n_steps": 64, "batch_size": 64} if algo == "ppo" else {"n_steps": 16} if algo == "a2c" else dict(OFF_POLICY)
    )
    if algo == "dqn":
        hyperparams.update(train_freq=16, gradient_steps=8)
    return TrainConfig(
        env_id=CARTPOLE if discrete else PENDULUM,
        algo=algo,
        total_timesteps=steps,
        method=method,
        teacher=teacher,
        zoo=str(ZOO),
        seed=0,
        n_envs=2 if algo in ("ppo", "a2c") else 1,
        hyperparams=hyperparams,
        policy_kwargs={"net_arch": [32]},
        transfer=dict(FAST),
        **extra,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("algo", ["ppo", "a2c", "dqn", "sac", "td3"])
def test_a_dataset_teacher_is_replayed_by_instance_transfer_for_every_algorithm(
    algo: str, cartpole_demos: Path, pendulum_demos: Path, tmp_path: Path
) -> None:
    """auto chooses instance for a dataset (it is never distilled); its transitions count as target steps."""
    demos = cartpole_demos if algo in ("ppo", "a2c", "dqn") else pendulum_demos
    steps = 1300 if algo in ("sac", "td3") else 1000
    result = train_student(_config(algo, "auto", str(demos), steps), tmp_path / "run")
    decisions = _decisions(tmp_path / "run")
    first = decisions[0]
    assert first["mode"] == "instance" and "only data" in str(first["reason"]), first
    assert "recorded in the target" in str(first["reason"])
    assert {row["mode"] for row in decisions} <= {"instance", "none"}, "a dataset is never distilled"
    used = min(FAST["demo_steps"], int(0.1 * steps))  # demo_fraction 0.1 of the run
    assert f"{used} teacher transitions" in str(first["reason"])
    # the random probe's steps plus the dataset's transitions used: every target env step counted
    assert result.transfer_env_steps >= used + 2 * 10
    assert result.teacher == str(demos) and result.total_timesteps == steps
    card = load_teacher(tmp_path / "run" / "student").card
    assert card.algo == algo
    assert card.policy_kwargs.get("layer_norm", False) is (algo == "dqn"), "a replaying DQN gets a LayerNorm Q-network"


def test_dataset_instance_transfer_learns_from_the_recorded_behaviour(cartpole_demos: Path, tmp_path: Path) -> None:
    """PPO pre-trained on 200 of the dataset's transitions, then DAPG: far above scratch after 2,000 steps."""
    dataset = read_dataset(cartpole_demos)
    obs = np.concatenate([episode.observations[:-1] for episode in dataset.episodes])
    actions = np.concatenate([episode.actions for episode in dataset.episodes])
    results = {}
    for method in ("scratch", "instance"):
        teacher = None if method == "scratch" else str(cartpole_demos)
        results[method] = train_student(_config("ppo", method, teacher, 2000), tmp_path / method).final_return
    first = str(_decisions(tmp_path / "instance")[0]["reason"])
    assert "offline pre-training on 200 teacher transitions" in first
    assert results["instance"] >= 200 and results["instance"] > 2 * results["scratch"], results
    student = load_teacher(tmp_path / "instance" / "student")
    assert float(np.mean(student.predict(obs) == actions)) >= 0.8, "it still acts like the recorded teacher"


def test_a_dataset_from_elsewhere_costs_no_target_steps(cartpole_demos: Path, tmp_path: Path) -> None:
    """Transitions recorded in another env (same spaces) are replayed but not charged as target steps."""
    config = _config("ppo", "instance", str(cartpole_demos), 600)
    config = dataclasses.replace(config, env_id="rltransfer/CartPole-LongPole-v0")
    result = train_student(config, tmp_path / "run")
    first = _decisions(tmp_path / "run")[0]
    assert f"recorded in {CARTPOLE}" in str(first["reason"])
    assert result.transfer_env_steps < 60 * 2 * 10  # the random probe only: 2 short episodes


def test_methods_that_need_a_policy_refuse_a_dataset_in_one_line(
    cartpole_demos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    argv = ["train", "--env", CARTPOLE, "--algo", "ppo", "--teacher", str(cartpole_demos), "--out", str(out)]
    for method in ("representation", "finetune", "jsrl", "kickstart"):
        assert main([*argv, "--zoo", str(ZOO), "--method", method, "--steps", "500"]) != 0
        captured = capsys.readouterr()
        line = one_error_line(captured.err, captured.out)
        assert "is a dataset" in line and "--method instance or auto" in line, line
        assert not out.exists(), "nothing is written for a refused run"
    with pytest.raises(ConfigError, match="is a dataset"):
        train_student(_config("ppo", "representation", str(cartpole_demos), 500), tmp_path / "direct")


def test_a_dataset_in_other_spaces_is_refused(pendulum_demos: Path, tmp_path: Path) -> None:
    with pytest.raises(IncompatibleSpacesError, match="data export"):
        train_student(_config("ppo", "instance", str(pendulum_demos), 500), tmp_path / "run")


def test_a_dataset_recorded_in_a_target_with_kwargs_is_known_as_recorded_there(tmp_path: Path) -> None:
    """The stored spec has lists where the registry has tuples (Permuted's obs_permutation): still the target."""
    permuted = "rltransfer/CartPole-Permuted-v0"
    path = _record(tmp_path, "cartpole-ppo", permuted, 50)
    resolved = resolve_teacher(str(path), env_factory=lambda: make_env(permuted), zoo=str(ZOO))
    assert resolved.teacher is None and resolved.dataset_in_target, resolved.how
    assert resolved.name == "cartpole-ppo-demos-v0" and resolved.mapping.obs.is_identity(4)


def test_rank_scores_datasets_by_their_recorded_return_and_dynamics(
    cartpole_demos: Path, pendulum_demos: Path, tmp_path: Path
) -> None:
    """A strong teacher's recording ranks above a weak one's; a dataset in other spaces scores 0; no probe."""
    from rltransfer.selection import rank_teachers, recommendation

    weak = _record(tmp_path, "cartpole-ppo-undertrained", CARTPOLE, 1000)
    datasets = [read_dataset(path) for path in (weak, cartpole_demos, pendulum_demos)]
    rankings = rank_teachers(CARTPOLE, ZOO, teachers=[], datasets=datasets, budget=300)
    by_name = {r.teacher: r for r in rankings}
    strong, under = by_name["cartpole-ppo-demos-v0"], by_name["cartpole-ppo-undertrained-demos-v0"]
    assert rankings[0] is strong and strong.score > under.score, [(r.teacher, r.score) for r in rankings]
    assert strong.evidence["zero_shot"]["recorded_in_target"] and strong.evidence["dynamics"]["similarity"] > 0.0
    assert strong.evidence["probe_env_steps"] == 0
    assert (
        by_name["pendulum-sac-demos-v0"].score == 0.0
        and "data export" in by_name["pendulum-sac-demos-v0"].evidence["reason"]
    )
    assert f"--teacher {cartpole_demos} --method instance" in recommendation(rankings)
