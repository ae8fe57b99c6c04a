"""The demo is the real main job: rank the shipped zoo, train scratch and auto, print the comparison."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rltransfer.cli import main


@pytest.mark.slow
def test_demo_ranks_trains_and_compares(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    code = main(["demo", "--steps", "1500", "--out", str(out), "--workers", "2"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "recommendation" in printed and "| scratch |" in printed and "| auto |" in printed
    assert "tensorboard --logdir" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary
    decisions = list(out.glob("runs/*/auto/seed0/decisions.jsonl"))
    assert decisions and json.loads(decisions[0].read_text().splitlines()[0])["reason"]
    assert list((out / "tb").rglob("events.out.tfevents.*"))
