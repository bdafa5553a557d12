"""The visibility rule: who sees which programs and clients."""

from datetime import date

import pytest

from app.extensions import db
from app.models import (
    DepartmentLeaderAssignment, ProgramManagerAssignment, StaffClientAssignment, StaffProgramAssignment,
)
from app.services.scope import may_see_client, visible_client_ids, visible_program_ids
from tests import factories
from tests.conftest import make_staff


@pytest.fixture
def two_programs(db_session):
    """Program A and B in different departments, each with one enrolled client, and a client with no enrollment."""
    a, b = factories.program(), factories.program()
    in_a = factories.enrollment(program=a, start_date=date(2020, 1, 1), end_date=date(2020, 6, 1))
    in_b = factories.enrollment(program=b)
    loose = factories.client()
    db.session.add_all([a, b, in_a, in_b, loose])
    db.session.commit()
    return a, b, in_a.client, in_b.client, loose


def ids(select):
    return set(db.session.scalars(select))


@pytest.mark.parametrize("role", ["Administrator", "Coordinator", "Analyst"])
def test_all_seeing_roles_have_no_limit(two_programs, role):
    staff = make_staff(role)
    assert visible_program_ids(staff) is None
    assert visible_client_ids(staff) is None


@pytest.mark.parametrize("role", ["Manager", "Leader", "Staff"])
def test_no_assignment_sees_nothing(two_programs, role):
    staff = make_staff(role)
    assert ids(visible_program_ids(staff)) == set()
    assert ids(visible_client_ids(staff)) == set()


def test_manager_sees_managed_program_and_its_past_clients(two_programs):
    a, b, client_a, client_b, loose = two_programs
    manager = make_staff("Manager")
    db.session.add(ProgramManagerAssignment(staff=manager, program=a))
    db.session.commit()
    assert ids(visible_program_ids(manager)) == {a.id}
    assert ids(visible_client_ids(manager)) == {client_a.id}
    assert may_see_client(db.session, manager, client_a.id)
    assert not may_see_client(db.session, manager, client_b.id)


def test_leader_sees_programs_of_led_department(two_programs):
    a, b, client_a, client_b, loose = two_programs
    leader = make_staff("Leader")
    db.session.add(DepartmentLeaderAssignment(staff=leader, department=b.department))
    db.session.commit()
    assert ids(visible_program_ids(leader)) == {b.id}
    assert ids(visible_client_ids(leader)) == {client_b.id}


def test_staff_sees_assigned_program_and_directly_assigned_clients(two_programs):
    a, b, client_a, client_b, loose = two_programs
    staff = make_staff("Staff")
    db.session.add_all([StaffProgramAssignment(staff=staff, program=b), StaffClientAssignment(staff=staff, client=loose)])
    db.session.commit()
    assert ids(visible_client_ids(staff)) == {client_b.id, loose.id}


def test_inactive_assignment_grants_nothing(two_programs):
    a, *_ = two_programs
    staff = make_staff("Staff")
    db.session.add(StaffProgramAssignment(staff=staff, program=a, is_active=False))
    db.session.commit()
    assert ids(visible_client_ids(staff)) == set()
