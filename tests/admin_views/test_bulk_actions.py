"""Bulk actions from the list screens: the action asks its parameters, then reports each row's outcome."""

from datetime import date

import sqlalchemy as sa

from app.extensions import db
from app.models import Enrollment, PendingChange, Program
from tests import factories
from tests.conftest import csrf_token, make_staff, sign_in


def _ask(client, screen, action, ids):
    return client.post(f"/admin/{screen}/action/", data={
        "action": action, "rowid": [str(i) for i in ids], "csrf_token": csrf_token(client, "/admin/")})


def _run(client, screen, action, ids, **params):
    return client.post(f"/admin/{screen}/bulk/{action}/", data={
        **params, "rowid": [str(i) for i in ids], "csrf_token": csrf_token(client, "/admin/")},
        follow_redirects=True)


def test_a_coordinator_is_asked_the_program_and_date_then_the_clients_are_enrolled(client, db_session,
                                                                                   sign_in_as):
    program = factories.create("programs")
    first, second = factories.create("clients"), factories.create("clients")
    sign_in_as("Coordinator")
    page = _ask(client, "clients", "enroll", [first.id, second.id])
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Enroll the selected clients in a program" in text
    assert str(first.id) in text and program.name in text and "2 row(s) selected" in text
    done = _run(client, "clients", "enroll", [first.id, second.id], program=str(program.id),
                start_date="2025-03-01")
    assert "Enrollments: 2 done." in done.get_data(as_text=True)
    enrolled = db.session.scalars(sa.select(Enrollment.client_id).where(Enrollment.program_id == program.id)).all()
    assert set(enrolled) == {first.id, second.id}


def test_missing_parameters_show_the_form_again_and_write_nothing(client, db_session, sign_in_as):
    someone = factories.create("clients")
    sign_in_as("Coordinator")
    page = _run(client, "clients", "enroll", [someone.id], program="", start_date="")
    assert page.status_code == 200 and 'id="ccd-bulk-form"' in page.get_data(as_text=True)
    assert db.session.scalars(sa.select(Enrollment).where(Enrollment.client_id == someone.id)).all() == []


def test_a_managers_bulk_end_becomes_proposals_and_an_out_of_scope_row_is_reported(client, db_session):
    manager = make_staff("Manager")
    mine = factories.create("client_program_enrollments", visible_to=manager)
    outsider = factories.create("client_program_enrollments")
    sign_in(client, manager)
    page = _run(client, "client_program_enrollments", "end", [mine.id, outsider.id], end_date="2025-03-01",
                reason="Other")
    text = page.get_data(as_text=True)
    assert "1 submitted for approval" in text
    assert "1 selected row(s) were not found, or are not in the programs you work with." in text
    assert str(outsider.id) not in text
    changes = db.session.scalars(sa.select(PendingChange).where(PendingChange.requested_by_id == manager.id)).all()
    assert {(c.entity, c.operation) for c in changes} == {("client_program_enrollments", "update"),
                                                          ("discharges", "create")}
    db.session.expire_all()
    assert mine.end_date is None and outsider.end_date is None


def test_the_move_and_manager_actions_are_offered_on_programs(client, db_session, sign_in_as):
    program = factories.create("programs")
    target = factories.create("departments")
    sign_in_as("Coordinator")
    done = _run(client, "programs", "move", [program.id], department=str(target.id))
    assert "Programs &amp; Services: 1 done." in done.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Program, program.id).department_id == target.id


def test_an_administrator_assigns_managers_to_programs(client, db_session, sign_in_as):
    program = factories.create("programs")
    manager = make_staff("Manager")
    sign_in_as("Administrator")
    page = _ask(client, "programs", "manager", [program.id])
    assert manager.email in page.get_data(as_text=True)


def test_a_coordinator_may_not_assign_managers(client, db_session, sign_in_as):
    """A program's manager sees its clients: assigning one follows the one rule for granting visibility
    (permissions.may_grant_visibility), which a Coordinator does not hold."""
    program = factories.create("programs")
    sign_in_as("Coordinator")
    assert _ask(client, "programs", "manager", [program.id]).status_code == 403


def test_roles_that_change_nothing_are_refused_the_bulk_actions(client, db_session, sign_in_as):
    program = factories.create("programs")
    someone = factories.create("clients")
    sign_in_as("Analyst")
    assert _ask(client, "clients", "enroll", [someone.id]).status_code == 403
    refused = client.post("/admin/clients/bulk/enroll/", data={
        "program": str(program.id), "start_date": date(2025, 3, 1).isoformat(), "rowid": [str(someone.id)],
        "csrf_token": csrf_token(client, "/admin/")})
    assert refused.status_code == 403
    assert "Enroll in a program" not in client.get("/admin/clients/").get_data(as_text=True)
    assert db.session.scalars(sa.select(Enrollment).where(Enrollment.client_id == someone.id)).all() == []
