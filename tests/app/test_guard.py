"""The session guard refuses writes the signed-in person's roles do not allow, whatever code makes them."""

from datetime import datetime, timezone

import pytest
from flask_login import current_user

from app.extensions import db
from app.guard import WriteNotPermitted
from app.models import RestrictionNotificationSubscription
from tests import factories
from tests.conftest import make_staff


@pytest.mark.parametrize("roles", [("Manager",), ("Leader",), ("Staff",), ("Analyst",), ()])
def test_direct_writes_refused_below_the_screens(request_as, roles):
    request_as(*roles)
    db.session.add(factories.department())
    with pytest.raises(WriteNotPermitted):
        db.session.flush()


def test_coordinator_writes_records_but_not_staff_accounts(request_as):
    request_as("Coordinator")
    db.session.add(factories.department())
    db.session.flush()
    db.session.add(factories.staff_member())
    with pytest.raises(WriteNotPermitted):
        db.session.flush()


def test_signing_in_may_record_its_own_time_and_nothing_else(request_as):
    request_as("Staff")
    current_user.last_login_at = datetime.now(timezone.utc)
    db.session.flush()
    current_user.password_hash = "forged"
    with pytest.raises(WriteNotPermitted):
        db.session.flush()


def test_system_jobs_outside_a_request_may_write(db_session):
    db_session.add(factories.department())
    db_session.flush()


def test_anyone_may_write_their_own_alert_subscription_and_no_one_elses(request_as):
    other = factories.create("staff")
    me = request_as("Staff")
    own = RestrictionNotificationSubscription(staff_id=me.id, expiring_within_days=14)
    db.session.add(own)
    db.session.flush()
    own.expiring_within_days = 3
    db.session.flush()

    db.session.add(RestrictionNotificationSubscription(staff_id=other.id))
    with pytest.raises(WriteNotPermitted):
        db.session.flush()
    db.session.rollback()

    own = RestrictionNotificationSubscription(staff_id=me.id)
    db.session.add(own)
    db.session.flush()
    own.staff_id = other.id
    with pytest.raises(WriteNotPermitted):
        db.session.flush()


@pytest.mark.parametrize("roles", [("Coordinator",), ("Manager",), ("Leader",)])
def test_only_who_may_grant_visibility_adds_a_program_manager_below_the_screens(db_session, request_as, roles):
    """A Program staff row with is_manager shows that person the program's clients: a grant of
    visibility, refused at flush for a role that may not grant it, whichever table it goes through."""
    from app.models import ProgramStaff, StaffClientAssignment

    program, worker, client = factories.program(), factories.staff_member(), factories.client()
    db_session.add_all([program, worker, client])
    db_session.commit()
    request_as(*roles)
    for row in (ProgramStaff(program=program, staff=worker, is_manager=True),
                StaffClientAssignment(staff=worker, client=client)):
        db.session.add(row)
        with pytest.raises(WriteNotPermitted):
            db.session.flush()
        db.session.rollback()


def test_an_administrator_grants_visibility(db_session, request_as):
    from app.models import ProgramStaff

    program, worker = factories.program(), factories.staff_member()
    db_session.add_all([program, worker])
    db_session.commit()
    request_as("Administrator")
    db.session.add(ProgramStaff(program=program, staff=worker, is_manager=True))
    db.session.flush()
