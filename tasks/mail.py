"""Delivering one queued email, retried with backoff until the last try."""

from celery import shared_task
from flask import current_app

from app.celery_app import app_task
from app.services import mail


@shared_task(bind=True, name="ccd.deliver_email", max_retries=None)
def deliver_email(self, log_id: str) -> str:
    retries = self.request.retries
    while True:
        outcome = mail.attempt_delivery(log_id, final=retries >= current_app.config["MAIL_MAX_RETRIES"])
        if outcome != "retry":
            return outcome
        if not self.request.is_eager:
            raise self.retry(countdown=mail.retry_delay(retries))
        # In-process (no Redis) there is no worker to come back later: try again now.
        retries += 1


def dispatch_email(log_id) -> None:
    """Hand a queued email to the delivery task (in-process when there is no Redis)."""
    app_task(deliver_email.name).delay(str(log_id))
