"""diagnose: phases against scratch from hand-made curves, evidence from decisions.jsonl, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rltransfer.cli import main
from rltransfer.experiments import diagnose
from rltransfer.experiments.summary import RunRecord, summarize

ENV = "CartPole-v1"
BUDGET = 1000


def _record(tmp_path: Path, method: str, seed: int, returns: list[float], decisions: list[dict]) -> RunRecord:
    """A run whose episodes end every 100 steps with the given returns (10 episodes)."""
    run_dir = tmp_path / method / f"seed{seed}"
    run_dir.mkdir(parents=True)
    (run_dir / "decisions.jsonl").write_text("".join(json.dumps(row) + "\n" for row in decisions))
    episodes = np.array([[100 * (i + 1), r, 100] for i, r in enumerate(returns)], dtype=float)
    return RunRecord(env_id=ENV, method=method, seed=seed, total_timesteps=BUDGET, run_dir=run_dir, episodes=episodes)


def _records(tmp_path: Path) -> list[RunRecord]:
    rng = np.random.default_rng(0)
    records = []
    for seed in range(5):
        noise = rng.normal(0, 1, 10)
        records.append(_record(tmp_path, "scratch", seed, list(20 + noise), [{"step": 0, "mode": "none"}]))
        # ahead by ~100 for the first 400 steps, then level with scratch
        early = [120.0] * 4 + [20.0] * 6
        auto_rows = [
            {"step": 0, "mode": "representation", "reason": "teacher clearly better", "teacher_return_estimate": 500,
             "random_return": 20},
            {"step": 200, "mode": "representation", "reason": "keep representation"},
            {"step": 400, "mode": "none", "reason": "student overtook the teacher"},
        ]  # fmt: skip
        records.append(_record(tmp_path, "auto", seed, list(np.array(early) + noise), auto_rows))
        # behind by ~15 all along: a teacher worse than random
        bad_rows = [{"step": 0, "mode": "finetune", "reason": "copied weights", "teacher_return_estimate": 5,
                     "random_return": 20}]  # fmt: skip
        records.append(_record(tmp_path, "finetune", seed, list(5 + noise), bad_rows))
    return records


def test_phases_and_evidence_from_hand_made_runs(tmp_path: Path) -> None:
    records = _records(tmp_path)
    envs = summarize(records, bins=10, method_order=["scratch", "finetune", "auto"])
    found = {d.method: d for d in diagnose.diagnose(envs, records, segments=5)}
    assert set(found) == {"auto", "finetune"}, "scratch is the reference, not diagnosed"
    auto = found["auto"]
    assert [p.verdict for p in auto.phases] == ["ahead", "level"]
    assert (auto.phases[0].start, auto.phases[0].end, auto.phases[1].end) == (0, 400, 1000)
    assert auto.phases[0].difference.mean == pytest.approx(100.0, abs=1e-6)
    assert auto.verdict == "helped"
    text = "\n".join(auto.lines())
    assert "Switch `representation` → `none` in 5/5 seeds, first at step 400" in text
    assert "student overtook the teacher" in text and "better than random" in text
    bad = found["finetune"]
    assert [p.verdict for p in bad.phases] == ["behind"] and bad.verdict == "hurt"
    assert "no better than random" in "\n".join(bad.lines())
    assert "held for the whole run" in "\n".join(bad.lines())


def test_level_everywhere_is_no_resolved_difference(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    records = [
        _record(tmp_path, method, seed, list(20 + rng.normal(0, 5, 10)), [{"step": 0, "mode": "none"}])
        for method in ("scratch", "instance")
        for seed in range(4)
    ]
    envs = summarize(records, bins=10)
    (only,) = diagnose.diagnose(envs, records)
    assert {p.verdict for p in only.phases} == {"level"} and only.verdict.startswith("no resolved")


def test_cli_on_a_real_compare_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cmp"
    hyper = tmp_path / "tiny.yaml"
    hyper.write_text(json.dumps({"n_steps": 64, "batch_size": 64}))
    # cartpole-ppo's copied weights drop the long pole at once: finetune starts behind scratch
    args = ["compare", "--env", "rltransfer/CartPole-LongPole-v0", "--methods", "scratch,finetune",
            "--teacher", "cartpole-ppo", "--seeds", "2", "--steps", "512", "--hyperparams", str(hyper),
            "--workers", "1", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(args) == 0
    assert "## Where and why" in (out / "summary.md").read_text(), "compare appends the diagnosis"
    capsys.readouterr()
    assert main(["diagnose", str(out), "--method", "finetune"]) == 0
    printed = capsys.readouterr().out
    assert "**finetune** (2 seeds)" in printed and "Start: mode `finetune` in 2/2 seeds" in printed
    assert "First episodes: below scratch" in printed
    assert main(["diagnose", str(out), "--method", "kickstart"]) == 2
    assert 'unknown method of this comparison "kickstart"' in capsys.readouterr().err


def test_single_seed_says_it_is_not_resolved(tmp_path: Path) -> None:
    records = [
        _record(tmp_path, "scratch", 0, [20.0] * 10, [{"step": 0, "mode": "none"}]),
        _record(tmp_path, "auto", 0, [500.0] * 10, [{"step": 0, "mode": "representation", "reason": "r"}]),
    ]
    envs = summarize(records, bins=10)
    (only,) = diagnose.diagnose(envs, records)
    assert [p.verdict for p in only.phases] == ["ahead"] and not only.phases[0].resolved
    text = "\n".join(only.lines())
    assert only.verdict.startswith("not resolved") and "no CI with 1 seed" in text and "nan" not in text
