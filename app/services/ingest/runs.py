"""How an import run ends, whatever stops it: failed runs, killed runs, re-runs.

* A run that stops (a refused file, a crash, a lost database connection) ends ``failed`` with a
  message a person can act on and no cell of the file in it (a database error quotes the row
  it choked on; the message says only what kind of error it was).
* A run whose process was killed cannot say so itself: ``reap_stale`` marks a run ``failed``
  once its upload log has not moved for ``INGEST_STALE_MINUTES`` (every run touches it at least
  once a minute while it works), and ``resume`` imports the same file again, which converges:
  every record has a natural key, so only what is missing is written.
* Staged copies of rows (client data) do not outlive their run: when it ends, however it ends,
  only rejected rows (the rejects file) and held rows (waiting for a reviewer) stay. A re-run
  that holds a person again takes over that person's review items and the earlier run's held
  rows go, so re-running a file never doubles the rows waiting for review.
"""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from app import audit, bulk
from app.extensions import db
from app.models import ClientDuplicate, ClientUploadLog, ImportRow
from app.plain_text import without_control_characters
from app.services import matching

logger = logging.getLogger(__name__)

KEPT_STATUSES = ("rejected", "review")  # what a finished run's rows may still be
DEFAULT_STALE_MINUTES = 30
MESSAGE_LIMIT = 2000
RERUN_ADVICE = "Rows committed before this stay; re-run the same file to finish it."


class ImportStopped(RuntimeError):
    """An import stopped part-way; the message (free of the file's values) says what to do."""


def stopped_message(exc: BaseException) -> str:
    """What a person is told when an import stops on an error: its kind, never its text (a database
    error's text quotes the statement and the row's values)."""
    if isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError)) or (
            isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated):
        return (f"The import stopped: the connection to the database was lost ({exc.__class__.__name__}). "
                f"{RERUN_ADVICE}")
    return f"The import stopped on an unexpected error ({exc.__class__.__name__}). {RERUN_ADVICE}"


def log_stopped(upload_log_id, exc: BaseException) -> None:
    """The server log gets where it stopped (the frames), not the error's text."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    logger.error("import %s stopped: %s\n%s", upload_log_id, exc.__class__.__name__, frames)


def fail(session, upload_log_id, message: str, started: float | None) -> None:
    """End a run as failed, drop its staged rows, and audit it. A lost connection gets one retry on a
    fresh one; if the database stays away, the reaper ends the run later."""
    message = without_control_characters(message)[:MESSAGE_LIMIT]
    for attempt in (1, 2):
        try:
            _record_failure(session, upload_log_id, message, started)
            return
        except sa.exc.DBAPIError as exc:
            session.rollback()
            if attempt == 2:
                logger.error("import %s: could not record its failure (%s)", upload_log_id, exc.__class__.__name__)


def _record_failure(session, upload_log_id, message: str, started: float | None) -> None:
    log = session.get(ClientUploadLog, upload_log_id)
    log.status = "failed"
    log.error_message = message
    log.completed_at = datetime.now(timezone.utc)
    if started is not None:
        log.duration_seconds = round(time.monotonic() - started, 3)
    if not (log.upload_details or {}).get("dry_run"):
        audit.record(session, "client_upload_logs", log.id, "import",
                     {"file": {"before": None, "after": log.file_name}, "status": {"before": None, "after": "failed"},
                      "error": {"before": None, "after": message}})
    drop_spent_rows(session, log.id)
    session.commit()


def drop_spent_rows(session, upload_log_id) -> None:
    """Rows of a run that has ended and that nobody needs any more: all but the rejected and held ones."""
    session.execute(sa.delete(ImportRow).where(ImportRow.upload_log_id == upload_log_id,
                                               ImportRow.status.not_in(KEPT_STATUSES)))


def clear_rows(session, upload_log_id) -> None:
    """A run started again from the top (a redelivered task): what its first attempt staged goes."""
    session.execute(sa.delete(ImportRow).where(ImportRow.upload_log_id == upload_log_id))


def take_over_held_rows(session, log: ClientUploadLog, first_rows: dict[str, uuid.UUID]) -> None:
    """People this run holds for review (incoming key -> the row their items hang on) that earlier runs
    held too: their waiting items move to this run's row and the earlier held rows are dropped."""
    if not first_rows:
        return
    dialect = session.connection().dialect.name
    earlier = session.execute(
        sa.select(ClientDuplicate.id, ClientDuplicate.incoming_key, ClientDuplicate.import_row_id,
                  ImportRow.upload_log_id)
        .join(ImportRow, ClientDuplicate.import_row_id == ImportRow.id)
        .where(matching.one_of(ClientDuplicate.incoming_key, sorted(first_rows), dialect),
               ClientDuplicate.status == "pending", ImportRow.upload_log_id != log.id)).all()
    if not earlier:
        return
    actor, now = audit.current_actor(), datetime.now(timezone.utc)
    with audit.bulk_write():
        bulk.update_by_id(session, ClientDuplicate.__table__, [
            {"id": item.id, "import_row_id": first_rows[item.incoming_key]} for item in earlier])
        audit.record_many(session, [audit.audit_row(
            "client_duplicates", item.id, "import",
            {"import_row_id": {"before": str(item.import_row_id), "after": str(first_rows[item.incoming_key])}},
            actor=actor, at=now) for item in earlier])
    old_logs = sorted({item.upload_log_id for item in earlier}, key=str)
    stale = [row.id for row in session.execute(
        sa.select(ImportRow.id, ImportRow.details)
        .where(matching.one_of(ImportRow.upload_log_id, old_logs, dialect), ImportRow.status == "review"))
        if (row.details or {}).get("incoming_key") in first_rows]
    _delete_unreferenced(session, stale)


def drop_superseded_rows(session, log: ClientUploadLog) -> None:
    """Once the same file has been imported to the end, what its failed runs kept (their rejected rows,
    and held rows no review item points at any more) is dropped: the finished run reports them."""
    if not log.file_sha256:
        return
    failed = session.scalars(sa.select(ClientUploadLog.id).where(
        ClientUploadLog.file_sha256 == log.file_sha256, ClientUploadLog.source == log.source,
        ClientUploadLog.status == "failed", ClientUploadLog.id != log.id)).all()
    for failed_id in failed:
        rows = session.scalars(sa.select(ImportRow.id).where(ImportRow.upload_log_id == failed_id)).all()
        _delete_unreferenced(session, rows)


def _delete_unreferenced(session, row_ids: list) -> None:
    if not row_ids:
        return
    dialect = session.connection().dialect.name
    referenced = set(session.scalars(sa.select(ClientDuplicate.import_row_id).where(
        matching.one_of(ClientDuplicate.import_row_id, sorted(row_ids, key=str), dialect))))
    gone = sorted((row_id for row_id in row_ids if row_id not in referenced), key=str)
    if gone:
        session.execute(sa.delete(ImportRow).where(matching.one_of(ImportRow.id, gone, dialect)))


# -- runs whose process died ---------------------------------------------------------------
def stale_runs(stale_minutes: float, now: datetime | None = None) -> list[ClientUploadLog]:
    """Runs marked running whose upload log has not moved for ``stale_minutes``."""
    now = now or datetime.now(timezone.utc)
    cutoff = now - timedelta(minutes=stale_minutes)
    return list(db.session.scalars(sa.select(ClientUploadLog).where(
        ClientUploadLog.status == "running", ClientUploadLog.updated_at < cutoff)
        .order_by(ClientUploadLog.started_at)))


def reap_stale(stale_minutes: float, now: datetime | None = None) -> list[ClientUploadLog]:
    """Mark every stale run failed (its staged rows dropped) and return them."""
    reaped = stale_runs(stale_minutes, now)
    for log in reaped:
        done, total = (log.upload_details or {}).get("rows_done", 0), log.total_rows or 0
        last = log.updated_at.astimezone(timezone.utc) if log.updated_at.tzinfo else log.updated_at
        fail(db.session, log.id, f"The import stopped without finishing: no progress since {last:%Y-%m-%d %H:%M} "
                                 f"UTC ({done} of {total} rows done); its process was probably stopped. "
                                 f"{RERUN_ADVICE}", None)
    return reaped


def resume(log: ClientUploadLog, **kwargs):
    """Import a failed run's file again, as a new run (``import_file``), if the file is still there and unchanged."""
    from pathlib import Path

    from app.services.ingest.importer import import_file, sha256_of
    from app.services.ingest.reading import FileRefused

    details = log.upload_details or {}
    path = Path(details.get("path", ""))
    if log.status != "failed":
        raise FileRefused(f"Import {log.id} is {log.status}; only a failed import is resumed.")
    if not path.is_file() or sha256_of(path) != log.file_sha256:
        raise FileRefused(f"The file of import {log.id} ({log.file_name}) is no longer where it was, or has "
                          "changed; import it again.")
    extra = {key: details[key] for key in ("drop_folder",) if key in details}
    return import_file(path, log.source, file_name=log.file_name, program_name=details.get("program"),
                       dry_run=bool(details.get("dry_run")), uploaded_by_id=log.uploaded_by_id,
                       extra_details={**extra, "resumes": str(log.id)}, **kwargs)
