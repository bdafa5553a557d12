"""The trail in names: records named through the reader's scope, and an approval naming who proposed it."""

import uuid
from datetime import date

import sqlalchemy as sa

from app import audit
from app.extensions import db
from app.models import AuditLog, PendingChange
from app.services import approvals
from app.services.audit_names import actor_with_requester, approval_requesters, record_names
from tests import factories
from tests.conftest import make_staff


def _saved(row):
    db.session.add(row)
    db.session.commit()
    return row


def test_a_client_is_named_with_their_birth_date_and_only_for_those_who_may_see_them(db_session):
    manager = make_staff("Manager")
    seen = _saved(factories.client(first_name="Lori", last_name="Alexander", dob=date(1971, 5, 5)))
    factories.make_visible(manager, seen)
    hidden = _saved(factories.client(first_name="Hidden", last_name="Person"))
    gone = uuid.uuid4()
    names = record_names([("clients", seen.id), ("clients", hidden.id), ("clients", gone)], manager)
    assert names[("clients", str(seen.id))] == "Client Alexander, Lori (born 1971-05-05)"
    assert names[("clients", str(hidden.id))] == "Client (not in your scope)"
    assert names[("clients", str(gone))] == "Client (no longer on file)"
    coordinator = make_staff("Coordinator")
    assert record_names([("clients", hidden.id)], coordinator)[("clients", str(hidden.id))] == \
        f"Client Person, Hidden (born {hidden.dob:%Y-%m-%d})"


def test_an_approved_edit_names_the_requester_beside_the_approver(db_session, app):
    from flask_login import login_user

    manager, coordinator = make_staff("Manager"), make_staff("Coordinator")
    record = _saved(factories.client(first_name="Before"))
    factories.make_visible_to(manager)
    with app.test_request_context():
        login_user(manager.user)
        change = approvals.propose(manager, "clients", "update", entity_id=record.id, values={"first_name": "After"})
        db.session.commit()
    with app.test_request_context():
        login_user(coordinator.user)
        approvals.approve(change.id, coordinator)
        db.session.commit()
    rows = db.session.scalars(sa.select(AuditLog).where(AuditLog.entity_id == record.id)).all()
    (approved,) = [row for row in rows if row.action == "approve"]
    requesters = approval_requesters(rows)
    assert requesters == {approved.id: manager.full_name}
    assert actor_with_requester(approved, requesters) == \
        f"{coordinator.full_name}, approving the proposal of {manager.full_name}"
    (create,) = [row for row in rows if row.action == "create"]
    assert actor_with_requester(create, requesters) == audit.SYSTEM_ACTOR
