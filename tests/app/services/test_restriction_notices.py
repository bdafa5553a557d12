"""Restriction alerts: told once per restriction per event, only about clients one may see."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import EmailLog, Notification, RestrictionNotificationSubscription, StaffProgramAssignment
from app.services import restriction_notices
from tasks.restrictions import notify_restrictions
from tests import factories
from tests.conftest import make_staff

TODAY = date(2026, 3, 10)


def subscribe(staff, **settings):
    subscription = RestrictionNotificationSubscription(staff_id=staff.id, **settings)
    db.session.add(subscription)
    db.session.commit()
    return subscription


def notices(staff, event=None):
    query = sa.select(Notification).where(Notification.staff_id == staff.id)
    if event:
        query = query.where(Notification.event == event)
    return db.session.scalars(query.order_by(Notification.created_at)).all()


def emails_to(address):
    return db.session.scalars(sa.select(EmailLog).where(EmailLog.recipient_email == address)).all()


@pytest.fixture
def program_with_client(db_session):
    enrollment = factories.enrollment(start_date=date(2025, 1, 1))
    db.session.add(enrollment)
    db.session.commit()
    return enrollment.program, enrollment.client


def test_new_restriction_is_announced_after_commit_in_app_and_by_email(program_with_client, smtp_server):
    program, client = program_with_client
    coordinator = make_staff("Coordinator")
    subscribe(coordinator, email="alerts@agency.example")
    restriction = factories.restriction(client=client, scope="program", program=program, is_bill_168=True,
                                        start_date=date.today(), end_date=date.today() + timedelta(days=30))
    db.session.add(restriction)
    db.session.flush()
    assert notices(coordinator) == [], "nothing is announced before the transaction commits"
    db.session.commit()

    [notice] = notices(coordinator, "new")
    assert client.last_name in notice.title and notice.restriction_id == restriction.id
    assert "Bill 168 (workplace violence): Yes" in notice.message and program.name in notice.message
    assert notice.link == f"/admin/service_restrictions/details/?id={restriction.id}" and not notice.is_read
    [message] = smtp_server.messages
    assert message["To"] == "alerts@agency.example" and client.last_name in message["Subject"]
    assert f"/admin/service_restrictions/details/?id={restriction.id}" in message.get_body(("plain",)).get_content()
    [log] = emails_to("alerts@agency.example")
    assert log.client_id == client.id, "the send log row names its client, so it is scoped like the client"


def test_a_rolled_back_restriction_is_never_announced(program_with_client):
    program, client = program_with_client
    coordinator = make_staff("Coordinator")
    subscribe(coordinator)
    db.session.add(factories.restriction(client=client))
    db.session.flush()
    db.session.rollback()
    db.session.add(factories.client())
    db.session.commit()
    assert notices(coordinator) == []


def test_subscriber_who_may_not_see_the_client_is_not_told(program_with_client, smtp_server):
    program, client = program_with_client
    outsider = make_staff("Staff")  # no program, no client: sees nobody
    insider = make_staff("Staff")
    db.session.add(StaffProgramAssignment(staff=insider, program=program))
    db.session.commit()
    subscribe(outsider)
    subscribe(insider)
    db.session.add(factories.restriction(client=client))
    db.session.commit()
    assert notices(outsider) == [] and emails_to(outsider.email) == []
    assert len(notices(insider)) == 1 and [m["To"] for m in smtp_server.messages] == [insider.email]


def test_expiring_job_twice_in_a_day_tells_each_person_once(program_with_client, smtp_server):
    program, client = program_with_client
    restriction = factories.restriction(client=client, start_date=date(2026, 1, 1), end_date=TODAY + timedelta(days=3))
    db.session.add(restriction)
    db.session.commit()
    first, second = make_staff("Coordinator"), make_staff("Administrator")
    subscribe(first, notify_new=False)
    subscribe(second, notify_new=False, by_email=False)

    notify_restrictions.delay(TODAY.isoformat())
    notify_restrictions.delay(TODAY.isoformat())
    restriction_notices.notify_expiring(lambda log_id: pytest.fail("emailed twice"), TODAY + timedelta(days=1))

    assert [n.restriction_id for n in notices(first, "expiring")] == [restriction.id]
    assert [n.restriction_id for n in notices(second, "expiring")] == [restriction.id]
    assert len(emails_to(first.email)) == 1 and emails_to(second.email) == []
    assert [m["To"] for m in smtp_server.messages] == [first.email]
    assert "ends " + restriction.end_date.isoformat() in smtp_server.messages[0]["Subject"]


def test_expiring_window_is_each_persons_own(program_with_client):
    program, client = program_with_client
    soon = factories.restriction(client=client, start_date=date(2026, 1, 1), end_date=TODAY + timedelta(days=2))
    later = factories.restriction(client=client, start_date=date(2026, 1, 1), end_date=TODAY + timedelta(days=20))
    over = factories.restriction(client=client, start_date=date(2026, 1, 1), end_date=TODAY - timedelta(days=1))
    archived = factories.restriction(client=client, start_date=date(2026, 1, 1), end_date=TODAY + timedelta(days=1),
                                     is_archived=True)
    db.session.add_all([soon, later, over, archived])
    db.session.commit()
    week, month, none = make_staff("Coordinator"), make_staff("Coordinator"), make_staff("Coordinator")
    subscribe(week, notify_new=False, by_email=False)
    subscribe(month, notify_new=False, by_email=False, expiring_within_days=30)
    subscribe(none, notify_new=False, notify_expiring=False, by_email=False)

    restriction_notices.notify_expiring(lambda log_id: None, TODAY)

    assert {n.restriction_id for n in notices(week)} == {soon.id}
    assert {n.restriction_id for n in notices(month)} == {soon.id, later.id}
    assert notices(none) == []


def test_restriction_already_over_when_entered_is_not_announced_as_new(program_with_client):
    program, client = program_with_client
    coordinator = make_staff("Coordinator")
    subscribe(coordinator)
    db.session.add(factories.restriction(client=client, start_date=date(2015, 1, 1), end_date=date(2016, 1, 1)))
    db.session.commit()
    assert notices(coordinator) == []


def test_daily_sweep_tells_about_recent_new_restrictions_the_after_commit_task_missed(program_with_client):
    program, client = program_with_client
    restriction = factories.restriction(client=client, start_date=date.today())
    db.session.add(restriction)
    db.session.commit()
    late = make_staff("Coordinator")
    subscribe(late, by_email=False)  # subscribed after the restriction was announced

    first = restriction_notices.sweep_new(lambda log_id: None)
    again = restriction_notices.sweep_new(lambda log_id: None)

    assert [n.restriction_id for n in notices(late, "new")] == [restriction.id]
    assert (first.in_app, again.in_app, again.already_told) == (1, 0, 1)


def test_inactive_staff_are_not_told(program_with_client):
    program, client = program_with_client
    gone = make_staff("Coordinator")
    subscribe(gone, by_email=False)
    gone.active = False
    db.session.commit()
    db.session.add(factories.restriction(client=client))
    db.session.commit()
    assert notices(gone) == []


def test_notify_restrictions_command_runs_the_daily_job(app, program_with_client):
    program, client = program_with_client
    db.session.add(factories.restriction(client=client, start_date=date(2026, 1, 1), end_date=TODAY))
    db.session.commit()
    coordinator = make_staff("Coordinator")
    subscribe(coordinator, by_email=False)
    result = app.test_cli_runner().invoke(args=["ccd", "notify-restrictions", "--date", TODAY.isoformat()])
    assert result.exit_code == 0, result.output
    assert "Ending soon: 1 in-app notice(s)" in result.output
    assert len(notices(coordinator, "expiring")) == 1


def test_save_subscription_refuses_bad_settings(db_session):
    staff = make_staff("Staff")
    with pytest.raises(restriction_notices.SubscriptionError, match="between 1 and 365"):
        restriction_notices.save_subscription(staff, notify_new=True, notify_expiring=True, expiring_within_days=0,
                                              by_email=True, in_app=True, email=None)
    with pytest.raises(restriction_notices.SubscriptionError, match="not an email address"):
        restriction_notices.save_subscription(staff, notify_new=True, notify_expiring=True, expiring_within_days=7,
                                              by_email=True, in_app=True, email="nobody")
    assert restriction_notices.subscription_for(staff) is None


def test_many_new_restrictions_at_once_are_announced_in_batches(program_with_client, monkeypatch):
    program, client = program_with_client
    monkeypatch.setattr(restriction_notices, "ID_BATCH", 2)
    coordinator = make_staff("Coordinator")
    subscribe(coordinator, by_email=False)
    db.session.add_all([factories.restriction(client=client) for _ in range(5)])
    db.session.commit()
    assert len(notices(coordinator, "new")) == 5
