"""The approval rules themselves, whoever calls them: propose, approve, decline, withdraw, conflicts, locking."""

import threading
from datetime import date

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    AuditLog, Client, Department, Enrollment, Notification, PendingChange, Program, ProgramManagerAssignment, Staff,
    User,
)
from app.services import approvals
from tests import factories
from tests.conftest import make_staff


@pytest.fixture
def manager(db_session):
    return make_staff("Manager")


@pytest.fixture
def visible_client(manager):
    record = factories.create("clients")
    factories.make_visible_to(manager)
    return record


def _fresh(model, key):
    db.session.expire_all()
    return db.session.get(model, key)


def _audit(entity_id, action):
    return db.session.scalars(sa.select(AuditLog).where(AuditLog.entity_id == entity_id,
                                                        AuditLog.action == action)).all()


def _notes(staff):
    return db.session.scalars(sa.select(Notification).where(Notification.staff_id == staff.id)).all()


def _propose_name(manager, record, name, base=None):
    change = approvals.propose(manager, "clients", "update", entity_id=record.id, values={"first_name": name},
                               base=base)
    db.session.commit()
    return change


# -- propose ------------------------------------------------------------------------------------
def test_propose_keeps_only_changed_fields_and_their_base(manager, visible_client):
    change = approvals.propose(manager, "clients", "update", entity_id=visible_client.id, values={
        "first_name": "Alexandra", "last_name": visible_client.last_name, "dob": "1980-05-17"})
    assert change.diff_json == {"first_name": "Alexandra"}
    assert change.base_json == {"first_name": visible_client.first_name}
    assert change.status == "pending" and change.requested_by_id == manager.id


def test_proposal_that_changes_nothing_is_not_stored(manager, visible_client):
    assert approvals.propose(manager, "clients", "update", entity_id=visible_client.id,
                             values={"first_name": visible_client.first_name}) is None


def test_only_proposers_propose_and_only_within_their_scope(db_session, manager):
    outsider = factories.create("clients")  # no enrollment in the manager's programs
    with pytest.raises(approvals.ApprovalError, match="programs you work with"):
        approvals.propose(manager, "clients", "update", entity_id=outsider.id, values={"first_name": "X"})
    coordinator = make_staff("Coordinator")
    with pytest.raises(approvals.ApprovalError, match="does not propose"):
        approvals.propose(coordinator, "clients", "update", entity_id=outsider.id, values={"first_name": "X"})
    with pytest.raises(approvals.ApprovalError, match="not made through approval"):
        approvals.propose(manager, "staff", "update", entity_id=manager.id, values={"first_name": "X"})


def test_moving_a_record_to_a_program_outside_scope_is_refused(db_session, manager):
    enrollment = factories.create("client_program_enrollments")
    factories.make_visible_to(manager)
    elsewhere = factories.create("programs")
    with pytest.raises(approvals.ApprovalError, match="programs you work with"):
        approvals.propose(manager, "client_program_enrollments", "update", entity_id=enrollment.id,
                          values={"program_id": str(elsewhere.id)})


# -- approve ------------------------------------------------------------------------------------
def test_approve_applies_the_change_with_exactly_one_audit_row_and_notifies(request_as, manager, visible_client):
    old = visible_client.first_name
    change = _propose_name(manager, visible_client, "Alexandra")
    coordinator = request_as("Coordinator")

    approvals.approve(change.id, coordinator)
    db.session.commit()

    assert _fresh(Client, visible_client.id).first_name == "Alexandra"
    (row,) = _audit(visible_client.id, "approve")
    assert row.diff_json == {"first_name": {"before": old, "after": "Alexandra"}}
    assert row.changed_by_id == coordinator.id and row.client_id == visible_client.id
    assert _audit(visible_client.id, "update") == []
    done = _fresh(PendingChange, change.id)
    assert (done.status, done.reviewed_by_id) == ("approved", coordinator.id) and done.reviewed_at is not None
    (note,) = _notes(manager)
    assert note.category == "approval" and "approved" in note.message


def test_approving_a_create_makes_the_record_and_links_the_change(request_as, manager):
    change = approvals.propose(manager, "clients", "create", values={
        "first_name": "Nadia", "last_name": "New", "dob": "1990-02-03", "languages_spoken": ["English"]})
    db.session.commit()
    approvals.approve(change.id, request_as("Coordinator"))
    db.session.commit()
    created = _fresh(Client, _fresh(PendingChange, change.id).entity_id)
    assert (created.first_name, created.dob, created.languages_spoken) == ("Nadia", date(1990, 2, 3), ["English"])
    (row,) = _audit(created.id, "approve")
    assert row.diff_json["last_name"] == {"before": None, "after": "New"}


def test_approving_a_deletion_deletes_the_record(request_as, manager, visible_client):
    lone_department = factories.create("departments")
    kept = approvals.propose(manager, "clients", "delete", entity_id=visible_client.id)
    change = approvals.propose(manager, "departments", "delete", entity_id=lone_department.id)
    db.session.commit()
    coordinator = request_as("Coordinator")
    # The client's enrollment keeps it: the database refuses, and nothing is half-deleted.
    with pytest.raises(approvals.ApprovalError, match="stays pending; nothing was applied"):
        approvals.approve(kept.id, coordinator)
    assert _fresh(PendingChange, kept.id).status == "pending"
    assert _fresh(Client, visible_client.id) is not None

    approvals.approve(change.id, coordinator)
    db.session.commit()
    assert db.session.get(type(lone_department), lone_department.id) is None
    assert len(_audit(lone_department.id, "approve")) == 1


def test_archive_proposal_sets_the_archive_date_when_approved(request_as, manager, visible_client):
    change = approvals.propose(manager, "clients", "update", entity_id=visible_client.id,
                               values={"is_archived": True})
    db.session.commit()
    approvals.approve(change.id, request_as("Coordinator"))
    db.session.commit()
    archived = _fresh(Client, visible_client.id)
    assert archived.is_archived and archived.archived_at is not None
    (row,) = _audit(visible_client.id, "approve")
    assert row.diff_json["is_archived"] == {"before": False, "after": True}


def test_only_coordinators_and_administrators_approve_or_decline(db_session, manager, visible_client):
    change = _propose_name(manager, visible_client, "Alexandra")
    for role in ("Manager", "Leader", "Staff", "Analyst"):
        someone = make_staff(role)
        with pytest.raises(approvals.ApprovalError, match="Only a Coordinator"):
            approvals.approve(change.id, someone)
        with pytest.raises(approvals.ApprovalError, match="Only a Coordinator"):
            approvals.decline(change.id, someone, "no")
    assert _fresh(PendingChange, change.id).status == "pending"


def test_a_reviewed_change_cannot_be_reviewed_again(request_as, manager, visible_client):
    change = _propose_name(manager, visible_client, "Alexandra")
    coordinator = request_as("Coordinator")
    approvals.decline(change.id, coordinator, "Spelling is right as is.")
    db.session.commit()
    with pytest.raises(approvals.AlreadyReviewed, match="already declined"):
        approvals.approve(change.id, coordinator)
    assert _fresh(Client, visible_client.id).first_name != "Alexandra"


# -- decline ------------------------------------------------------------------------------------
@pytest.mark.parametrize("rationale", ["", "   ", None])
def test_decline_without_rationale_is_refused(request_as, manager, visible_client, rationale):
    change = _propose_name(manager, visible_client, "Alexandra")
    with pytest.raises(approvals.ApprovalError, match="needs a rationale"):
        approvals.decline(change.id, request_as("Coordinator"), rationale)
    assert _fresh(PendingChange, change.id).status == "pending"


def test_database_also_refuses_a_decline_without_rationale(db_session, manager, visible_client):
    change = _propose_name(manager, visible_client, "Alexandra")
    change.status, change.reviewed_by_id = "declined", make_staff("Coordinator").id
    change.reviewed_at = sa.func.now()
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_decline_changes_nothing_canonical_records_why_and_notifies(request_as, manager, visible_client):
    old = visible_client.first_name
    change = _propose_name(manager, visible_client, "Alexandra")
    coordinator = request_as("Coordinator")
    approvals.decline(change.id, coordinator, "  As on the health card.  ")
    db.session.commit()
    assert _fresh(Client, visible_client.id).first_name == old
    done = _fresh(PendingChange, change.id)
    assert (done.status, done.rationale, done.reviewed_by_id) == ("declined", "As on the health card.", coordinator.id)
    (row,) = _audit(visible_client.id, "decline")
    assert row.diff_json["rationale"]["after"] == "As on the health card."
    assert row.diff_json["first_name"] == {"before": old, "after": "Alexandra"}
    assert _audit(visible_client.id, "approve") == [] and _audit(visible_client.id, "update") == []
    (note,) = _notes(manager)
    assert "As on the health card." in note.message


# -- conflicts ----------------------------------------------------------------------------------
def test_conflict_when_the_record_changed_since_the_base_is_refused_without_acknowledgement(
        request_as, manager, visible_client):
    seen = visible_client.first_name
    change = _propose_name(manager, visible_client, "Alexandra")
    visible_client.first_name = "Alexis"  # someone else's direct edit
    db.session.commit()
    assert approvals.conflicts(_fresh(PendingChange, change.id)) == ["first_name"]

    coordinator = request_as("Coordinator")
    with pytest.raises(approvals.ConflictError) as refused:
        approvals.approve(change.id, coordinator)
    assert refused.value.fields == ["first_name"]
    assert _fresh(Client, visible_client.id).first_name == "Alexis"
    assert _fresh(PendingChange, change.id).status == "pending"

    approvals.approve(change.id, coordinator, acknowledge_conflicts=True)
    db.session.commit()
    assert _fresh(Client, visible_client.id).first_name == "Alexandra"
    assert _fresh(PendingChange, change.id).base_json == {"first_name": seen}


def test_no_conflict_when_someone_else_made_the_same_change_or_changed_another_field(
        db_session, manager, visible_client):
    change = _propose_name(manager, visible_client, "Alexandra")
    visible_client.first_name, visible_client.last_name = "Alexandra", "Changed Too"
    db.session.commit()
    assert approvals.conflicts(_fresh(PendingChange, change.id)) == []


def test_a_proposal_keeps_the_version_it_was_made_against_and_approving_raises_it(
        request_as, manager, visible_client):
    opened = visible_client.version
    change = _propose_name(manager, visible_client, "Alexandra")
    assert change.base_version == opened and not approvals.changed_since_proposed(change)

    visible_client.last_name = "Elsewhere"  # a field the proposal does not touch
    db.session.commit()
    change = _fresh(PendingChange, change.id)
    assert approvals.changed_since_proposed(change) and approvals.conflicts(change) == []

    approvals.approve(change.id, request_as("Coordinator"))
    db.session.commit()
    record = _fresh(Client, visible_client.id)
    assert (record.first_name, record.last_name, record.version) == ("Alexandra", "Elsewhere", opened + 2)
    assert len(_audit(visible_client.id, "approve")) == 1


def test_a_proposal_from_a_form_opened_earlier_keeps_that_version(db_session, manager, visible_client):
    opened = visible_client.version
    visible_client.phone = "416-555-0111"
    db.session.commit()
    change = approvals.propose(manager, "clients", "update", entity_id=visible_client.id,
                               values={"first_name": "Alexandra"}, base_version=opened)
    assert change.base_version == opened and approvals.changed_since_proposed(change)


def test_field_by_field_approval_applies_only_the_chosen_fields(request_as, manager, visible_client):
    change = approvals.propose(manager, "clients", "update", entity_id=visible_client.id,
                               values={"first_name": "Alexandra", "last_name": "Partial"})
    db.session.commit()
    visible_client.first_name = "Alexis"
    db.session.commit()
    coordinator = request_as("Coordinator")

    with pytest.raises(approvals.ApprovalError, match="at least one field"):
        approvals.approve(change.id, coordinator, fields=[])
    with pytest.raises(approvals.ApprovalError, match="not part of the proposal"):
        approvals.approve(change.id, coordinator, fields=["dob"])
    approvals.approve(change.id, coordinator, fields=["last_name"])  # the conflicting field is left out
    db.session.commit()

    record = _fresh(Client, visible_client.id)
    assert (record.first_name, record.last_name) == ("Alexis", "Partial")
    (row,) = _audit(visible_client.id, "approve")
    assert set(row.diff_json) == {"last_name"}
    assert "not applied: First name" in _fresh(PendingChange, change.id).rationale


def test_proposal_on_a_deleted_record_cannot_be_approved(request_as, manager):
    department = factories.create("departments")
    change = approvals.propose(manager, "departments", "update", entity_id=department.id,
                               values={"name": "Renamed"})
    db.session.commit()
    db.session.delete(department)
    db.session.commit()
    with pytest.raises(approvals.ApprovalError, match="was deleted"):
        approvals.approve(change.id, request_as("Coordinator"), acknowledge_conflicts=True)
    assert _fresh(PendingChange, change.id).status == "pending"


# -- database rules on apply ----------------------------------------------------------------------
def test_database_rule_broken_on_apply_gives_a_sentence_and_nothing_is_half_applied(request_as, manager):
    enrollment = factories.create("client_program_enrollments")  # starts 2024-01-01
    factories.make_visible_to(manager)
    change = approvals.propose(manager, "client_program_enrollments", "update", entity_id=enrollment.id,
                               values={"end_date": "2023-06-30", "notes": "Closed early"})
    db.session.commit()
    coordinator = request_as("Coordinator")

    with pytest.raises(approvals.ApprovalError, match="end date cannot be before the start date") as refused:
        approvals.approve(change.id, coordinator)
    assert "stays pending" in str(refused.value)
    db.session.commit()  # the caller's transaction is still usable

    record = _fresh(Enrollment, enrollment.id)
    assert (record.end_date, record.notes) == (None, None)
    assert _fresh(PendingChange, change.id).status == "pending"
    assert _audit(enrollment.id, "approve") == [] and _notes(manager) == []


# -- restrictions -------------------------------------------------------------------------------
def _propose_restricted_enrollment(manager):
    client = factories.create("clients")
    program = factories.create("programs")
    factories.make_visible_to(manager)
    restriction = factories.restriction(client=client, scope="program", program=program,
                                        start_date=date(2024, 2, 1), is_no_trespass=True)
    db.session.add(restriction)
    change = approvals.propose(manager, "client_program_enrollments", "create", values={
        "client_id": str(client.id), "program_id": str(program.id), "start_date": "2024-03-01",
        "status": "active"})
    db.session.commit()
    return change, client, program, restriction


def _enrollments_in(client, program):
    return db.session.scalars(sa.select(Enrollment).where(Enrollment.client_id == client.id,
                                                          Enrollment.program_id == program.id,
                                                          Enrollment.start_date == date(2024, 3, 1))).all()


def test_approving_an_enrollment_a_restriction_stops_names_it_and_stays_pending(request_as, manager):
    change, client, program, _ = _propose_restricted_enrollment(manager)
    coordinator = request_as("Coordinator")

    with pytest.raises(approvals.RestrictedApproval) as refused:
        approvals.approve(change.id, coordinator)
    message = str(refused.value)
    assert f"a restriction at {program.name} from 2024-02-01" in message and "no trespass" in message
    assert "stays pending" in message and "override reason" in message
    db.session.commit()  # the caller's transaction is still usable

    assert _fresh(PendingChange, change.id).status == "pending"
    assert _enrollments_in(client, program) == [] and _notes(manager) == []


def test_approving_a_restricted_enrollment_with_a_reason_applies_it_and_audits_the_override(request_as, manager):
    change, client, program, restriction = _propose_restricted_enrollment(manager)
    coordinator = request_as("Coordinator")

    approvals.approve(change.id, coordinator, override_reason="  Court-ordered placement  ")
    db.session.commit()

    (enrollment,) = _enrollments_in(client, program)
    assert (enrollment.program_id, enrollment.override_reason) == (program.id, "Court-ordered placement")
    assert not enrollment.flagged_for_review
    (override,) = _audit(enrollment.id, "override")
    assert override.diff_json["reason"] == "Court-ordered placement" and override.changed_by_id == coordinator.id
    assert [r["id"] for r in override.diff_json["restrictions"]] == [str(restriction.id)]
    assert _fresh(PendingChange, change.id).status == "approved"


# -- withdraw -----------------------------------------------------------------------------------
def test_withdraw_works_only_for_the_requesters_own_pending_change(db_session, manager, visible_client):
    change = _propose_name(manager, visible_client, "Alexandra")
    for someone in (make_staff("Manager"), make_staff("Coordinator"), None):
        with pytest.raises(approvals.ApprovalError, match="your own"):
            approvals.withdraw(change.id, someone)
    assert _fresh(PendingChange, change.id).status == "pending"

    approvals.withdraw(change.id, manager)
    db.session.commit()
    assert _fresh(PendingChange, change.id).status == "withdrawn"
    assert len(_audit(visible_client.id, "withdraw")) == 1
    with pytest.raises(approvals.AlreadyReviewed):
        approvals.withdraw(change.id, manager)


# -- two coordinators at once ----------------------------------------------------------------------
@pytest.mark.postgres_only
def test_concurrent_approvals_apply_the_change_exactly_once(app):
    """Two threads, each with its own connection, approve the same change at the same moment.

    The per-test rollback cannot span threads, so this test commits real rows and deletes
    them afterwards (the audit rows stay: the trail is append-only by design).
    """
    with app.app_context():
        first, second, manager = make_staff("Coordinator"), make_staff("Coordinator"), make_staff("Manager")
        program = factories.create("programs")
        record = factories.create("clients")
        assignment = ProgramManagerAssignment(staff=manager, program=program)
        enrollment = Enrollment(client=record, program=program, start_date=date(2024, 1, 1))
        db.session.add_all([assignment, enrollment])
        db.session.commit()
        change = _propose_name(manager, record, "Concurrent")
        created = [(PendingChange, change.id), (Enrollment, enrollment.id),
                   (ProgramManagerAssignment, assignment.id), (Client, record.id), (Program, program.id),
                   (Department, program.department_id)]
        people = [(staff.id, staff.user_id) for staff in (first, second, manager)]
        change_id, client_id, reviewer_ids = change.id, record.id, [first.id, second.id]
        db.session.remove()

    barrier = threading.Barrier(2)
    outcomes = []

    def review(reviewer_id):
        with app.app_context():
            try:
                reviewer = db.session.get(Staff, reviewer_id)
                barrier.wait(timeout=10)
                approvals.approve(change_id, reviewer)
                db.session.commit()
                outcomes.append("applied")
            except approvals.AlreadyReviewed:
                db.session.rollback()
                outcomes.append("already reviewed")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=review, args=(reviewer_id,)) for reviewer_id in reviewer_ids]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        with app.app_context():
            assert sorted(outcomes) == ["already reviewed", "applied"]
            assert db.session.get(Client, client_id).first_name == "Concurrent"
            assert len(_audit(client_id, "approve")) == 1
            assert db.session.get(PendingChange, change_id).status == "approved"
            db.session.remove()
    finally:
        with app.app_context():
            _delete_committed(created, people)


def _delete_committed(rows, people) -> None:
    """Remove what the threaded test committed, children first."""
    staff_ids = [staff_id for staff_id, _ in people]
    db.session.execute(sa.delete(Notification).where(Notification.staff_id.in_(staff_ids)))
    for model, key in rows:
        row = db.session.get(model, key)
        if row is not None:
            db.session.delete(row)
            db.session.flush()
    for staff_id, user_id in people:
        staff = db.session.get(Staff, staff_id)
        staff.roles.clear()
        db.session.flush()
        db.session.delete(staff)
        db.session.flush()
        db.session.delete(db.session.get(User, user_id))
    db.session.commit()
    db.session.remove()
