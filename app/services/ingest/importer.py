"""Importing one file: read, stage, match, write, in batches that each commit whole or not at all.

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
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable

import sqlalchemy as sa

from app import audit, bulk
from app.choices import SOURCE_SYSTEMS
from app.extensions import db
from app.models import (
    Client, ClientDuplicate, ClientSourceId, ClientUploadLog, Discharge, Enrollment, ImportRow, Intake, Program,
    ProgramAlias,
)
from app.services import matching, restriction_notices, restrictions
from app.services.ingest import column_maps
from app.services.ingest.column_maps import CLIENT_FIELDS, PROGRAM_DATED_FIELDS, ResolvedColumns
from app.services.ingest.reading import FileRefused, as_text, file_type_of, read_sheet
from app.services.ingest.values import BadValue, canonical_option, clean_name, clean_text, parse_date, split_multi, \
    split_programs

DEFAULT_BATCH_SIZE = 500
STAGE_CHUNK = 2000
# Imports of any source take turns batch by batch (PostgreSQL advisory lock), so two imports
# running at once cannot both add the same newcomer.
BATCH_LOCK_KEY = 0x43434449  # "CCDI"
ERROR_DETAILS_KEPT = 200
DEFAULT_DISCHARGE_REASON = "Not recorded in {source}"

# Identity fields are CCD's own: an import fills them when empty but never overwrites them
# (a typo in one export must not rename a client; a mismatch is evidence for review).
IDENTITY_FIELDS = frozenset({"first_name", "last_name", "dob"})
NAME_FIELDS = frozenset({"first_name", "middle_name", "last_name", "preferred_name", "alias"})
LIST_FIELDS = {"ethnicity": "ethnicity"}
OPTION_LIST_OF = {"gender": "gender", "sexual_orientation": "sexual_orientation",
                  "citizenship_status": "citizenship_status", "indigenous_status": "indigenous_status",
                  "official_language": "official_language", "preferred_language": "language", "race": "race",
                  "province": "province", "ethnicity": "ethnicity"}
CLIENT_COLUMN_LIMITS = {name: Client.__table__.c[name].type.length for name in CLIENT_FIELDS
                        if name != "dob" and getattr(Client.__table__.c[name].type, "length", None)}


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


@dataclass
class ParsedRow:
    staged_id: uuid.UUID
    number: int
    source_id: str | None
    client: dict
    programs: list[uuid.UUID]
    enrollment_start: date | None
    intake_date: date | None
    discharge_date: date | None
    discharge_reason: str | None
    referral_source: str | None

    @property
    def person(self) -> matching.Person:
        return matching.Person(self.client.get("first_name"), self.client.get("last_name"), self.client.get("dob"),
                               self.client.get("preferred_name"), self.client.get("alias"), self.client.get("gender"),
                               frozenset({self.source_id}) if self.source_id else frozenset())

    @property
    def has_names(self) -> bool:
        return bool(self.client.get("first_name") and self.client.get("last_name"))


@dataclass
class Outcome:
    status: str
    reason: str | None = None
    client_id: uuid.UUID | None = None
    details: dict = field(default_factory=dict)


class ImportRun:
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

    # -- staging -----------------------------------------------------------------------------
    def stage(self) -> None:
        session, log = self.session, self.log
        path = Path(self.details.get("path", ""))
        if not path.is_file():
            raise FileRefused(f"The uploaded file is no longer at {path}; upload it again.")
        column_map = column_maps.column_map_for(session, self.source)
        sheet = read_sheet(path, is_header=lambda cells: not column_map.resolve(cells).missing)
        self.prepare(column_map, sheet.headers)
        self.details.update({"encoding": sheet.encoding, "header_row": sheet.header_row, "headers": sheet.headers,
                             "columns": self.resolved.describe(), "date_order": self.date_order})
        total = 0
        chunk = []
        for number, cells in sheet.rows:
            chunk.append({"id": uuid.uuid4(), "upload_log_id": log.id, "row_number": number,
                          "cells": [as_text(c) for c in cells], "status": "staged"})
            if len(chunk) >= STAGE_CHUNK:
                total += self._stage_chunk(chunk)
                chunk = []
        total += self._stage_chunk(chunk)
        log.total_rows = total
        self.details["rows_done"] = 0
        log.upload_details = dict(self.details)
        session.commit()

    def prepare(self, column_map, headers: list) -> None:
        """Resolve the columns and load what parsing rows needs; refuses the file when it cannot be read."""
        resolved = column_map.resolve(headers)
        problem = resolved.problem()
        if problem:
            raise FileRefused(problem)
        self.resolved = resolved
        self.date_order = column_map.date_order
        self._load_programs(resolved)
        self._load_options()

    def _stage_chunk(self, chunk) -> int:
        """Staged rows go in with COPY on PostgreSQL (the same transaction), plain INSERTs elsewhere."""
        if not chunk:
            return 0
        connection = self.session.connection()
        if connection.dialect.name == "postgresql":
            import json

            cursor = connection.connection.driver_connection.cursor()
            with cursor.copy("COPY import_rows (id, upload_log_id, row_number, cells, status) FROM STDIN") as copy:
                for row in chunk:
                    copy.write_row((row["id"], row["upload_log_id"], row["row_number"], json.dumps(row["cells"]),
                                    row["status"]))
        else:
            self.session.execute(sa.insert(ImportRow), chunk)
        return len(chunk)

    def _load_programs(self, resolved: ResolvedColumns) -> None:
        """Programs by exact name and configured alias, compared ignoring case and surrounding spaces only."""
        self.programs: dict[str, uuid.UUID] = {}
        for program_id, name in self.session.execute(sa.select(Program.id, Program.name)):
            self.programs[" ".join(name.split()).casefold()] = program_id
        for program_id, alias in self.session.execute(sa.select(ProgramAlias.program_id, ProgramAlias.alias)):
            self.programs.setdefault(" ".join(alias.split()).casefold(), program_id)
        self.file_program: uuid.UUID | None = None
        name = self.details.get("program")
        if name:
            self.file_program = self.programs.get(" ".join(name.split()).casefold())
            if self.file_program is None:
                raise FileRefused(f"There is no program called {name!r} (nor an alias of that name); check the "
                                  "spelling or add the alias in Programs & Services › Program aliases.")
        dated = [f for f in PROGRAM_DATED_FIELDS if resolved.has(f)]
        if dated and not resolved.has("program") and self.file_program is None:
            raise FileRefused(f"This file has {', '.join(dated)} columns but no Program column; choose the program "
                              "the file is for (SMIS reports are per program).")

    def _load_options(self) -> None:
        from app.services.options import active_options

        self.options = {key: active_options(key) for key in set(OPTION_LIST_OF.values())}

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
        batch.plan(parsed, outcomes)
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

    # -- one row -----------------------------------------------------------------------------
    def _cell(self, cells: list, field_name: str) -> str:
        index = self.resolved.positions.get(field_name)
        if index is None or index >= len(cells):
            return ""
        return cells[index] or ""

    def _parse(self, row) -> ParsedRow:
        cells = row.cells
        client: dict = {}
        for name in CLIENT_FIELDS:
            if not self.resolved.has(name):
                continue
            text = self._cell(cells, name)
            if name == "dob":
                value = parse_date(text, self.date_order, label="DOB")
                if value is not None and value > self.today:
                    raise BadValue(f"DOB {value:%Y-%m-%d} is in the future")
                if value is not None and value < date(1900, 1, 1):
                    raise BadValue(f"DOB {value:%Y-%m-%d} is before 1900")
            elif name in NAME_FIELDS:
                value = clean_name(text, CLIENT_COLUMN_LIMITS.get(name))
            elif name in LIST_FIELDS:
                value = [canonical_option(v, self.options[LIST_FIELDS[name]], LIST_FIELDS[name])
                         for v in split_multi(text)] or None
            else:
                value = clean_text(text, CLIENT_COLUMN_LIMITS.get(name))
                if value is not None and name in OPTION_LIST_OF:
                    value = canonical_option(value, self.options[OPTION_LIST_OF[name]], OPTION_LIST_OF[name])
                if name == "email" and value is not None:
                    if "@" not in value.strip("@"):
                        raise BadValue(f"Email {value!r} is not an email address")
            if value is not None:
                client[name] = value
        source_id = clean_text(self._cell(cells, "source_client_id"), 100)
        dates = {}
        for name, label in (("enrollment_start", "Admission date"), ("intake_date", "Intake date"),
                            ("discharge_date", "Discharge date")):
            value = parse_date(self._cell(cells, name), self.date_order, label=label)
            if value is not None and value > self.today:
                raise BadValue(f"{label} {value:%Y-%m-%d} is in the future")
            dates[name] = value
        start, discharge = dates["enrollment_start"], dates["discharge_date"]
        if start and discharge and discharge < start:
            raise BadValue(f"Discharge date {discharge:%Y-%m-%d} is before the admission date {start:%Y-%m-%d}")
        programs = self._programs(cells) if any(dates.values()) else []
        return ParsedRow(row.id, row.row_number, source_id, client, programs, start, dates["intake_date"], discharge,
                         clean_text(self._cell(cells, "discharge_reason"), 255),
                         clean_text(self._cell(cells, "referral_source"), 255))

    def _programs(self, cells) -> list[uuid.UUID]:
        names = split_programs(self._cell(cells, "program"))
        if not names:
            if self.file_program is None:
                raise BadValue("No program: the Program cell is empty")
            return [self.file_program]
        found = []
        for name in names:
            program_id = self.programs.get(name.casefold())
            if program_id is None:
                raise BadValue(f"Unknown program {name!r}: add it, or add it as an alias of a program "
                               "(Programs & Services › Program aliases)")
            if program_id not in found:
                found.append(program_id)
        return found

    def incoming_key(self, row: ParsedRow) -> str:
        if row.source_id:
            return f"{self.source}:{row.source_id}"[:200]
        person = row.person
        basis = "|".join((matching.normalize_name(person.first_name), matching.normalize_name(person.last_name),
                          person.dob.isoformat() if person.dob else ""))
        return f"{self.source}:row:{hashlib.sha1(basis.encode()).hexdigest()[:20]}"


class Batch:
    """One batch: decide every row against the database (read only), then write it all at once."""

    def __init__(self, run: ImportRun):
        self.run = run
        self.session = run.session
        self.new_clients: list[dict] = []
        self.client_changes: dict[uuid.UUID, dict] = {}  # client id -> {field: (before, after)}
        self.client_current: dict[uuid.UUID, dict] = {}
        self.new_source_ids: list[dict] = []
        self.new_enrollments: list[dict] = []
        self.enrollment_changes: dict[uuid.UUID, dict] = {}
        self.new_intakes: list[dict] = []
        self.new_discharges: list[dict] = []
        self.new_duplicates: list[dict] = []
        self.enrollments_written = self.intakes_written = self.discharges_written = 0
        self.enrollments_flagged = 0

    def _one_of(self, column, values):
        return matching.one_of(column, values, self.session.connection().dialect.name)

    # -- deciding ----------------------------------------------------------------------------
    def plan(self, rows: list[ParsedRow], outcomes: dict[uuid.UUID, Outcome]) -> None:
        run, session = self.run, self.session
        ids = sorted({row.source_id for row in rows if row.source_id and row.source_id not in run.id_of_source})
        known = dict(session.execute(
            sa.select(ClientSourceId.source_client_id, ClientSourceId.client_id)
            .where(ClientSourceId.source_system == run.source, self._one_of(ClientSourceId.source_client_id, ids))
        ).all()) if ids else {}
        by_id = {row.staged_id: run.id_of_source.get(row.source_id) or known.get(row.source_id)
                 for row in rows if row.source_id}
        to_match = [row for row in rows if not by_id.get(row.staged_id) and row.has_names]
        db_candidates = matching.find_candidates(session, [row.person for row in to_match],
                                                 min_score=run.thresholds.review, source=run.source)
        candidates = {row.staged_id: found for row, found in zip(to_match, db_candidates)}
        self._drop_reviewed_pairs(to_match, candidates)
        # A client that already has another id of this source is not matched automatically: only
        # candidates that could be matched need that check.
        other_ids = self._source_ids_of({c.client_id for found in candidates.values() for c in found
                                         if c.score.value >= run.thresholds.accept})

        # First decide every row (a newcomer gets its id now, so a later row of the batch finds it) ...
        decided = []
        for row in rows:
            client_id = by_id.get(row.staged_id) or run.id_of_source.get(row.source_id or "")
            if client_id is None and not row.has_names:
                outcomes[row.staged_id] = Outcome(
                    "rejected", f"{run.source} id {row.source_id!r} is not known to CCD and the row has no first "
                                "and last name to add the client with" if row.source_id else
                                "First and last name are needed to find or add the client")
                continue
            if client_id is not None:
                decided.append((row, "id", client_id, None, False))
                continue
            found = candidates.get(row.staged_id, []) + [
                c for c in run.new_index.candidates(row.person, min_score=run.thresholds.review)
                if all(c.client_id != existing.client_id for existing in candidates.get(row.staged_id, []))]
            decision = matching.decide(found, run.thresholds)
            if decision.outcome == matching.MATCH and row.source_id:
                others = other_ids.get(decision.client_id, set()) - {row.source_id}
                if others:
                    decision = matching.Decision(
                        matching.REVIEW, None, decision.candidates,
                        f"the most similar client already has {run.source} id {', '.join(sorted(others))}")
            if decision.outcome == matching.REVIEW:
                decided.append((row, "review", None, decision, False))
                continue
            client_id = decision.client_id if decision.outcome == matching.MATCH else uuid.uuid4()
            if decision.outcome == matching.NEW:
                run.new_index.add(client_id, row.person)
            if row.source_id:
                run.id_of_source[row.source_id] = client_id
            decided.append((row, "score" if decision.outcome == matching.MATCH else "new", client_id, decision,
                            bool(row.source_id)))

        # ... then read only the clients rows were matched to, and write.
        self._load_clients({client_id for _, kind, client_id, _, _ in decided if kind in ("id", "score")})
        self._load_children()
        for row, kind, client_id, decision, add_source_id in decided:
            if kind == "review":
                outcomes[row.staged_id] = self._review(row, decision)
            else:
                outcomes[row.staged_id] = self._write_row(
                    row, client_id, kind, add_source_id,
                    score=decision.candidates[0].score if kind == "score" else None)

    def _drop_reviewed_pairs(self, rows: list[ParsedRow], candidates) -> None:
        """A pair a person marked "not a duplicate" is not proposed again."""
        keys = {self.run.incoming_key(row): row for row in rows}
        if not keys:
            return
        declined = self.session.execute(
            sa.select(ClientDuplicate.incoming_key, ClientDuplicate.primary_client_id)
            .where(self._one_of(ClientDuplicate.incoming_key, sorted(keys)), ClientDuplicate.status == "not_duplicate")
        ).all()
        for key, client_id in declined:
            row = keys[key]
            candidates[row.staged_id] = [c for c in candidates.get(row.staged_id, []) if c.client_id != client_id]

    def _source_ids_of(self, client_ids) -> dict[uuid.UUID, set[str]]:
        found: dict[uuid.UUID, set[str]] = defaultdict(set)
        if client_ids:
            for client_id, source_id in self.session.execute(
                    sa.select(ClientSourceId.client_id, ClientSourceId.source_client_id)
                    .where(ClientSourceId.source_system == self.run.source,
                           self._one_of(ClientSourceId.client_id, sorted(client_ids)))):
                found[client_id].add(source_id)
        return found

    def _load_clients(self, client_ids) -> None:
        columns = [Client.__table__.c[name] for name in ("id", *CLIENT_FIELDS, "languages_spoken")]
        if client_ids:
            for row in self.session.execute(sa.select(*columns).where(self._one_of(Client.id, sorted(client_ids)))):
                self.client_current[row.id] = dict(row._mapping)

    def _load_children(self) -> None:
        """Existing enrollments, intakes and discharges of the batch's clients, by natural key."""
        self.enrollments: dict[tuple, dict] = {}
        self.open_enrollments: dict[tuple, list[dict]] = defaultdict(list)
        self.intake_keys: set[tuple] = set()
        self.discharge_keys: set[tuple] = set()
        client_ids = sorted(self.client_current)
        if not client_ids:
            return
        for row in self.session.execute(
                sa.select(Enrollment.id, Enrollment.client_id, Enrollment.program_id, Enrollment.start_date,
                          Enrollment.end_date, Enrollment.status)
                .where(self._one_of(Enrollment.client_id, client_ids), Enrollment.is_archived.is_(False))):
            record = dict(row._mapping)
            self.enrollments[(row.client_id, row.program_id, row.start_date)] = record
            if row.end_date is None:
                self.open_enrollments[(row.client_id, row.program_id)].append(record)
        self.intake_keys = {tuple(row) for row in self.session.execute(
            sa.select(Intake.client_id, Intake.program_id, Intake.intake_date)
            .where(self._one_of(Intake.client_id, client_ids)))}
        self.discharge_keys = {tuple(row) for row in self.session.execute(
            sa.select(Discharge.client_id, Discharge.program_id, Discharge.discharge_date)
            .where(self._one_of(Discharge.client_id, client_ids)))}

    # -- what a row writes -------------------------------------------------------------------
    def _write_row(self, row: ParsedRow, client_id: uuid.UUID, matched_by: str, add_source_id: bool,
                   score: matching.Score | None = None) -> Outcome:
        run = self.run
        details = {"matched_by": matched_by}
        if score is not None:
            details["score"] = score.details()
        if matched_by == "new":
            self._new_client(row, client_id)
            status = "inserted"
        else:
            status = "updated" if self._update_client(client_id, row.client) else "unchanged"
        if add_source_id:
            self.new_source_ids.append({"id": uuid.uuid4(), "client_id": client_id, "source_system": run.source,
                                        "source_client_id": row.source_id})
        for program_id in row.programs:
            self._services(row, client_id, program_id)
        return Outcome(status, None, client_id, details)

    def _new_client(self, row: ParsedRow, client_id: uuid.UUID) -> None:
        values = {name: value for name, value in row.client.items()}
        if "preferred_language" in values:
            values["languages_spoken"] = [values["preferred_language"]]
        keys = matching.match_keys(values.get("first_name"), values.get("last_name"), values.get("dob"))
        values.update({"id": client_id, "source_system": self.run.source, "block_last_key": keys.last_key,
                       "block_names_key": keys.names_key,
                       "block_prefix_key": keys.prefix_key})
        values.setdefault("languages_spoken", [])
        values.setdefault("ethnicity", [])
        self.new_clients.append(values)
        self.client_current[client_id] = dict(values)

    def _update_client(self, client_id: uuid.UUID, incoming: dict) -> bool:
        current = self.client_current.get(client_id)
        if current is None:  # created by an earlier batch of a dry run: nothing in the database to compare
            return False
        changes = self.client_changes.setdefault(client_id, {})
        changed = False
        for name, value in incoming.items():
            before = current.get(name)
            if name in IDENTITY_FIELDS and before not in (None, ""):
                continue
            if name in LIST_FIELDS:
                merged = list(before or []) + [v for v in value if v not in (before or [])]
                value = merged
            if value == before:
                continue
            changes.setdefault(name, (before, value))
            changes[name] = (changes[name][0], value)
            current[name] = value
            changed = True
        language = incoming.get("preferred_language")
        spoken = list(current.get("languages_spoken") or [])
        if language and language not in spoken:
            changes.setdefault("languages_spoken", (list(spoken), None))
            spoken.append(language)
            changes["languages_spoken"] = (changes["languages_spoken"][0], spoken)
            current["languages_spoken"] = spoken
            changed = True
        if not changes:
            self.client_changes.pop(client_id, None)
        return changed

    def _services(self, row: ParsedRow, client_id: uuid.UUID, program_id: uuid.UUID) -> None:
        run = self.run
        if row.enrollment_start:
            key = (client_id, program_id, row.enrollment_start)
            existing = self.enrollments.get(key)
            if existing is None and key not in run.written_keys:
                record = {"id": uuid.uuid4(), "client_id": client_id, "program_id": program_id,
                          "start_date": row.enrollment_start, "end_date": row.discharge_date,
                          "status": "discharged" if row.discharge_date else "active"}
                self.new_enrollments.append(record)
                self.enrollments[key] = dict(record)
                if record["end_date"] is None:
                    self.open_enrollments[(client_id, program_id)].append(self.enrollments[key])
                run.written_keys.add(key)
                self.enrollments_written += 1
            elif existing is not None and row.discharge_date and existing["end_date"] != row.discharge_date:
                self._end_enrollment(existing, row.discharge_date)
        elif row.discharge_date:
            open_ones = [e for e in self.open_enrollments.get((client_id, program_id), [])
                         if e["start_date"] <= row.discharge_date and e["end_date"] is None]
            if len(open_ones) == 1:
                self._end_enrollment(open_ones[0], row.discharge_date)
        if row.intake_date:
            key = ("intake", client_id, program_id, row.intake_date)
            if (client_id, program_id, row.intake_date) not in self.intake_keys and key not in run.written_keys:
                self.new_intakes.append({"id": uuid.uuid4(), "client_id": client_id, "program_id": program_id,
                                         "intake_date": row.intake_date, "source_system": run.source,
                                         "referral_source": row.referral_source})
                run.written_keys.add(key)
                self.intakes_written += 1
        if row.discharge_date:
            key = ("discharge", client_id, program_id, row.discharge_date)
            if (client_id, program_id, row.discharge_date) not in self.discharge_keys and key not in run.written_keys:
                self.new_discharges.append({
                    "id": uuid.uuid4(), "client_id": client_id, "program_id": program_id,
                    "discharge_date": row.discharge_date,
                    "reason": row.discharge_reason or DEFAULT_DISCHARGE_REASON.format(source=run.source)})
                run.written_keys.add(key)
                self.discharges_written += 1

    def _end_enrollment(self, enrollment: dict, end: date) -> None:
        if end < enrollment["start_date"]:
            return
        change = self.enrollment_changes.setdefault(
            enrollment["id"], {"client_id": enrollment["client_id"],
                               "before": {"end_date": enrollment["end_date"], "status": enrollment["status"]}})
        change["after"] = {"end_date": end, "status": "discharged"}
        enrollment["end_date"], enrollment["status"] = end, "discharged"
        self.enrollments_written += 1

    def _review(self, row: ParsedRow, decision: matching.Decision) -> Outcome:
        run = self.run
        listed = [{"client_id": str(c.client_id), "name": f"{c.person.first_name} {c.person.last_name}",
                   "dob": c.person.dob.isoformat() if c.person.dob else None, **c.score.details()}
                  for c in decision.candidates]
        key = run.incoming_key(row)
        for candidate in decision.candidates:
            if candidate.client_id in {c["primary_client_id"] for c in self.new_duplicates
                                       if c["incoming_key"] == key}:
                continue
            value = candidate.score.value
            self.new_duplicates.append({
                "id": uuid.uuid4(), "primary_client_id": candidate.client_id, "import_row_id": row.staged_id,
                "incoming_key": key, "similarity_score": round(min(max(value, 0.0), 1.0), 4),
                "match_type": candidate.score.match_type,
                "confidence_level": "high" if value >= run.thresholds.accept else "medium" if value >= (
                    run.thresholds.accept + run.thresholds.review) / 2 else "low",
                "status": "pending", "detection_source": "import",
                "match_details": {"reason": decision.reason, "row_number": row.number, "source": run.source,
                                  "source_id": row.source_id, "upload_log_id": str(run.log.id),
                                  **candidate.score.details()},
            })
        return Outcome("review", f"Possible duplicate: {decision.reason}", None, {"candidates": listed})

    # -- writing -----------------------------------------------------------------------------
    def apply(self) -> None:
        session = self.session
        actor = audit.current_actor()
        now = datetime.now(timezone.utc)
        trail = []

        def created(table: str, rows: list[dict], client_key: str | None = "client_id") -> None:
            for row in rows:
                diff = {k: {"before": None, "after": v} for k, v in row.items() if k != "id"
                        and not k.startswith("block_")}
                trail.append(audit.audit_row(table, row["id"], "import", diff, actor=actor, at=now,
                                             client_id=row["id"] if client_key is None else row.get(client_key)))

        with audit.bulk_write(), audit.audit_action("import"):
            if self.new_clients:
                self._insert(Client, self.new_clients)
                created("clients", self.new_clients, client_key=None)
            self._update_clients(trail, actor, now)
            if self.new_source_ids:
                self._insert(ClientSourceId, self.new_source_ids)
                created("client_source_ids", self.new_source_ids)
            if self.new_enrollments:
                self._flag_restricted_enrollments(trail, actor, now)
                self._insert(Enrollment, self.new_enrollments)
                created("client_program_enrollments", self.new_enrollments)
            if self.enrollment_changes:
                session.execute(sa.update(Enrollment), [{"id": enrollment_id, **change["after"]}
                                                        for enrollment_id, change in self.enrollment_changes.items()])
                for enrollment_id, change in self.enrollment_changes.items():
                    diff = {k: {"before": change["before"][k], "after": change["after"][k]} for k in change["after"]
                            if change["before"][k] != change["after"][k]}
                    trail.append(audit.audit_row("client_program_enrollments", enrollment_id, "import", diff,
                                                 actor=actor, at=now, client_id=change["client_id"]))
            if self.new_intakes:
                self._insert(Intake, self.new_intakes)
                created("intakes", self.new_intakes)
            if self.new_discharges:
                self._insert(Discharge, self.new_discharges)
                created("discharges", self.new_discharges)
            if self.new_duplicates:
                self._insert_duplicates(trail, actor, now)
            audit.record_many(session, trail)

    def _flag_restricted_enrollments(self, trail, actor, now) -> None:
        """The source system already enrolled these clients, so the enrollments are written; those a
        restriction would have stopped are flagged for a Coordinator, audited as overrides naming the
        restrictions, and announced to subscribers once the batch commits (the session check cannot
        see bulk inserts, so the batch is checked here, with one query)."""
        restricted = restrictions.restrictions_for_enrollments(self.session, self.new_enrollments, self._one_of)
        if not restricted:
            return
        log = self.run.log
        reason = f"Recorded by {log.source} import of {log.file_name}"
        announced = set()
        for record in self.new_enrollments:
            covering = restricted.get(record["id"])
            if not covering:
                continue
            record["override_reason"], record["flagged_for_review"] = reason, True
            trail.append(audit.audit_row("client_program_enrollments", record["id"], "override",
                                         restrictions.override_diff(reason, covering, True),
                                         actor=actor, at=now, client_id=record["client_id"]))
            announced.update(restriction.id for restriction in covering)
            self.enrollments_flagged += 1
        restriction_notices.announce_enrollments_after_commit(self.session, announced)

    def _insert(self, model, rows: list[dict]) -> None:
        bulk.insert_rows(self.session, model.__table__, rows)

    def _update_clients(self, trail, actor, now) -> None:
        groups: dict[tuple, list[dict]] = defaultdict(list)
        for client_id, changes in self.client_changes.items():
            values = {name: after for name, (before, after) in changes.items()}
            if "dob" in values:
                current = self.client_current[client_id]
                keys = matching.match_keys(current.get("first_name"), current.get("last_name"), values["dob"])
                values.update({"block_last_key": keys.last_key,
                               "block_names_key": keys.names_key, "block_prefix_key": keys.prefix_key})
            groups[tuple(sorted(values))].append({"id": client_id, **values})
            trail.append(audit.audit_row("clients", client_id, "import",
                                         {name: {"before": before, "after": after}
                                          for name, (before, after) in changes.items()},
                                         actor=actor, at=now, client_id=client_id))
        for group in groups.values():
            self.session.execute(sa.update(Client), group)

    def _insert_duplicates(self, trail, actor, now) -> None:
        pairs = {(d["primary_client_id"], d["incoming_key"]) for d in self.new_duplicates}
        existing = {tuple(row) for row in self.session.execute(
            sa.select(ClientDuplicate.primary_client_id, ClientDuplicate.incoming_key)
            .where(self._one_of(ClientDuplicate.incoming_key, sorted({key for _, key in pairs}))))}
        fresh = [d for d in self.new_duplicates if (d["primary_client_id"], d["incoming_key"]) not in existing]
        if fresh:
            self._insert(ClientDuplicate, fresh)
            for row in fresh:
                diff = {k: {"before": None, "after": v} for k, v in row.items() if k != "id"}
                trail.append(audit.audit_row("client_duplicates", row["id"], "import", diff, actor=actor, at=now,
                                             client_id=row["primary_client_id"]))
