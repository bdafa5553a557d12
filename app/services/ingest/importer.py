"""Importing one file: read, stage, match, write, in batches that each commit whole or not at all.

This module holds the entry points and the run's lifecycle; the steps live beside it:
stage.py (staging the file), parse.py (one row's values), link.py (rows to clients) and
write.py (what a batch writes).

1. The file is read (reading.py) and its columns resolved through the source's column
   map (column_maps.py); a file missing required columns is refused as a whole.
2. Every row is staged in ``import_rows`` before anything canonical is touched.
3. Staged rows are processed in batches. For each batch: cells become values or a
   reject reason; rows are matched to clients (same-source id, then blocking and
   scoring in app/services/matching.py); the batch's clients, source ids, enrollments,
   intakes, discharges, review items, audit rows, row outcomes and the upload log's
   counters are written and committed together. A crash loses at most the batch in
   hand, and re-running the file redoes only what is missing: every record has a
   natural key (client + program + date, source + id), so nothing is written twice.
4. A dry run does all of that except the canonical writes.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable

import sqlalchemy as sa

from app import audit, bulk
from app.choices import SOURCE_SYSTEMS
from app.extensions import db
from app.models import ClientDuplicate, ClientSourceId, ClientUploadLog, ImportRow
from app.services import matching
from app.services.ingest import column_maps
from app.services.ingest.link import plan_batch
from app.services.ingest.parse import ParsedRow, RowParsing
from app.services.ingest.reading import FileRefused, file_type_of
from app.services.ingest.stage import Staging
from app.services.ingest.values import BadValue
from app.services.ingest.write import Batch, Outcome

DEFAULT_BATCH_SIZE = 500
# Imports of any source take turns batch by batch (PostgreSQL advisory lock), so two imports
# running at once cannot both add the same newcomer.
BATCH_LOCK_KEY = 0x43434449  # "CCDI"
ERROR_DETAILS_KEPT = 200


class ImportNotPermitted(PermissionError):
    """The signed-in person may not write what an import writes."""


@dataclass
class ImportSummary:
    upload_log_id: uuid.UUID
    file_name: str
    source: str
    status: str
    dry_run: bool = False
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    possible_duplicates: int = 0
    enrollments: int = 0
    enrollments_flagged: int = 0
    intakes: int = 0
    discharges: int = 0
    duration_seconds: float = 0.0
    error: str | None = None

    def lines(self) -> list[str]:
        head = f"{self.source} {self.file_name}: {self.status}" + (" (dry run: nothing was written)" if self.dry_run
                                                                  else "")
        if self.error:
            return [head, self.error]
        return [
            head,
            f"rows read: {self.rows_read}",
            f"clients inserted: {self.inserted}, updated: {self.updated}, unchanged: {self.unchanged}",
            f"rows rejected: {self.rejected} (of which possible duplicates flagged for review: "
            f"{self.possible_duplicates})",
            f"enrollments written: {self.enrollments} (of which flagged for review because a service "
            f"restriction is in force: {self.enrollments_flagged}), intakes written: {self.intakes}, "
            f"discharges written: {self.discharges}",
            f"duration: {self.duration_seconds:.1f} s",
        ]

    @classmethod
    def of(cls, log: ClientUploadLog) -> "ImportSummary":
        details = log.upload_details or {}
        return cls(log.id, log.file_name, log.source, log.status, bool(details.get("dry_run")), log.total_rows,
                   log.records_created, log.records_updated, log.records_skipped, log.errors_count,
                   log.duplicates_flagged, details.get("enrollments", 0), details.get("enrollments_flagged", 0),
                   details.get("intakes", 0),
                   details.get("discharges", 0), log.duration_seconds or 0.0, log.error_message)


# -- starting ------------------------------------------------------------------------------
def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_permission() -> None:
    """Inside a request, the signed-in person must be allowed to write what an import writes."""
    from flask import has_request_context
    from flask_login import current_user

    from app.permissions import may_import

    if has_request_context():
        user = current_user._get_current_object() if current_user else None
        roles = user.role_names if user is not None and user.is_authenticated else frozenset()
        if not may_import(roles):
            raise ImportNotPermitted("Your role may not run imports.")


def start_import(path, source: str, *, file_name: str | None = None, program_name: str | None = None,
                 dry_run: bool = False, uploaded_by_id=None, extra_details: dict | None = None) -> ClientUploadLog:
    """Record a file to import (status queued) and commit, so a worker, a page and a person can follow it."""
    check_permission()
    if source not in SOURCE_SYSTEMS:
        raise FileRefused(f"Unknown source system {source!r}; choose one of {', '.join(SOURCE_SYSTEMS)}.")
    path = Path(path)
    if not path.is_file():
        raise FileRefused(f"There is no file at {path}.")
    with path.open("rb") as handle:
        start = handle.read(8)
    details = {"path": str(path), "program": program_name or None, "dry_run": bool(dry_run)}
    details.update(extra_details or {})
    log = ClientUploadLog(file_name=(file_name or path.name)[:255], file_size=path.stat().st_size,
                          file_type=_file_type_or_unknown(start, file_name or path.name), file_sha256=sha256_of(path),
                          source=source, status="queued", uploaded_by_id=uploaded_by_id,
                          started_at=datetime.now(timezone.utc), upload_details=details)
    db.session.add(log)
    db.session.commit()
    return log


def _file_type_or_unknown(start: bytes, name: str) -> str:
    try:
        return file_type_of(start, name)
    except FileRefused:
        return Path(name).suffix.lstrip(".").lower()[:10] or "unknown"


def import_file(path, source: str, **kwargs) -> ImportSummary:
    """Import one file now, in this process (CLI, drop folder)."""
    progress = kwargs.pop("progress", None)
    batch_size = kwargs.pop("batch_size", None)
    log = start_import(path, source, **kwargs)
    return process_upload(log.id, progress=progress, batch_size=batch_size)


def save_upload(stream, original_name: str, upload_dir, max_bytes: int) -> Path:
    """Copy an uploaded file where the worker can read it, refusing one larger than ``max_bytes``."""
    folder = Path(upload_dir)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = Path(original_name or "").suffix.lower()
    target = folder / f"{uuid.uuid4().hex}{suffix if suffix in ('.csv', '.xlsx', '.txt') else ''}"
    written = 0
    with target.open("wb") as handle:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            written += len(chunk)
            if written > max_bytes:
                handle.close()
                target.unlink()
                raise FileRefused(f"The file is larger than {max_bytes // (1 << 20)} MB; use the drop folder or "
                                  "the ccd ingest command for files this size.")
            handle.write(chunk)
    if written == 0:
        target.unlink()
        raise FileRefused("The file is empty.")
    return target


def progress_of(log: ClientUploadLog) -> dict:
    """What the Imports page shows while a file is being imported."""
    details = log.upload_details or {}
    done, total = int(details.get("rows_done", 0)), int(log.total_rows or 0)
    if log.status == "queued":
        message = "Waiting for the import worker…"
    elif log.status == "running" and not total:
        message = "Reading and checking the file…"
    elif log.status == "running":
        message = f"{done} of {total} rows done"
    else:
        message = log.error_message or f"Finished: {done} of {total} rows"
    return {"status": log.status, "done": done, "total": total, "finished": log.is_finished,
            "percent": round(100 * done / total) if total else (100 if log.is_finished else 0), "message": message}


def flagged_duplicates(log: ClientUploadLog) -> list[ClientDuplicate]:
    """The review items an import raised, with the row each came from."""
    return list(db.session.scalars(
        sa.select(ClientDuplicate).join(ImportRow, ClientDuplicate.import_row_id == ImportRow.id)
        .where(ImportRow.upload_log_id == log.id)
        .order_by(ImportRow.row_number, ClientDuplicate.similarity_score.desc())))


def apply_reviewed_row(import_row_id, client_id=None, *, reviewed_by_id=None) -> Outcome:
    """A reviewer's answer to a row held for duplicate review: write it to ``client_id`` (the same
    person), or as a new client when ``client_id`` is None (nobody CCD knows).

    The row is read with the column titles of its own import, and written exactly as the import
    would have written it. Its review items are closed: the chosen client's as "merged", the
    others as "not_duplicate", so the pairs are not flagged again. The caller commits.
    """
    from flask import current_app

    session = db.session
    row = session.get(ImportRow, import_row_id)
    if row is None or row.status != "review":
        raise LookupError("That imported row is not waiting for review.")
    log = row.upload_log
    details = dict(log.upload_details or {})
    details["dry_run"] = False
    run = ImportRun(session, log, details, matching.Thresholds.from_config(current_app.config), 1, None)
    column_map = column_maps.column_map_for(session, log.source)
    column_map = column_maps.ColumnMap(log.source, column_map.titles, details.get("date_order") or
                                       column_map.date_order)
    run.prepare(column_map, details.get("headers") or [])
    parsed = run._parse(row)
    items = session.scalars(sa.select(ClientDuplicate).where(ClientDuplicate.import_row_id == row.id)).all()
    if client_id is not None and client_id not in {item.primary_client_id for item in items}:
        raise ValueError("Choose one of the clients the row was flagged against, or none.")
    batch = Batch(run)
    known = session.scalar(sa.select(ClientSourceId.client_id).where(
        ClientSourceId.source_system == log.source, ClientSourceId.source_client_id == parsed.source_id)) \
        if parsed.source_id else None
    if known is not None and known != client_id:
        raise ValueError(f"{log.source} id {parsed.source_id} already belongs to another client.")
    if client_id is not None:
        batch._load_clients({client_id})
    batch._load_children()
    with audit.acting_as(f"import {log.source} {log.file_name}"[:100]):
        outcome = batch._write_row(parsed, client_id or uuid.uuid4(), "reviewed" if client_id else "new",
                                   add_source_id=bool(parsed.source_id) and known is None)
        batch.apply()
        for item in items:
            item.status = "merged" if item.primary_client_id == client_id else "not_duplicate"
            item.reviewed_at = datetime.now(timezone.utc)
            item.reviewed_by_id = reviewed_by_id
        row.status, row.client_id = outcome.status, outcome.client_id
        row.reason = f"{row.reason} — resolved by review"
    return outcome


# -- the run ---------------------------------------------------------------------------------
@dataclass
class Counters:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    review: int = 0
    enrollments: int = 0
    enrollments_flagged: int = 0
    intakes: int = 0
    discharges: int = 0
    done: int = 0


def process_upload(upload_log_id, *, progress: Callable[[int, int], None] | None = None,
                   batch_size: int | None = None) -> ImportSummary:
    """Run a queued import to the end and return its summary. Safe to call twice: a finished import is reported."""
    from flask import current_app

    session = db.session
    log = session.get(ClientUploadLog, upload_log_id)
    if log is None:
        raise LookupError(f"No import {upload_log_id}.")
    if log.is_finished:
        return ImportSummary.of(log)
    check_permission()
    batch_size = batch_size or int(current_app.config.get("INGEST_BATCH_SIZE", DEFAULT_BATCH_SIZE))
    thresholds = matching.Thresholds.from_config(current_app.config)
    details = dict(log.upload_details or {})
    log.status = "running"
    log.started_at = datetime.now(timezone.utc)
    session.commit()
    started = time.monotonic()
    actor_name = f"import {log.source} {log.file_name}"[:100]
    with audit.acting_as(actor_name):
        try:
            run = ImportRun(session, log, details, thresholds, batch_size, progress)
            run.stage()
            run.process()
            run.finish(time.monotonic() - started)
        except FileRefused as exc:
            session.rollback()
            _fail(session, upload_log_id, str(exc), started)
        except Exception as exc:
            session.rollback()
            _fail(session, upload_log_id, f"The import stopped: {exc.__class__.__name__}: {exc}. Rows committed "
                                          "before this stay; re-run the same file to finish it.", started)
            raise
    return ImportSummary.of(session.get(ClientUploadLog, upload_log_id))


def _fail(session, upload_log_id, message: str, started: float) -> None:
    log = session.get(ClientUploadLog, upload_log_id)
    log.status = "failed"
    log.error_message = message
    log.completed_at = datetime.now(timezone.utc)
    log.duration_seconds = round(time.monotonic() - started, 3)
    if not (log.upload_details or {}).get("dry_run"):
        audit.record(session, "client_upload_logs", log.id, "import",
                     {"file": {"before": None, "after": log.file_name}, "status": {"before": None, "after": "failed"},
                      "error": {"before": None, "after": message}})
    session.commit()


class ImportRun(Staging, RowParsing):
    """State of one import across its batches: the clients it created and the keys it wrote."""

    def __init__(self, session, log: ClientUploadLog, details: dict, thresholds, batch_size, progress):
        self.session, self.log, self.details = session, log, details
        self.source, self.thresholds, self.batch_size, self.progress = log.source, thresholds, batch_size, progress
        self.dry_run = bool(details.get("dry_run"))
        self.today = date.today()
        self.counters = Counters()
        self.errors: list[dict] = []
        # What this import created, so later rows (and batches, in a dry run) find it.
        self.new_index = matching.CandidateIndex()
        self.id_of_source: dict[str, uuid.UUID] = {}
        self.written_keys: set[tuple] = set()


    # -- batches -----------------------------------------------------------------------------
    def process(self) -> None:
        last_number = 0
        while True:
            staged = self.session.execute(
                sa.select(ImportRow.id, ImportRow.row_number, ImportRow.cells)
                .where(ImportRow.upload_log_id == self.log.id, ImportRow.status == "staged",
                       ImportRow.row_number > last_number)
                .order_by(ImportRow.row_number).limit(self.batch_size)
            ).all()
            if not staged:
                return
            self._process_batch(staged)
            last_number = staged[-1].row_number
            if self.progress:
                self.progress(self.counters.done, self.log.total_rows)

    def _process_batch(self, staged) -> None:
        if self.session.connection().dialect.name == "postgresql":
            self.session.execute(sa.select(sa.func.pg_advisory_xact_lock(BATCH_LOCK_KEY)))
        outcomes: dict[uuid.UUID, Outcome] = {}
        parsed: list[ParsedRow] = []
        for row in staged:
            try:
                parsed.append(self._parse(row))
            except BadValue as exc:
                outcomes[row.id] = Outcome("rejected", str(exc))
        batch = Batch(self)
        plan_batch(batch, parsed, outcomes)
        if not self.dry_run:
            batch.apply()
        self._record_outcomes(staged, outcomes, batch)
        self.session.commit()

    def _record_outcomes(self, staged, outcomes: dict[uuid.UUID, Outcome], batch: "Batch") -> None:
        counters = self.counters
        updates = []
        for row in staged:
            outcome = outcomes[row.id]
            setattr(counters, outcome.status, getattr(counters, outcome.status) + 1)
            if outcome.status in ("rejected", "review") and len(self.errors) < ERROR_DETAILS_KEPT:
                self.errors.append({"row": row.row_number, "reason": outcome.reason})
            updates.append({"id": row.id, "status": outcome.status, "reason": outcome.reason,
                            "client_id": None if self.dry_run else outcome.client_id, "details": outcome.details})
        counters.enrollments += batch.enrollments_written
        counters.enrollments_flagged += batch.enrollments_flagged
        counters.intakes += batch.intakes_written
        counters.discharges += batch.discharges_written
        counters.done += len(staged)
        bulk.update_rows(self.session, ImportRow.__table__, updates)
        self._write_counters()

    def _write_counters(self) -> None:
        log, counters = self.log, self.counters
        log.records_created, log.records_updated, log.records_skipped = (counters.inserted, counters.updated,
                                                                         counters.unchanged)
        log.errors_count = counters.rejected + counters.review
        log.duplicates_flagged = counters.review
        log.error_details = list(self.errors)
        self.details.update({"rows_done": counters.done, "enrollments": counters.enrollments,
                             "enrollments_flagged": counters.enrollments_flagged,
                             "intakes": counters.intakes, "discharges": counters.discharges,
                             "unchanged": counters.unchanged, "rejected": counters.rejected,
                             "possible_duplicates": counters.review})
        log.upload_details = dict(self.details)

    def finish(self, seconds: float) -> None:
        log, counters = self.log, self.counters
        self._write_counters()
        log.status = "partial" if counters.rejected or counters.review else "success"
        log.completed_at = datetime.now(timezone.utc)
        log.duration_seconds = round(seconds, 3)
        if not self.dry_run:
            summary = {"file": log.file_name, "source": log.source, "sha256": log.file_sha256,
                       "rows_read": log.total_rows, "clients_inserted": counters.inserted,
                       "clients_updated": counters.updated, "clients_unchanged": counters.unchanged,
                       "rows_rejected": counters.rejected, "possible_duplicates": counters.review,
                       "enrollments_written": counters.enrollments,
                       "enrollments_flagged": counters.enrollments_flagged, "intakes_written": counters.intakes,
                       "discharges_written": counters.discharges, "status": log.status}
            audit.record(self.session, "client_upload_logs", log.id, "import",
                         {key: {"before": None, "after": value} for key, value in summary.items()})
        # Written rows have done their job; rejected and review rows stay for the rejects file and reviewers.
        self.session.execute(sa.delete(ImportRow).where(
            ImportRow.upload_log_id == log.id, ImportRow.status.in_(("inserted", "updated", "unchanged"))))
        self.session.commit()

