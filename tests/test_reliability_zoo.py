"""Issue 10, zoo side: entry names that are paths, hostile or inconsistent cards, reproducible bytes."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import shutil
import tempfile
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import one_error_line, write_recipe
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import rltransfer.zoo.store as zoo_module
from rltransfer.cli import main
from rltransfer.errors import BrokenTeacherWarning, CardFormatError, ChecksumError, EntryNameError, RLTransferError
from rltransfer.zoo import (
    list_cards,
    load_teacher,
    save_teacher,
    sha256_file,
    validate_entry_name,
    verify_zoo,
    weights_bytes,
)

BAD_NAMES = ["", ".", "..", "../victim", "a/b", "a\\b", "x\x00y", ".hidden", " spaced", "-rf"]


def tree(root: Path) -> dict[str, str]:
    """Every file and folder under root, with each file's sha256."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        for path in sorted(root.rglob("*"))
    }


def run_cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error_line(code: int, err: str, expected: int = 2) -> str:
    assert code == expected, err
    return one_error_line(err)


@pytest.fixture()
def workspace(tiny_zoo: Path, tmp_path: Path) -> Path:
    """tmp/zoo (a copy of the tiny zoo) next to tmp/victim, a folder nothing may touch."""
    shutil.copytree(tiny_zoo, tmp_path / "zoo")
    (tmp_path / "victim").mkdir()
    (tmp_path / "victim" / "keep.txt").write_text("precious\n")
    return tmp_path


@pytest.fixture(scope="module")
def sb3_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from stable_baselines3 import PPO

    path = tmp_path_factory.mktemp("sb3") / "model.zip"
    PPO("MlpPolicy", "CartPole-v1", policy_kwargs={"net_arch": [8]}, n_steps=64, device="cpu", seed=0).save(path)
    return path


def edit_card(folder: Path, **changes: Any) -> None:
    card_path = folder / "card.json"
    card = json.loads(card_path.read_text())
    card.update(changes)
    card_path.write_text(json.dumps(card))


# --- item 1: a zoo entry name is a plain folder name, never a path ----------------------------------------


@pytest.mark.parametrize("name", [*BAD_NAMES, "/abs/path"])
def test_import_sb3_with_force_refuses_a_name_that_is_a_path(
    capsys: pytest.CaptureFixture[str], workspace: Path, sb3_zip: Path, name: str
) -> None:
    name = str(workspace / "abs" / "path") if name == "/abs/path" else name
    before = tree(workspace)
    code, _, err = run_cli(
        capsys,
        "zoo",
        "import-sb3",
        sb3_zip,
        "--env",
        "CartPole-v1",
        f"--name={name}",
        "--zoo",
        workspace / "zoo",
        "--force",
    )
    line = assert_one_error_line(code, err)
    assert "not a plain folder name" in line and "--force" not in line
    assert tree(workspace) == before  # the zoo, its sibling and the absolute path are untouched


@pytest.mark.parametrize("name", ["../victim", "a\\b", "x\x00y", ".hidden", "", "/abs"])
def test_zoo_train_refuses_a_recipe_name_that_is_a_path(
    capsys: pytest.CaptureFixture[str], workspace: Path, name: str
) -> None:
    recipe = write_recipe(workspace / "r.yaml", name=name, algo="ppo", env="CartPole-v1", n_timesteps=64)
    before = tree(workspace)
    code, _, err = run_cli(capsys, "zoo", "train", recipe, "--zoo", workspace / "zoo", "--force", "--no-progress")
    line = assert_one_error_line(code, err)
    assert "not a plain folder name" in line and "--force" not in line
    assert tree(workspace) == before


@pytest.mark.parametrize("name", ["", "../victim", "x\x00y"])
def test_distill_refuses_a_student_name_that_is_a_path(
    capsys: pytest.CaptureFixture[str], workspace: Path, name: str
) -> None:
    before = tree(workspace)
    code, _, err = run_cli(
        capsys,
        "distill",
        "--teacher",
        "tiny-ppo",
        "--env",
        "CartPole-v1",
        "--zoo",
        workspace / "zoo",
        "--out",
        workspace / "zoo",
        f"--name={name}",
        "--force",
    )
    line = assert_one_error_line(code, err)
    assert "student name" in line and "--force" not in line
    assert tree(workspace) == before


@pytest.mark.parametrize("name", ["", "..", "../victim"])
def test_save_teacher_refuses_a_card_name_that_is_a_path(workspace: Path, name: str) -> None:
    """The one writer of zoo entries (train's student, import, distill, zoo train) checks the name too."""
    teacher = load_teacher("tiny-ppo", workspace / "zoo")
    before = tree(workspace)
    with pytest.raises(EntryNameError):
        save_teacher(teacher.policy, replace(teacher.card, name=name), workspace / "zoo" / name, overwrite=True)
    assert tree(workspace) == before


@pytest.mark.parametrize("name", ["cartpole-ppo", "tiny_sac.v2", "a", "A+B-1", "x" * 128])
def test_plain_names_pass(name: str) -> None:
    assert validate_entry_name(name) == name


def test_force_replaces_exactly_the_named_entry(
    capsys: pytest.CaptureFixture[str], workspace: Path, sb3_zip: Path
) -> None:
    before = tree(workspace)
    code, _, err = run_cli(
        capsys,
        "zoo",
        "import-sb3",
        sb3_zip,
        "--env",
        "CartPole-v1",
        "--name",
        "tiny-ppo",
        "--zoo",
        workspace / "zoo",
        "--episodes",
        "1",
        "--force",
    )
    assert code == 0, err
    after = tree(workspace)
    changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
    assert changed and all(key.startswith("zoo/tiny-ppo/") for key in changed), changed
    assert sorted(p.name for p in (workspace / "zoo").iterdir()) == ["tiny-ppo", "tiny-sac"]  # no staging left
    assert load_teacher("tiny-ppo", workspace / "zoo").card.notes.startswith("imported from model.zip")


# --- item 4: hostile or inconsistent cards ---------------------------------------------------------------


def test_card_claiming_a_huge_network_is_refused_before_any_network_is_built(
    capsys: pytest.CaptureFixture[str], workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    zoo = workspace / "zoo"
    card = json.loads((zoo / "tiny-ppo" / "card.json").read_text())
    edit_card(zoo / "tiny-ppo", policy_kwargs={**card["policy_kwargs"], "net_arch": [200000, 200000]})

    def no_build(*args: object, **kwargs: object) -> None:
        raise AssertionError("a network was built before the weights were checked against the card")

    monkeypatch.setattr(zoo_module, "build_policy", no_build)
    with pytest.raises(CardFormatError, match="200000×4"):
        load_teacher("tiny-ppo", zoo)
    code, out, err = run_cli(capsys, "zoo", "verify", "--zoo", zoo)
    assert_one_error_line(code, err)
    assert "FAIL  tiny-ppo" in out and "net_arch" in out


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"env_id": "rltransfer/Pendulum-v0"}, "claims Box(4,) → Discrete(2), but its env rltransfer/Pendulum-v0"),
        ({"env_kwargs": {"not_a_kwarg": 1}}, "rejected its kwargs"),
    ],
)
def test_verify_fails_a_card_whose_env_contradicts_its_spaces(
    capsys: pytest.CaptureFixture[str], workspace: Path, change: dict[str, Any], expected: str
) -> None:
    edit_card(workspace / "zoo" / "tiny-ppo", **change)
    code, out, err = run_cli(capsys, "zoo", "verify", "--zoo", workspace / "zoo")
    assert_one_error_line(code, err)
    assert "FAIL  tiny-ppo" in out and expected in out and "ok    tiny-sac" in out


def test_verify_fails_a_teacher_whose_checksummed_transitions_are_missing(
    capsys: pytest.CaptureFixture[str], workspace: Path
) -> None:
    (workspace / "zoo" / "tiny-sac" / "transitions.npz").unlink()
    code, out, err = run_cli(capsys, "zoo", "verify", "--zoo", workspace / "zoo")
    assert_one_error_line(code, err)
    assert "FAIL  tiny-sac" in out and "transitions.npz is missing" in out


def test_transitions_holding_an_object_array_give_a_format_error(
    capsys: pytest.CaptureFixture[str], workspace: Path
) -> None:
    folder = workspace / "zoo" / "tiny-ppo"
    path = folder / "transitions.npz"
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    arrays["obs"] = np.array([{"x": 1}] * len(arrays["obs"]), dtype=object)
    np.savez(path, **arrays)  # a pickled object array, with a matching checksum on the card
    edit_card(folder, transitions_sha256=sha256_file(path))
    with pytest.raises(ChecksumError, match="not a transitions file of plain arrays"):
        load_teacher("tiny-ppo", workspace / "zoo").load_transitions()
    code, out, err = run_cli(capsys, "zoo", "verify", "--zoo", workspace / "zoo")
    assert_one_error_line(code, err)
    assert "FAIL  tiny-ppo" in out


@pytest.mark.parametrize("damage", ["not json", "wrong type", "weights"])
def test_one_broken_teacher_does_not_stop_list_or_rank(
    capsys: pytest.CaptureFixture[str], workspace: Path, damage: str
) -> None:
    zoo = workspace / "zoo"
    shutil.copytree(zoo / "tiny-ppo", zoo / "broken")
    edit_card(zoo / "broken", name="broken")
    if damage == "not json":
        (zoo / "broken" / "card.json").write_text("{not json")
    elif damage == "wrong type":
        edit_card(zoo / "broken", observation_space="Box(4,)")
    else:
        (zoo / "broken" / "policy.safetensors").write_bytes(b"\0" * 64)
    if damage != "weights":  # zoo list reads cards only
        code, out, err = run_cli(capsys, "zoo", "list", "--zoo", zoo)
        assert code == 0 and "Traceback" not in err
        assert "tiny-ppo" in out and "tiny-sac" in out and "broken" not in out
        assert err.count("\n") == 1 and err.startswith("rltransfer: warning: skipped teacher broken: ")
    code, out, err = run_cli(capsys, "rank", "--env", "CartPole-v1", "--zoo", zoo, "--budget", "300")
    assert code == 0 and "Traceback" not in err, err
    assert "tiny-ppo" in out and "broken" not in out
    assert err.count("\n") == 1 and "skipped teacher broken: " in err and "zoo verify" in err
    code, out, err = run_cli(capsys, "zoo", "verify", "--zoo", zoo)
    assert_one_error_line(code, err)
    assert "FAIL  broken" in out


def test_rank_with_every_teacher_broken_is_one_error(capsys: pytest.CaptureFixture[str], workspace: Path) -> None:
    zoo = workspace / "zoo"
    for name in ("tiny-ppo", "tiny-sac"):
        (zoo / name / "card.json").write_text("[]")
    code, _, err = run_cli(capsys, "rank", "--env", "CartPole-v1", "--zoo", zoo)
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("rltransfer: error: none of the 2 teachers")


# --- item 7: reproducible bytes, strict JSON -------------------------------------------------------------


def test_same_weights_give_the_same_bytes(workspace: Path) -> None:
    teacher = load_teacher("tiny-ppo", workspace / "zoo")
    state = {key: value.detach().contiguous() for key, value in teacher.policy.state_dict().items()}
    metadata = {"format": "rltransfer-teacher", "algo": "ppo", "extra": "x"}
    assert len({weights_bytes(state, metadata=metadata) for _ in range(20)}) == 1
    transitions = teacher.load_transitions()
    cards = [
        save_teacher(teacher.policy, teacher.card, workspace / f"copy{index}", transitions=transitions)
        for index in range(3)
    ]
    assert len({(card.weights_sha256, card.transitions_sha256) for card in cards}) == 1
    for index in range(3):
        copy = load_teacher(workspace / f"copy{index}")
        assert copy.card.weights_sha256 == sha256_file(workspace / f"copy{index}" / "policy.safetensors")
        loaded = copy.load_transitions()
        assert loaded is not None and transitions is not None
        assert all(np.array_equal(loaded[key], transitions[key]) for key in transitions)


def test_card_json_is_strict_json(workspace: Path) -> None:
    teacher = load_teacher("tiny-ppo", workspace / "zoo")
    card = replace(teacher.card, evaluation={"mean": float("nan"), "std": float("inf"), "episodes": 0.0})
    save_teacher(teacher.policy, card, workspace / "nan-card")

    def reject(token: str) -> None:
        raise AssertionError(f"bare {token} in card.json")

    data = json.loads((workspace / "nan-card" / "card.json").read_text(), parse_constant=reject)
    assert data["evaluation"] == {"mean": None, "std": None, "episodes": 0.0}
    assert math.isnan(load_teacher(workspace / "nan-card").card.eval_mean)


# --- items 3 and 8: episodes, missing zoo -----------------------------------------------------------------


@pytest.mark.parametrize("episodes", ["0", "-3"])
def test_zero_episodes_are_refused(
    capsys: pytest.CaptureFixture[str], workspace: Path, sb3_zip: Path, episodes: str
) -> None:
    zoo = workspace / "zoo"
    before = tree(workspace)
    code, _, err = run_cli(capsys, "zoo", "eval", "tiny-ppo", "--zoo", zoo, "--episodes", episodes)
    assert "--episodes" in assert_one_error_line(code, err)
    code, _, err = run_cli(
        capsys,
        "zoo",
        "import-sb3",
        sb3_zip,
        "--env",
        "CartPole-v1",
        "--name",
        "new",
        "--zoo",
        zoo,
        "--episodes",
        episodes,
    )
    assert "--episodes" in assert_one_error_line(code, err)
    assert tree(workspace) == before


def test_zoo_list_of_a_missing_zoo_is_an_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "zoo", "list", "--zoo", tmp_path / "missing")
    assert "is not a folder" in assert_one_error_line(code, err)


# --- property tests: no card value gives anything but an RLTransferError ------------------------------------

_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([0, -1, 1, 4, 16, 2, 10**12, 200000])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=6)
    | st.sampled_from(["box", "discrete", "ppo", "dqn", "sac", "relu", "inf", "nan", "float32", "int8", "object"])
)
_JUNK = st.recursive(
    _LEAVES,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
)
_NET_ARCH = (
    st.lists(st.integers(min_value=-2, max_value=300_000), max_size=3)
    | st.lists(st.sampled_from([16, 4, 1, 0]), max_size=3)
    | st.fixed_dictionaries({"pi": st.lists(st.sampled_from([16, 8]), max_size=2)}, optional={"vf": _JUNK, "qf": _JUNK})
    | _JUNK
)
_PATHS = [
    ("name",),
    ("env_id",),
    ("env_kwargs",),
    ("family",),
    ("algo",),
    ("policy_kwargs",),
    ("policy_kwargs", "net_arch"),
    ("policy_kwargs", "activation_fn"),
    ("policy_kwargs", "n_critics"),
    ("policy_kwargs", "ortho_init"),
    ("observation_space",),
    ("observation_space", "kind"),
    ("observation_space", "shape"),
    ("observation_space", "low"),
    ("observation_space", "high"),
    ("observation_space", "dtype"),
    ("action_space",),
    ("action_space", "kind"),
    ("action_space", "n"),
    ("n_timesteps",),
    ("seed",),
    ("evaluation",),
    ("evaluation", "mean"),
    ("weights_sha256",),
    ("transitions_sha256",),
    ("format_version",),
    ("hyperparams",),
    ("libraries",),
    ("created",),
]
_MUTATION = st.tuples(st.sampled_from(_PATHS), st.booleans(), _JUNK, _NET_ARCH)


def _mutate(card: dict[str, Any], path: tuple[str, ...], delete: bool, value: Any) -> None:
    holder: Any = card
    for key in path[:-1]:
        if not isinstance(holder, dict):
            return
        holder = holder.setdefault(key, {})
    if not isinstance(holder, dict):
        return
    if delete:
        holder.pop(path[-1], None)
    else:
        holder[path[-1]] = value


@pytest.fixture(scope="module")
def property_zoo(tiny_zoo: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    zoo = tmp_path_factory.mktemp("property") / "zoo"
    zoo.mkdir()
    shutil.copytree(tiny_zoo / "tiny-ppo", zoo / "tiny-ppo")
    return zoo, json.loads((zoo / "tiny-ppo" / "card.json").read_text())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations=st.lists(_MUTATION, min_size=1, max_size=3))
# found by this test in CI: np.dtype takes a dict (a structured dtype) and raises ValueError, not TypeError
@example(mutations=[(("observation_space", "dtype"), False, {"": None, "0": None}, [])])
def test_no_card_value_gives_a_traceback(
    property_zoo: tuple[Path, dict[str, Any]], mutations: list[tuple[tuple[str, ...], bool, Any, Any]]
) -> None:
    zoo, original = property_zoo
    card = json.loads(json.dumps(original))
    for path, delete, junk, net_arch in mutations:
        _mutate(card, path, delete, net_arch if path[-1] == "net_arch" else junk)
    (zoo / "tiny-ppo" / "card.json").write_text(json.dumps(card))  # NaN and Infinity written bare on purpose
    with contextlib.suppress(RLTransferError):
        load_teacher("tiny-ppo", zoo)
    results = verify_zoo(zoo)
    assert len(results) == 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cards = list_cards(zoo)
    assert len(cards) + sum(issubclass(w.category, BrokenTeacherWarning) for w in caught) == 1
    for argv, codes in ((["zoo", "verify"], {0, 2}), (["zoo", "list"], {0})):
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = main([*argv, "--zoo", str(zoo)])
        assert code in codes and "Traceback" not in err.getvalue(), err.getvalue()


def test_unmutated_card_still_verifies(property_zoo: tuple[Path, dict[str, Any]]) -> None:
    zoo, original = property_zoo
    with tempfile.TemporaryDirectory() as scratch:
        shutil.copytree(zoo / "tiny-ppo", Path(scratch) / "tiny-ppo")
        (Path(scratch) / "tiny-ppo" / "card.json").write_text(json.dumps(original))
        assert [result.ok for result in verify_zoo(scratch)] == [True]
