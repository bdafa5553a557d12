"""Review answers: each writes what it should, leaves the training label, and records itself in the trail."""

import uuid

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditLog, Client, ClientDuplicate, ClientSourceId, Enrollment, ImportRow, Intake
from app.services import review
from app.services.merge import flag_possible_duplicate
from tests import factories
from tests.conftest import make_staff

EVIDENCE = [{"field": "dob", "text": "same birth date", "weight": 6.1},
            {"field": "gender", "text": "different gender", "weight": -4.3},
            {"field": "source_id", "text": "different EMHware ID", "weight": -5.0}]


@pytest.fixture
def coordinator(db_session):
    return make_staff("Coordinator")


def count(model, *where):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def decisions(item_id):
    return [entry.diff_json for entry in db.session.scalars(sa.select(AuditLog).where(
        AuditLog.entity == "client_duplicates", AuditLog.entity_id == item_id, AuditLog.action == "review"))]


def statuses(row_id):
    db.session.expire_all()
    return {item.primary_client_id: item.status for item in db.session.scalars(
        sa.select(ClientDuplicate).where(ClientDuplicate.import_row_id == row_id))}


def test_same_person_writes_the_row_onto_that_client_and_labels_every_candidate(coordinator):
    row, [(jon, jon_item), (john, _)], program = factories.held_row()
    answered = review.same_person(jon_item.id, str(john.id), coordinator, notes="same worker, same shelter")
    db.session.commit()

    assert answered.client_id == john.id
    assert count(Enrollment, Enrollment.client_id == john.id, Enrollment.program_id == program.id) == 1
    assert count(ClientSourceId, ClientSourceId.client_id == john.id, ClientSourceId.source_client_id == "CLI8") == 1
    assert count(Enrollment, Enrollment.client_id == jon.id) == 0
    assert statuses(row.id) == {john.id: "merged", jon.id: "not_duplicate"}
    assert db.session.get(ImportRow, row.id).status != "review"
    [decision] = decisions(jon_item.id)
    assert (decision["answer"], decision["client_id"], decision["notes"]) == (
        "same_person", str(john.id), "same worker, same shelter")
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "review"))
    assert entry.changed_by_id == coordinator.id


def test_a_new_person_writes_a_new_client_and_dismisses_every_candidate(coordinator):
    row, pairs, program = factories.held_row()
    clients_before = count(Client)
    answered = review.new_person(pairs[0][1].id, coordinator)
    db.session.commit()

    assert count(Client) == clients_before + 1
    created = db.session.get(Client, answered.client_id)
    assert (created.first_name, created.last_name) == ("Jonn", "Okafor")
    assert count(Enrollment, Enrollment.client_id == created.id, Enrollment.program_id == program.id) == 1
    assert [s.source_client_id for s in created.source_ids] == ["CLI8"]
    assert set(statuses(row.id).values()) == {"not_duplicate"}
    assert decisions(pairs[0][1].id)[0]["answer"] == "new_person"


def test_leave_keeps_the_row_waiting_with_the_note(coordinator):
    row, pairs, _ = factories.held_row()
    review.leave(pairs[1][1].id, coordinator, notes="ask the shelter which Jon")
    db.session.commit()

    assert set(statuses(row.id).values()) == {"pending"}
    assert db.session.get(ImportRow, row.id).status == "review"
    assert all(item.review_notes == "ask the shelter which Jon" for _, item in pairs)
    assert decisions(pairs[1][1].id)[0]["answer"] == "leave"
    assert review.waiting_by_import()[0].rows == 1


def test_an_answer_twice_or_to_an_unknown_item_is_a_clear_error_and_changes_nothing(coordinator):
    row, pairs, _ = factories.held_row()
    review.new_person(pairs[0][1].id, coordinator)
    db.session.commit()
    clients_after = count(Client)
    with pytest.raises(review.ReviewError, match="already decided"):
        review.same_person(pairs[0][1].id, pairs[0][0].id, coordinator)
    with pytest.raises(review.ReviewError, match="no review item"):
        review.leave(uuid.uuid4(), coordinator)
    with pytest.raises(review.ReviewError, match="not an item id"):
        review.leave("row-7", coordinator)
    assert count(Client) == clients_after


def test_same_person_only_with_one_of_the_rows_candidates(coordinator):
    row, pairs, _ = factories.held_row()
    stranger = factories.create("clients")
    with pytest.raises(review.ReviewError, match="not one of the candidates"):
        review.same_person(pairs[0][1].id, stranger.id, coordinator)
    assert set(statuses(row.id).values()) == {"pending"} and not decisions(pairs[0][1].id)


def test_dismissing_one_candidate_of_a_row_but_never_its_last(coordinator):
    row, [(jon, jon_item), (john, john_item)], _ = factories.held_row()
    review.not_duplicate(jon_item.id, coordinator, notes="Jon is the twin")
    db.session.commit()
    assert statuses(row.id) == {jon.id: "not_duplicate", john.id: "pending"}
    with pytest.raises(review.ReviewError, match="last candidate"):
        review.not_duplicate(john_item.id, coordinator)
    assert statuses(row.id)[john.id] == "pending"


@pytest.fixture
def pair(db_session):
    program = factories.program()
    first = factories.client(first_name="Maria", last_name="Lopez")
    second = factories.client(first_name="María", last_name="López")
    db.session.add_all([first, second])
    db.session.flush()
    db.session.add_all([Intake(client=second, program=program, intake_date=first.dob),
                        ClientSourceId(client=second, source_system="SMIS", source_client_id="S-100")])
    db.session.commit()
    item = flag_possible_duplicate(db.session, first.id, second.id, 0.9, "name_dob", {"evidence": EVIDENCE})
    db.session.commit()
    return first, second, item


def test_a_pair_is_merged_or_declared_two_people_and_the_label_is_set(coordinator, pair):
    first, second, item = pair
    with pytest.raises(review.ReviewError, match="pairs two clients"):
        review.new_person(item.id, coordinator)
    result = review.merge(item.id, first.id, {}, coordinator, notes="same OHIP")
    db.session.commit()
    assert db.session.get(ClientDuplicate, item.id).status == "merged"
    assert db.session.get(Client, second.id).merged_into_id == first.id
    assert "1 intake," in result.describe() and "1 source id (SMIS S-100)" in result.describe()
    [decision] = decisions(item.id)
    assert decision["answer"] == "merge" and decision["moved"]["intakes"] == 1


def test_not_the_same_person_for_a_pair(coordinator, pair):
    _, _, item = pair
    review.not_duplicate(item.id, coordinator, notes="siblings")
    db.session.commit()
    stored = db.session.get(ClientDuplicate, item.id)
    assert (stored.status, stored.review_notes, stored.reviewed_by_id) == ("not_duplicate", "siblings", coordinator.id)
    assert decisions(item.id)[0]["answer"] == "not_duplicate"


@pytest.mark.parametrize("role", ["Staff", "Manager", "Leader", "Analyst"])
def test_other_roles_are_refused_by_the_service_itself(db_session, role, pair):
    someone = make_staff(role)
    row, pairs, _ = factories.held_row()
    _, _, item = pair
    for answer in (lambda: review.new_person(pairs[0][1].id, someone),
                   lambda: review.same_person(pairs[0][1].id, pairs[0][0].id, someone),
                   lambda: review.leave(item.id, someone),
                   lambda: review.not_duplicate(item.id, someone),
                   lambda: review.merge(item.id, item.primary_client_id, {}, someone),
                   lambda: review.answer_many(review.NEW_PERSON, [pairs[0][1].id], someone)):
        with pytest.raises(review.ReviewError, match="Coordinator or an Administrator"):
            answer()
    assert set(statuses(row.id).values()) == {"pending"}
    assert db.session.get(ClientDuplicate, item.id).status == "pending"
    assert count(AuditLog, AuditLog.action == "review") == 0


def test_a_page_of_held_rows_answered_a_new_person_at_once(coordinator, pair):
    first_row, first_pairs, _ = factories.held_row(source_id="CLI8")
    second_row, second_pairs, _ = factories.held_row(source_id="CLI9", first_name="Ada", last_name="Mensah",
                                                     candidates=(("Adah", 0.8),))
    _, _, pair_item = pair
    ids = [first_pairs[0][1].id, first_pairs[1][1].id, second_pairs[0][1].id, pair_item.id]
    outcome = review.answer_many(review.NEW_PERSON, ids, coordinator)
    db.session.commit()

    assert len(outcome.done) == 2, "two rows, each once, though one was selected twice"
    assert [item_id for item_id, _ in outcome.refused] == [pair_item.id]
    assert set(statuses(first_row.id).values()) == set(statuses(second_row.id).values()) == {"not_duplicate"}
    assert count(ClientSourceId, ClientSourceId.source_client_id.in_(("CLI8", "CLI9"))) == 2
    assert db.session.get(ClientDuplicate, pair_item.id).status == "pending"
    with pytest.raises(review.ReviewError, match="cannot be given to many"):
        review.answer_many(review.SAME_PERSON, ids, coordinator)


def test_the_queue_counts_what_waits_per_import_and_lists_it(coordinator, pair):
    row, pairs, _ = factories.held_row()
    [entry] = review.waiting_by_import()
    assert (entry.upload_log_id, entry.rows, entry.items) == (row.upload_log_id, 1, 2)
    assert review.waiting_pairs_count() == 1
    assert [item.id for item in review.waiting_items(row.upload_log_id)] == [item.id for _, item in pairs]
    assert pair[2].id in [item.id for item in review.waiting_items()]
