"""Confirm a searched mapping with zero-shot probes, identity first (an Occam prior).

The one-step model ranks candidates well when the random-policy data excite every dimension, and is
easily fooled when they do not: in LunarLander a random policy barely tells "no-op" from "left engine",
so swapping the two fits the model as well as identity does. The plausible few candidates are therefore
probed zero-shot, and the choice follows one rule:

- When the spaces allow identity (same observation size and kind, same action space), identity is always
  probed and is the default.
- The best other mapping, of c parts (`complexity_of`: each changed or rescaled observation dim, each
  permuted action), replaces identity when its normalized zero-shot return, capped at 1, beats
  identity's by OCCAM_MARGIN + OCCAM_PER_PART · c + NOISE_SIGMAS · (the probe's noise); or when the
  probes tie or cannot compare the two (the return cannot be normalized, or a probe is flagged too
  short) and the model says so, Occam's way (`simplest`): identity's model error is outside noise of its
  — only a model that explains most of its own held-out source data (`model_trusted`) may say so, and only
  when the map cuts identity's error at least EXPLAINS-fold. A map changes coordinates: it explains a
  coordinate change all but exactly (permuted CartPole: 11.7 → 0.002), never a change of physics (heavier
  pole: 0.11 → 0.02 at best), where a rescaled map only fits the mismatch somewhat better.
- Identity stays otherwise, and always when its zero-shot return is clearly the better one.
- Without identity, the best informative zero-shot wins; near-ties (TIE) go to the simplest map.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from rltransfer.selection.search import Candidate

OCCAM_MARGIN = 0.1
"""Normalized zero-shot return a non-identity mapping must gain over identity to replace it, plus..."""
OCCAM_PER_PART = 0.02
"""...this much per part of it (each changed or rescaled obs dim, each permuted action)."""
TIE = 0.15
"""Capped zero-shot returns closer than this count as a tie among non-identity candidates."""
NOISE_SIGMAS = 2.0
"""Standard errors of the probe (normalized units) a replacement of identity must also clear."""
ENOUGH = 0.8
"""Once a probed candidate reaches this capped zero-shot return, no further candidate is probed."""
EXPLAINS = 10.0
"""How many times below identity's a map's model error must be for the model alone to prefer the map."""

Probe = Callable[[Candidate], tuple[float, bool]]
"""Probe one candidate: (normalized zero-shot return, whether the probe was too short to tell)."""


@dataclass(frozen=True)
class Confirmation:
    """What `confirm` chose, among which probed candidates, the runner-up, and why."""

    chosen: Candidate
    probed: list[Candidate]
    runner_up: Candidate | None
    reason: str


def shortlist(
    candidates: list[Candidate], *, identity: bool, ratio: float = 1.5, slack: float = 0.005, most: int = 3
) -> tuple[list[Candidate], list[Candidate], Candidate | None]:
    """(plausible candidates to probe, the other distinct ones, the identity candidate or None).

    Plausible: distinct maps (by assignment, signs and action map) with penalized model error within
    ratio·best + slack, at most `most`; identity, when allowed, takes the last place if it is not in.
    """
    best = candidates[0]
    distinct: list[Candidate] = []
    seen = set()
    for candidate in candidates:
        key = (candidate.obs_map.index, tuple(np.sign(candidate.obs_map.scale)), candidate.action_map)
        if key not in seen:
            distinct.append(candidate)
            seen.add(key)
    plausible = [c for c in distinct if c.penalized <= ratio * best.penalized + slack][:most]
    ident = next((c for c in candidates if c.complexity == 0), None) if identity else None
    if ident is not None and all(c is not ident for c in plausible):
        plausible = [*plausible[: max(most - 1, 0)], ident]
    rest = [c for c in distinct if all(c is not p for p in plausible)]
    return plausible, rest, ident


def confirm(
    candidates: list[Candidate],
    probe: Probe | None,
    *,
    identity: bool,
    ratio: float = 1.5,
    slack: float = 0.005,
    most: int = 3,
    noise: float = 0.0,
    model_trusted: bool = True,
) -> Confirmation:
    """Probe the plausible candidates (identity among them when allowed) and choose by the module's rule.

    At most `most` probes: when none of the plausible ones works zero-shot (the model can be fooled, e.g.
    cart and pole swapped fit a random-policy CartPole fairly well), the next distinct ones are probed.
    Without `probe` (no probe horizon fits the budget) the model alone decides. `noise`: the standard
    error of one normalized zero-shot return. `model_trusted`: whether the model may overrule identity.
    """
    rule = _Rule(noise=noise, model_trusted=model_trusted)
    plausible, rest, ident = shortlist(candidates, identity=identity, ratio=ratio, slack=slack, most=most)
    if probe is None:
        chosen, reason = rule.decide(plausible, ident)
        runner_up = rule.runner_up([c for c in plausible if c is not chosen], ident)
        return Confirmation(chosen=chosen, probed=[], runner_up=runner_up, reason=reason)

    def probed_copy(candidate: Candidate) -> Candidate:
        zero_shot, too_short = probe(candidate)
        return replace(candidate, zero_shot=zero_shot, too_short=too_short)

    probed = [probed_copy(c) for c in plausible]
    for candidate in rest:  # a probe flagged too short did not fail: it stops the search as one that works
        working = [c.capped for c in probed if c.zero_shot is not None and np.isfinite(c.zero_shot)]
        if len(probed) >= most or max(working, default=0.0) >= ENOUGH:
            break
        probed.append(probed_copy(candidate))
    probed_identity = next((p for p, c in zip(probed, plausible, strict=False) if c is ident), None)
    chosen, reason = rule.decide(probed, probed_identity)
    runner_up = rule.runner_up([c for c in probed if c is not chosen], probed_identity)
    return Confirmation(chosen=chosen, probed=probed, runner_up=runner_up, reason=reason)


@dataclass(frozen=True)
class _Rule:
    """The module's rule, with the probe noise and whether the model may overrule identity."""

    noise: float
    model_trusted: bool

    def runner_up(self, others: list[Candidate], identity: Candidate | None) -> Candidate | None:
        """The rule's choice among the candidates not chosen (identity, when the chosen map replaced it)."""
        if not others:
            return None
        return self.decide(others, identity if any(c is identity for c in others) else None)[0]

    def decide(self, pool: list[Candidate], identity: Candidate | None) -> tuple[Candidate, str]:
        """The chosen candidate of `pool` (probed or not) and why, in one line."""
        challengers = [c for c in pool if c is not identity]
        informative = [c for c in challengers if c.informative]
        best = None
        if informative:
            top = max(c.capped for c in informative)
            best = simplest([c for c in informative if c.capped >= top - TIE])
        if identity is None or not challengers:
            if best is not None:
                return best, "best zero-shot return (near-ties: the simplest map)"
            return simplest(pool), "no informative probe: the simplest map within model noise"
        if best is None:
            best = simplest(challengers)
        model_prefers = (
            self.model_trusted
            and simplest([identity, best]) is best
            and EXPLAINS * best.model_error <= identity.model_error
        )
        model_says = (
            "the source model is too poor to overrule it"
            if not self.model_trusted
            else "its model error is within noise"
            if simplest([identity, best]) is identity
            else f"the map cuts its model error less than {EXPLAINS:.0f}-fold (physics, not coordinates, differ)"
        )
        if best.informative and identity.informative:
            gain = best.capped - identity.capped
            need = OCCAM_MARGIN + OCCAM_PER_PART * best.complexity + NOISE_SIGMAS * self.noise
            shown = f"zero-shot {best.capped:.2f} vs identity {identity.capped:.2f}"
            if gain >= need:
                return best, f"clearly better than identity: {shown}, beyond the Occam margin {need:.2f}"
            if gain < -(TIE + NOISE_SIGMAS * self.noise):
                return identity, f"identity kept: {shown}"
            if model_prefers:
                return best, f"{shown} (a tie), and identity's model error is over {EXPLAINS:.0f}× the map's"
            return identity, f"identity kept: {shown} is within the Occam margin {need:.2f}, and {model_says}"
        if model_prefers:
            return (
                best,
                f"no probe compares it with identity, and identity's model error is over {EXPLAINS:.0f}× the map's",
            )
        return identity, f"identity kept: no probe compares them, and {model_says}"


def simplest(candidates: list[Candidate], *, tolerance: float = 1.25, slack: float = 0.01) -> Candidate:
    """Occam's rule: the least complex candidate whose model error is within noise of the best.

    Symmetric systems have mirror-image maps (all observation signs flipped with the actions swapped)
    that fit equally well; sampling noise must not pick the complicated one.
    """
    floor = min(c.model_error for c in candidates) if all(np.isfinite(c.model_error) for c in candidates) else None
    if floor is None:
        return candidates[0]
    near = [c for c in candidates if c.model_error <= tolerance * floor + slack]
    return min(near, key=lambda c: (c.complexity, c.model_error))
