"""CCD's outgoing email: build a message, keep it in email_logs, then send it once.

Every email goes through three steps so that nothing is sent twice and nothing is lost:
``queue_email`` stores the built message under an idempotency key (what the email is
for), ``attempt_delivery`` claims it and makes one try, and the Celery task around that
try waits with backoff and tries again until the last attempt, which marks it failed.
The message stays in the log until it has gone out, so a failed one can be sent later.

Delivery is SMTP when ``MAIL_SERVER`` is set (Flask-Mail's setting names, with STARTTLS,
SSL and login), otherwise a ``.eml`` file per message in ``MAIL_OUTBOX_DIR``.
"""

from __future__ import annotations

import email
import email.policy
import os
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Callable

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import EmailLog
from app.services.clock import utc_now

# A claim older than this belongs to a worker that died mid-send; another run may take it over.
STALE_CLAIM = timedelta(hours=1)
ERROR_MESSAGE_LIMIT = 2000


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mimetype: str = "text/csv"


class DeliveryError(RuntimeError):
    """A send that did not happen. ``permanent`` when trying again cannot help (bad login, refused address)."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


def build_message(*, to: str, subject: str, text: str, html: str | None = None,
                  attachments: tuple[Attachment, ...] | list[Attachment] = (), sender: str | None = None
                  ) -> EmailMessage:
    """A MIME message: plain text, an HTML alternative when given, then the attachments."""
    sender = sender or current_app.config["MAIL_DEFAULT_SENDER"]
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for attachment in attachments:
        maintype, _, subtype = attachment.mimetype.partition("/")
        message.add_attachment(attachment.content, maintype=maintype, subtype=subtype,
                               filename=attachment.filename)
    return message


def message_sizes(message: EmailMessage) -> tuple[int, int]:
    """(body bytes, attachment bytes) of a built message, for the send log."""
    body = attachments = 0
    for part in message.walk():
        if part.is_multipart():
            continue
        size = len(part.get_payload(decode=True) or b"")
        if part.get_content_disposition() == "attachment":
            attachments += size
        else:
            body += size
    return body, attachments


# --- delivery ---------------------------------------------------------------------------

def deliver(message: EmailMessage) -> str:
    """Send one message now; returns where it went. Raises DeliveryError when it could not go."""
    config = current_app.config
    if config.get("MAIL_SERVER"):
        _send_smtp(message, config)
        return f"smtp://{config['MAIL_SERVER']}:{config['MAIL_PORT']}"
    return str(_write_outbox(message, Path(config["MAIL_OUTBOX_DIR"])))


def _send_smtp(message: EmailMessage, config) -> None:
    host, port, timeout = config["MAIL_SERVER"], config["MAIL_PORT"], config["MAIL_TIMEOUT"]
    try:
        if config.get("MAIL_USE_SSL"):
            connection = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
        else:
            connection = smtplib.SMTP(host, port, timeout=timeout)
        with connection:
            if config.get("MAIL_USE_TLS"):
                connection.starttls(context=ssl.create_default_context())
            if config.get("MAIL_USERNAME"):
                connection.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
            connection.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"The mail server at {host}:{port} refused the login: {_smtp_reason(exc)}",
                            permanent=True) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        reasons = "; ".join(f"{address}: {_smtp_reason(error)}" for address, error in exc.recipients.items())
        permanent = all(500 <= error[0] < 600 for error in exc.recipients.values())
        raise DeliveryError(f"The mail server refused the recipient ({reasons}).", permanent=permanent) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"Could not send through {host}:{port}: {exc or type(exc).__name__}") from exc


def _smtp_reason(error) -> str:
    code, text = (error.smtp_code, error.smtp_error) if isinstance(error, smtplib.SMTPResponseException) else error
    text = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    return f"{code} {text}"


def _write_outbox(message: EmailMessage, outbox: Path) -> Path:
    """One ``.eml`` per message, written whole or not at all (temporary file, then rename)."""
    try:
        outbox.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{utc_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}.eml"
        temporary = outbox / (name + ".part")
        # Reports name clients: readable by the service account only, from the first byte.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(message.as_bytes(policy=email.policy.SMTP))
        os.replace(temporary, outbox / name)
    except OSError as exc:
        raise DeliveryError(f"Could not write the email to the outbox folder {outbox}: {exc}") from exc
    return outbox / name


# --- the send log -----------------------------------------------------------------------

def queue_email(*, key: str, email_type: str, build: Callable[[], EmailMessage], recipient_id=None,
                frequency: str | None = None, period_start=None, period_end=None,
                client_id=None) -> EmailLog | None:
    """Store the message ``build()`` makes under ``key`` and return its log row, ready to deliver.

    ``client_id`` names the client an email is about (a restriction alert names them in its
    subject): the send log shows the row only to those who may see that client.

    Returns None (and builds nothing) when this email is already sent or another run is
    sending it. A key whose earlier send failed, or whose sender died, is taken over and
    sent again with the message as it was first built. The caller commits.
    """
    existing = db.session.scalar(sa.select(EmailLog).where(EmailLog.idempotency_key == key))
    if existing is not None:
        return _take_over(existing, build)
    message = build()
    body_bytes, attachment_bytes = message_sizes(message)
    log = EmailLog(
        idempotency_key=key, email_type=email_type, recipient_id=recipient_id, recipient_email=message["To"],
        subject=str(message["Subject"])[:255], frequency=frequency, period_start=period_start,
        period_end=period_end, client_id=client_id, status="queued", attempts=0, body_bytes=body_bytes,
        attachment_bytes=attachment_bytes, message=message.as_string(policy=email.policy.SMTP),
    )
    try:
        with db.session.begin_nested():
            db.session.add(log)
    except IntegrityError:
        return None  # another run stored the same email a moment ago; it sends it
    return log


def _take_over(log: EmailLog, build: Callable[[], EmailMessage]) -> EmailLog | None:
    stale_before = utc_now() - STALE_CLAIM
    retake = sa.or_(
        EmailLog.status == "failed",
        sa.and_(EmailLog.status.in_(("queued", "sending")), EmailLog.updated_at < stale_before),
    )
    claimed = db.session.execute(
        sa.update(EmailLog).where(EmailLog.id == log.id, retake)
        .values(status="queued", attempts=0, updated_at=utc_now())
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        return None
    db.session.refresh(log)
    if log.message is None:
        log.message = build().as_string(policy=email.policy.SMTP)
    return log


def attempt_delivery(log_id, *, final: bool) -> str:
    """One try at sending a queued email: 'sent', 'retry' (try again later), 'failed' or 'skipped'.

    The row is claimed first (queued -> sending in one UPDATE), so two workers handed the
    same email never both send it. ``final`` marks the last try: a failure then is
    recorded as failed instead of queued. Commits its own changes.
    """
    log_id = uuid.UUID(str(log_id))
    claimed = db.session.execute(
        sa.update(EmailLog).where(EmailLog.id == log_id, EmailLog.status == "queued")
        .values(status="sending", attempts=EmailLog.attempts + 1, updated_at=utc_now())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if claimed != 1:
        return "skipped"
    log = db.session.get(EmailLog, log_id, populate_existing=True)
    try:
        deliver(email.message_from_string(log.message, policy=email.policy.default))
    except DeliveryError as exc:
        give_up = final or exc.permanent
        log.status = "failed" if give_up else "queued"
        log.error_message = f"Attempt {log.attempts}: {exc}"[:ERROR_MESSAGE_LIMIT]
        db.session.commit()
        current_app.logger.warning("Email %s to %s not sent (attempt %s): %s", log.id, log.recipient_email,
                                   log.attempts, exc)
        return "failed" if give_up else "retry"
    log.status = "sent"
    log.sent_at = utc_now()
    log.error_message = None
    log.message = None  # it has gone out; the log keeps who, what, when and how big
    db.session.commit()
    return "sent"


def retry_delay(retries_done: int) -> int:
    """Seconds to wait before the next try: the backoff doubles each time."""
    return current_app.config["MAIL_RETRY_BACKOFF"] * (2 ** retries_done)
