"""Deciding from scored candidates: one clear candidate is a match, close calls go to a person."""

import uuid

import pytest

from app.services import matching
from app.services.matching import Candidate, Person, Thresholds, decide


def _candidate(value):
    return Candidate(uuid.uuid4(), Person("A", "B", None), matching.Score(value, 0.0, "exact_name_dob"))


def test_one_clear_candidate_matches_several_or_a_close_call_go_to_review():
    thresholds = Thresholds(accept=0.9, review=0.7, margin=0.08)
    clear = _candidate(0.97)
    assert decide([clear, _candidate(0.5)], thresholds).client_id == clear.client_id
    assert decide([_candidate(0.97), _candidate(0.95)], thresholds).outcome == matching.REVIEW
    assert decide([_candidate(0.8)], thresholds).outcome == matching.REVIEW
    assert decide([_candidate(0.6)], thresholds).outcome == matching.NEW
    assert decide([], thresholds).outcome == matching.NEW


def test_the_reason_gives_the_match_probability():
    decision = decide([_candidate(0.8)], Thresholds(accept=0.9, review=0.7))
    assert "match probability 0.800" in decision.reason


def test_thresholds_must_be_ordered_probabilities():
    with pytest.raises(ValueError):
        Thresholds(accept=0.7, review=0.8)
    with pytest.raises(ValueError):
        Thresholds(accept=1.5, review=0.8)


def test_thresholds_come_from_the_config():
    assert Thresholds.from_config({"INGEST_ACCEPT_THRESHOLD": "0.995", "INGEST_REVIEW_THRESHOLD": "0.4"}) \
        == Thresholds(0.995, 0.4, matching.DEFAULT_MATCH_MARGIN)
