"""The visibility rule: who sees which programs and clients."""

from datetime import date

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    AuditLog, Client, ClientDuplicate, Department, DepartmentLeaderAssignment, EmailLog, Notification,
    PendingChange, ProgramManagerAssignment, StaffClientAssignment, StaffProgramAssignment,
)
from app.permissions import Action, Role, may
from app.services.scope import (
    TABLE_SCOPES, Unscoped, may_see_client, restrict, scope_of, visible_client_ids, visible_program_ids,
)
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


@pytest.mark.parametrize("role", ["Manager", "Leader", "Staff"])
def test_a_page_of_clients_and_a_count_of_them_all_apply_one_rule(two_programs, role):
    """The clients list checks visibility row by row, the dashboard's count reads the visible set:
    both must let through exactly the same clients."""
    a, b, client_a, client_b, loose = two_programs
    person = make_staff(role)
    db.session.add_all({
        "Manager": [ProgramManagerAssignment(staff=person, program=a)],
        "Leader": [DepartmentLeaderAssignment(staff=person, department=b.department)],
        "Staff": [StaffProgramAssignment(staff=person, program=b), StaffClientAssignment(staff=person, client=loose)],
    }[role])
    db.session.commit()
    page = ids(restrict(sa.select(Client.id), Client, person))
    counted = ids(restrict(sa.select(Client.id), Client, person, whole_scope=True))
    expected = {"Manager": {client_a.id}, "Leader": {client_b.id}, "Staff": {client_b.id, loose.id}}[role]
    assert page == counted == expected


def test_inactive_assignment_grants_nothing(two_programs):
    a, *_ = two_programs
    staff = make_staff("Staff")
    db.session.add(StaffProgramAssignment(staff=staff, program=a, is_active=False))
    db.session.commit()
    assert ids(visible_client_ids(staff)) == set()


def test_every_table_declares_a_visibility_rule(app):
    assert sorted(TABLE_SCOPES) == sorted(t.name for t in db.metadata.sorted_tables)


RESTRICTED_ROLES = (Role.STAFF, Role.MANAGER, Role.LEADER)
READS = (Action.LIST, Action.DETAILS, Action.EXPORT)


def _reaches_clients(table: sa.Table, seen: frozenset = frozenset()) -> bool:
    """True when a foreign key of ``table``, directly or through the tables it points at, leads to a client."""
    for key in table.foreign_keys:
        target = key.column.table
        if target.name == "clients" or (target.name not in seen and _reaches_clients(target, seen | {table.name})):
            return True
    return False


def _holds_text(column: sa.Column) -> bool:
    return isinstance(column.type, (sa.String, sa.Text, sa.JSON)) or "json" in type(column.type).__name__.lower()


def test_no_table_a_restricted_role_reads_unscoped_holds_client_data(app):
    """Every model, from the registry: a table left unscoped that a Staff member, Manager or
    Leader can read must hold no client's id, no link to a client and no free text that was
    not vouched to be about someone other than a client."""
    problems = []
    for mapper in db.Model.registry.mappers:
        table = mapper.class_.__table__
        if not isinstance(scope_of(mapper.class_), Unscoped):
            continue
        readers = [role for role in RESTRICTED_ROLES if any(may({role}, table.name, action) for action in READS)]
        if not readers:
            continue
        if _reaches_clients(table):
            problems.append(f"{table.name} links to a client and is readable unscoped by {readers}")
        problems += [f"{table.name}.{c.name} may hold a client id" for c in table.columns if "client" in c.name]
        vouched = scope_of(mapper.class_).text_without_clients
        problems += [f"{table.name}.{c.name} is free text no rule vouches for, readable by {readers}"
                     for c in table.columns if _holds_text(c) and c.name not in vouched]
    assert not problems


def test_restriction_alerts_in_the_send_log_follow_their_client(two_programs):
    a, b, client_a, client_b, loose = two_programs
    staff = make_staff("Staff")
    db.session.add(StaffProgramAssignment(staff=staff, program=a))
    def alert(about):
        return EmailLog(recipient_email="r@x.example", subject=f"New service restriction: {about}",
                        email_type="restriction_new", client_id=about.id if about is not None else None)

    about_a, about_b, lost = alert(client_a), alert(client_b), alert(None)
    report = EmailLog(recipient_email="r@x.example", subject="Daily report", email_type="report")
    db.session.add_all([about_a, about_b, lost, report])
    db.session.commit()
    assert ids(restrict(sa.select(EmailLog.id), EmailLog, staff)) == {about_a.id, report.id}
    assert ids(restrict(sa.select(EmailLog.id), EmailLog, make_staff("Staff"))) == {report.id}
    assert len(ids(restrict(sa.select(EmailLog.id), EmailLog, make_staff("Coordinator")))) >= 4


def test_a_table_without_a_rule_is_an_error_not_everything():
    class Stray:
        __tablename__ = "stray"
    with pytest.raises(LookupError):
        scope_of(Stray)


def test_leader_sees_the_department_they_lead_even_without_programs(db_session):
    led, other = factories.department(), factories.department()
    db.session.add_all([led, other])
    leader = make_staff("Leader")
    db.session.add(DepartmentLeaderAssignment(staff=leader, department=led))
    db.session.commit()
    assert ids(restrict(sa.select(Department.id), Department, leader)) == {led.id}


def test_duplicate_pair_is_visible_only_when_both_people_are(two_programs):
    a, b, client_a, client_b, loose = two_programs
    inside_pair = ClientDuplicate(primary_client=client_a, duplicate_client=factories.enrollment(program=a).client,
                                  similarity_score=0.9, match_type="name_dob", confidence_level="high")
    mixed_pair = ClientDuplicate(primary_client=client_a, duplicate_client=client_b, similarity_score=0.9,
                                 match_type="name_dob", confidence_level="high")
    db.session.add_all([inside_pair, mixed_pair])
    manager = make_staff("Manager")
    db.session.add(ProgramManagerAssignment(staff=manager, program=a))
    db.session.commit()
    assert ids(restrict(sa.select(ClientDuplicate.id), ClientDuplicate, manager)) == {inside_pair.id}


def test_audit_rows_follow_the_client_and_the_record(two_programs):
    a, b, client_a, client_b, loose = two_programs
    staff = make_staff("Staff")
    db.session.add(StaffProgramAssignment(staff=staff, program=a))
    db.session.commit()
    visible = set(db.session.scalars(restrict(sa.select(AuditLog), AuditLog, staff)))
    about = {(row.entity, row.entity_id) for row in visible}
    assert ("clients", client_a.id) in about
    assert ("programs", a.id) in about
    assert all(row.client_id in (None, client_a.id) for row in visible)
    assert ("programs", b.id) not in about and ("clients", client_b.id) not in about
    assert not {row.entity for row in visible} & {"staff_program_assignments", "staff"}, \
        "a Staff member does not read the trail of screens they cannot open"


def test_proposals_of_others_about_records_out_of_scope_are_hidden(two_programs):
    a, b, client_a, client_b, loose = two_programs
    manager = make_staff("Manager")
    other = factories.staff_member()
    db.session.add(ProgramManagerAssignment(staff=manager, program=a))
    mine = PendingChange(entity="clients", entity_id=None, operation="create", requested_by=manager)
    about_mine = PendingChange(entity="programs", entity_id=a.id, operation="update", requested_by=other)
    about_other = PendingChange(entity="clients", entity_id=client_b.id, operation="update", requested_by=other)
    db.session.add_all([mine, about_mine, about_other])
    db.session.commit()
    assert ids(restrict(sa.select(PendingChange.id), PendingChange, manager)) == {mine.id, about_mine.id}


def test_notifications_are_each_persons_own(db_session):
    staff, other = make_staff("Staff"), factories.staff_member()
    own = Notification(staff=staff, title="Mine", message="x")
    db.session.add_all([own, Notification(staff=other, title="Theirs", message="x")])
    db.session.commit()
    assert ids(restrict(sa.select(Notification.id), Notification, staff)) == {own.id}


def test_the_same_query_for_two_people_gives_each_their_own_rows(two_programs):
    """The scope's SQL is cached by shape; each person's ids must still reach the database."""
    a, b, client_a, client_b, loose = two_programs
    first, second = make_staff("Staff"), make_staff("Staff")
    db.session.add_all([StaffProgramAssignment(staff=first, program=a), StaffProgramAssignment(staff=second, program=b)])
    db.session.commit()
    assert ids(restrict(sa.select(Client.id), Client, first)) == {client_a.id}
    assert ids(restrict(sa.select(Client.id), Client, second)) == {client_b.id}


def test_a_client_enrolled_twice_in_scope_is_counted_once(db_session):
    """A Manager's and a Leader's client count: distinct clients, not their enrollments."""
    from app.services.scope import visible_client_count

    department = factories.department()
    first, second = factories.program(department=department), factories.program(department=department)
    outside = factories.program()
    both = factories.client()
    twice = factories.client()
    rows = [factories.enrollment(client=both, program=first), factories.enrollment(client=both, program=second),
            factories.enrollment(client=twice, program=first, end_date=date(2024, 2, 1), status="completed"),
            factories.enrollment(client=twice, program=first, start_date=date(2024, 3, 1)),
            factories.enrollment(program=second), factories.enrollment(program=outside)]
    db.session.add_all(rows)
    manager, leader = make_staff("Manager"), make_staff("Leader")
    db.session.add_all([ProgramManagerAssignment(staff=manager, program=first),
                        ProgramManagerAssignment(staff=manager, program=second),
                        DepartmentLeaderAssignment(staff=leader, department=department)])
    db.session.commit()
    expected = len({row.client_id for row in rows if row.program in (first, second)})
    assert expected == 3
    for person in (manager, leader):
        assert visible_client_count(person) == expected
        assert len(list(db.session.scalars(visible_client_ids(person)))) == expected
