"""The nightly check of yesterday's reads of client data (app/services/access_review.py)."""

from datetime import date, timedelta

from celery import shared_task

from app.audit import acting_as
from app.extensions import db
from app.services import access_review
from app.services.clock import agency_today


@shared_task(name="ccd.check_access")
def check_access(day: str | None = None) -> str:
    """Flag unusual access on ``day`` (default: yesterday, agency time) and notify the administrators."""
    checked = date.fromisoformat(day) if day else agency_today() - timedelta(days=1)
    with acting_as("task ccd.check_access"):
        run = access_review.check_access(checked)
        db.session.commit()
    return run.describe()
