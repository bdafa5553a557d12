"""From scored candidates to a decision: match one client, add a new one, or ask a person.

A wrong merge mixes two people's histories and is the worst mistake matching can make,
so a match is automatic only when exactly one candidate's match probability is above the
accept threshold and clearly above the next one; close calls go to a person.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Iterable

from app.services.matching.comparisons import Person
from app.services.matching.model import DEFAULT_ACCEPT_THRESHOLD, Score

# Match probabilities, measured by bench/linkage_fit.py (see bench/RESULTS.md); config keys
# INGEST_ACCEPT_THRESHOLD, INGEST_REVIEW_THRESHOLD and INGEST_MATCH_MARGIN override them (the accept
# threshold is the model's: a shared address never lifts a pair over it).
DEFAULT_REVIEW_THRESHOLD = 0.2
DEFAULT_MATCH_MARGIN = 0.08


@dataclass(frozen=True)
class Thresholds:
    accept: float = DEFAULT_ACCEPT_THRESHOLD
    review: float = DEFAULT_REVIEW_THRESHOLD
    margin: float = DEFAULT_MATCH_MARGIN

    def __post_init__(self):
        if not 0 < self.review <= self.accept <= 1:
            raise ValueError("Matching thresholds must satisfy 0 < review <= accept <= 1.")

    @classmethod
    def from_config(cls, config) -> "Thresholds":
        return cls(float(config.get("INGEST_ACCEPT_THRESHOLD", DEFAULT_ACCEPT_THRESHOLD)),
                   float(config.get("INGEST_REVIEW_THRESHOLD", DEFAULT_REVIEW_THRESHOLD)),
                   float(config.get("INGEST_MATCH_MARGIN", DEFAULT_MATCH_MARGIN)))


@dataclass(frozen=True)
class Candidate:
    client_id: uuid.UUID
    person: Person
    score: Score
    # The person the score compared with this client (one of the incoming people), when the score was
    # kept without its evidence in words and may be described later (``blocking.described``).
    incoming: Person | None = None


MATCH, NEW, REVIEW = "match", "new", "review"


@dataclass(frozen=True)
class Decision:
    outcome: str  # MATCH, NEW or REVIEW
    client_id: uuid.UUID | None = None
    candidates: tuple[Candidate, ...] = field(default_factory=tuple)
    reason: str = ""


def decide(candidates: Iterable[Candidate], thresholds: Thresholds, *, max_listed: int = 5) -> Decision:
    """Match only one clear candidate above the accept threshold; several or a close call go to review."""
    ranked = sorted(candidates, key=lambda c: c.score.value, reverse=True)
    plausible = tuple(c for c in ranked if c.score.value >= thresholds.review)[:max_listed]
    if not plausible:
        return Decision(NEW, reason="no similar client")
    best = plausible[0]
    runner_up = plausible[1].score.value if len(plausible) > 1 else None
    if best.score.value >= thresholds.accept and (runner_up is None
                                                  or best.score.value - runner_up >= thresholds.margin):
        return Decision(MATCH, best.client_id, plausible[:1],
                        reason=f"matched with probability {best.score.value:.3f}")
    if runner_up is not None and best.score.value >= thresholds.accept:
        reason = (f"{len(plausible)} similar clients; the best two have match probabilities "
                  f"{best.score.value:.3f} and {runner_up:.3f}")
    elif len(plausible) > 1:
        reason = (f"{len(plausible)} similar clients, none clearly the same person "
                  f"(best match probability {best.score.value:.3f})")
    else:
        reason = ("one similar client, not similar enough to merge automatically "
                  f"(match probability {best.score.value:.3f})")
    return Decision(REVIEW, None, plausible, reason)
