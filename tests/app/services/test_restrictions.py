"""Service restrictions stop enrollments on every path, overrides are audited, and the door check says little."""

import dataclasses
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditLog, Enrollment, StaffProgramAssignment
from app.services.restrictions import (
    DoorAnswer, EnrollmentRestricted, allow_restricted_enrollment, check_at_the_door,
)
from tests import factories
from tests.conftest import make_staff

TODAY = date.today()


@pytest.fixture
def shelter(db_session):
    """A program and a client who is not enrolled anywhere yet."""
    program = factories.program(name=factories.unique("Shelter"))
    person = factories.client(first_name="Robin", last_name=factories.unique("Doe"))
    db.session.add_all([program, person])
    db.session.commit()
    return program, person


def _restrict(person, **kw):
    restriction = factories.restriction(client=person, **kw)
    db.session.add(restriction)
    db.session.commit()
    return restriction


def _enroll(person, program, start=TODAY, **kw):
    enrollment = Enrollment(client=person, program=program, start_date=start, **kw)
    db.session.add(enrollment)
    db.session.flush()
    return enrollment


def _audit_rows(action, entity_id=None):
    query = sa.select(AuditLog).where(AuditLog.action == action)
    if entity_id is not None:
        query = query.where(AuditLog.entity_id == entity_id)
    return db.session.scalars(query).all()


def test_org_wide_restriction_refuses_enrollment_and_names_it(shelter):
    program, person = shelter
    _restrict(person, scope="org", start_date=date(2025, 3, 1), is_bill_168=True)
    with pytest.raises(EnrollmentRestricted) as refused:
        _enroll(person, program)
    message = str(refused.value)
    assert person.full_name in message and program.name in message
    assert "organisation-wide restriction from 2025-03-01 with no end date (Bill 168)" in message
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Enrollment)
                             .where(Enrollment.client_id == person.id)) == 0


def test_program_restriction_refuses_that_program(shelter):
    program, person = shelter
    _restrict(person, scope="program", program=program, end_date=TODAY + timedelta(days=30))
    with pytest.raises(EnrollmentRestricted, match=f"restriction at {program.name}"):
        _enroll(person, program)


def test_program_restriction_allows_another_program(shelter):
    program, person = shelter
    _restrict(person, scope="program", program=program)
    elsewhere = factories.program()
    db.session.add(elsewhere)
    enrollment = _enroll(person, elsewhere)
    assert enrollment.override_reason is None and not enrollment.flagged_for_review


@pytest.mark.parametrize("kind", ["expired", "archived", "starts after the enrollment"])
def test_restrictions_not_in_force_on_the_start_date_do_not_block(shelter, kind):
    program, person = shelter
    if kind == "expired":
        _restrict(person, start_date=TODAY - timedelta(days=60), end_date=TODAY - timedelta(days=1))
    elif kind == "archived":
        _restrict(person, is_archived=True)
    else:
        _restrict(person, start_date=TODAY + timedelta(days=10))
    assert _enroll(person, program).id is not None


def test_an_enrollment_that_started_before_the_restriction_can_still_be_recorded(shelter):
    program, person = shelter
    _restrict(person, start_date=TODAY - timedelta(days=5))
    assert _enroll(person, program, start=TODAY - timedelta(days=100)).id is not None


def test_coordinator_overrides_with_a_reason_and_the_override_is_audited(shelter, request_as):
    program, person = shelter
    restriction = _restrict(person)
    coordinator = request_as("Coordinator")
    with allow_restricted_enrollment("  Safety plan agreed with the manager  "):
        enrollment = _enroll(person, program)
    assert enrollment.override_reason == "Safety plan agreed with the manager"
    assert not enrollment.flagged_for_review
    [row] = _audit_rows("override", enrollment.id)
    assert row.changed_by_id == coordinator.id and row.client_id == person.id
    assert row.diff_json["reason"] == "Safety plan agreed with the manager"
    assert row.diff_json["restrictions"][0]["id"] == str(restriction.id)


def test_an_override_needs_a_reason():
    with pytest.raises(ValueError, match="reason"):
        with allow_restricted_enrollment("   "):
            pass


def test_override_without_restriction_changes_nothing(shelter, request_as):
    program, person = shelter
    request_as("Coordinator")
    with allow_restricted_enrollment("Just in case"):
        enrollment = _enroll(person, program)
    assert enrollment.override_reason is None
    assert _audit_rows("override", enrollment.id) == []


def test_roles_that_cannot_override_are_refused_even_inside_the_context(shelter, request_as, monkeypatch):
    """Only Coordinators and Administrators override; the write guard is set aside here to reach this rule."""
    from app import guard

    program, person = shelter
    _restrict(person)
    monkeypatch.setattr(guard, "grant", lambda *args: guard.Grant.ALLOW)
    request_as("Manager")
    with allow_restricted_enrollment("I insist"):
        with pytest.raises(EnrollmentRestricted, match="only a Coordinator or Administrator"):
            _enroll(person, program)


def test_import_records_the_enrollment_and_flags_it_for_review(shelter):
    program, person = shelter
    _restrict(person, scope="program", program=program)
    with allow_restricted_enrollment("Enrolled in SMIS before the import", flag_for_review=True):
        enrollment = _enroll(person, program, start=TODAY - timedelta(days=1))
    db.session.commit()
    db.session.expire_all()
    saved = db.session.get(Enrollment, enrollment.id)
    assert saved.flagged_for_review and saved.override_reason == "Enrolled in SMIS before the import"
    [row] = _audit_rows("override", enrollment.id)
    assert row.actor_name == "system" and row.diff_json["flagged_for_review"] is True


def test_a_restriction_added_in_the_same_flush_counts(shelter):
    program, person = shelter
    db.session.add(factories.restriction(client=person))
    with pytest.raises(EnrollmentRestricted):
        _enroll(person, program)


def test_moving_or_restoring_an_enrollment_is_checked_like_a_new_one(shelter):
    program, person = shelter
    elsewhere = factories.program()
    db.session.add(elsewhere)
    enrollment = _enroll(person, elsewhere)
    archived = _enroll(person, program, start=TODAY - timedelta(days=1), is_archived=True)
    db.session.commit()
    _restrict(person, scope="program", program=program)
    enrollment.program = program
    with pytest.raises(EnrollmentRestricted):
        db.session.flush()
    db.session.rollback()
    archived = db.session.get(Enrollment, archived.id)
    archived.is_archived = False
    with pytest.raises(EnrollmentRestricted):
        db.session.flush()


def test_ending_an_enrollment_while_restricted_is_allowed(shelter):
    program, person = shelter
    enrollment = _enroll(person, program, start=TODAY - timedelta(days=30))
    db.session.commit()
    _restrict(person)
    enrollment.end_date = TODAY
    enrollment.status = "discharged"
    db.session.flush()


# -- the door check ---------------------------------------------------------------------------
@pytest.fixture
def door(db_session):
    """Robin has an org-wide restriction and one at a program; Alex, with the same birth date, has none."""
    mine, theirs = factories.program(), factories.program()
    robin = factories.client(first_name="Robin", last_name="Tremblay", preferred_name="Bobbie", dob=date(1979, 4, 2))
    alex = factories.client(first_name="Alex", last_name="Tremblay", dob=date(1979, 4, 2))
    db.session.add_all([mine, theirs, robin, alex,
                        factories.restriction(client=robin, scope="org", is_no_trespass=True, reason="Secret"),
                        factories.restriction(client=robin, scope="program", program=theirs, is_bill_168=True),
                        factories.restriction(client=robin, scope="program", program=mine, end_date=TODAY),
                        factories.restriction(client=robin, scope="program", program=mine,
                                              start_date=date(2020, 1, 1), end_date=date(2020, 2, 1))])
    db.session.commit()
    return mine, theirs, robin, alex


def _staff_of(program):
    staff = make_staff("Staff")
    db.session.add(StaffProgramAssignment(staff=staff, program=program))
    db.session.commit()
    return staff


def test_door_check_shows_org_wide_and_own_program_restrictions_in_force(door):
    mine, theirs, robin, alex = door
    answers = check_at_the_door(db.session, _staff_of(mine), last_name="tremblay ", dob=date(1979, 4, 2),
                                first_name="robin")
    assert sorted((a.scope, a.program) for a in answers) == [("org", None), ("program", mine.name)]
    assert all(a.first_name == "Robin" for a in answers)
    assert theirs.name not in {a.program for a in answers}


def test_door_check_matches_preferred_name_and_skips_people_without_restrictions(door):
    mine, theirs, robin, alex = door
    answers = check_at_the_door(db.session, _staff_of(mine), last_name="Tremblay", dob=date(1979, 4, 2),
                                first_name="Bobbie")
    assert {a.first_name for a in answers} == {"Robin"}
    assert check_at_the_door(db.session, _staff_of(mine), last_name="Tremblay", dob=date(1979, 4, 2),
                             first_name="Alex") == []


def test_door_check_tells_only_the_fields_needed_at_the_door(door):
    assert [f.name for f in dataclasses.fields(DoorAnswer)] == [
        "first_name", "last_name", "scope", "program", "start_date", "end_date", "is_indefinite",
        "is_bill_168", "is_no_trespass"]


def test_every_door_check_is_audited_with_the_question(door):
    mine, theirs, robin, alex = door
    staff = _staff_of(mine)
    before = {row.id for row in _audit_rows("check")}
    answers = check_at_the_door(db.session, staff, last_name="Tremblay", dob=date(1979, 4, 2))
    check_at_the_door(db.session, staff, last_name="Nobody", dob=date(1979, 4, 2))
    asked = {row.diff_json["query"]["last_name"]: row for row in _audit_rows("check") if row.id not in before}
    assert set(asked) == {"Tremblay", "Nobody"}
    assert asked["Tremblay"].diff_json["query"] == {"first_name": None, "last_name": "Tremblay", "dob": "1979-04-02"}
    assert len(asked["Tremblay"].diff_json["restrictions_shown"]) == len(answers) == 2
    assert asked["Nobody"].diff_json["restrictions_shown"] == []


def test_door_check_needs_a_last_name_and_birth_date(door):
    with pytest.raises(ValueError):
        check_at_the_door(db.session, _staff_of(door[0]), last_name=" ", dob=date(1979, 4, 2))
