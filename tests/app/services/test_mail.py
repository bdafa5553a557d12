"""Email goes out once: over real SMTP, or to the outbox folder; a failed send is kept, never lost."""

import email
import email.policy
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import EmailLog
from app.services import mail
from tasks.mail import deliver_email


def _message(to="someone@agency.example", subject="Hello"):
    return mail.build_message(to=to, subject=subject, text="Plain body", html="<p>HTML body</p>",
                              attachments=[mail.Attachment("rows.csv", b"a,b\r\n1,2\r\n")])


def _queue(key="test:1", **kw):
    log = mail.queue_email(key=key, email_type="report", build=lambda: _message(**kw))
    db.session.commit()
    return log


def test_without_a_mail_server_each_email_is_an_eml_file_in_the_outbox(app, db_session, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "MAIL_OUTBOX_DIR", str(tmp_path / "outbox"))
    log = _queue()
    deliver_email.delay(str(log.id))
    db.session.refresh(log)
    files = list((tmp_path / "outbox").glob("*.eml"))
    assert log.status == "sent" and log.sent_at is not None and len(files) == 1
    written = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert written["To"] == "someone@agency.example" and written["Subject"] == "Hello"
    assert [part.get_filename() for part in written.iter_attachments()] == ["rows.csv"]
    assert log.message is None, "the sent message is not kept twice"
    assert files[0].stat().st_mode & 0o077 == 0, "only the service account may read it"
    assert log.body_bytes > 0 and log.attachment_bytes == len(b"a,b\r\n1,2\r\n")


def test_real_smtp_server_receives_the_message_with_login(app, db_session, monkeypatch):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    from tests.conftest import SMTPInbox, free_port

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"ccd" and auth_data.password == b"s3cret-pass"
        return AuthResult(success=ok, handled=False)

    inbox = SMTPInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), authenticator=authenticator,
                            auth_require_tls=False)
    controller.start()
    try:
        monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
        monkeypatch.setitem(app.config, "MAIL_PORT", controller.port)
        monkeypatch.setitem(app.config, "MAIL_USERNAME", "ccd")
        monkeypatch.setitem(app.config, "MAIL_PASSWORD", "s3cret-pass")
        good = _queue("test:good")
        deliver_email.delay(str(good.id))
        monkeypatch.setitem(app.config, "MAIL_PASSWORD", "wrong")
        bad = _queue("test:bad", subject="Refused")
        deliver_email.delay(str(bad.id))
    finally:
        controller.stop()
    db.session.refresh(good)
    db.session.refresh(bad)
    assert good.status == "sent" and [m["Subject"] for m in inbox.messages] == ["Hello"]
    assert bad.status == "failed" and bad.attempts == 1, "a refused login is not worth retrying"
    assert "refused the login" in bad.error_message and bad.message is not None


def test_smtp_down_retries_then_failed_and_the_message_is_kept_for_later(app, db_session, monkeypatch, smtp_down):
    monkeypatch.setitem(app.config, "MAIL_MAX_RETRIES", 3)
    log = _queue("test:down")
    deliver_email.delay(str(log.id))
    db.session.refresh(log)
    assert log.status == "failed" and log.attempts == 4, "the first try and three retries"
    assert log.error_message.startswith("Attempt 4:") and log.sent_at is None
    kept = email.message_from_string(log.message, policy=email.policy.default)
    assert kept["Subject"] == "Hello", "nothing is lost: the built message waits in the log"


def test_a_failed_email_is_sent_by_the_next_run_with_the_message_it_was_built_with(app, db_session, smtp_server,
                                                                                      monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_MAX_RETRIES", 0)
    saved_port = app.config["MAIL_PORT"]
    monkeypatch.setitem(app.config, "MAIL_PORT", 9)  # discard port: nothing listens
    log = _queue("test:later", subject="First build")
    deliver_email.delay(str(log.id))
    db.session.refresh(log)
    assert log.status == "failed"
    monkeypatch.setitem(app.config, "MAIL_PORT", saved_port)
    again = _queue("test:later", subject="Second build")
    assert again is not None and again.id == log.id
    deliver_email.delay(str(again.id))
    db.session.refresh(log)
    assert log.status == "sent" and [m["Subject"] for m in smtp_server.messages] == ["First build"]


def test_an_email_already_sent_or_being_sent_is_not_queued_or_delivered_again(app, db_session, smtp_server):
    log = _queue("test:once")
    assert _queue("test:once") is None, "queued already: another run is sending it"
    assert mail.attempt_delivery(log.id, final=True) == "sent"
    assert mail.attempt_delivery(log.id, final=True) == "skipped"
    assert _queue("test:once") is None
    assert len(smtp_server.messages) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EmailLog)
                             .where(EmailLog.idempotency_key == "test:once")) == 1


def test_outbox_that_cannot_be_written_is_a_clear_failure(app, db_session, monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setitem(app.config, "MAIL_OUTBOX_DIR", str(blocker))
    with pytest.raises(mail.DeliveryError, match="outbox folder"):
        mail.deliver(_message())
    assert not list(Path(tmp_path).glob("**/*.eml"))


def test_a_send_abandoned_mid_way_is_taken_over_only_once_it_is_stale(app, db_session, smtp_server):
    log = _queue("test:stale")
    db.session.execute(sa.update(EmailLog).where(EmailLog.id == log.id).values(status="sending"))
    db.session.commit()
    assert _queue("test:stale") is None, "a worker may still be sending it"
    long_ago = mail.utc_now() - mail.STALE_CLAIM - timedelta(minutes=1)
    db.session.execute(sa.update(EmailLog).where(EmailLog.id == log.id).values(updated_at=long_ago))
    db.session.commit()
    taken = _queue("test:stale")
    assert taken is not None and taken.id == log.id and taken.status == "queued"
    assert mail.attempt_delivery(taken.id, final=True) == "sent"
