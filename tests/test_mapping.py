"""Mappings found by selection.find_mapping, checked against the envs' ground-truth layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from rltransfer.errors import ConfigError, IncompatibleSpacesError
from rltransfer.make import make_env
from rltransfer.mapping import ActionMap, Mapping, ObsMap, load_mapping
from rltransfer.selection import find_mapping
from rltransfer.zoo import Teacher, load_teacher


@pytest.fixture(scope="module")
def teachers(selection_zoo: Path) -> dict[str, Teacher]:
    return {name: load_teacher(name, selection_zoo) for name in ("cartpole", "pendulum", "mountaincar")}


def found(teacher: Teacher, env_id: str, seed: int = 0) -> tuple[Mapping, object]:
    env = make_env(env_id)
    try:
        return find_mapping(teacher, env, seed=seed, budget=1000), env.unwrapped.layout
    finally:
        env.close()


def assert_obs_matches_layout(mapping: Mapping, layout: object, *, rtol: float) -> None:
    """Teacher dim j must read the student dim that holds core dim j, scaled by 1 / obs_scale."""
    permutation, scales = layout.obs_permutation, layout.obs_scale  # type: ignore[attr-defined]
    for teacher_dim, (student_dim, scale) in enumerate(zip(mapping.obs.index, mapping.obs.scale, strict=True)):
        assert permutation[student_dim] == teacher_dim, mapping.obs
        assert scale == pytest.approx(1.0 / scales[student_dim], rel=rtol), mapping.obs
    assert all(abs(offset) < 1e-6 for offset in mapping.obs.offset)


@pytest.mark.parametrize("seed", [0, 1])
def test_identity_on_matching_spaces(teachers: dict[str, Teacher], seed: int) -> None:
    mapping, _ = found(teachers["cartpole"], "rltransfer/CartPole-v0", seed)
    assert mapping.obs.is_identity(4) and mapping.action.kind == "identity"
    assert mapping.confidence == 1.0 and mapping.source == "identity"


@pytest.mark.parametrize("seed", [0, 1])
def test_cartpole_permuted_and_rescaled(teachers: dict[str, Teacher], seed: int) -> None:
    mapping, layout = found(teachers["cartpole"], "rltransfer/CartPole-Permuted-v0", seed)
    # Position and angle scales come from the (finite) bounds, velocities from std ratios.
    assert_obs_matches_layout(mapping, layout, rtol=0.2)
    assert mapping.obs.scale[0] == pytest.approx(2.0) and mapping.obs.scale[2] == pytest.approx(0.2)
    assert mapping.action.kind == "identity" and mapping.source == "found"


def test_pendulum_permuted_and_rescaled(teachers: dict[str, Teacher]) -> None:
    mapping, layout = found(teachers["pendulum"], "rltransfer/Pendulum-Permuted-v0")
    assert_obs_matches_layout(mapping, layout, rtol=0.02)
    assert mapping.action.kind == "identity"


@pytest.mark.parametrize("env_id", ["rltransfer/CartPole-Reversed-v0", "rltransfer/MountainCar-Reversed-v0"])
def test_reversed_discrete_actions(teachers: dict[str, Teacher], env_id: str) -> None:
    teacher = teachers["cartpole" if "CartPole" in env_id else "mountaincar"]
    mapping, layout = found(teacher, env_id)
    assert mapping.obs.is_identity(len(mapping.obs.index))
    assert mapping.action.kind == "permutation"
    # Student action permutation[t] must run the core action t.
    core = layout.action_permutation  # type: ignore[attr-defined]
    assert [core[s] for s in mapping.action.permutation] == list(range(len(core)))


def test_pendulum_reversed_by_action_sign(teachers: dict[str, Teacher]) -> None:
    mapping, layout = found(teachers["pendulum"], "rltransfer/Pendulum-Reversed-v0")
    assert mapping.obs.is_identity(3)
    assert mapping.action.kind == "affine"
    assert mapping.action.scale == pytest.approx(layout.action_sign)  # type: ignore[attr-defined]
    assert mapping.action.offset == pytest.approx((0.0,), abs=1e-6)


def test_distractor_dims_dropped(teachers: dict[str, Teacher]) -> None:
    mapping, layout = found(teachers["cartpole"], "rltransfer/CartPole-Distractor-v0")
    assert layout.distractor_dims == 4  # type: ignore[attr-defined]
    assert mapping.obs.index == (0, 1, 2, 3)
    assert mapping.obs.scale == pytest.approx((1.0,) * 4, rel=0.2)
    assert "drops student dims [4, 5, 6, 7]" in mapping.describe(8)


def test_continuous_teacher_binned_onto_discrete_actions(teachers: dict[str, Teacher]) -> None:
    mapping, layout = found(teachers["pendulum"], "rltransfer/Pendulum-Discrete-v0")
    levels = np.linspace(-2.0, 2.0, 5)
    assert mapping.action.kind == "nearest"
    core = layout.action_permutation  # type: ignore[attr-defined]
    assert [v[0] for v in mapping.action.values] == pytest.approx([levels[core[s]] for s in range(5)])


def test_discrete_teacher_binned_onto_continuous_actions(teachers: dict[str, Teacher]) -> None:
    mapping, _ = found(teachers["cartpole"], "rltransfer/CartPole-Continuous-v0")
    assert mapping.action.kind == "bins"
    assert mapping.action.values == ((-1.0,), (1.0,))  # push left → −1, push right → +1


def test_unbridgeable_spaces_raise(teachers: dict[str, Teacher]) -> None:
    env = make_env("rltransfer/Acrobot-v0")  # Discrete(3) actions: no permutation of CartPole's two
    with pytest.raises(IncompatibleSpacesError, match="no mapping bridges"):
        find_mapping(teachers["cartpole"], env, budget=300)
    with pytest.raises(ConfigError, match="budget"):
        find_mapping(teachers["cartpole"], env, budget=10)


def test_found_mapping_round_trips_through_yaml(teachers: dict[str, Teacher], tmp_path: Path) -> None:
    mapping, _ = found(teachers["pendulum"], "rltransfer/Pendulum-Permuted-v0")
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml.safe_dump(mapping.to_dict()))
    loaded = load_mapping(path)
    assert loaded.obs == mapping.obs and loaded.action == mapping.action
    obs = np.array([[0.5, -2.0, 1.5]], dtype=np.float32)
    assert np.allclose(loaded.obs.apply(obs), mapping.obs.apply(obs))


def test_describe_names_action_details() -> None:
    mapping = Mapping(obs=ObsMap.identity(3), action=ActionMap(kind="affine", index=(0,), scale=(-1.0,), offset=(0.0,)))
    assert mapping.describe() == "actions affine scale [-1.0]"
    assert Mapping(obs=ObsMap.identity(2)).describe(2) == "identity"
