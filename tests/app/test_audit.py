"""Every write leaves one audit row in the same transaction, whichever path made it, and the trail cannot be rewritten."""

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from app import audit
from app.extensions import db
from app.models import AuditLog, Client, Staff
from tests import factories
from tests.conftest import CSRF_PATTERN, TEST_PASSWORD, make_staff, on_postgres, sign_in


def rows_for(entity_id):
    return db.session.scalars(
        sa.select(AuditLog).where(AuditLog.entity_id == entity_id).order_by(AuditLog.changed_at)
    ).all()


def test_create_update_archive_delete_by_a_signed_in_person(request_as):
    coordinator = request_as("Coordinator")
    department = factories.department(name="Housing")
    db.session.add(department)
    db.session.commit()
    department.name = "Housing Services"
    db.session.commit()
    department.is_archived = True
    db.session.commit()
    db.session.delete(department)
    db.session.commit()

    created, updated, archived, deleted = rows_for(department.id)
    assert [r.action for r in (created, updated, archived, deleted)] == ["create", "update", "archive", "delete"]
    assert all(r.changed_by_id == coordinator.id and r.actor_name == coordinator.full_name
               for r in (created, updated, archived, deleted))
    assert created.diff_json["name"] == {"before": None, "after": "Housing"}
    assert updated.diff_json == {"name": {"before": "Housing", "after": "Housing Services"}}
    assert archived.diff_json["is_archived"] == {"before": False, "after": True}
    assert deleted.diff_json["name"] == {"before": "Housing Services", "after": None}


def test_saving_without_a_change_writes_no_row(request_as):
    request_as("Coordinator")
    department = factories.create("departments")
    before = len(rows_for(department.id))
    department.name = department.name
    db.session.commit()
    assert len(rows_for(department.id)) == before


def test_children_rows_carry_their_client_for_the_history(db_session):
    enrollment = factories.create("client_program_enrollments")
    row, = rows_for(enrollment.id)
    assert row.client_id == enrollment.client_id and row.entity == "client_program_enrollments"


def test_a_failed_transaction_leaves_no_audit_row(db_session):
    client = factories.client()
    db.session.add(client)
    db.session.flush()
    client_id = client.id
    db.session.rollback()
    assert rows_for(client_id) == []


def test_passwords_never_reach_the_trail(request_as):
    request_as("Administrator")
    staff = make_staff("Staff")
    staff.user.set_password("another-password-9")
    db.session.commit()
    change, = [r for r in rows_for(staff.user.id) if r.action == "update"]
    assert change.diff_json == {"password_hash": {"before": "(changed)", "after": "(changed)"}}


def test_a_cli_command_is_named_as_the_actor(app, db_session):
    result = app.test_cli_runner().invoke(args=[
        "ccd", "create-user", "--email", "audited@agency.example", "--role", "Staff", "--password", "long-enough-1"])
    assert result.exit_code == 0, result.output
    staff = db.session.scalar(sa.select(Staff).where(Staff.email == "audited@agency.example"))
    row, = rows_for(staff.id)
    assert row.action == "create" and row.changed_by_id is None and row.actor_name == "ccd create-user"


def test_a_celery_task_is_named_as_the_actor(app, db_session):
    celery = app.extensions["celery"]

    @celery.task(name="tests.rename_client")
    def rename_client(client_id):
        db.session.get(Client, uuid.UUID(client_id)).preferred_name = "Renamed by task"
        db.session.commit()

    client = factories.create("clients")
    rename_client.apply(args=[str(client.id)]).get()
    change = rows_for(client.id)[-1]
    assert change.action == "update" and change.actor_name == "task tests.rename_client"
    assert change.diff_json == {"preferred_name": {"before": None, "after": "Renamed by task"}}


def test_audit_action_names_why_a_write_happened(db_session):
    with audit.acting_as("import SMIS"), audit.audit_action("import"):
        client = factories.create("clients")
    row, = rows_for(client.id)
    assert (row.action, row.actor_name) == ("import", "import SMIS")


def test_bulk_statements_cannot_skip_the_trail(db_session):
    client = factories.create("clients")
    with pytest.raises(audit.AuditBypass):
        db.session.execute(sa.update(Client).where(Client.id == client.id).values(preferred_name="x"))


def test_sign_in_and_sign_out_are_recorded(client, db_session):
    staff = make_staff("Staff")
    sign_in(client, staff, TEST_PASSWORD)
    token_page = client.get("/admin/")
    token = CSRF_PATTERN.search(token_page.get_data(as_text=True)).group(1)
    client.post("/logout", data={"csrf_token": token})
    actions = [r.action for r in rows_for(staff.user.id)]
    assert actions[-2:] == ["login", "logout"]
    assert all(r.changed_by_id == staff.id for r in rows_for(staff.user.id) if r.action in ("login", "logout"))


@pytest.mark.parametrize("statement", [
    "UPDATE audit_logs SET action = 'update'",
    "DELETE FROM audit_logs",
])
def test_the_database_refuses_to_rewrite_the_trail(db_session, statement):
    factories.create("clients")
    with pytest.raises(DBAPIError, match="append-only"):
        with db.session.begin_nested():
            db.session.execute(sa.text(statement))


@pytest.mark.postgres_only
def test_postgres_refuses_truncate(db_session):
    with pytest.raises(DBAPIError, match="append-only"):
        with db.session.begin_nested():
            db.session.execute(sa.text("TRUNCATE audit_logs"))


def test_staff_in_the_trail_cannot_be_deleted(request_as):
    from sqlalchemy.exc import IntegrityError

    from app.constraints import explain

    author = make_staff("Coordinator")
    db.session.add(AuditLog(**{k: v for k, v in audit.audit_row("clients", None, "update",
                                                               actor=(author.id, author.full_name)).items()}))
    db.session.commit()
    request_as("Administrator")
    db.session.delete(author)
    with pytest.raises(IntegrityError) as refused:
        db.session.flush()
    expected = "deactivate the staff member" if on_postgres() else "still referred to"  # SQLite names no constraint
    assert expected in explain(refused.value)


def test_a_multi_select_in_another_order_is_no_change_but_a_new_choice_is(request_as):
    request_as("Coordinator")
    record = factories.client(ethnicity=["White – North American", "East Asian"], phone="416-555-0101")
    db.session.add(record)
    db.session.commit()

    record.ethnicity = ["East Asian", "White – North American"]
    record.phone = "416-555-0199"
    db.session.commit()
    record.ethnicity = ["East Asian", "South Asian"]
    db.session.commit()

    _, reordered, changed = rows_for(record.id)
    assert set(reordered.diff_json) == {"phone"}
    assert changed.diff_json["ethnicity"] == {"before": ["East Asian", "White – North American"],
                                              "after": ["East Asian", "South Asian"]}


@pytest.mark.parametrize("before, after, same", [
    (["a", "b"], ["b", "a"], True), (None, [], True), (["a"], ["a", "b"], False), ("x", "x", True),
])
def test_one_rule_says_what_is_no_change(before, after, same):
    from app.services import approvals

    assert audit.same_value("clients", "ethnicity", before, after) is same
    assert approvals.same(before, after, "clients", "ethnicity") is same
    assert audit.same_value("clients", "first_name", ["a", "b"], ["b", "a"]) is False
