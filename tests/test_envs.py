"""Tests of envs/: registration, Gymnasium API compliance, physics kwargs, layout transforms."""

from __future__ import annotations

import importlib
import pickle
import re
import warnings
from collections.abc import Iterator
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from rltransfer import envs
from rltransfer.envs import CATALOGUE, FAMILIES, EnvInfo
from rltransfer.envs.layout import Layout
from rltransfer.errors import EnvKwargsError

ALL_IDS = sorted(CATALOGUE)
BASE_IDS = [f"rltransfer/{family}-v0" for family in FAMILIES]

# check_env warnings that are expected for these spaces (Gymnasium's own envs raise them too).
EXPECTED_WARNINGS = (
    "This is probably too low",  # -inf bounds (CartPole velocities, distractor dims)
    "This is probably too high",
    "symmetric and normalized space",  # Pendulum's Box(-2, 2) torque
    "different from the unwrapped version",  # check_env on the made (wrapped) env
)


@pytest.fixture
def seed() -> int:
    return 123


def make(env_id: str, **kwargs: Any) -> gym.Env[Any, Any]:
    return gym.make(env_id, **kwargs)


def rollout(env: gym.Env[Any, Any], actions: list[Any], seed: int) -> Iterator[tuple[np.ndarray, float, bool]]:
    """Reset with `seed`, then yield (obs, reward, terminated) per action until the episode ends."""
    obs, _ = env.reset(seed=seed)
    yield obs, 0.0, False
    for action in actions:
        obs, reward, terminated, truncated, _ = env.step(action)
        yield obs, float(reward), terminated
        if terminated or truncated:
            return


def sampled_actions(env: gym.Env[Any, Any], count: int, seed: int) -> list[Any]:
    env.action_space.seed(seed)
    return [env.action_space.sample() for _ in range(count)]


# ---------------------------------------------------------------- catalogue and registration


def test_catalogue_covers_every_family() -> None:
    assert len(FAMILIES) == len(set(FAMILIES)) >= 5
    variants = [info for info in CATALOGUE.values() if not info.is_base]
    assert len(variants) >= 12
    for family in FAMILIES:
        assert f"rltransfer/{family}-v0" in CATALOGUE
        assert any(info.family == family for info in variants), family
    assert {info.family for info in CATALOGUE.values()} == set(FAMILIES)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_catalogue_entry_is_registered(env_id: str) -> None:
    info = CATALOGUE[env_id]
    assert isinstance(info, EnvInfo) and info.id == env_id
    assert re.fullmatch(rf"rltransfer/{info.family}(-[A-Za-z]+)?-v0", env_id)
    assert info.description and "\n" not in info.description
    spec = gym.spec(env_id)
    assert spec.entry_point.startswith("rltransfer.envs.")
    assert dict(spec.kwargs) == dict(info.kwargs)
    assert info.is_base == (not info.kwargs)


def test_registration_limits_and_thresholds() -> None:
    expected = {
        "CartPole": (500, 475.0),
        "Acrobot": (500, -100.0),
        "MountainCar": (200, -110.0),
        "MountainCarContinuous": (999, 90.0),
        "Pendulum": (200, None),
        "LunarLander": (1000, 200.0),
    }
    for env_id, info in CATALOGUE.items():
        spec = gym.spec(env_id)
        assert (spec.max_episode_steps, spec.reward_threshold) == expected[info.family], env_id


def test_misleading_variants_are_flagged() -> None:
    misleading = {env_id for env_id, info in CATALOGUE.items() if info.misleading}
    assert {"rltransfer/CartPole-Reversed-v0", "rltransfer/Pendulum-Reversed-v0"} <= misleading


def test_second_import_does_not_reregister() -> None:
    before = {env_id: gym.spec(env_id) for env_id in ALL_IDS}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.reload(envs)
    assert {env_id: gym.spec(env_id) for env_id in ALL_IDS} == before


# ---------------------------------------------------------------- Gymnasium API compliance


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_check_env(env_id: str) -> None:
    env = make(env_id)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped, skip_render_check=True)
        check_env(env, skip_render_check=True)
    unexpected = [
        str(warning.message)
        for warning in caught
        if not any(text in str(warning.message) for text in EXPECTED_WARNINGS)
    ]
    assert not unexpected
    env.close()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_reset_and_step_match_spaces(env_id: str, seed: int) -> None:
    env = make(env_id)
    space = env.observation_space
    assert isinstance(space, gym.spaces.Box)
    for obs, reward, _ in rollout(env, sampled_actions(env, 20, seed), seed):
        assert obs.shape == space.shape and obs.dtype == space.dtype
        assert space.contains(obs), obs
        assert isinstance(reward, float)
    env.close()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_same_seed_same_first_20_steps(env_id: str, seed: int) -> None:
    first, second = make(env_id), make(env_id)
    actions = sampled_actions(first, 20, seed)
    trace_1 = list(rollout(first, actions, seed))
    trace_2 = list(rollout(second, actions, seed))
    assert len(trace_1) == len(trace_2)
    for (obs_1, reward_1, done_1), (obs_2, reward_2, done_2) in zip(trace_1, trace_2, strict=True):
        np.testing.assert_array_equal(obs_1, obs_2)
        assert (reward_1, done_1) == (reward_2, done_2)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_env_pickles_with_its_layout(env_id: str) -> None:
    env = make(env_id).unwrapped
    clone = pickle.loads(pickle.dumps(env))
    assert clone.layout == env.layout
    assert clone.physics == env.physics


# ---------------------------------------------------------------- physics kwargs

PHYSICS_CASES = [
    ("rltransfer/CartPole-v0", {"gravity": 15.0, "length": 0.8}),
    ("rltransfer/Acrobot-v0", {"link_mass_2": 2.0, "link_length_1": 1.2}),
    ("rltransfer/MountainCar-v0", {"force": 0.002, "gravity": 0.003}),
    ("rltransfer/MountainCarContinuous-v0", {"power": 0.003}),
    ("rltransfer/Pendulum-v0", {"g": 3.0, "m": 1.4}),
    ("rltransfer/LunarLander-v0", {"gravity": -5.0}),
]


def test_every_family_has_a_physics_case() -> None:
    assert sorted(env_id for env_id, _ in PHYSICS_CASES) == sorted(BASE_IDS)


@pytest.mark.parametrize(("env_id", "physics"), PHYSICS_CASES)
def test_physics_kwargs_change_the_dynamics(env_id: str, physics: dict[str, float], seed: int) -> None:
    default, changed = make(env_id), make(env_id, **physics)
    assert changed.unwrapped.physics == {**default.unwrapped.physics, **physics}
    actions = sampled_actions(default, 30, seed)
    trace_default = [obs for obs, _, _ in rollout(default, actions, seed)]
    trace_changed = [obs for obs, _, _ in rollout(changed, actions, seed)]
    if "LunarLander" not in env_id:  # LunarLander's reset already runs one physics step
        np.testing.assert_array_equal(trace_default[0], trace_changed[0])
    assert any(not np.array_equal(a, b) for a, b in zip(trace_default[1:], trace_changed[1:], strict=False)), (
        "the physics kwargs did not change the trajectory"
    )


def test_cartpole_recomputes_derived_quantities() -> None:
    core = make("rltransfer/CartPole-v0", masscart=2.0, masspole=0.5, length=0.8).unwrapped
    assert core.total_mass == pytest.approx(2.5)
    assert core.polemass_length == pytest.approx(0.4)


def test_acrobot_centre_of_mass_follows_length() -> None:
    core = make("rltransfer/Acrobot-v0", link_length_1=1.4, link_length_2=0.6).unwrapped
    assert pytest.approx(0.7) == core.LINK_COM_POS_1
    assert pytest.approx(0.3) == core.LINK_COM_POS_2


def test_pendulum_max_torque_sets_action_bounds() -> None:
    env = make("rltransfer/Pendulum-v0", max_torque=1.0)
    np.testing.assert_array_equal(env.action_space.high, [1.0])
    levels = make("rltransfer/Pendulum-Discrete-v0", max_torque=1.0).unwrapped
    assert levels.action_space.n == 5


def test_lunar_lander_world_uses_gravity() -> None:
    env = make("rltransfer/LunarLander-v0", gravity=-5.0)
    env.reset(seed=0)
    assert tuple(env.unwrapped.world.gravity) == pytest.approx((0.0, -5.0))


BAD_KWARGS = [
    ("rltransfer/CartPole-v0", {"gravty": 15.0}, 'Did you mean "gravity"'),
    ("rltransfer/Pendulum-v0", {"mass": 2.0}, 'unknown Pendulum kwarg "mass"'),
    ("rltransfer/CartPole-v0", {"masspole": -0.1}, "masspole=-0.1"),
    ("rltransfer/Acrobot-v0", {"link_mass_1": -1.0}, "link_mass_1=-1"),
    ("rltransfer/Pendulum-v0", {"g": "strong"}, "g='strong' is not a number"),
    ("rltransfer/LunarLander-v0", {"gravity": -13.0}, "gravity=-13"),
    ("rltransfer/LunarLander-v0", {"gravity": -11.0, "randomize": True}, "with randomize=True"),
    ("rltransfer/MountainCar-v0", {"randomize": "yes"}, "randomize='yes'"),
    ("rltransfer/CartPole-v0", {"obs_permutation": [0, 1, 2]}, "has 3 entries"),
    ("rltransfer/CartPole-v0", {"obs_permutation": [0, 0, 1, 2]}, "not a permutation"),
    ("rltransfer/CartPole-v0", {"obs_permutation": "0123"}, "not a list"),
    ("rltransfer/CartPole-v0", {"obs_scale": [1.0, 0.0, 1.0, 1.0]}, "non-zero finite"),
    ("rltransfer/CartPole-v0", {"distractor_dims": -1}, "distractor_dims=-1"),
    ("rltransfer/CartPole-Reversed-v0", {"action_permutation": [0, 2]}, "not a permutation"),
    ("rltransfer/CartPole-v0", {"action_sign": [-1.0]}, "needs a Box action"),
    ("rltransfer/CartPole-v0", {"discrete_actions": 3}, "needs a Box action of shape (1,)"),
    ("rltransfer/Pendulum-v0", {"action_permutation": [1, 0]}, "needs a discrete action"),
    ("rltransfer/Pendulum-v0", {"action_sign": [0.5]}, "only 1.0 and -1.0"),
    ("rltransfer/Pendulum-v0", {"discrete_actions": 1}, "discrete_actions=1"),
    ("rltransfer/Pendulum-v0", {"continuous_actions": True}, "does not support continuous"),
    ("rltransfer/LunarLander-v0", {"continuous": True, "discrete_actions": 3}, "shape (1,)"),
    ("rltransfer/LunarLander-v0", {"enable_wind": "on"}, "enable_wind='on'"),
]


@pytest.mark.parametrize(("env_id", "kwargs", "message"), BAD_KWARGS)
def test_bad_kwargs_raise_env_kwargs_error(env_id: str, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(EnvKwargsError, match=re.escape(message)) as raised:
        make(env_id, **kwargs)
    assert raised.value.fix


# ---------------------------------------------------------------- randomized physics


@pytest.mark.parametrize("env_id", [env_id for env_id in ALL_IDS if env_id.endswith("-Random-v0")])
def test_random_physics_resampled_within_ranges(env_id: str, seed: int) -> None:
    env = make(env_id).unwrapped
    ranges = env.random_ranges
    assert ranges
    samples = []
    for episode in range(5):
        env.reset(seed=seed + episode)
        samples.append(env.physics)
        for name, (low, high) in ranges.items():
            assert low <= samples[-1][name] <= high
    assert len({tuple(sample.values()) for sample in samples}) == 5
    env.reset(seed=seed)
    assert env.physics == samples[0]  # deterministic under the seed


def test_fixed_physics_stay_nominal_across_resets(seed: int) -> None:
    env = make("rltransfer/CartPole-Heavy-v0").unwrapped
    for episode in range(3):
        env.reset(seed=seed + episode)
        assert env.physics == env.nominal_physics


def test_random_ranges_cover_the_fixed_variants() -> None:
    ranges = make("rltransfer/CartPole-Random-v0").unwrapped.random_ranges
    for variant in ("Heavy", "LongPole", "LowGravity"):
        for name, value in CATALOGUE[f"rltransfer/CartPole-{variant}-v0"].kwargs.items():
            assert ranges[name][0] <= value <= ranges[name][1], (variant, name)


# ---------------------------------------------------------------- layout transforms


@pytest.mark.parametrize("env_id", BASE_IDS)
def test_base_layout_is_identity(env_id: str) -> None:
    layout = make(env_id).unwrapped.layout
    assert isinstance(layout, Layout) and layout.is_identity
    with pytest.raises(AttributeError):
        layout.distractor_dims = 3  # type: ignore[misc]


def test_layout_truth_of_variants() -> None:
    def layout(env_id: str) -> Layout:
        return make(env_id).unwrapped.layout  # type: ignore[no-any-return]

    assert layout("rltransfer/CartPole-Reversed-v0").action_permutation == (1, 0)
    assert layout("rltransfer/CartPole-Reversed-v0").action_sign is None
    assert layout("rltransfer/MountainCar-Reversed-v0").action_permutation == (2, 1, 0)
    assert layout("rltransfer/Pendulum-Reversed-v0").action_sign == (-1.0,)
    assert layout("rltransfer/Pendulum-Reversed-v0").action_permutation is None
    assert layout("rltransfer/CartPole-Permuted-v0").obs_permutation == (2, 0, 3, 1)
    assert layout("rltransfer/CartPole-Permuted-v0").obs_scale == (5.0, 0.5, 2.0, 0.25)
    assert layout("rltransfer/CartPole-Distractor-v0").distractor_dims == 4
    assert layout("rltransfer/CartPole-Continuous-v0").continuous_actions
    discrete = layout("rltransfer/Pendulum-Discrete-v0")
    assert (discrete.discrete_actions, discrete.action_permutation) == (5, (0, 1, 2, 3, 4))
    for env_id, info in CATALOGUE.items():
        if set(info.kwargs) & {"obs_permutation", "action_permutation", "action_sign"}:
            assert not layout(env_id).is_identity, env_id


@pytest.mark.parametrize(
    ("variant", "base", "base_action"),
    [
        ("rltransfer/CartPole-Reversed-v0", "rltransfer/CartPole-v0", lambda a: 1 - a),
        ("rltransfer/MountainCar-Reversed-v0", "rltransfer/MountainCar-v0", lambda a: 2 - a),
        ("rltransfer/Pendulum-Reversed-v0", "rltransfer/Pendulum-v0", lambda a: -a),
        (
            "rltransfer/MountainCarContinuous-Reversed-v0",
            "rltransfer/MountainCarContinuous-v0",
            lambda a: -a,
        ),
    ],
)
def test_reversed_variant_equals_base_under_mirrored_actions(
    variant: str, base: str, base_action: Any, seed: int
) -> None:
    reversed_env, base_env = make(variant), make(base)
    assert reversed_env.action_space == base_env.action_space
    actions = sampled_actions(reversed_env, 40, seed)
    trace = list(rollout(reversed_env, actions, seed))
    expected = list(rollout(base_env, [base_action(action) for action in actions], seed))
    assert len(trace) == len(expected)
    for (obs, reward, done), (obs_base, reward_base, done_base) in zip(trace, expected, strict=True):
        np.testing.assert_array_equal(obs, obs_base)
        assert (reward, done) == (reward_base, done_base)


@pytest.mark.parametrize(
    ("variant", "base"),
    [
        ("rltransfer/CartPole-Permuted-v0", "rltransfer/CartPole-v0"),
        ("rltransfer/Acrobot-Permuted-v0", "rltransfer/Acrobot-v0"),
        ("rltransfer/Pendulum-Permuted-v0", "rltransfer/Pendulum-v0"),
    ],
)
def test_permuted_obs_is_permuted_and_scaled_base_obs(variant: str, base: str, seed: int) -> None:
    permuted_env, base_env = make(variant), make(base)
    info = CATALOGUE[variant]
    permutation = list(info.kwargs["obs_permutation"])
    scale = np.asarray(info.kwargs["obs_scale"], dtype=np.float32)
    assert sorted(permutation) != permutation or any(scale != 1.0)
    actions = sampled_actions(base_env, 30, seed)
    trace = list(rollout(permuted_env, actions, seed))
    expected = list(rollout(base_env, actions, seed))
    assert len(trace) == len(expected)
    for (obs, _, _), (obs_base, _, _) in zip(trace, expected, strict=True):
        np.testing.assert_array_equal(obs, obs_base[permutation] * scale)
        np.testing.assert_array_equal(obs, permuted_env.unwrapped.layout.obs_from_core(obs_base))
    # Bounds follow the same map; infinite bounds stay infinite.
    base_space, space = base_env.observation_space, permuted_env.observation_space
    np.testing.assert_array_equal(space.low, base_space.low[permutation] * scale)
    np.testing.assert_array_equal(space.high, base_space.high[permutation] * scale)


def test_negative_obs_scale_mirrors_bounds(seed: int) -> None:
    env = make("rltransfer/Pendulum-v0", obs_scale=[-2.0, 1.0, -0.5])
    space = env.observation_space
    np.testing.assert_array_equal(space.low, [-2.0, -1.0, -4.0])
    np.testing.assert_array_equal(space.high, [2.0, 1.0, 4.0])
    cartpole = make("rltransfer/CartPole-v0", obs_scale=[-2.0, 1.0, 1.0, -1.0]).observation_space
    assert cartpole.low[3] == -np.inf and cartpole.high[3] == np.inf
    for obs, _, _ in rollout(env, sampled_actions(env, 20, seed), seed):
        assert space.contains(obs)


def test_distractor_dims_are_seeded_noise(seed: int) -> None:
    distracted, base_env = make("rltransfer/CartPole-Distractor-v0"), make("rltransfer/CartPole-v0")
    space = distracted.observation_space
    assert space.shape == (8,)
    assert np.all(np.isinf(space.low[4:])) and np.all(np.isinf(space.high[4:]))
    actions = sampled_actions(base_env, 20, seed)
    trace = [obs for obs, _, _ in rollout(distracted, actions, seed)]
    expected = [obs for obs, _, _ in rollout(base_env, actions, seed)]
    for obs, obs_base in zip(trace, expected, strict=True):
        np.testing.assert_array_equal(obs[:4], obs_base)
    noise = np.stack([obs[4:] for obs in trace])
    assert noise.std() > 0.5 and not np.array_equal(noise[0], noise[1])
    again = [obs for obs, _, _ in rollout(make("rltransfer/CartPole-Distractor-v0"), actions, seed)]
    np.testing.assert_array_equal(np.stack(trace), np.stack(again))


@pytest.mark.parametrize(
    ("push", "base_action", "force_mag"),
    [(1.0, 1, 10.0), (-1.0, 0, 10.0), (0.5, 1, 5.0), (-0.3, 0, 3.0)],
)
def test_continuous_cartpole_pushes_with_a_fraction_of_force(
    push: float, base_action: int, force_mag: float, seed: int
) -> None:
    continuous = make("rltransfer/CartPole-Continuous-v0")
    base_env = make("rltransfer/CartPole-v0", force_mag=force_mag)
    assert continuous.action_space == gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action = np.array([push], dtype=np.float32)
    trace = [obs for obs, _, _ in rollout(continuous, [action] * 5, seed)]
    expected = [obs for obs, _, _ in rollout(base_env, [base_action] * 5, seed)]
    np.testing.assert_allclose(np.stack(trace), np.stack(expected), rtol=1e-6, atol=1e-7)
    assert continuous.unwrapped.force_mag == 10.0  # restored after each step


def test_discrete_pendulum_runs_evenly_spaced_torques(seed: int) -> None:
    discrete, base_env = make("rltransfer/Pendulum-Discrete-v0"), make("rltransfer/Pendulum-v0")
    assert discrete.action_space == gym.spaces.Discrete(5)
    torques = np.linspace(-2.0, 2.0, 5)
    actions = [0, 4, 2, 1, 3, 4, 4, 0]
    trace = list(rollout(discrete, actions, seed))
    expected = list(rollout(base_env, [np.array([torques[a]], np.float32) for a in actions], seed))
    for (obs, reward, _), (obs_base, reward_base, _) in zip(trace, expected, strict=True):
        np.testing.assert_array_equal(obs, obs_base)
        assert reward == reward_base


def test_layout_kwargs_compose_on_a_physics_variant(seed: int) -> None:
    env = make("rltransfer/Pendulum-Moon-v0", action_sign=[-1.0], obs_permutation=[1, 2, 0])
    assert env.unwrapped.physics["g"] == pytest.approx(1.62)
    layout = env.unwrapped.layout
    assert layout.action_sign == (-1.0,) and layout.obs_permutation == (1, 2, 0)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*symmetric and normalized")
        check_env(env.unwrapped, skip_render_check=True)
