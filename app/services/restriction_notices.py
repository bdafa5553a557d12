"""Telling subscribed staff about service restrictions: new ones, and ones about to end.

Each staff member is told once per restriction per event, and only about clients they
may see (app/services/scope.py). "Once" is kept by the database, not by memory: an
in-app notice is unique per (staff, restriction, event) in notifications, an email is
unique by its idempotency key in email_logs, so a job that runs twice tells nobody twice.

New restrictions are announced right after the transaction that created them commits,
whichever screen, import or command created them (a session hook, installed by the app
factory); the daily job also sweeps the last days' new restrictions, in case that
after-commit task was lost, and finds those ending within each person's window.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Callable

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from app.celery_app import app_task
from app.extensions import db
from app.models import Notification, RestrictionNotificationSubscription, ServiceRestriction, Staff
from app.services import mail
from app.services.clock import agency_today, day_bounds_utc
from app.services.links import record_path, record_url
from app.services.scope import visible_client_ids

log = logging.getLogger(__name__)

CATEGORY = "service_restriction"
# The daily job re-checks restrictions created this many days back for anyone not yet told.
NEW_SWEEP_DAYS = 2
ID_BATCH = 500
_PENDING_KEY = "ccd_new_restriction_ids"
_PENDING_ENROLLED_KEY = "ccd_enrolled_restriction_ids"


class SubscriptionError(ValueError):
    """Bad subscription settings; the message says what to change."""


@dataclass
class NoticeRun:
    """What one run told whom: counts for the operator, nothing personal."""

    in_app: int = 0
    emails: int = 0
    already_told: int = 0
    people: set = field(default_factory=set)

    def add(self, other: "NoticeRun") -> None:
        self.in_app += other.in_app
        self.emails += other.emails
        self.already_told += other.already_told
        self.people |= other.people

    def describe(self) -> str:
        return (f"{self.in_app} in-app notice(s) and {self.emails} email(s) to {len(self.people)} staff member(s); "
                f"{self.already_told} already told.")


# --- subscriptions ----------------------------------------------------------------------

def subscription_for(staff: Staff) -> RestrictionNotificationSubscription | None:
    return db.session.scalar(sa.select(RestrictionNotificationSubscription)
                             .where(RestrictionNotificationSubscription.staff_id == staff.id))


def save_subscription(staff: Staff, *, notify_new: bool, notify_expiring: bool, expiring_within_days: int,
                      by_email: bool, in_app: bool, email: str | None) -> RestrictionNotificationSubscription:
    """Create or update this person's own alert settings. The caller commits."""
    if not 1 <= int(expiring_within_days) <= 365:
        raise SubscriptionError("The expiring window must be between 1 and 365 days.")
    email = (email or "").strip() or None
    if email is not None and "@" not in email.strip("@"):
        raise SubscriptionError(f"{email!r} is not an email address.")
    subscription = subscription_for(staff)
    if subscription is None:
        subscription = RestrictionNotificationSubscription(staff_id=staff.id)
        db.session.add(subscription)
    subscription.notify_new = notify_new
    subscription.notify_expiring = notify_expiring
    subscription.expiring_within_days = int(expiring_within_days)
    subscription.by_email = by_email
    subscription.in_app = in_app
    subscription.email = email
    return subscription


def _subscribers(event_name: str) -> list[RestrictionNotificationSubscription]:
    # Imports enrolling a restricted client are news about that restriction: told to those who want new ones.
    wants = (RestrictionNotificationSubscription.notify_expiring if event_name == "expiring"
             else RestrictionNotificationSubscription.notify_new)
    return db.session.scalars(
        sa.select(RestrictionNotificationSubscription).join(RestrictionNotificationSubscription.staff)
        .where(wants.is_(True), Staff.active.is_(True),
               sa.or_(RestrictionNotificationSubscription.by_email.is_(True),
                      RestrictionNotificationSubscription.in_app.is_(True)))
        .options(joinedload(RestrictionNotificationSubscription.staff))
        .order_by(Staff.last_name, Staff.first_name, Staff.id)
    ).all()


def _visible(query, staff: Staff):
    clients = visible_client_ids(staff)
    return query if clients is None else query.where(ServiceRestriction.client_id.in_(clients))


# --- the message ------------------------------------------------------------------------

def _dates(restriction: ServiceRestriction) -> str:
    if restriction.end_date:
        return f"from {restriction.start_date.isoformat()} to {restriction.end_date.isoformat()}"
    if restriction.is_indefinite:
        return f"from {restriction.start_date.isoformat()}, indefinite"
    return f"from {restriction.start_date.isoformat()}, no end date"


def describe(restriction: ServiceRestriction, event_name: str) -> tuple[str, list[tuple[str, str]]]:
    """(title, [(label, value)…]) naming the client, scope, program, dates and flags."""
    client = restriction.client
    name = f"{client.last_name}, {client.first_name}"
    if event_name == "new":
        title = f"New service restriction: {name}"
    elif event_name == "enrolled":
        title = f"Import enrolled a restricted client (flagged for review): {name}"
    else:
        title = f"Service restriction ends {restriction.end_date.isoformat()}: {name}"
    details = [
        ("Client", name),
        ("Scope", "Organisation-wide" if restriction.scope == "org" else "One program"),
        ("Program", restriction.program.name if restriction.program else "All programs"),
        ("Dates", _dates(restriction)),
        ("Bill 168 (workplace violence)", "Yes" if restriction.is_bill_168 else "No"),
        ("No trespass", "Yes" if restriction.is_no_trespass else "No"),
    ]
    return title, details


def _compose_email(restriction: ServiceRestriction, event_name: str, to: str):
    title, details = describe(restriction, event_name)
    context = {"title": title, "details": details, "link": record_url("service_restrictions", restriction.id),
               "agency": current_app.config["AGENCY_NAME"]}
    env = current_app.jinja_env
    return mail.build_message(
        to=to, subject=f"{current_app.config['AGENCY_NAME']}: {title}",
        text=env.get_template("email/restriction_notice.txt").render(**context),
        html=env.get_template("email/restriction_notice.html").render(**context),
    )


# --- telling people ---------------------------------------------------------------------

def notice_key(restriction_id, staff_id, event_name: str) -> str:
    return f"restriction_{event_name}:{restriction_id}:{staff_id}"


def _add_notice(staff: Staff, restriction: ServiceRestriction, event_name: str) -> bool:
    """The in-app notice; False when it was already there (the unique constraint says so)."""
    title, details = describe(restriction, event_name)
    notice = Notification(
        staff_id=staff.id, category=CATEGORY, title=title[:255],
        message="\n".join(f"{label}: {value}" for label, value in details),
        link=record_path("service_restrictions", restriction.id), restriction_id=restriction.id,
        event=event_name, data={"client_id": str(restriction.client_id)},
    )
    try:
        with db.session.begin_nested():
            db.session.add(notice)
    except IntegrityError:
        return False
    return True


def _tell(subscription: RestrictionNotificationSubscription, restriction: ServiceRestriction, event_name: str,
          noticed: set, run: NoticeRun, queued: list) -> None:
    staff = subscription.staff
    told = False
    if subscription.in_app and restriction.id not in noticed and _add_notice(staff, restriction, event_name):
        run.in_app += 1
        told = True
    if subscription.by_email:
        to = subscription.email or staff.email
        email_log = mail.queue_email(key=notice_key(restriction.id, staff.id, event_name),
                                     email_type=f"restriction_{event_name}", client_id=restriction.client_id,
                                     build=lambda: _compose_email(restriction, event_name, to))
        if email_log is not None:
            queued.append(email_log.id)
            run.emails += 1
            told = True
    if told:
        run.people.add(staff.id)
    else:
        run.already_told += 1


def _noticed(event_name: str, staff_id, restriction_ids) -> set:
    """Restrictions this person already has an in-app notice about for this event."""
    if not restriction_ids:
        return set()
    return set(db.session.scalars(sa.select(Notification.restriction_id).where(
        Notification.staff_id == staff_id, Notification.event == event_name,
        Notification.restriction_id.in_(restriction_ids))))


def _announce(event_name: str, candidates, dispatch: Callable[[uuid.UUID], object]) -> NoticeRun:
    """Tell each subscriber about the candidate restrictions they may see; commit; then dispatch emails."""
    run, queued = NoticeRun(), []
    for subscription in _subscribers(event_name):
        restrictions = db.session.scalars(_visible(candidates(subscription), subscription.staff)).unique().all()
        noticed = _noticed(event_name, subscription.staff_id, [r.id for r in restrictions])
        for restriction in restrictions:
            _tell(subscription, restriction, event_name, noticed, run, queued)
    db.session.commit()
    for log_id in queued:
        dispatch(log_id)
    return run


def _restriction_query():
    return (sa.select(ServiceRestriction).where(ServiceRestriction.is_archived.is_(False))
            .options(joinedload(ServiceRestriction.client), joinedload(ServiceRestriction.program))
            .order_by(ServiceRestriction.start_date, ServiceRestriction.id))


def notify_new(restriction_ids, dispatch: Callable[[uuid.UUID], object], today: date | None = None) -> NoticeRun:
    """Tell subscribers about these newly created restrictions (those not already over)."""
    today = today or agency_today()
    ids = [uuid.UUID(str(value)) for value in restriction_ids]
    total = NoticeRun()
    for start in range(0, len(ids), ID_BATCH):  # an import may create thousands at once
        batch = ids[start:start + ID_BATCH]

        def candidates(subscription, batch=batch):
            return _restriction_query().where(
                ServiceRestriction.id.in_(batch),
                sa.or_(ServiceRestriction.end_date.is_(None), ServiceRestriction.end_date >= today))

        total.add(_announce("new", candidates, dispatch))
    return total


def notify_expiring(dispatch: Callable[[uuid.UUID], object], today: date | None = None) -> NoticeRun:
    """Tell subscribers about restrictions ending between today and their window's last day."""
    today = today or agency_today()

    def candidates(subscription):
        last_day = today + timedelta(days=subscription.expiring_within_days)
        return _restriction_query().where(ServiceRestriction.end_date.between(today, last_day))

    return _announce("expiring", candidates, dispatch)


def notify_enrolled(restriction_ids, dispatch: Callable[[uuid.UUID], object]) -> NoticeRun:
    """Tell subscribers that an import recorded enrollments despite these restrictions (once per restriction)."""
    ids = [uuid.UUID(str(value)) for value in restriction_ids]
    total = NoticeRun()
    for start in range(0, len(ids), ID_BATCH):
        batch = ids[start:start + ID_BATCH]
        total.add(_announce("enrolled", lambda subscription, batch=batch: _restriction_query().where(
            ServiceRestriction.id.in_(batch)), dispatch))
    return total


def announce_enrollments_after_commit(session: Session, restriction_ids) -> None:
    """Once this transaction commits, tell subscribers about enrollments written despite these restrictions."""
    if restriction_ids:
        session.info.setdefault(_PENDING_ENROLLED_KEY, set()).update(restriction_ids)


def sweep_new(dispatch: Callable[[uuid.UUID], object], today: date | None = None) -> NoticeRun:
    """New-restriction notices for the last days' restrictions, for anyone the after-commit task missed."""
    today = today or agency_today()
    since, _ = day_bounds_utc(today - timedelta(days=NEW_SWEEP_DAYS), today)
    ids = db.session.scalars(sa.select(ServiceRestriction.id).where(
        ServiceRestriction.is_archived.is_(False), ServiceRestriction.created_at >= since)).all()
    return notify_new(ids, dispatch, today)


# --- after-commit hook ------------------------------------------------------------------
# The Celery tasks (tasks/restrictions.py) that send these notices, by their registered names:
# the service queues them through the app's Celery registry and never imports the tasks module.
NEW_RESTRICTIONS_TASK = "ccd.notify_new_restrictions"
RESTRICTED_ENROLLMENTS_TASK = "ccd.notify_restricted_enrollments"


def _collect_new_restrictions(session: Session, flush_context) -> None:
    """after_flush: the new rows have their ids now, and ``session.new`` still lists them."""
    new_ids = [obj.id for obj in session.new if isinstance(obj, ServiceRestriction)]
    if new_ids:
        session.info.setdefault(_PENDING_KEY, []).extend(new_ids)


def _forget_new_restrictions(session: Session, *args) -> None:
    session.info.pop(_PENDING_KEY, None)
    session.info.pop(_PENDING_ENROLLED_KEY, None)


def _announce_after_commit(session: Session) -> None:
    ids = session.info.pop(_PENDING_KEY, None)
    enrolled = session.info.pop(_PENDING_ENROLLED_KEY, None)
    if ids:
        try:
            app_task(NEW_RESTRICTIONS_TASK).delay([str(value) for value in ids])
        except Exception:  # the restriction is saved; the daily sweep announces it if this failed
            log.exception("Could not queue new-restriction notices for %s restriction(s)", len(ids))
    if enrolled:
        try:
            app_task(RESTRICTED_ENROLLMENTS_TASK).delay(sorted(str(value) for value in enrolled))
        except Exception:  # the enrollment stays flagged for review on the Enrollments screen
            log.exception("Could not queue restricted-enrollment notices for %s restriction(s)", len(enrolled))


def install() -> None:
    """Announce every restriction created through any session, once its transaction commits (idempotent)."""
    for name, listener in (("after_flush", _collect_new_restrictions), ("after_commit", _announce_after_commit),
                           ("after_rollback", _forget_new_restrictions)):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)
