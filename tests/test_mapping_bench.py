"""The mapping benchmark's judgement (ground truth, right, below identity, reliability) and its report header."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import gymnasium as gym
import pytest
from PIL import Image

from benchmarks.__main__ import build_parser
from benchmarks.mapping import Case, render_report
from benchmarks.mapping_reliability import plot_reliability, reliability
from benchmarks.mapping_truth import below_identity, is_right, same_mapping, truth_mapping
from rltransfer.envs.layout import Layout
from rltransfer.mapping import ActionMap, Mapping, ObsMap

DISCRETE_2 = gym.spaces.Discrete(2)


def layout(**overrides: object) -> Layout:
    fields: dict[str, object] = {
        "obs_permutation": (0, 1, 2, 3),
        "obs_scale": (1.0,) * 4,
        "distractor_dims": 0,
        "action_permutation": (0, 1),
        "action_sign": None,
        "discrete_actions": None,
        "continuous_actions": False,
    }
    return Layout(**{**fields, **overrides})  # type: ignore[arg-type]


def case(**overrides: object) -> Case:
    fields: dict[str, object] = {
        "target": "rltransfer/CartPole-v0",
        "teacher": "cartpole-ppo",
        "seed": 0,
        "mapping": "identity",
        "confidence": 1.0,
        "env_steps": 900,
        "exact": True,
        "chosen_return": 500.0,
        "truth_return": 500.0,
        "identity_return": 500.0,
        "right": True,
        "below_identity": False,
        "rule": "identity kept",
        "flagged_probes": 0,
    }
    return Case(**{**fields, **overrides})  # type: ignore[arg-type]


def test_truth_of_a_permuted_rescaled_layout() -> None:
    """Teacher dim j reads the student dim holding core dim j, scaled back by 1 / obs_scale."""
    permuted = layout(obs_permutation=(2, 0, 3, 1), obs_scale=(5.0, 0.5, 2.0, 0.25))
    truth = truth_mapping(permuted, DISCRETE_2, DISCRETE_2)
    assert truth.obs.index == (1, 3, 0, 2)
    assert truth.obs.scale == pytest.approx((2.0, 4.0, 0.2, 0.5))
    assert truth.action.kind == "identity"
    near = Mapping(obs=replace(truth.obs, scale=(2.2, 3.8, 0.21, 0.5)), source="found")
    assert same_mapping(near, truth)
    assert not same_mapping(Mapping(obs=replace(truth.obs, scale=(2.0, 8.0, 0.2, 0.5))), truth)
    assert not same_mapping(Mapping(obs=ObsMap.identity(4)), truth)


def test_truth_of_remapped_actions() -> None:
    reversed_actions = truth_mapping(layout(action_permutation=(1, 0)), DISCRETE_2, DISCRETE_2)
    assert reversed_actions.action == ActionMap(kind="permutation", permutation=(1, 0))
    assert not same_mapping(Mapping(obs=ObsMap.identity(4)), reversed_actions)
    box = gym.spaces.Box(-1.0, 1.0, (1,))
    binned = truth_mapping(layout(action_permutation=None, action_sign=(-1.0,)), gym.spaces.Discrete(3), box)
    assert binned.action.values == ((1.0,), (0.0,), (-1.0,))
    found = Mapping(obs=ObsMap.identity(4), action=ActionMap(kind="bins", values=((0.95,), (0.0,), (-1.0,))))
    assert same_mapping(found, binned)
    signed = truth_mapping(layout(action_permutation=None, action_sign=(-1.0,)), box, box)
    assert signed.action == ActionMap(kind="affine", index=(0,), scale=(-1.0,), offset=(0.0,))
    same = ActionMap(kind="permutation", permutation=(0, 1))
    assert same_mapping(Mapping(obs=ObsMap.identity(4), action=same), Mapping(obs=ObsMap.identity(4)))


def test_right_and_below_identity() -> None:
    assert is_right(exact=True, chosen_return=-151.0, truth_return=228.0)
    assert is_right(exact=False, chosen_return=220.0, truth_return=228.0)
    assert not is_right(exact=False, chosen_return=-151.0, truth_return=228.0)
    assert is_right(exact=False, chosen_return=-150.0, truth_return=-145.0)  # within 5% of a negative return
    assert not is_right(exact=False, chosen_return=-160.0, truth_return=-145.0)
    assert is_right(exact=False, chosen_return=300.0, truth_return=228.0)  # better than the truth is right
    assert not below_identity(-151.0, None)
    assert below_identity(-151.0, 228.0) and not below_identity(210.0, 228.0)


def test_reliability_bins() -> None:
    cases = [case(confidence=1.0), case(confidence=0.96, right=False), case(confidence=0.6), case(confidence=0.2)]
    bins = reliability([c.confidence for c in cases], [c.right for c in cases])
    assert [b.count for b in bins] == [1, 1, 0, 2]
    assert bins[3].share_right == pytest.approx(0.5) and bins[3].mean_confidence == pytest.approx(0.98)


def test_report_names_its_command_first(tmp_path: Path) -> None:
    miss = case(seed=1, exact=False, chosen_return=-151.0, right=False, below_identity=True, confidence=0.7)
    report = render_report(
        [case(), miss], command="python -m benchmarks mapping", seeds=[0, 1], budget=1000, episodes=10, wall_minutes=1
    )
    lines = [line for line in report.splitlines() if line]
    assert lines[0] == "# Mapping benchmark"
    assert lines[1] == "Command: `python -m benchmarks mapping`"
    assert "0 of 1 = 0%" in report and "rltransfer/CartPole-v0 seed 1 (identity)" in report
    assert "(identity admissible): 1 (goal 0)" in report
    command = "python -m benchmarks mapping"
    png = plot_reliability(reliability([1.0, 0.7], [True, False]), tmp_path / "mapping.png", command=command)
    assert Image.open(png).info["Description"] == f"regenerated by: {command}"


def test_registered_as_a_benchmark() -> None:
    args = build_parser().parse_args(["mapping", "--seeds", "1"])
    assert args.seeds == 1 and args.out == "results/mapping.md"
