"""Candidates come from the database by blocking keys, one query per chunk of people, scored together."""

import uuid
from dataclasses import replace
from datetime import date, timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import ClientSourceId
from app.services import matching
from app.services.matching import CandidateIndex, Person
from tests import factories


def _add(first, last, dob, **kw):
    client = factories.client(first_name=first, last_name=last, dob=dob, **kw)
    db.session.add(client)
    return client


def test_client_keys_are_kept_when_names_or_birth_date_change(db_session):
    client = factories.create("clients")
    client.first_name, client.last_name, client.dob = "Marie", "Tremblay", date(1980, 1, 1)
    db.session.commit()
    assert (client.block_last_key, client.block_names_key) == ("1980T651", "M600T651")


def test_candidates_come_from_the_database_by_blocking_keys(db_session):
    same_dob = _add("Zed", "Unrelated", date(1980, 1, 1))
    typo_and_year = _add("Marie", "Tremblai", date(1980, 6, 6))
    swapped = _add("Tremblay", "Marie", date(1979, 1, 1))
    undated = _add("Marie", "Tremblay", None)
    elsewhere = _add("Omar", "Haddad", date(1950, 2, 2))
    archived = _add("Marie", "Tremblay", date(1980, 1, 1))
    archived.is_archived = True
    db.session.commit()
    found, = matching.find_candidates(db.session, [Person("Marie", "Tremblay", date(1980, 1, 1))])
    ids = {c.client_id for c in found}
    assert {same_dob.id, typo_and_year.id, swapped.id, undated.id} <= ids
    assert elsewhere.id not in ids and archived.id not in ids
    best = max(found, key=lambda c: c.score.value)
    assert best.client_id in (swapped.id, typo_and_year.id, undated.id)


def test_a_placeholder_birth_date_is_not_looked_up_by(db_session):
    unknown = _add("Zed", "Unrelated", date(1900, 1, 1))
    namesake = _add("Marie", "Tremblay", date(1900, 1, 1))
    db.session.commit()
    found, = matching.find_candidates(db.session, [Person("Marie", "Tremblay", date(1900, 1, 1))])
    ids = {c.client_id for c in found}
    assert namesake.id in ids and unknown.id not in ids


def test_blocking_is_one_query_per_chunk_of_people_with_the_same_result(db_session, monkeypatch):
    for i in (3, 11, 17):
        _add(f"First{i}", "Smith", date(1980, 1, i + 1))
    db.session.commit()
    people = [Person(f"First{i}", "Smith", date(1980, 1, i + 1)) for i in range(20)]
    statements = []
    sa.event.listen(db.session.connection(), "before_cursor_execute", lambda *args: statements.append(args[2]))

    def found_in_chunks_of(size):
        monkeypatch.setattr(matching.blocking, "CANDIDATE_CHUNK", size)
        statements.clear()
        found = matching.find_candidates(db.session, people, model=matching.DEFAULT_MODEL)
        return [sorted((c.client_id, c.score.value) for c in candidates) for candidates in found], \
            len([s for s in statements if "FROM clients" in s])

    whole, queries = found_in_chunks_of(1000)
    assert queries == 1 and all(whole)
    assert found_in_chunks_of(8) == (whole, 3)


def _import_lookup(people):
    """As an import looks people up: the review band only, the source's ids compared, no words."""
    found = matching.find_candidates(db.session, people, min_score=0.2, source="EMHware",
                                     model=matching.DEFAULT_MODEL, words=False)
    return [sorted((c.client_id, round(c.score.value, 9)) for c in candidates) for candidates in found]


SURNAMES = ("Tremblay", "Gagnon", "Bouchard", "Gauthier", "Morin", "Lavoie", "Fortin", "Ouellet", "Pelletier",
            "Bélanger", "Lévesque", "Bergeron")
FIRST_NAMES = ("Marie", "Jean", "Sophie", "Luc", "Chantal", "Denis", "Nathalie", "Guy", "Isabelle", "Marc",
               "Julie", "Pierre")


def _clients_and_lookalikes():
    """Twelve clients, each with an EMHware id, who share no blocking key with one another; twenty people
    looked up: each client's lookalike (a typo, another id), then eight who resemble no one."""
    for i, (first, last) in enumerate(zip(FIRST_NAMES, SURNAMES)):
        client = _add(first, last, date(1950 + 2 * i, i + 1, 10 + i))
        db.session.flush()
        db.session.add(ClientSourceId(client_id=client.id, source_system="EMHware", source_client_id=f"E-{i}"))
    db.session.commit()
    # Ids no client holds: a person whose id CCD knows is linked by it before any lookup (ingest/link.py).
    lookalikes = [Person(first, last[:-1] + "e" if i % 2 else last, date(1950 + 2 * i, i + 1, 10 + i),
                         source_ids=frozenset({f"E-{100 + i}"}))
                  for i, (first, last) in enumerate(zip(FIRST_NAMES, SURNAMES))]
    strangers = [Person(f"Zora{i}", "Quixby", date(2001, 1, i + 1), source_ids=frozenset({f"E-{200 + i}"}))
                 for i in range(8)]
    return lookalikes + strangers


def test_an_import_lookup_in_many_chunks_finds_what_one_chunk_finds(db_session, monkeypatch):
    """On PostgreSQL the next chunk's query runs while this one is scored (in a thread, on the session's
    connection): the rows this test's open transaction wrote are seen, and nothing is lost or reordered."""
    people = _clients_and_lookalikes()
    monkeypatch.setattr(matching.blocking, "CANDIDATE_CHUNK", 1000)
    whole = _import_lookup(people)
    monkeypatch.setattr(matching.blocking, "CANDIDATE_CHUNK", 3)
    assert _import_lookup(people) == whole
    assert all(len(candidates) == 1 for candidates in whole[:12]) and not any(whole[12:])


def test_a_lookup_that_fails_part_way_leaves_the_connection_usable(db_session, monkeypatch):
    people = _clients_and_lookalikes()
    monkeypatch.setattr(matching.blocking, "CANDIDATE_CHUNK", 3)
    calls = []
    scored = matching.blocking._likely_rows

    def fails_on_the_third_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("scoring failed")
        return scored(*args, **kwargs)

    monkeypatch.setattr(matching.blocking, "_likely_rows", fails_on_the_third_chunk)
    try:
        _import_lookup(people)
    except RuntimeError as exc:
        assert str(exc) == "scoring failed"
    else:
        raise AssertionError("the scoring error was swallowed")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ClientSourceId)) == 12


def test_candidates_below_the_asked_probability_are_left_out(db_session):
    for first, dob in (("Marie", date(1980, 3, 4)), ("Zed", date(1980, 3, 4))):
        _add(first, "Tremblay", dob)
    db.session.commit()
    person = Person("Marie", "Tremblay", date(1980, 3, 4))
    everyone, = matching.find_candidates(db.session, [person])
    close, = matching.find_candidates(db.session, [person], min_score=0.95)
    assert len(everyone) == 2
    assert [c.person.first_name for c in close] == ["Marie"]


def test_candidates_carry_their_ids_in_the_source_being_imported(db_session):
    client = _add("Marie", "Tremblay", date(1980, 3, 4))
    db.session.flush()
    db.session.add(ClientSourceId(client_id=client.id, source_system="EMHware", source_client_id="E-1"))
    db.session.commit()
    found, = matching.find_candidates(db.session, [Person("Marie", "Tremblay", date(1980, 3, 4),
                                                          source_ids=frozenset({"E-2"}))], source="EMHware")
    assert found[0].person.source_ids == frozenset({"E-1"})
    assert "different EMHware ID (E-2 / E-1)" in [e.text for e in found[0].score.evidence]


def test_the_in_memory_index_finds_and_scores_like_the_database():
    index = CandidateIndex(source="EMHware")
    marie, other = uuid.uuid4(), uuid.uuid4()
    index.add(marie, Person("Marie", "Tremblay", date(1980, 3, 4), source_ids=frozenset({"E-1"})))
    index.add(other, Person("Omar", "Haddad", date(1950, 2, 2)))
    found = index.candidates(Person("Marie", "Tremblay", date(1980, 3, 4), source_ids=frozenset({"E-1"})))
    assert [c.client_id for c in found] == [marie]
    assert found[0].score.match_type == "same_source_id"


def test_asking_for_likely_candidates_with_ids_finds_what_scoring_every_candidate_would(db_session):
    """An import asks only for candidates in the review band, so ids are fetched for the likely rows alone:
    the answer is the full answer cut at that probability, ids and all."""
    for index, (first, dob) in enumerate((("Marie", date(1980, 3, 4)), ("Mari", date(1980, 3, 4)),
                                          ("Marie", date(1980, 4, 3)), ("Zed", date(1980, 3, 4)))):
        client = _add(first, "Tremblay", dob)
        db.session.flush()
        db.session.add(ClientSourceId(client_id=client.id, source_system="EMHware", source_client_id=f"E-{index}"))
    db.session.commit()
    person = Person("Marie", "Tremblay", date(1980, 3, 4), source_ids=frozenset({"E-9"}))
    everyone, = matching.find_candidates(db.session, [person], source="EMHware")
    likely, = matching.find_candidates(db.session, [person], source="EMHware", min_score=0.2)
    expected = sorted((c.client_id, c.person.source_ids, c.score.value) for c in everyone if c.score.value >= 0.2)
    assert expected, "the premise: some candidate is likely despite a different id"
    assert len(expected) < len(everyone), "the premise: some candidate is not"
    assert sorted((c.client_id, c.person.source_ids, c.score.value) for c in likely) == expected


def test_a_city_most_clients_share_is_weak_evidence_and_a_rare_one_strong(db_session, monkeypatch):
    for number in range(30):
        _add(f"Person{number}", f"Family{number}", date(1950, 1, 1) + timedelta(days=400 * number), city="Toronto")
    _add("Marie", "Tremblay", date(1980, 3, 4), city="Toronto")
    _add("Marie", "Tremblay", date(1955, 9, 30), city="Kenora")
    db.session.commit()

    def city_weight(city):
        found, = matching.find_candidates(db.session, [Person("Marie", "Tremblay", date(1966, 6, 6), city=city)])
        found = [c for c in found if c.person.last_name == "Tremblay"]
        assert len(found) == 2
        return {c.person.city: next(e.weight for e in c.score.evidence if e.field == "city") for c in found}

    built_in = matching.DEFAULT_MODEL.weights("city")[0]
    # 32 clients say little: the built-in weight, drawn a little towards what they show
    assert built_in - 1 < city_weight("Toronto")["Toronto"] < built_in
    monkeypatch.setattr(matching.frequencies, "PRIOR_PEOPLE", 10)  # as if the 32 were thousands
    in_toronto, in_kenora = city_weight("Toronto"), city_weight("Kenora")
    assert in_toronto["Toronto"] == 0.0  # 31 of 32 clients live there
    assert in_kenora["Kenora"] == matching.model.DEFAULT_CITY_MAX_WEIGHT  # one client does: capped
    assert in_toronto["Kenora"] < 0 and in_kenora["Toronto"] < 0


def test_a_likely_candidate_by_the_same_id_is_found_whatever_else_is_looked_up_with_it(db_session):
    """Ids can raise a score too: a client holding the person's own id is likely though little else agrees.
    An import links such a person by the id before any lookup; any other caller gets the same answer
    whether the person is looked up alone or beside people who make that client likely for themselves."""
    client = _add("Marie", "Tremblay", date(1980, 3, 4))
    db.session.flush()
    db.session.add(ClientSourceId(client_id=client.id, source_system="EMHware", source_client_id="E-1"))
    db.session.commit()
    same_id = Person("Marie", "Tremblay", date(1955, 9, 30), source_ids=frozenset({"E-1"}))
    lookalike = Person("Marie", "Tremblay", date(1980, 3, 4), source_ids=frozenset({"E-2"}))
    everyone, = matching.find_candidates(db.session, [same_id], source="EMHware", model=matching.DEFAULT_MODEL)
    assert [c.client_id for c in everyone if c.score.value >= 0.2] == [client.id], "the premise: likely by the id"
    without_id, = matching.find_candidates(db.session, [replace(same_id, source_ids=frozenset())],
                                           model=matching.DEFAULT_MODEL)
    assert all(c.score.value < 0.2 for c in without_id), "the premise: unlikely without it"
    alone, = _import_lookup([same_id])
    beside = _import_lookup([lookalike, same_id])[1]
    assert [client_id for client_id, _ in alone] == [client.id]
    assert beside == alone
