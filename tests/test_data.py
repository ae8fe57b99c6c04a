"""`rltransfer data export|filter|show`: real zoo teachers, real Minari files, the envs' own returns."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import one_error_line

from rltransfer.cli import main
from rltransfer.data import EpisodeFilter, read_dataset, record_teacher
from rltransfer.make import make_env
from rltransfer.mapping import MappedTeacher, Mapping
from rltransfer.rollouts import evaluate
from rltransfer.transfer.instance import dataset_demonstrations
from rltransfer.zoo import load_teacher, sha256_file

ZOO = Path(__file__).resolve().parents[1] / "agents"
PERMUTED = "rltransfer/CartPole-Permuted-v0"
CARTPOLE = "rltransfer/CartPole-v0"
PENDULUM = "rltransfer/Pendulum-v0"


@pytest.fixture(autouse=True)
def _no_home_datasets(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs with an empty HOME and no MINARI_DATASETS_PATH, so a write outside --out shows."""
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.delenv("MINARI_DATASETS_PATH", raising=False)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # usage errors exit from argparse
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def export(tmp: Path, name: str, teacher: str, env: str, *extra: str) -> Path:
    out = tmp / name
    assert main(["data", "export", teacher, "--env", env, "--out", str(out), "--zoo", str(ZOO), *extra]) == 0
    return out


def digest(folder: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def permuted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """cartpole-ppo recorded on permuted CartPole (a mapping is needed), 2 episodes from seed 3."""
    return export(
        tmp_path_factory.mktemp("permuted"), "perm-v0", "cartpole-ppo", PERMUTED, "--episodes", "2", "--seed", "3"
    )


@pytest.fixture(scope="module")
def undertrained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An undertrained teacher on CartPole: episodes of different returns (about 110 to 150)."""
    return export(tmp_path_factory.mktemp("under"), "under", "cartpole-ppo-undertrained", CARTPOLE, "--episodes", "8")


def test_export_writes_a_minari_dataset_with_the_targets_own_returns(permuted: Path) -> None:
    import minari

    dataset = minari.MinariDataset(permuted / "data")  # a real Minari dataset, read by Minari itself
    assert dataset.total_episodes == 2 and dataset.spec.dataset_id == "perm-v0"
    assert dataset.env_spec is not None and dataset.env_spec.id == PERMUTED
    meta = dataset.storage.metadata["rltransfer"]
    episodes = list(dataset.iterate_episodes())
    # replaying the recorded actions in a fresh target env from each episode's seed gives the same data
    env = make_env(PERMUTED)
    for index, episode in enumerate(episodes):
        obs, _ = env.reset(seed=3 + index)
        np.testing.assert_array_equal(obs, episode.observations[0])
        for step, action in enumerate(episode.actions):
            obs, reward, terminated, truncated, _ = env.step(action)
            np.testing.assert_array_equal(obs, episode.observations[step + 1])
            assert reward == episode.rewards[step]
            assert (terminated, truncated) == (episode.terminations[step], episode.truncations[step])
    # the mapped teacher is what acted, and it is good in the target
    teacher = load_teacher("cartpole-ppo", ZOO)
    mapping = Mapping.from_dict(meta["teacher"]["mapping"])
    mapped = evaluate(env, MappedTeacher(teacher, mapping, env.action_space).act_one, episodes=2, seed=3)
    assert [float(np.sum(e.rewards)) for e in episodes] == list(mapped.returns)
    assert min(mapped.returns) >= 475
    assert meta["teacher"]["mapping_summary"] != "identity"
    assert meta["teacher"]["name"] == "cartpole-ppo"
    assert meta["teacher"]["weights_sha256"] == teacher.card.weights_sha256
    assert meta["teacher"]["card_sha256"] == sha256_file(ZOO / "cartpole-ppo" / "card.json")
    assert (meta["env_id"], meta["seed"]) == (PERMUTED, 3)
    steps = meta["env_steps"]
    assert steps["recorded"] == sum(len(e) for e in episodes) and steps["mapping_search"] > 0
    assert steps["total"] == steps["recorded"] + steps["mapping_search"]
    assert sorted(p.name for p in permuted.parent.iterdir()) == ["perm-v0"]  # no staging folder left behind
    assert not any(Path(os.environ["HOME"]).iterdir())  # nothing written to ~/.minari
    assert "MINARI_DATASETS_PATH" not in os.environ


def test_minari_finds_an_exported_dataset_by_id(permuted: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import minari

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(permuted.parent))
    assert minari.load_dataset("perm-v0").total_steps == read_dataset("perm-v0").total_steps


def test_export_is_deterministic_and_a_step_budget_is_exact() -> None:
    kwargs = {"zoo": ZOO, "seed": 1}
    first = record_teacher("cartpole-ppo-undertrained", CARTPOLE, steps=300, **kwargs)
    again = record_teacher("cartpole-ppo-undertrained", CARTPOLE, steps=300, **kwargs)
    full = record_teacher("cartpole-ppo-undertrained", CARTPOLE, episodes=len(first.episodes), **kwargs)
    assert first.total_steps == 300
    assert first.episodes[-1].truncations[-1] and not first.episodes[-1].terminations[-1]
    assert [e.seed for e in first.episodes] == [1 + i for i in range(len(first.episodes))]
    for a, b, c in zip(first.episodes, again.episodes, full.episodes, strict=True):
        np.testing.assert_array_equal(a.observations, b.observations)
        np.testing.assert_array_equal(a.actions, b.actions)
        n = len(a)  # the step-budget episodes are a prefix of the full ones
        np.testing.assert_array_equal(a.actions, c.actions[:n])
        np.testing.assert_array_equal(a.observations, c.observations[: n + 1])


def test_filter_keeps_exactly_the_right_episodes_and_leaves_the_input_alone(
    undertrained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = digest(undertrained)
    source = read_dataset(undertrained)
    returns = source.returns
    assert len(set(returns)) > 3  # the filter below has something to choose
    bound = float(np.median(returns))
    code, out, _ = run_cli(
        capsys, "data", "filter", str(undertrained), "--out", str(tmp_path / "hi"), "--min-return", str(bound)
    )
    assert code == 0
    kept = read_dataset(tmp_path / "hi")
    expected = [i for i, r in enumerate(returns) if r >= bound]
    assert kept.metadata["kept_episodes"] == expected
    assert len(kept.episodes) == len(expected) and f"kept {len(expected)} of 8 episodes" in out
    for episode, index in zip(kept.episodes, expected, strict=True):
        np.testing.assert_array_equal(episode.observations, source.episodes[index].observations)
        np.testing.assert_array_equal(episode.actions, source.episodes[index].actions)
    assert f"{returns.mean():.1f} → {returns[expected].mean():.1f}" in out

    top = EpisodeFilter(top=3, max_length=int(np.max(returns)) - 1).select(source.episodes)
    within = [i for i in range(8) if len(source.episodes[i]) <= int(np.max(returns)) - 1]
    assert top == sorted(sorted(within, key=lambda i: -returns[i])[:3])
    assert digest(undertrained) == before


def test_relabel_gives_the_other_teachers_greedy_actions_through_its_mapping(
    permuted: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = digest(permuted)
    argv = ["data", "filter", str(permuted), "--out", str(tmp_path / "rel"), "--relabel", "cartpole-ppo-small"]
    code, out, _ = run_cli(capsys, *argv, "--zoo", str(ZOO), "--top", "1")
    assert code == 0 and "relabelled" in out
    source, relabelled = read_dataset(permuted), read_dataset(tmp_path / "rel")
    best = int(np.argmax(source.returns))
    meta = relabelled.metadata["relabel"]
    assert meta["name"] == "cartpole-ppo-small" and meta["mapping_summary"] != "identity"
    teacher = load_teacher("cartpole-ppo-small", ZOO)
    mapping = Mapping.from_dict(meta["mapping"])
    (episode,) = relabelled.episodes
    obs = source.episodes[best].observations
    np.testing.assert_array_equal(episode.observations, obs)
    greedy = [int(teacher.policy.predict(mapping.obs.apply(o[None]), deterministic=True)[0][0]) for o in obs[:-1]]
    assert episode.actions.tolist() == list(mapping.action.to_student(np.asarray(greedy)))
    assert episode.actions.tolist() != source.episodes[best].actions.tolist() or meta["agreement_with_recorded"] == 1
    np.testing.assert_array_equal(episode.rewards, source.episodes[best].rewards)  # recorded behaviour's rewards
    assert digest(permuted) == before


def test_npz_round_trip_and_the_zoos_own_transitions(
    undertrained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = run_cli(capsys, "data", "filter", str(undertrained), "--out", str(tmp_path / "n"), "--format", "npz")
    assert code == 0 and sorted(p.name for p in (tmp_path / "n").iterdir()) == ["dataset.json", "transitions.npz"]
    source, back = read_dataset(undertrained), read_dataset(tmp_path / "n")
    assert back.env_id == CARTPOLE and [e.seed for e in back.episodes] == [e.seed for e in source.episodes]
    for a, b in zip(source.episodes, back.episodes, strict=True):
        np.testing.assert_array_equal(a.actions, b.actions)
        np.testing.assert_allclose(a.observations, b.observations)
        assert (a.terminations.tolist(), a.truncations.tolist()) == (b.terminations.tolist(), b.truncations.tolist())
    zoo = read_dataset(ZOO / "cartpole-ppo" / "transitions.npz")  # random rows, then teacher rows
    with np.load(ZOO / "cartpole-ppo" / "transitions.npz") as rows:
        total, teacher_rows = len(rows["obs"]), int(np.sum(rows["source"] == 1))
    assert zoo.total_steps == total
    assert total - teacher_rows in np.cumsum([len(e) for e in zoo.episodes])  # the teacher phase starts an episode
    assert zoo.env_id == CARTPOLE and zoo.metadata["teacher"]["name"] == "cartpole-ppo"
    code, out, _ = run_cli(capsys, "data", "show", str(tmp_path / "n"), "--json")
    assert code == 0 and json.loads(out)["episodes"] == 8


def test_relative_out_paths_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--out ds` from the current folder, as a user types it (Minari needs an absolute datasets root)."""
    monkeypatch.chdir(tmp_path)
    assert main(["data", "export", "cartpole-ppo", "--env", CARTPOLE, "--out", "ds", "--zoo", str(ZOO)]) == 0
    assert main(["data", "filter", "ds", "--out", "best", "--top", "1"]) == 0
    assert (tmp_path / "best" / "data" / "metadata.json").is_file() and not list(tmp_path.glob(".*"))


def test_show_summarises_a_dataset(permuted: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "data", "show", str(permuted))
    assert code == 0
    assert "2 episodes" in out and PERMUTED in out and "teacher cartpole-ppo" in out and "env steps spent" in out


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (
            ["export", "cartpole-pp0", "--env", CARTPOLE, "--out", "{new}"],
            ['unknown teacher "cartpole-pp0"', "Did you mean"],
        ),
        (["export", "cartpole-ppo", "--env", CARTPOLE, "--out", "{new}", "--episodes", "-2"], ["--episodes -2"]),
        (["export", "cartpole-ppo", "--env", CARTPOLE, "--out", "{full}"], ["not empty"]),
        (["export", "cartpole-ppo", "--env", CARTPOLE, "--out", "{new}", "--noise", "1.5"], ["--noise 1.5"]),
        (
            ["export", "cartpole-ppo", "--env", CARTPOLE, "--out", "{new}", "--name", "bad id"],
            ["not a Minari dataset id"],
        ),
        (
            ["export", "cartpole-ppo", "--env", CARTPOLE, "--out", "{new}", "--episodes", "1", "--steps", "5"],
            ["not allowed"],
        ),
        (["filter", "{missing}", "--out", "{new}"], ["no dataset"]),
        (["filter", "{dataset}", "--out", "{new}", "--min-return", "1e6"], ["keeps none of the 8 episodes"]),
        (["filter", "{dataset}", "--out", "{new}", "--top", "0"], ["--top 0"]),
        (["filter", "{dataset}", "--out", "{new}", "--min-length", "-1"], ["--min-length -1 is negative"]),
        (["filter", "{dataset}", "--out", "{inside}"], ["inside the input"]),
        (["filter", "{dataset}", "--out", "{new}", "--relabel", "nope"], ['unknown teacher "nope"']),
        (["show", "{missing}"], ["no dataset"]),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    argv: list[str], needles: list[str], undertrained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    names = {
        "new": tmp_path / "new",
        "full": tmp_path / "full",
        "missing": tmp_path / "nothing-v0",
        "dataset": undertrained,
        "inside": undertrained / "data" / "sub",
    }
    before, before_input = sorted(tmp_path.iterdir()), digest(undertrained)
    filled = [arg.format(**{k: str(v) for k, v in names.items()}) for arg in argv]
    code, out, err = (
        run_cli(capsys, "data", *filled, "--zoo", str(ZOO)) if argv[0] != "show" else run_cli(capsys, "data", *filled)
    )
    assert code == 2
    line = one_error_line(err, out)
    for needle in needles:
        assert needle in line, line
    assert sorted(tmp_path.iterdir()) == before and (tmp_path / "full" / "keep.txt").read_text() == "mine"
    assert digest(undertrained) == before_input


@pytest.mark.parametrize("fmt", ["minari", "npz"])
def test_dart_export_keeps_the_teachers_actions_as_labels(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--noise perturbs the executed actions; the teacher's own ones survive the file as labels, and instance
    transfer imitates them; relabelling a DART dataset replaces the labels, never the executed actions."""
    out = tmp_path / "dart"
    argv = ["data", "export", "pendulum-sac", "--env", PENDULUM, "--out", str(out), "--episodes", "2"]
    code, _, _ = run_cli(capsys, *argv, "--noise", "0.5", "--format", fmt, "--zoo", str(ZOO))
    assert code == 0
    dataset = read_dataset(out)
    assert dataset.metadata["noise"] == 0.5 and "DART" in dataset.metadata["algorithm"]
    teacher = load_teacher("pendulum-sac", ZOO)
    for episode in dataset.episodes:
        assert episode.labels is not None and episode.labels.shape == episode.actions.shape == (200, 1)
        greedy = teacher.policy.predict(episode.observations[:-1], deterministic=True)[0]
        np.testing.assert_allclose(episode.labels, greedy, atol=1e-5)
        assert float(np.mean(np.abs(episode.actions - episode.labels))) > 0.3
    demos = dataset_demonstrations(dataset, steps=300, in_target=True)
    assert demos.labels is not None and len(demos) == 300
    np.testing.assert_array_equal(demos.labels[:200], dataset.episodes[0].labels)
    code, _, _ = run_cli(
        capsys, "data", "filter", str(out), "--out", str(tmp_path / "rel"), "--relabel", "pendulum-td3"
    )
    assert code == 0
    relabelled = read_dataset(tmp_path / "rel")
    np.testing.assert_array_equal(relabelled.episodes[0].actions, dataset.episodes[0].actions)
    assert relabelled.episodes[0].labels is not None
    assert not np.allclose(relabelled.episodes[0].labels, dataset.episodes[0].labels)
