"""Restriction alerts: right after a new restriction commits, and the daily expiring check."""

from datetime import date

from celery import shared_task

from app.services import restriction_notices
from app.services.clock import agency_today
from tasks.mail import dispatch_email


@shared_task(name=restriction_notices.NEW_RESTRICTIONS_TASK)
def notify_new_restrictions(restriction_ids: list[str]) -> str:
    return restriction_notices.notify_new(restriction_ids, dispatch_email).describe()


@shared_task(name=restriction_notices.RESTRICTED_ENROLLMENTS_TASK)
def notify_restricted_enrollments(restriction_ids: list[str]) -> str:
    return restriction_notices.notify_enrolled(restriction_ids, dispatch_email).describe()


@shared_task(name="ccd.notify_restrictions")
def notify_restrictions(run_date: str | None = None) -> str:
    """The daily job: restrictions ending soon, plus any recent new one someone was not told about."""
    day = date.fromisoformat(run_date) if run_date else agency_today()
    expiring = restriction_notices.notify_expiring(dispatch_email, day)
    new = restriction_notices.sweep_new(dispatch_email, day)
    return f"Expiring: {expiring.describe()} New: {new.describe()}"
