"""rank_teachers and `rltransfer rank`: fitting teachers first, honest scores, one-line errors."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from rltransfer.cli import main
from rltransfer.mapping import Mapping, ObsMap
from rltransfer.selection import SCRATCH_THRESHOLD, Ranking, rank_teachers, ranking_cost, recommendation
from rltransfer.zoo import list_cards


@pytest.fixture(scope="module")
def weak_zoo(selection_zoo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """selection_zoo's competent CartPole PPO (20k steps) next to a weak one of the same family (512 steps)."""
    import shutil

    from conftest import write_recipe

    from rltransfer.zoo.recipes import load_recipe, train_teacher

    root = tmp_path_factory.mktemp("weak_zoo")
    zoo = root / "zoo"
    zoo.mkdir()
    shutil.copytree(selection_zoo / "cartpole", zoo / "cartpole")
    recipe = write_recipe(
        root / "weak.yaml",
        name="cartpole-weak",
        algo="ppo",
        env="rltransfer/CartPole-v0",
        n_timesteps=512,
        n_envs=4,
        policy_kwargs={"net_arch": [32]},
        hyperparams={"n_steps": 64, "batch_size": 64},
        eval_episodes=3,
        transitions=1600,
    )
    train_teacher(load_recipe(recipe), zoo, progress_bar=False)
    return zoo


def test_fitting_teacher_ranked_first_with_its_mapping(selection_zoo: Path) -> None:
    rankings = rank_teachers("rltransfer/CartPole-Reversed-v0", selection_zoo, budget=1500)
    top = rankings[0]
    assert top.teacher == "cartpole"
    assert top.mapping.action.permutation == (1, 0)
    assert top.zero_shot_return >= 0.9  # the swapped teacher balances the reversed cart at once
    assert top.score > SCRATCH_THRESHOLD > max(r.score for r in rankings[1:])
    assert all(r.evidence["space"]["compatibility"] == 0.0 for r in rankings if r.teacher == "mountaincar")
    assert ranking_cost(rankings) <= 1500
    assert 'start from "cartpole"' in recommendation(rankings)
    restored = Mapping.from_dict(top.to_dict()["mapping"])
    assert restored.obs == top.mapping.obs and restored.action == top.mapping.action


def test_permuted_target_zero_shot(selection_zoo: Path) -> None:
    rankings = rank_teachers("rltransfer/CartPole-Permuted-v0", selection_zoo, budget=1500, teachers=["cartpole"])
    assert rankings[0].mapping.obs.index == (1, 3, 0, 2)
    assert rankings[0].zero_shot_return >= 0.9


def test_competent_teacher_outranks_weak_one_that_matches_its_source(weak_zoo: Path) -> None:
    rankings = {r.teacher: r for r in rank_teachers("rltransfer/CartPole-Permuted-v0", weak_zoo, budget=1500)}
    strong, weak = rankings["cartpole"], rankings["cartpole-weak"]
    assert strong.mapping.obs.index == weak.mapping.obs.index == (1, 3, 0, 2)
    # Both reproduce their own source return through the mapping: the normalized zero-shot cannot tell them apart.
    assert strong.zero_shot_return >= 0.9 and weak.zero_shot_return >= 0.7
    # Competence against the target's reward threshold can: the weak teacher is far from solving CartPole.
    assert strong.evidence["competence"]["basis"] == "reward_threshold"
    assert strong.evidence["competence"]["value"] >= 0.8 > 0.3 >= weak.evidence["competence"]["value"]
    assert strong.score > weak.score + 0.3


def test_no_teacher_fits_recommends_scratch(selection_zoo: Path) -> None:
    rankings = rank_teachers("rltransfer/Acrobot-v0", selection_zoo, budget=800)
    assert all(r.score < SCRATCH_THRESHOLD for r in rankings)
    line = recommendation(rankings)
    assert line.startswith("train from scratch")
    assert "no teacher could be probed in the target" in line or "random policy's" in line, line


def test_rank_cli_table_and_json(selection_zoo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["rank", "--env", "rltransfer/Pendulum-Reversed-v0", "--zoo", str(selection_zoo), "--budget", "800"]
    assert main(args) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[:4] == ["rank", "teacher", "score", "mapping"]
    assert "recommendation:" in table and "actions affine scale [-1.0]" in table
    assert main([*args, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["rank"] for row in rows] == [1, 2, 3]
    assert {"rank", "teacher", "score", "mapping", "zero_shot_return", "env_steps"} <= set(rows[0])
    assert rows[0]["teacher"] == "pendulum" and rows[0]["mapping"]["action"]["scale"] == [-1.0]
    assert Mapping.from_dict(rows[0]["mapping"]).action.kind == "affine"


def test_rank_cli_user_module_env(
    selection_zoo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "user_tasks.py").write_text(
        textwrap.dedent(
            """
            import gymnasium as gym

            def make_flipped(**kwargs):
                return gym.make("rltransfer/CartPole-v0", action_permutation=(1, 0), obs_scale=(1, 1, 2, 2))

            gym.register(id="UserFlippedCart-v0", entry_point=make_flipped, max_episode_steps=500)
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "ranking.json"
    code = main(
        [
            "rank",
            "--env",
            "user_tasks:UserFlippedCart-v0",
            "--zoo",
            str(selection_zoo),
            "--budget",
            "1000",
            "--json",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["teacher"] == "cartpole" and rows[0]["mapping"]["action"]["permutation"] == [1, 0]
    assert rows[0]["mapping"]["obs"]["scale"][2] == pytest.approx(0.5, rel=0.05)  # angle bounds doubled
    saved = json.loads(out.read_text())
    assert saved["rankings"][0]["teacher"] == "cartpole" and "recommendation" in saved


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "rltransfer/CartPol-v0"], 'Did you mean "rltransfer/CartPole-v0"?'),
        (["--env", "nosuchmodule:Thing-v0"], 'cannot import module "nosuchmodule"'),
        (["--env", "rltransfer/CartPole-v0", "--budget", "5"], "budget 5 is too small"),
        (["--env", "rltransfer/CartPole-v0", "--teachers", "cartpol"], 'unknown teacher "cartpol"'),
    ],
)
def test_rank_cli_bad_input_is_one_line(
    selection_zoo: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["rank", *args, "--zoo", str(selection_zoo)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in captured.err


@pytest.mark.parametrize(
    ("env_id", "teacher", "permutation", "tells"),
    [
        ("rltransfer/Acrobot-v0", "acrobot-dqn", (), True),
        ("rltransfer/MountainCar-Reversed-v0", "mountaincar-dqn", (2, 1, 0), False),
    ],
)
def test_shipped_zoo_probe_too_short_to_tell(
    env_id: str, teacher: str, permutation: tuple[int, ...], tells: bool
) -> None:
    """−1 per step until the goal: at the default budget over the whole shipped zoo a probe cut before the
    goal cannot tell the teacher from random, and its own teacher must still come first (ahead of its
    family's under-trained and other-algorithm teachers), with the right map. On Acrobot successive halving
    gives the last two candidates probes long enough to end an episode, and then the probe tells."""
    rankings = rank_teachers(env_id, None)
    family = {card.name: card.family for card in list_cards(None)}
    top = rankings[0]
    assert top.teacher == teacher and top.evidence["zero_shot"]["uninformative"] is not tells
    assert (top.evidence["zero_shot"]["episodes_ended"] >= 1) is tells
    assert top.score > SCRATCH_THRESHOLD and f'start from "{teacher}"' in recommendation(rankings)
    assert top.mapping.action.permutation == permutation
    others = [r for r in rankings[1:] if family[r.teacher] != family[teacher]]
    assert others and all(r.score < 0.2 for r in others), "degenerate maps (constant inputs) stay at the bottom"


def test_relative_competence_keeps_the_stand_in_of_an_uninformative_probe() -> None:
    """Targets without a reward threshold rescore with relative competence; an uninformative probe's
    stand-in (min(mapping confidence, dynamics similarity)) must survive that rescoring."""
    from rltransfer.selection import combine_score, relative_competence

    def provisional(name: str, gain: float, term: float) -> Ranking:
        evidence = {
            "space": {"compatibility": 1.0},
            "dynamics": {"similarity": 0.9},
            "competence": {"value": 0.0, "own": 1.0, "gain": gain, "basis": "source-normalized (provisional)"},
            "zero_shot": {"normalized": float("nan"), "uninformative": True, "score_term": term},
        }
        return Ranking(teacher=name, score=0.0, mapping=Mapping(obs=ObsMap.identity(1)), evidence=evidence)

    rescored = relative_competence([provisional("a", 2.0, 0.9), provisional("b", 1.0, 0.8)])
    assert [r.score for r in rescored] == pytest.approx(
        [combine_score(1.0, 0.9, 1.0, 0.9), combine_score(1.0, 0.8, 0.5, 0.9)]
    )
    assert rescored[0].score > 0.8
