"""Bulk actions go through the rules of a single save: direct writes, proposals, scope, audit, row by row."""

import uuid
from datetime import date

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditLog, Discharge, Enrollment, PendingChange, Program, ProgramStaff
from app.services import bulk_actions
from app.services.bulk_actions import BulkActionRefused
from tests import factories
from tests.conftest import make_staff

START = date(2025, 3, 1)


@pytest.fixture
def signed_in(app, db_session):
    """Make the test's later calls inside a request signed in as ``staff`` (set up data first: the session
    guard then checks every write against that person's role, as in a real request)."""
    from flask_login import login_user

    contexts = []

    def _signed_in(staff):
        context = app.test_request_context()
        context.push()
        contexts.append(context)
        login_user(staff.user)
        return staff

    yield _signed_in
    db.session.rollback()
    for context in reversed(contexts):
        context.pop()


def _enrollments_of(program):
    db.session.expire_all()
    return db.session.scalars(sa.select(Enrollment).where(Enrollment.program_id == program.id)).all()


def _proposals(staff):
    return db.session.scalars(sa.select(PendingChange).where(PendingChange.requested_by_id == staff.id)
                              .order_by(PendingChange.entity)).all()


def _audited(entity, entity_id, staff):
    return db.session.scalars(sa.select(AuditLog).where(AuditLog.entity == entity, AuditLog.entity_id == entity_id,
                                                        AuditLog.changed_by_id == staff.id)).all()


# -- enroll ---------------------------------------------------------------------------------------
def test_a_coordinator_enrolls_each_client_and_each_write_is_audited(request_as):
    coordinator = request_as("Coordinator")
    program = factories.create("programs")
    first, second = factories.create("clients"), factories.create("clients")
    outcome = bulk_actions.enroll_clients(coordinator, [str(first.id), str(second.id)], str(program.id), START)
    db.session.commit()
    assert sorted(outcome.applied) == sorted([str(first), str(second)])
    assert outcome.proposed == [] and outcome.refused == []
    written = _enrollments_of(program)
    assert {e.client_id for e in written} == {first.id, second.id}
    assert {(e.start_date, e.status) for e in written} == {(START, "active")}
    for enrollment in written:
        [row] = _audited("client_program_enrollments", enrollment.id, coordinator)
        assert row.action == "create" and row.client_id == enrollment.client_id


def test_rows_that_cannot_be_enrolled_are_reported_and_the_others_are_done(request_as):
    coordinator = request_as("Coordinator")
    program = factories.create("programs")
    already = factories.create("clients")
    db.session.add(Enrollment(client=already, program=program, start_date=date(2024, 1, 1)))
    restricted = factories.create("clients")
    db.session.add(factories.restriction(client=restricted, start_date=date(2025, 1, 1)))
    fine = factories.create("clients")
    db.session.commit()
    missing = uuid.uuid4()
    outcome = bulk_actions.enroll_clients(
        coordinator, [str(already.id), str(restricted.id), "not-an-id", str(missing), str(fine.id)],
        str(program.id), START)
    db.session.commit()
    assert outcome.applied == [str(fine)] and outcome.missing == 2
    reasons = dict(outcome.refused)
    assert set(reasons) == {str(already), str(restricted)}
    assert "Already enrolled" in reasons[str(already)]
    assert "restrict" in reasons[str(restricted)].lower()
    assert {e.client_id for e in _enrollments_of(program)} == {already.id, fine.id}


def test_a_managers_bulk_enroll_becomes_proposals_and_writes_nothing(signed_in):
    manager = make_staff("Manager")
    program = factories.create("programs", visible_to=manager)
    mine = factories.create("clients", visible_to=manager)
    outsider = factories.create("clients")
    signed_in(manager)
    outcome = bulk_actions.enroll_clients(manager, [str(mine.id), str(outsider.id)], str(program.id), START)
    db.session.commit()
    assert outcome.applied == [] and outcome.proposed == [str(mine)]
    assert outcome.refused == [] and outcome.missing == 1
    assert _enrollments_of(program) == []
    [change] = _proposals(manager)
    assert (change.entity, change.operation, change.status) == ("client_program_enrollments", "create", "pending")
    assert change.diff_json["client_id"] == str(mine.id) and change.diff_json["program_id"] == str(program.id)
    assert change.diff_json["start_date"] == START.isoformat()


def test_a_program_outside_scope_refuses_the_whole_action(signed_in):
    manager = make_staff("Manager")
    mine = factories.create("clients", visible_to=manager)
    elsewhere = factories.create("programs")
    signed_in(manager)
    with pytest.raises(BulkActionRefused, match="program you work with"):
        bulk_actions.enroll_clients(manager, [str(mine.id)], str(elsewhere.id), START)
    assert _proposals(manager) == []


@pytest.mark.parametrize("role", ["Analyst", "Staff"])
def test_roles_that_change_nothing_cannot_run_a_bulk_action(signed_in, role):
    person = make_staff(role)
    program = factories.create("programs", visible_to=person)
    someone = factories.create("clients", visible_to=person)
    enrollment = factories.create("client_program_enrollments", visible_to=person)
    signed_in(person)
    with pytest.raises(BulkActionRefused, match="Your role cannot"):
        bulk_actions.enroll_clients(person, [str(someone.id)], str(program.id), START)
    with pytest.raises(BulkActionRefused, match="Your role cannot"):
        bulk_actions.end_enrollments(person, [str(enrollment.id)], START, "Other")
    assert not any(e.client_id == someone.id and e.start_date == START for e in _enrollments_of(program))
    db.session.expire_all()
    assert enrollment.end_date is None


# -- end enrollments ------------------------------------------------------------------------------
def test_ending_enrollments_closes_them_and_records_each_discharge(request_as):
    coordinator = request_as("Coordinator")
    open_one = factories.create("client_program_enrollments")
    ended = factories.enrollment(end_date=date(2024, 2, 1), status="completed")
    later = factories.enrollment(start_date=date(2025, 6, 1))
    db.session.add_all([ended, later])
    db.session.commit()
    outcome = bulk_actions.end_enrollments(coordinator, [str(open_one.id), str(ended.id), str(later.id)],
                                           START, "Completed program")
    db.session.commit()
    assert outcome.applied == [str(open_one)]
    reasons = dict(outcome.refused)
    assert reasons[str(ended)] == "Already ended on 2024-02-01."
    assert "before the enrollment's start" in reasons[str(later)]
    db.session.expire_all()
    assert (open_one.end_date, open_one.status) == (START, "discharged")
    assert later.end_date is None
    [discharge] = db.session.scalars(sa.select(Discharge).where(Discharge.client_id == open_one.client_id)).all()
    assert (discharge.program_id, discharge.discharge_date, discharge.reason) == (
        open_one.program_id, START, "Completed program")
    [ending] = [row for row in _audited("client_program_enrollments", open_one.id, coordinator)
                if row.action == "update"]
    assert ending.diff_json["end_date"] == {"before": None, "after": START.isoformat()}
    assert [row.action for row in _audited("discharges", discharge.id, coordinator)] == ["create"]


def test_a_row_whose_second_write_is_refused_keeps_neither(request_as, monkeypatch):
    """The enrollment is not ended when the database refuses its discharge (a blank reason here)."""
    coordinator = request_as("Coordinator")
    enrollment = factories.create("client_program_enrollments")
    real_apply = bulk_actions._apply

    def blank_discharge(write):
        if write.entity == "discharges":
            write = bulk_actions.Write(write.entity, write.operation, {**write.values, "reason": " "})
        real_apply(write)

    monkeypatch.setattr(bulk_actions, "_apply", blank_discharge)
    outcome = bulk_actions.end_enrollments(coordinator, [str(enrollment.id)], START, "Other")
    db.session.commit()
    assert outcome.applied == [] and len(outcome.refused) == 1
    db.session.expire_all()
    assert enrollment.end_date is None and enrollment.status == "active"
    assert db.session.scalars(sa.select(Discharge).where(Discharge.client_id == enrollment.client_id)).all() == []


def test_a_managers_end_proposes_the_end_and_the_discharge_together(signed_in):
    manager = make_staff("Manager")
    enrollment = factories.create("client_program_enrollments", visible_to=manager)
    outsider = factories.create("client_program_enrollments")
    signed_in(manager)
    outcome = bulk_actions.end_enrollments(manager, [str(enrollment.id), str(outsider.id)], START, "Other")
    db.session.commit()
    assert outcome.proposed == [str(enrollment)] and outcome.refused == [] and outcome.missing == 1
    db.session.expire_all()
    assert enrollment.end_date is None
    update, create = sorted(_proposals(manager), key=lambda c: c.operation, reverse=True)
    assert (update.entity, update.operation, update.entity_id) == ("client_program_enrollments", "update",
                                                                  enrollment.id)
    assert update.diff_json == {"end_date": START.isoformat(), "status": "discharged"}
    assert (create.entity, create.operation) == ("discharges", "create")
    assert create.diff_json["reason"] == "Other" and create.diff_json["client_id"] == str(enrollment.client_id)


def test_ending_needs_a_date_and_a_reason(request_as):
    coordinator = request_as("Coordinator")
    enrollment = factories.create("client_program_enrollments")
    with pytest.raises(BulkActionRefused, match="discharge reason"):
        bulk_actions.end_enrollments(coordinator, [str(enrollment.id)], START, "  ")


# -- programs: department and manager -------------------------------------------------------------
def test_a_coordinator_moves_programs_and_one_already_there_is_reported(request_as):
    coordinator = request_as("Coordinator")
    target = factories.department()
    moving, staying = factories.program(), factories.program(department=target)
    db.session.add_all([target, moving, staying])
    db.session.commit()
    outcome = bulk_actions.move_programs(coordinator, [str(moving.id), str(staying.id)], str(target.id))
    db.session.commit()
    assert outcome.applied == [str(moving)] and outcome.refused == [(str(staying), f"Already in {target}.")]
    db.session.expire_all()
    assert moving.department_id == target.id
    [row] = [row for row in _audited("programs", moving.id, coordinator) if row.action == "update"]
    assert row.diff_json["department_id"]["after"] == str(target.id)


def test_a_leader_proposes_moves_only_into_a_department_they_lead(signed_in):
    leader = make_staff("Leader")
    program = factories.create("programs", visible_to=leader)
    other_led = factories.create("programs", visible_to=leader)
    elsewhere = factories.create("departments")
    signed_in(leader)
    with pytest.raises(BulkActionRefused, match="department you work with"):
        bulk_actions.move_programs(leader, [str(program.id)], str(elsewhere.id))
    outcome = bulk_actions.move_programs(leader, [str(program.id)], str(other_led.department_id))
    db.session.commit()
    assert outcome.proposed == [str(program)]
    [change] = _proposals(leader)
    assert (change.entity, change.entity_id, change.diff_json) == (
        "programs", program.id, {"department_id": str(other_led.department_id)})
    db.session.expire_all()
    assert db.session.get(Program, program.id).department_id != other_led.department_id


def test_assigning_a_manager_adds_or_promotes_their_program_staff_row(request_as):
    manager = make_staff("Manager")
    admin = request_as("Administrator")
    new, on_staff, managed = factories.program(), factories.program(), factories.program()
    db.session.add_all([new, on_staff, managed, ProgramStaff(program=on_staff, staff=manager),
                        ProgramStaff(program=managed, staff=manager, is_manager=True)])
    db.session.commit()
    outcome = bulk_actions.assign_manager(admin, [str(p.id) for p in (new, on_staff, managed)],
                                          str(manager.id))
    db.session.commit()
    assert sorted(outcome.applied) == sorted([str(new), str(on_staff)])
    assert outcome.refused == [(str(managed), f"{manager.full_name} already manages it.")]
    db.session.expire_all()
    links = db.session.scalars(sa.select(ProgramStaff).where(ProgramStaff.staff_id == manager.id)).all()
    assert {(link.program_id, link.is_manager) for link in links} == {(new.id, True), (on_staff.id, True),
                                                                       (managed.id, True)}


def test_only_an_active_manager_can_be_assigned(request_as):
    not_a_manager = make_staff("Staff")
    admin = request_as("Administrator")
    program = factories.create("programs")
    with pytest.raises(BulkActionRefused, match="Manager role"):
        bulk_actions.assign_manager(admin, [str(program.id)], str(not_a_manager.id))
    with pytest.raises(BulkActionRefused, match="Manager role"):
        bulk_actions.assign_manager(admin, [str(program.id)], "nobody")
