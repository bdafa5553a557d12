"""Matching people: normalised names, scores that rank the same person first, blocking by database lookup."""

import uuid
from datetime import date

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.services import matching
from app.services.matching import Candidate, Person, Thresholds, decide, match_keys, normalize_name, phonetic, score
from tests import factories


def test_names_are_normalised_for_case_accents_hyphens_and_spacing():
    assert normalize_name("  Côté-LÉVESQUE ") == "cote levesque"
    assert normalize_name("O'Brien") == "o brien"
    assert phonetic("Smith") == phonetic("Smyth") == "S530"
    assert phonetic("") == ""


def test_keys_ignore_name_order_and_need_a_birth_year_for_the_year_keys():
    a = match_keys("Marie", "Tremblay", date(1980, 1, 1))
    b = match_keys("Tremblay", "Marie", None)
    assert a.names_key == b.names_key and a.prefix_key == b.prefix_key
    assert a.last_key == "1980T651" and b.last_key is None


@pytest.mark.parametrize("incoming,existing", [
    (Person("Marie", "Tremblay", date(1980, 1, 1)), Person("Marie", "Tremblay", date(1980, 1, 1))),
    (Person("MARIE", "TREMBLAY-ROY", date(1980, 1, 1)), Person("Marie", "Tremblay Roy", date(1980, 1, 1))),
    (Person("Tremblay", "Marie", date(1980, 1, 1)), Person("Marie", "Tremblay", date(1980, 1, 1))),
    (Person("Bob", "Smith", date(1970, 5, 6)), Person("Robert", "Smith", date(1970, 5, 6))),
    (Person("Bobby", "Smith", date(1970, 5, 6)), Person("Robert", "Smith", date(1970, 5, 6), preferred_name="Bobby")),
    (Person("Jane", "Doe", date(1970, 5, 6)), Person("Janet", "Smith", date(1970, 5, 6), alias="Jane Doe")),
    (Person("Emilie", "Cote", date(1988, 7, 21)), Person("Émilie", "Côté", date(1988, 7, 21))),
])
def test_the_same_person_written_differently_is_accepted(incoming, existing):
    assert score(incoming, existing).value >= Thresholds().accept


@pytest.mark.parametrize("incoming,existing", [
    (Person("John", "Okafor", date(1992, 3, 3)), Person("Jane", "Okafor", date(1992, 3, 3))),  # twins
    (Person("Marie", "Tremblay", date(1980, 1, 1)), Person("Marie", "Tremblay", date(1955, 9, 30))),
    (Person("Marie", "Tremblay", None), Person("Marie", "Tremblay", date(1980, 1, 1))),
])
def test_different_people_or_missing_evidence_are_never_accepted(incoming, existing):
    assert score(incoming, existing).value < Thresholds().accept


def test_birth_date_typos_and_transposed_days_count_partly():
    assert matching.dob_agreement(date(1980, 3, 4), date(1980, 4, 3)) == 0.8
    assert matching.dob_agreement(date(1980, 3, 4), date(1980, 3, 5)) == 0.7
    assert matching.dob_agreement(date(1980, 3, 4), None) == matching.UNKNOWN_DOB_AGREEMENT
    assert matching.dob_agreement(date(1980, 3, 4), date(1961, 11, 22)) == 0.0


def _candidate(value):
    return Candidate(uuid.uuid4(), Person("A", "B", None),
                     matching.Score(value, 1.0, 1.0, 1.0, False))


def test_one_clear_candidate_matches_several_or_a_close_call_go_to_review():
    thresholds = Thresholds(accept=0.9, review=0.7, margin=0.08)
    clear = _candidate(0.97)
    assert decide([clear, _candidate(0.5)], thresholds).client_id == clear.client_id
    assert decide([_candidate(0.97), _candidate(0.95)], thresholds).outcome == matching.REVIEW
    assert decide([_candidate(0.8)], thresholds).outcome == matching.REVIEW
    assert decide([_candidate(0.6)], thresholds).outcome == matching.NEW
    assert decide([], thresholds).outcome == matching.NEW


def test_thresholds_must_be_ordered():
    with pytest.raises(ValueError):
        Thresholds(accept=0.7, review=0.8)


def test_client_keys_are_kept_when_names_or_birth_date_change(db_session):
    client = factories.create("clients")
    client.first_name, client.last_name, client.dob = "Marie", "Tremblay", date(1980, 1, 1)
    db.session.commit()
    assert (client.block_last_key, client.block_names_key) == ("1980T651", "M600T651")


def test_candidates_come_from_the_database_by_blocking_keys(db_session):
    def add(first, last, dob):
        client = factories.client(first_name=first, last_name=last, dob=dob)
        db.session.add(client)
        return client

    same_dob = add("Zed", "Unrelated", date(1980, 1, 1))
    typo_and_year = add("Marie", "Tremblai", date(1980, 6, 6))
    swapped = add("Tremblay", "Marie", date(1979, 1, 1))
    undated = add("Marie", "Tremblay", None)
    elsewhere = add("Omar", "Haddad", date(1950, 2, 2))
    archived = add("Marie", "Tremblay", date(1980, 1, 1))
    archived.is_archived = True
    db.session.commit()
    found, = matching.find_candidates(db.session, [Person("Marie", "Tremblay", date(1980, 1, 1))])
    ids = {c.client_id for c in found}
    assert {same_dob.id, typo_and_year.id, swapped.id, undated.id} <= ids
    assert elsewhere.id not in ids and archived.id not in ids
    best = max(found, key=lambda c: c.score.value)
    assert best.client_id in (swapped.id, typo_and_year.id, undated.id)


def test_blocking_is_one_query_per_chunk_of_people_with_the_same_result(db_session, monkeypatch):
    for i in (3, 11, 17):
        db.session.add(factories.client(first_name=f"First{i}", last_name="Smith", dob=date(1980, 1, i + 1)))
    db.session.commit()
    people = [Person(f"First{i}", "Smith", date(1980, 1, i + 1)) for i in range(20)]
    statements = []
    sa.event.listen(db.session.connection(), "before_cursor_execute", lambda *args: statements.append(args[2]))

    def found_in_chunks_of(size):
        monkeypatch.setattr(matching, "CANDIDATE_CHUNK", size)
        statements.clear()
        found = matching.find_candidates(db.session, people)
        return [sorted((c.client_id, c.score) for c in candidates) for candidates in found], \
            len([s for s in statements if "FROM clients" in s])

    whole, queries = found_in_chunks_of(1000)
    assert queries == 1 and all(whole)
    assert found_in_chunks_of(8) == (whole, 3)


def _reference_score(incoming: Person, candidate: Person) -> float:
    """The score's definition, one pair at a time, written plainly: score_pairs must agree with it exactly."""
    def evidence(name, options, similarity):
        if not name or not options:
            return matching.UNKNOWN_NAME_AGREEMENT
        best = max(similarity(name, option) for option in options)
        floor = matching.NAME_SIMILARITY_FLOOR
        return (best - floor) / (1 - floor) if best > floor else 0.0

    first, last = normalize_name(incoming.first_name), normalize_name(incoming.last_name)
    firsts, lasts = matching._name_options_of(candidate.first_name, candidate.last_name,
                                                     candidate.preferred_name, candidate.alias)
    dob_part = matching.DOB_WEIGHT * matching.dob_agreement(incoming.dob, candidate.dob)
    straight = (matching.FIRST_NAME_WEIGHT * evidence(first, firsts, matching.first_name_similarity)
                + matching.LAST_NAME_WEIGHT * evidence(last, lasts, matching._similarity) + dob_part)
    if straight >= matching.SWAPPED_NAMES_FACTOR * (matching.FIRST_NAME_WEIGHT + matching.LAST_NAME_WEIGHT
                                                     + dob_part):
        return straight
    swapped = matching.SWAPPED_NAMES_FACTOR * (
        matching.FIRST_NAME_WEIGHT * evidence(last, firsts, matching.first_name_similarity)
        + matching.LAST_NAME_WEIGHT * evidence(first, lasts, matching._similarity) + dob_part)
    return max(straight, swapped)


def test_scoring_a_batch_gives_each_pair_exactly_its_own_score():
    import random

    rng = random.Random(7)
    firsts = ["Marie", "marie-eve", "Bob", "Robert", "J", "John", "Jean Paul", "Émilie", "", None, "Sasha", "Alex",
              "Okafor", "Tremblay"]
    lasts = ["Tremblay", "TREMBLAY-ROY", "Smith", "Smyth", "Okafor", "de la Cruz", "", None, "Marie", "Côté"]
    dates = [date(1980, 1, 1), date(1980, 1, 10), date(1981, 1, 1), date(1980, 10, 1), date(1955, 9, 30), None]

    def person():
        return Person(rng.choice(firsts), rng.choice(lasts), rng.choice(dates),
                      rng.choice([None, None, "Bobby", "Jay"]), rng.choice([None, None, "Jane Doe", "Smith"]))

    incoming = [person() for _ in range(40)]
    candidates = [person() for _ in range(60)]
    left = [rng.randrange(40) for _ in range(1500)]
    right = [rng.randrange(60) for _ in range(1500)]
    batch = matching.score_pairs(incoming, candidates, left, right)
    for k, (i, c) in enumerate(zip(left, right)):
        assert batch.value[k] == _reference_score(incoming[i], candidates[c]), (incoming[i], candidates[c])
        assert batch.at(k) == score(incoming[i], candidates[c])


def test_candidates_below_the_asked_score_are_left_out(db_session):
    for first, dob in (("Marie", date(1980, 1, 1)), ("Zed", date(1980, 1, 1))):
        db.session.add(factories.client(first_name=first, last_name="Tremblay", dob=dob))
    db.session.commit()
    person = Person("Marie", "Tremblay", date(1980, 1, 1))
    everyone, = matching.find_candidates(db.session, [person])
    close, = matching.find_candidates(db.session, [person], min_score=0.9)
    assert len(everyone) == 2
    assert [c.person.first_name for c in close] == ["Marie"]
