"""Each person's own pages: bell, notifications, alert settings, account and password, and Help."""

import sqlalchemy as sa

from app.extensions import db
from app.models import Notification, RestrictionNotificationSubscription
from tests import factories
from tests.conftest import TEST_PASSWORD, csrf_token, make_staff


def notify(staff, title="New service restriction: Doe, Jane", **kw):
    notice = Notification(staff_id=staff.id, title=title, message="Client: Doe, Jane\nScope: Organisation-wide",
                          link="/admin/service_restrictions/", **kw)
    db.session.add(notice)
    db.session.commit()
    return notice


def test_bell_counts_only_my_unread_notifications(client, sign_in_as):
    me = sign_in_as("Staff")
    notify(me)
    notify(me)
    notify(me, is_read=True)
    notify(make_staff("Staff"))
    page = client.get("/admin/").get_data(as_text=True)
    assert 'aria-label="Notifications: 2 unread"' in page


def test_list_shows_my_notifications_escaped_and_not_others(client, sign_in_as):
    me = sign_in_as("Staff")
    notify(me, title="<script>alert(1)</script> Doe")
    notify(make_staff("Staff"), title="Someone else's alert")
    page = client.get("/admin/inbox/").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Doe" in page and "<script>alert(1)" not in page
    assert "Someone else" not in page


def test_mark_read_changes_only_my_own_and_needs_the_form_token(client, sign_in_as):
    me = sign_in_as("Staff")
    mine, theirs = notify(me), notify(make_staff("Staff"))
    token = csrf_token(client, "/admin/inbox/")

    refused = client.post("/admin/inbox/read", data={"id": str(mine.id)})
    assert refused.status_code == 400
    db.session.refresh(mine)
    assert not mine.is_read, "without the CSRF token nothing changes"

    client.post("/admin/inbox/read", data={"id": [str(mine.id), str(theirs.id), "not-a-uuid"], "csrf_token": token})
    db.session.refresh(mine)
    db.session.refresh(theirs)
    assert mine.is_read and mine.read_at is not None
    assert not theirs.is_read, "another person's notification cannot be marked through my form"


def test_mark_all_read_empties_the_bell(client, sign_in_as):
    me = sign_in_as("Staff")
    other = make_staff("Staff")
    notify(me)
    notify(me)
    notify(other)
    response = client.post("/admin/inbox/read-all", data={"csrf_token": csrf_token(client, "/admin/inbox/")},
                           follow_redirects=True)
    assert "2 notification(s) marked read." in response.get_data(as_text=True)
    assert 'aria-label="Notifications: 0 unread"' in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)
                             .where(Notification.staff_id == other.id, Notification.is_read.is_(False))) == 1


def _my_subscription(staff):
    return db.session.scalar(sa.select(RestrictionNotificationSubscription)
                             .where(RestrictionNotificationSubscription.staff_id == staff.id))


def test_staff_member_saves_and_stops_their_own_alerts(client, sign_in_as):
    me = sign_in_as("Staff")
    assert "You are not subscribed yet" in client.get("/admin/my-alerts/").get_data(as_text=True)
    token = csrf_token(client, "/admin/my-alerts/")
    saved = client.post("/admin/my-alerts/", data={
        "csrf_token": token, "notify_new": "y", "expiring_within_days": "14", "in_app": "y",
        "email": "me.elsewhere@agency.example",
    }, follow_redirects=True)
    assert "Your restriction alert settings are saved." in saved.get_data(as_text=True)
    subscription = _my_subscription(me)
    assert (subscription.notify_new, subscription.notify_expiring, subscription.expiring_within_days,
            subscription.in_app, subscription.by_email, subscription.email) == (
        True, False, 14, True, False, "me.elsewhere@agency.example")

    client.post("/admin/my-alerts/unsubscribe", data={"csrf_token": token})
    assert _my_subscription(me) is None


def test_bad_alert_settings_are_refused_and_nothing_is_saved(client, sign_in_as):
    me = sign_in_as("Staff")
    token = csrf_token(client, "/admin/my-alerts/")
    for bad in ({"expiring_within_days": "0"}, {"expiring_within_days": "7", "email": "not-an-email"}):
        page = client.post("/admin/my-alerts/", data={"csrf_token": token, "notify_new": "y", **bad})
        assert "nothing was saved" in page.get_data(as_text=True)
    assert _my_subscription(me) is None


def test_pages_need_sign_in(client, db_session):
    assert client.get("/admin/inbox/").status_code == 302
    assert client.get("/admin/my-alerts/").status_code == 302


def test_administrator_manages_anyones_subscription_on_the_settings_screen(client, sign_in_as):
    sign_in_as("Administrator")
    subscription = factories.create("restriction_notification_subscriptions")
    page = client.get("/admin/restriction_notification_subscriptions/").get_data(as_text=True)
    assert subscription.staff.last_name in page


# --- My account and Help ------------------------------------------------------------------------

NEW_PASSWORD = "walnut-harbour-47-kettle"


def test_my_account_shows_roles_and_the_programs_whose_clients_i_see(client, sign_in_as, db_session):
    staff = sign_in_as("Staff")
    mine, other = factories.program(name="Bridging Steps to Support"), factories.program(name="Somali Program")
    factories.give_program(staff, mine)
    db_session.commit()
    page = client.get("/admin/my-account/").get_data(as_text=True)
    assert "Front-line staff" in page
    programs = page.split('id="ccd-my-programs"')[1].split("</dd>")[0]
    assert "Bridging Steps to Support" in programs and other.name not in programs


def test_changing_my_password_needs_the_current_one_and_keeps_the_rules(client, sign_in_as, db_session):
    staff = sign_in_as("Staff")
    token = csrf_token(client, "/admin/my-account/")
    wrong = client.post("/admin/my-account/password", data={
        "csrf_token": token, "current_password": "not-my-password-1", "new_password": NEW_PASSWORD,
        "confirmation": NEW_PASSWORD})
    assert wrong.status_code == 400 and "current password is not right" in wrong.get_data(as_text=True)
    assert staff.user.failed_sign_ins == 1
    weak = client.post("/admin/my-account/password", data={
        "csrf_token": token, "current_password": TEST_PASSWORD, "new_password": "password1234",
        "confirmation": "password1234"})
    assert weak.status_code == 400 and staff.user.check_password(TEST_PASSWORD)
    done = client.post("/admin/my-account/password", data={
        "csrf_token": token, "current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD,
        "confirmation": NEW_PASSWORD})
    assert done.status_code == 302
    db_session.refresh(staff.user)
    assert staff.user.check_password(NEW_PASSWORD) and not staff.user.check_password(TEST_PASSWORD)
    assert client.get("/admin/my-account/").status_code == 200  # this session carries on


def test_help_shows_my_roles_guide_and_is_linked_from_every_page(client, sign_in_as):
    sign_in_as("Manager")
    home = client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/help/"' in home and 'href="/admin/my-account/"' in home
    page = client.get("/admin/help/").get_data(as_text=True)
    assert 'id="help-manager"' in page and "goes to a Coordinator for approval" in page
    assert 'id="help-administrator"' not in page


def test_account_and_help_need_a_sign_in(client, db_session):
    for path in ("/admin/my-account/", "/admin/help/"):
        assert client.get(path).status_code == 302
