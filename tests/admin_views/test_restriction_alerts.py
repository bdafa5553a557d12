"""A restriction saved on the screen is announced to subscribers; the sent-emails screen never shows a kept message."""

import sqlalchemy as sa

from app.extensions import db
from app.models import Notification, RestrictionNotificationSubscription
from app.services import mail
from tests import factories
from tests.admin_views.forms import form_data
from tests.conftest import csrf_token, make_staff


def _view(app, table):
    return next(v for v in app.extensions["ccd_admin"]._views if getattr(v, "rule_key", None) == table)


def test_restriction_created_on_the_screen_reaches_the_subscribers_bell(app, client, sign_in_as):
    watcher = make_staff("Coordinator")
    db.session.add(RestrictionNotificationSubscription(staff_id=watcher.id, by_email=False))
    db.session.commit()
    restricted = factories.create("clients")
    coordinator = sign_in_as("Coordinator")
    token = csrf_token(client, "/admin/service_restrictions/new/")
    payload = form_data(_view(app, "service_restrictions"), token, coordinator) | {"client": str(restricted.id)}

    response = client.post("/admin/service_restrictions/new/", data=payload)

    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    notices = db.session.scalars(sa.select(Notification).where(Notification.staff_id == watcher.id)).all()
    assert [n.title for n in notices] == [f"New service restriction: {restricted.last_name}, {restricted.first_name}"]


def test_sent_email_details_do_not_show_the_kept_message(client, sign_in_as):
    sign_in_as("Administrator")
    log = mail.queue_email(key="screen:1", email_type="report", build=lambda: mail.build_message(
        to="r@agency.example", subject="Kept", text="Client: Secret, Person"))
    db.session.commit()
    page = client.get(f"/admin/email_logs/details/?id={log.id}").get_data(as_text=True)
    assert "Kept" in page and "Secret, Person" not in page
