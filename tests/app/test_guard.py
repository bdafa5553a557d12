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
