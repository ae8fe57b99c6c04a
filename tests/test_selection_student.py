"""The student a ranking is for: each teacher's route into it, the near-tie rule, `rank --algo`, `auto`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rltransfer.cli import main
from rltransfer.errors import ConfigError, UnknownNameError
from rltransfer.make import make_env
from rltransfer.mapping import Mapping, ObsMap
from rltransfer.selection import (
    NEAR_TIE,
    SCRATCH_THRESHOLD,
    Ranking,
    Student,
    order_rankings,
    rank_teachers,
    recommendation,
)
from rltransfer.selection.student import policy_route
from rltransfer.spaces import SpaceSignature
from rltransfer.training import TrainConfig, train_student
from rltransfer.training.folder import DECISIONS_FILE
from rltransfer.transfer.teacher import resolve_teacher
from rltransfer.zoo import load_teacher

AGENTS = Path(__file__).resolve().parents[1] / "agents"
PERMUTED = "rltransfer/CartPole-Permuted-v0"
CARTPOLE = "CartPole-v1"
PENDULUM = "rltransfer/Pendulum-Heavy-v0"


def test_ranking_for_a_ppo_student_names_each_teachers_route_and_keeps_the_scores() -> None:
    """Into PPO [64, 64] (CartPole's record) the [64, 64] teacher copies, [32, 32] and [64] ones are distilled."""
    names = ["cartpole-ppo", "cartpole-ppo-small", "cartpole-ppo-1layer"]
    routed = rank_teachers(PERMUTED, AGENTS, budget=300, teachers=names, student=Student(algo="ppo"))
    plain = rank_teachers(PERMUTED, AGENTS, budget=300, teachers=names)
    route = {r.teacher: r.evidence["transfer"] for r in routed}
    assert route["cartpole-ppo"]["route"] == "weights copy" and "output head" in route["cartpole-ppo"]["why"]
    assert route["cartpole-ppo-small"]["route"] == route["cartpole-ppo-1layer"]["route"] == "distillation"
    assert route["cartpole-ppo"]["student"] == {"algo": "ppo", "net_arch": [64, 64]}
    assert all("transfer" not in r.evidence and r.route is None for r in plain), "no student: no route"
    assert {r.teacher: r.score for r in routed} == {r.teacher: r.score for r in plain}, "scores are not changed"
    assert routed[0].score - routed[-1].score < NEAR_TIE, "three perfect teachers of one source: a near-tie"
    assert plain[0].teacher != "cartpole-ppo", "by score alone another teacher is first (1layer, by 4e-5)"
    assert routed[0].teacher == "cartpole-ppo" and "weights copy" in recommendation(routed)


@pytest.mark.parametrize(
    ("teacher", "student", "route"),
    [
        ("cartpole-ppo", Student(algo="dqn"), "distillation"),  # logits are not Q-values
        ("cartpole-ppo", Student(algo="dqn", net_arch=(64, 64)), "distillation"),  # same widths, other head
        ("cartpole-ppo", Student(algo="a2c", net_arch=(64, 64)), "weights copy"),  # same actor-critic family
        ("cartpole-ppo", Student(algo="ppo", net_arch=(64,)), "distillation"),
        ("cartpole-dqn", Student(algo="dqn"), "weights copy"),  # [256, 256], DQN's CartPole record
    ],
)
def test_route_depends_on_the_students_algorithm_and_widths(teacher: str, student: Student, route: str) -> None:
    loaded = load_teacher(teacher, AGENTS)
    env = make_env(CARTPOLE)
    identity = Mapping.identity(SpaceSignature.of(env.observation_space))
    found = policy_route(loaded, identity, student, env.observation_space, env.action_space, env_id=CARTPOLE)
    assert found["route"] == route, found["why"]


def test_a_copy_with_the_critic_goes_before_a_copy_of_the_actor_alone_on_a_near_tie() -> None:
    """Into SAC a SAC teacher copies its critic too, a TD3 teacher only its actor (its critic is TD3's)."""
    env = make_env(PENDULUM)
    identity = Mapping.identity(SpaceSignature.of(env.observation_space))
    student = Student(algo="sac")
    routes = {
        name: policy_route(
            load_teacher(name, AGENTS), identity, student, *(env.observation_space, env.action_space), env_id=PENDULUM
        )
        for name in ("pendulum-sac", "pendulum-td3")
    }
    assert routes["pendulum-sac"]["route"] == routes["pendulum-td3"]["route"] == "weights copy"
    assert "critic" in routes["pendulum-sac"]["copied"] and "critic" not in routes["pendulum-td3"]["copied"]
    rankings = [
        Ranking(teacher=name, score=score, mapping=identity, evidence={"transfer": routes[name]})
        for name, score in (("pendulum-td3", 0.985), ("pendulum-sac", 0.984))
    ]
    assert [r.teacher for r in order_rankings(rankings)] == ["pendulum-sac", "pendulum-td3"]


def _ranking(name: str, score: float, route: str | None, *, dataset: bool = False) -> Ranking:
    evidence: dict[str, object] = {"kind": "dataset"} if dataset else {}
    if route is not None:
        evidence["transfer"] = {"route": route, "why": "test"}
    return Ranking(teacher=name, score=score, mapping=Mapping(obs=ObsMap.identity(4)), evidence=evidence)


def test_near_ties_go_to_the_cheaper_route_and_nothing_else_moves() -> None:
    rankings = [
        _ranking("distilled", 0.887, "distillation"),
        _ranking("demos", 0.888, "data only", dataset=True),
        _ranking("copied", 0.885, "weights copy"),
        _ranking("clearly-better", 0.95, "distillation"),
        _ranking("far-below", 0.5, "weights copy"),
    ]
    ordered = order_rankings(rankings)
    assert [r.teacher for r in ordered] == ["clearly-better", "copied", "distilled", "demos", "far-below"]
    assert [r.score for r in order_rankings(rankings[:3])] == [0.885, 0.887, 0.888]
    assert recommendation(order_rankings(rankings[:3])).startswith('start from "copied" (score 0.89, weights copy')
    plain = [_ranking(r.teacher, r.score, None) for r in rankings]
    assert [r.score for r in order_rankings(plain)] == sorted((r.score for r in rankings), reverse=True)


def test_near_tie_never_lifts_a_teacher_below_the_scratch_threshold_to_the_top() -> None:
    fits = _ranking("fits", SCRATCH_THRESHOLD + 0.004, "distillation")
    below = _ranking("below", SCRATCH_THRESHOLD - 0.004, "weights copy")
    assert [r.teacher for r in order_rankings([below, fits])] == ["fits", "below"]


def test_student_is_checked() -> None:
    assert Student(algo="PPO").algo == "ppo"
    assert Student.of("sac", {"net_arch": {"pi": [32, 32], "qf": [64]}}).net_arch == (32, 32)
    with pytest.raises(UnknownNameError, match="ppo"):
        Student(algo="ppp")
    with pytest.raises(ConfigError, match="positive widths"):
        Student(algo="ppo", net_arch=(64, 0))


def test_rank_cli_prints_the_route_into_the_students_algorithm(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["rank", "--env", CARTPOLE, "--zoo", str(AGENTS), "--teachers", "cartpole-ppo", "--budget", "200"]
    assert main([*args, "--algo", "dqn"]) == 0
    out = capsys.readouterr().out
    assert "route into dqn" in out.splitlines()[0] and "distillation" in out.splitlines()[2]
    assert "route of cartpole-ppo into the student: distillation (ppo [64, 64] into dqn [256, 256]" in out
    assert main([*args, "--net-arch", "64,64"]) == 0
    assert "weights copy" in capsys.readouterr().out.splitlines()[2]
    assert main([*args, "--net-arch", "64,x"]) == 2
    assert "--net-arch" in capsys.readouterr().err


def test_auto_teacher_is_ranked_for_the_student_it_resolves_for(tmp_path: Path) -> None:
    """resolve_teacher("auto", student=...) passes the student to the ranking and says the route it chose."""
    for name in ("cartpole-ppo", "cartpole-ppo-small"):
        shutil.copytree(AGENTS / name, tmp_path / name)
    resolved = resolve_teacher(
        "auto", env_factory=lambda: make_env(CARTPOLE), zoo=str(tmp_path), student=Student(algo="dqn")
    )
    assert "into the dqn student" in resolved.how and "distillation" in resolved.how


def test_train_with_teacher_auto_ranks_for_its_own_student(tmp_path: Path) -> None:
    """`train --teacher auto` passes the student it builds (algorithm and network) to the ranking."""
    zoo = tmp_path / "zoo"
    for name in ("cartpole-ppo", "cartpole-ppo-small"):
        shutil.copytree(AGENTS / name, zoo / name)
    config = TrainConfig(
        env_id=CARTPOLE,
        algo="ppo",
        policy_kwargs={"net_arch": [32, 32]},
        total_timesteps=600,
        method="kickstart",
        teacher="auto",
        zoo=str(zoo),
        n_envs=1,
        hyperparams={"n_steps": 128, "batch_size": 64},
        transfer={"probe_episodes": 1},
    )
    train_student(config, tmp_path / "run")
    first = json.loads((tmp_path / "run" / DECISIONS_FILE).read_text().splitlines()[0])
    assert "weights copy into the ppo student" in first["reason"]  # the [32, 32] teacher copies into [32, 32]
    assert "cartpole-ppo-small" in first["reason"]
