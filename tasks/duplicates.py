"""The scan for possible duplicates already in the database."""

from celery import shared_task

from app.extensions import db
from app.services.merge import scan_for_duplicates


SCAN_TASK = "ccd.scan_duplicates"


@shared_task(name=SCAN_TASK)
def scan_duplicates() -> str:
    return scan_for_duplicates(db.session).describe()
