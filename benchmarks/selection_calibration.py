"""Selection's predicted benefit: fit the score → transfer-ratio calibration and check it target by target.

`python -m benchmarks selection --calibrate` fits rltransfer.selection.calibration on every (score, measured
benefit) pair of the default-budget rankings and writes the shipped `calibration.json`; the report checks it
leave-one-target-out (fitted without a target's pairs, its band from the other targets' out-of-target
residuals, scored on the target's pairs): coverage of the 80% interval and the mean absolute error of the
predicted transfer ratio.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rltransfer.selection.calibration import BAND, Calibration, fit_calibration


def pairs(rows: list[dict[str, Any]]) -> list[tuple[str, float, float]]:
    """(target, score, measured transfer ratio) of every matrix teacher in every ranking."""
    return [
        (row["target"], float(t["score"]), float(t["transfer_ratio"]["mean"]))
        for row in rows
        for t in row["teachers"]
        if t["transfer_ratio"]["mean"] is not None
    ]


def calibrate(rows: list[dict[str, Any]], *, source: dict[str, Any]) -> Calibration:
    """The calibration fitted on all pairs of `rows`."""
    data = pairs(rows)
    return fit_calibration(
        [s for _, s, _ in data], [b for _, _, b in data], source=source, groups=[t for t, _, _ in data]
    )


def leave_one_target_out(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per target: coverage and mean absolute error of the calibration fitted on the other targets."""
    data = pairs(rows)
    per_target = {}
    for target in dict.fromkeys(name for name, _, _ in data):
        train = [(name, s, b) for name, s, b in data if name != target]
        test = [(s, b) for name, s, b in data if name == target]
        fit = fit_calibration(
            [s for _, s, _ in train], [b for _, _, b in train], source={}, groups=[t for t, _, _ in train]
        )
        predicted = [fit.predict(s) for s, _ in test]
        inside = [p["low"] <= b <= p["high"] for p, (_, b) in zip(predicted, test, strict=True)]
        errors = [abs(p["mean"] - b) for p, (_, b) in zip(predicted, test, strict=True)]
        per_target[target] = {"pairs": len(test), "coverage": float(np.mean(inside)), "mae": float(np.mean(errors))}
    covered = sum(v["coverage"] * v["pairs"] for v in per_target.values())
    total = sum(v["pairs"] for v in per_target.values())
    return {"per_target": per_target, "coverage": covered / total if total else float("nan"), "pairs": total}


def render(calibration: Calibration, check: dict[str, Any], *, written: str | None) -> str:
    """The report's section on the predicted benefit."""
    nominal = BAND[1] - BAND[0]
    short = check["coverage"] < nominal / 100 - 0.05
    verdict = (
        f" (below the nominal {nominal:.0f}%: on a target it has not seen the interval is too narrow)."
        if short
        else "."
    )
    lines = [
        "## Predicted benefit (calibration)",
        "",
        f"Each ranking's score is read as a predicted transfer ratio of `{calibration.source.get('method')}` "
        f"transfer with an {nominal:.0f}% interval (rltransfer.selection.calibration): an isotonic fit of the "
        f"measured transfer ratio on the score over {calibration.points} (score, benefit) pairs of the rankings "
        f"above, and the {BAND[0]:.0f}th and {BAND[1]:.0f}th percentiles of its out-of-target residuals "
        f"({calibration.low:+.2f}, {calibration.high:+.2f}). "
        + (f"Written to `{written}` (shipped with rltransfer)." if written else "Not written (no --calibrate)."),
        "",
        f"Leave one target out (fitted without the target, scored on it): the {nominal:.0f}% interval holds "
        f"{check['coverage']:.0%} of {check['pairs']} measured benefits{verdict}",
        "",
        "| target | pairs | coverage of the interval | mean absolute error (transfer ratio) |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {name} | {v['pairs']} | {v['coverage']:.0%} | {v['mae']:.2f} |" for name, v in check["per_target"].items()
    ]
    return "\n".join(lines) + "\n"
