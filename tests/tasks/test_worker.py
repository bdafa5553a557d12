"""The delivery task on a real Celery worker (not the eager emulation): it sends, and it retries with backoff.

A worker thread uses its own database connection, so these tests commit their rows and
delete them afterwards instead of using the rolled-back test transaction.
"""

import time

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import EmailLog
from app.services import mail

WAIT_SECONDS = 30


@pytest.fixture(scope="module")
def live_worker(app):
    """One worker thread for this module's tests (starting and stopping one takes seconds)."""
    from celery.contrib.testing.worker import start_worker

    import tasks  # noqa: F401  (registers the tasks, as celery_worker does)

    celery = app.extensions["celery"]
    eager = celery.conf.task_always_eager
    celery.conf.task_always_eager = False
    try:
        with start_worker(celery, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield celery
    finally:
        celery.conf.task_always_eager = eager


@pytest.fixture
def committed_email(app):
    """Queue (and commit) an email; remove its log row afterwards."""
    keys = []

    def _queue(key, subject="From the worker"):
        keys.append(key)
        with app.app_context():
            log = mail.queue_email(key=key, email_type="report", build=lambda: mail.build_message(
                to="worker@agency.example", subject=subject, text="Sent by a real worker"))
            db.session.commit()
            return log.id

    yield _queue
    with app.app_context():
        db.session.execute(sa.delete(EmailLog).where(EmailLog.idempotency_key.in_(keys)))
        db.session.commit()


def _wait_for(app, log_id, statuses):
    deadline = time.monotonic() + WAIT_SECONDS
    state = None
    while time.monotonic() < deadline:
        with app.app_context():
            log = db.session.get(EmailLog, log_id)
            state = (log.status, log.attempts)
            db.session.remove()  # no transaction left open while the worker writes
        if state[0] in statuses:
            return state
        time.sleep(0.1)
    pytest.fail(f"the worker did not finish the email within {WAIT_SECONDS}s (last state {state})")


def test_real_worker_delivers_a_queued_email(app, live_worker, smtp_server, committed_email):
    from tasks.mail import deliver_email

    log_id = committed_email("worker:send")
    deliver_email.delay(str(log_id))
    assert _wait_for(app, log_id, {"sent", "failed"}) == ("sent", 1)
    assert [m["Subject"] for m in smtp_server.messages] == ["From the worker"]


def test_real_worker_retries_with_backoff_then_marks_failed(app, live_worker, smtp_down, committed_email,
                                                          monkeypatch):
    from tasks.mail import deliver_email

    monkeypatch.setitem(app.config, "MAIL_MAX_RETRIES", 2)
    monkeypatch.setitem(app.config, "MAIL_RETRY_BACKOFF", 1)
    log_id = committed_email("worker:down")
    deliver_email.delay(str(log_id))
    assert _wait_for(app, log_id, {"sent", "failed"}) == ("failed", 3)
