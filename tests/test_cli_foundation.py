"""The foundation's commands (envs, zoo ...) and their one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import one_error_line

from rltransfer.cli import main


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    line = one_error_line(err)
    for needle in needles:
        assert needle in line


def test_help_explains_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("envs", "zoo"):
        assert command in out
    with pytest.raises(SystemExit):
        main(["zoo", "import-sb3", "--help"])
    assert "trust" in capsys.readouterr().out


def test_envs_json_lists_every_family(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "envs", "--json")
    assert code == 0
    rows = json.loads(out)
    assert {tuple(sorted(row)) for row in rows} == {
        ("action_space", "description", "family", "id", "observation_space")
    }
    assert len({row["family"] for row in rows}) >= 4
    assert sum(1 for row in rows if row["id"].count("-") >= 2) >= 12
    assert all(row["id"].startswith("rltransfer/") for row in rows)
    code, out, _ = run_cli(capsys, "envs")
    assert code == 0 and "rltransfer/CartPole-Reversed-v0" in out


def test_zoo_list_show_verify_eval(tiny_zoo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "zoo", "list", "--zoo", str(tiny_zoo), "--json")
    assert code == 0
    cards = json.loads(out)
    assert {"name", "env_id", "family", "algo", "eval_mean"} <= set(cards[0])
    code, out, _ = run_cli(capsys, "zoo", "list", "--zoo", str(tiny_zoo))
    assert code == 0 and "tiny-ppo" in out and "tiny-sac" in out
    code, out, _ = run_cli(capsys, "zoo", "show", "tiny-ppo", "--zoo", str(tiny_zoo))
    assert code == 0 and json.loads(out)["algo"] == "ppo"
    code, out, _ = run_cli(capsys, "zoo", "verify", "--zoo", str(tiny_zoo))
    assert code == 0 and "2 teachers verified" in out
    code, out, _ = run_cli(capsys, "zoo", "eval", "tiny-ppo", "--zoo", str(tiny_zoo), "--episodes", "2")
    assert code == 0 and "return" in out


def test_zoo_train_writes_a_loadable_teacher(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "name: cli-dqn\nalgo: dqn\nenv: rltransfer/CartPole-v0\nn_timesteps: 300\n"
        "policy_kwargs: {net_arch: [8]}\nhyperparams: {learning_starts: 100}\neval_episodes: 1\ntransitions: 50\n"
    )
    code, out, _ = run_cli(capsys, "zoo", "train", str(recipe), "--zoo", str(tmp_path / "zoo"), "--no-progress")
    assert code == 0 and "wrote" in out
    code, _, err = run_cli(capsys, "zoo", "train", str(recipe), "--zoo", str(tmp_path / "zoo"), "--no-progress")
    assert_one_line_error(code, err, "already exists", "--force")
    from rltransfer.zoo import load_teacher

    assert load_teacher("cli-dqn", tmp_path / "zoo").card.algo == "dqn"


def test_import_sb3_says_it_trusts_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from stable_baselines3 import A2C

    model = A2C("MlpPolicy", "CartPole-v1", policy_kwargs={"net_arch": [8]}, device="cpu", seed=0)
    model.save(tmp_path / "mine.zip")
    zoo = tmp_path / "zoo"
    code, out, _ = run_cli(
        capsys,
        "zoo",
        "import-sb3",
        str(tmp_path / "mine.zip"),
        "--env",
        "CartPole-v1",
        "--name",
        "mine",
        "--zoo",
        str(zoo),
        "--episodes",
        "1",
    )
    assert code == 0 and "trust" in out and "imported mine" in out
    from rltransfer.zoo import load_teacher

    teacher = load_teacher("mine", zoo)
    assert "trusted" in teacher.card.notes
    code, _, err = run_cli(
        capsys,
        "zoo",
        "import-sb3",
        str(tmp_path / "mine.zip"),
        "--env",
        "Pendulum-v1",
        "--name",
        "other",
        "--zoo",
        str(zoo),
    )
    assert_one_line_error(code, err, "spaces")


def test_errors_are_one_line_exit_2(tiny_zoo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    zoo = tmp_path / "zoo"
    shutil.copytree(tiny_zoo, zoo)
    code, _, err = run_cli(capsys, "zoo", "show", "tiny-pp", "--zoo", str(zoo))
    assert_one_line_error(code, err, "unknown teacher", 'Did you mean "tiny-ppo"')

    weights = zoo / "tiny-ppo" / "policy.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[-2] ^= 0xFF
    weights.write_bytes(bytes(raw))
    for argv in (("zoo", "verify", "--zoo", str(zoo)), ("zoo", "eval", "tiny-ppo", "--zoo", str(zoo))):
        code, out, err = run_cli(capsys, *argv)
        assert code == 2 and "sha256" in err + out

    card = zoo / "tiny-sac" / "card.json"
    data = json.loads(card.read_text())
    data["format_version"] = 7
    card.write_text(json.dumps(data))
    code, _, err = run_cli(capsys, "zoo", "show", "tiny-sac", "--zoo", str(zoo))
    assert_one_line_error(code, err, "newer", "upgrade")

    bad = tmp_path / "bad.yaml"
    bad.write_text("algo: ppo\nenv: rltransfer/CartPole-v0\nn_timesteps: -5\n")
    code, _, err = run_cli(capsys, "zoo", "train", str(bad), "--zoo", str(zoo))
    assert_one_line_error(code, err, "recipe")

    bad.write_text("algo: ppo\nenv: rltransfer/CartPol-v0\nn_timesteps: 5\n")
    code, _, err = run_cli(capsys, "zoo", "train", str(bad), "--zoo", str(zoo))
    assert_one_line_error(code, err, "unknown environment", "rltransfer/CartPole-v0")


def test_pickled_zip_where_a_teacher_is_expected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from stable_baselines3 import PPO

    PPO("MlpPolicy", "CartPole-v1", policy_kwargs={"net_arch": [8]}, n_steps=64, device="cpu").save(tmp_path / "m")
    code, _, err = run_cli(capsys, "zoo", "show", str(tmp_path / "m.zip"))
    assert_one_line_error(code, err, "zip", "import-sb3")


def test_console_script_exits_2_without_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rltransfer.cli", "zoo", "show", "nobody", "--zoo", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["distill", "--teacher", "x", "--env", "CartPole-v1", "--out", "o", "--samples", "1e3"],
        ["train", "--env", "CartPole-v1"],
        ["compare", "--seeds", "many"],
        ["no-such-command"],
    ],
)
def test_usage_errors_are_one_line_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rltransfer: error:") and "--help" in err[0]
