"""What a ranking returns: one `Ranking` per teacher, the recommendation and what it cost."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rltransfer.errors import ConfigError
from rltransfer.mapping import Mapping

SCRATCH_THRESHOLD = 0.3
"""Below this best score no teacher fits the target: train from scratch."""

ROUTES = ("weights copy", "distillation", "data only", "none")
"""How a teacher reaches the student, cheapest first: its acting network copied whole (through the mapping), a
network of another size or algorithm distilled, a dataset replayed (instance transfer only), no way at all."""

NEAR_TIE = 0.01
"""Scores closer than this do not say which teacher is better: teachers of one source task that act equally well
differ by 0.001-0.004 (their dynamics terms, estimated from different stored transitions); the cheaper route wins,
and of two weight copies the one that copies more (its critic too)."""


@dataclass(kw_only=True, frozen=True)
class Ranking:
    """One teacher's place in a ranking.

    Attributes:
        teacher: Teacher name (zoo folder).
        score: 0..1, higher is better (rltransfer.selection.scoring says how it is made).
        mapping: The chosen teacher ↔ target mapping (to_dict() is what the controller uses).
        evidence: Every signal measured: "space", "dynamics", "zero_shot", "mapping" blocks.
        env_steps: Target env steps spent on this teacher (its probes plus its share of the
            shared random rollouts; the sum over a ranking is the ranking's cost).
        seconds: Wall time spent on this teacher (same sharing).
    """

    teacher: str
    score: float
    mapping: Mapping
    evidence: dict[str, Any] = field(default_factory=dict)
    env_steps: int = 0
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if not np.isfinite(self.score) or not 0.0 <= self.score <= 1.0:
            raise ConfigError(f"ranking score {self.score} outside 0..1", fix="scores are clipped to 0..1")

    @property
    def zero_shot_return(self) -> float:
        """Normalized zero-shot return of the mapped teacher (nan when not probed)."""
        return float(self.evidence.get("zero_shot", {}).get("normalized", float("nan")))

    @property
    def mapping_summary(self) -> str:
        """Mapping.describe with the student's dropped dims named ("no mapping" for unbridged spaces)."""
        if "reason" in self.evidence:
            return "no mapping"
        return self.mapping.describe(self.evidence.get("space", {}).get("student_dim"))

    @property
    def route(self) -> str | None:
        """How this teacher reaches the ranking's student (ROUTES); None when the ranking had no student."""
        route = self.evidence.get("transfer", {}).get("route")
        return None if route is None else str(route)

    @property
    def fits(self) -> bool:
        """Whether the score clears SCRATCH_THRESHOLD."""
        return self.score >= SCRATCH_THRESHOLD

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "teacher": self.teacher,
            "score": self.score,
            "mapping": self.mapping.to_dict(),
            "mapping_summary": self.mapping_summary,
            "zero_shot_return": self.zero_shot_return,
            "evidence": self.evidence,
            "env_steps": self.env_steps,
            "seconds": self.seconds,
        }


def recommendation(rankings: list[Ranking]) -> str:
    """One line: which teacher to start from, or to train from scratch when none fits."""
    if not rankings or not rankings[0].fits:
        best = f" (best: {rankings[0].teacher}, score {rankings[0].score:.2f})" if rankings else ""
        return (
            f"train from scratch: no teacher fits this target{best}; scores below {SCRATCH_THRESHOLD}{_beats(rankings)}"
        )
    top = rankings[0]
    if top.evidence.get("kind") == "dataset":
        where = top.evidence.get("path") or top.teacher
        return f'start from dataset "{top.teacher}" (score {top.score:.2f}): --teacher {where} --method instance'
    route = f", {top.route}" if top.route else ""
    return f'start from "{top.teacher}" (score {top.score:.2f}{route}, mapping: {top.mapping_summary})'


def _beats(rankings: list[Ranking]) -> str:
    """The evidence behind "train from scratch": the best probed teacher's zero-shot return against random's."""
    probed = [r for r in rankings if math.isfinite(float(r.evidence.get("zero_shot", {}).get("return", math.nan)))]
    if not probed:
        return "; no teacher could be probed in the target"
    best = max(probed, key=lambda r: float(r.evidence["zero_shot"]["return"]))
    block = best.evidence["zero_shot"]
    verdict = "above" if block["return"] > block["random_return"] else "not above"
    return (
        f"; the best zero-shot return in the target, {best.teacher}'s {block['return']:.1f}, is {verdict} a random "
        f"policy's {block['random_return']:.1f}"
    )


def order_rankings(rankings: list[Ranking]) -> list[Ranking]:
    """Best score first; within NEAR_TIE of a group's best (on the same side of SCRATCH_THRESHOLD), cheaper route first.

    Scores are not changed. A teacher that went further in successive halving goes before one it outlasted
    (rltransfer.selection.halving caps the dropped one's score at the survivors' lowest; this breaks the tie).
    Without routes (no student) and without halving this is the order by score, then name.
    """
    by_score = sorted(rankings, key=lambda r: (-r.score, -halving_round(r), r.teacher))
    ordered: list[Ranking] = []
    while len(ordered) < len(by_score):
        leader = by_score[len(ordered)]
        group = [r for r in by_score[len(ordered) :] if r.score >= leader.score - NEAR_TIE and r.fits == leader.fits]
        ordered += sorted(group, key=lambda r: (-halving_round(r), _route_cost(r), -r.score, r.teacher))
    return ordered


def halving_round(ranking: Ranking) -> int:
    """The last round of successive halving the teacher took part in (0: not in the halving)."""
    return int(ranking.evidence.get("halving", {}).get("round", 0))


def _route_cost(ranking: Ranking) -> tuple[int, int]:
    """The route's place in ROUTES, then fewer copied parts last (a copy with the critic beats one without)."""
    copied = ranking.evidence.get("transfer", {}).get("copied", [])
    return (ROUTES.index(ranking.route) if ranking.route in ROUTES else 0, -len(copied))


def ranking_cost(rankings: list[Ranking]) -> int:
    """Total target env steps a ranking spent (shared random rollouts + every probe)."""
    if not rankings:
        return 0
    shared = int(rankings[0].evidence.get("shared_random_steps", 0))
    return shared + sum(int(r.evidence.get("probe_env_steps", 0)) for r in rankings)
