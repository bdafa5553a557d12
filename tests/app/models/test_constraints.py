"""The database itself refuses rows that break CCD's rules, whatever code path writes them."""

import uuid
from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app import audit
from app.constraints import explain
from app.extensions import db
from app.models import (
    ChoiceOption, Client, ClientDuplicate, ClientSourceId, Department, PendingChange, ProgramCapacity,
    ProgramStaff, ServiceRestriction, Staff, StaffRole, SubProgram,
)
from app.models import Role as RoleRow
from tests import factories


def refused(*rows) -> str:
    """Add the rows, expect the database to refuse them, and return the sentence a person would see."""
    with pytest.raises(IntegrityError) as caught:
        with db.session.begin_nested():
            db.session.add_all(rows)
            db.session.flush()
    return explain(caught.value)


def test_department_name_unique_ignoring_case(db_session):
    db_session.add(Department(name="Housing Services"))
    db_session.flush()
    assert "department with this name" in refused(Department(name="HOUSING services"))


def test_program_name_unique_and_capacity_not_negative(db_session):
    program = factories.create("programs")
    assert "program with this name" in refused(factories.program(name=program.name.upper()))
    assert "negative" in refused(factories.program(name="Other", capacity_current=-1))


def test_subprogram_unique_within_its_program_only(db_session):
    first, second = factories.create("programs"), factories.create("programs")
    db_session.add_all([SubProgram(program=first, name="Youth"), SubProgram(program=second, name="Youth")])
    db_session.flush()
    assert "already has a subprogram" in refused(SubProgram(program_id=first.id, name="youth"))


def test_capacity_history_one_entry_per_program_and_date(db_session):
    program = factories.create("programs")
    db_session.add(ProgramCapacity(program=program, effective_date=date(2025, 1, 1), capacity=10))
    db_session.flush()
    assert "effective date" in refused(ProgramCapacity(program_id=program.id, effective_date=date(2025, 1, 1),
                                                       capacity=5))


def test_staff_email_unique_ignoring_case(db_session):
    db_session.add(Staff(first_name="A", last_name="B", email="Pat.Lee@agency.example"))
    db_session.flush()
    assert "staff member with this email" in refused(Staff(first_name="C", last_name="D",
                                                           email="pat.lee@AGENCY.example"))


def test_staff_role_pair_is_the_key(db_session):
    staff = factories.create("staff")
    role = db_session.scalar(sa.select(RoleRow).where(RoleRow.name == "Staff"))
    db_session.add(StaffRole(staff=staff, role=role))
    db_session.flush()
    db_session.expunge_all()
    with pytest.raises(IntegrityError):
        with db.session.begin_nested(), audit.bulk_write():
            db.session.execute(sa.insert(StaffRole).values(staff_id=staff.id, role_id=role.id))


def test_program_staff_one_row_per_person_and_program(db_session):
    link = factories.create("program_staff")
    assert "already on that program" in refused(ProgramStaff(program_id=link.program_id, staff_id=link.staff_id))


def test_uid_external_unique_when_present_only(db_session):
    db_session.add_all([factories.client(uid_external=None), factories.client(uid_external=None),
                        factories.client(uid_external="EMH-1")])
    db_session.flush()
    assert "external UID" in refused(factories.client(uid_external="EMH-1"))
    assert "external UID" not in refused(factories.client(uid_external="   "))


def test_source_ids_unique_within_a_source_only(db_session):
    one, other = factories.create("clients"), factories.create("clients")
    db_session.add_all([ClientSourceId(client=one, source_system="SMIS", source_client_id="1001"),
                        ClientSourceId(client=other, source_system="EMHware", source_client_id="1001")])
    db_session.flush()
    assert "in that source system" in refused(ClientSourceId(client_id=other.id, source_system="SMIS",
                                                             source_client_id="1001"))


def test_client_names_required_and_birth_date_plausible(db_session):
    assert "First and last name" in refused(Client(first_name=" ", last_name="Smith"))
    assert "1900" in refused(Client(first_name="A", last_name="B", dob=date(1850, 1, 1)))


def test_enrollment_end_not_before_start(db_session):
    message = refused(factories.enrollment(start_date=date(2025, 5, 2), end_date=date(2025, 5, 1)))
    assert message == "The end date cannot be before the start date."


def test_enrollment_subprogram_must_belong_to_its_program(db_session):
    elsewhere = SubProgram(program=factories.program(), name="Elsewhere")
    db_session.add(elsewhere)
    db_session.flush()
    message = refused(factories.enrollment(subprogram_id=elsewhere.id))
    if db_session.get_bind().dialect.name == "postgresql":  # SQLite does not name the foreign key it enforced
        assert "must belong to the enrollment's program" in message


def test_clients_may_hold_concurrent_enrollments(db_session):
    client = factories.create("clients")
    db_session.add_all([factories.enrollment(client=client, start_date=date(2025, 1, 1)) for _ in range(3)])
    db_session.flush()
    assert client.enrollments.count() == 3


@pytest.mark.parametrize("scope,with_program", [("org", True), ("program", False)])
def test_restriction_scope_and_program_agree(db_session, scope, with_program):
    program = factories.create("programs") if with_program else None
    message = refused(factories.restriction(scope=scope, program=program))
    assert "organisation-wide restriction has no program" in message


def test_restriction_scope_is_org_or_program(db_session):
    assert refused(factories.restriction(scope="site"))


def test_indefinite_restriction_has_no_end_date(db_session):
    message = refused(factories.restriction(is_indefinite=True, end_date=date(2030, 1, 1)))
    assert "indefinite restriction cannot have an end date" in message


def test_restrictions_survive_their_client(db_session):
    restriction = factories.create("service_restrictions")
    with pytest.raises(IntegrityError):
        with db.session.begin_nested(), audit.bulk_write():
            db.session.execute(sa.delete(Client).where(Client.id == restriction.client_id))
    assert db_session.get(ServiceRestriction, restriction.id) is not None


def test_duplicate_pair_distinct_and_unique(db_session):
    one, other = factories.create("clients"), factories.create("clients")
    assert "itself" in refused(ClientDuplicate(primary_client=one, duplicate_client=one, similarity_score=1,
                                               match_type="x", confidence_level="high"))
    db_session.add(ClientDuplicate(primary_client=one, duplicate_client=other, similarity_score=0.9,
                                   match_type="x", confidence_level="high"))
    db_session.flush()
    assert "already flagged" in refused(ClientDuplicate(primary_client=one, duplicate_client=other,
                                                        similarity_score=0.8, match_type="y",
                                                        confidence_level="low"))


def test_option_values_unique_per_list_ignoring_case(db_session):
    assert "already in the list" in refused(ChoiceOption(list_key="gender", value="WOMAN"))
    db_session.add(ChoiceOption(list_key="race", value="Woman"))
    db_session.flush()


def test_declined_change_needs_reviewer_and_rationale(db_session):
    requester = factories.create("staff")
    assert refused(PendingChange(entity="clients", entity_id=uuid.uuid4(), operation="update",
                                 requested_by=requester, status="declined", reviewed_by=requester,
                                 reviewed_at=sa.func.current_timestamp()))
    assert refused(PendingChange(entity="clients", operation="update", requested_by=requester))
