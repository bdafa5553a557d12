"""Importing one file: stage, link, decide, write; the writes in batches that each commit whole or not at all.

This module holds the entry points and the run's lifecycle; the steps live beside it:
stage.py (staging the file), parse.py (one row's values), link.py (rows to clusters and
clients), decide.py (what each cluster becomes) and write.py (what a batch writes).

1. The file is read (reading.py) and its columns resolved through the source's column
   map (column_maps.py); a file missing required columns is refused as a whole.
2. Every row is staged in ``import_rows`` before anything canonical is touched.
3. The file is linked as a whole (link.py): rows that are one person become a cluster,
   and each cluster is linked to clients (same-source id, then blocking and scoring in
   app/services/matching). Every cluster is then decided (decide.py) before anything is
   written, so neither row order nor batch size changes an outcome.
4. Clusters are written in batches of whole clusters (write.py): clients, source ids,
   enrollments, intakes, discharges, review items, audit rows, row outcomes and the upload
   log's counters are committed together. A crash loses at most the batch in hand, and
   re-running the file redoes only what is missing: every record has a natural key
   (client + program + date, source + id), so nothing is written twice.
5. A dry run does all of that except the canonical writes.
6. However a run ends, it ends: failed with a message free of the file's values, its staged
   rows dropped (runs.py); a killed run is ended by the reaper and can be resumed.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable

import sqlalchemy as sa

from app import audit, bulk
from app.choices import SOURCE_SYSTEMS
from app.config import DEFAULT_INGEST_BATCH_SIZE
from app.extensions import db
from app.models import ClientDuplicate, ClientSourceId, ClientUploadLog, ImportRow
from app.services import matching
from app.services.ingest import column_maps, heap
from app.services.ingest.decide import (
    BY_ID, BY_NAME, HELD, NEW, ClusterDecision, decide_clusters, describe, matched_by_words, shared_clients,
)
from app.services.ingest.link import Cluster, FileLinks, in_content_order
from app.services.ingest.parse import RowParsing
from app.services.ingest.reading import FileRefused, file_type_of
from app.services.ingest.runs import (
    KEPT_STATUSES, ImportStopped, clear_rows, drop_spent_rows, drop_superseded_rows, fail, log_stopped,
    stopped_message, take_over_held_rows,
)
from app.services.ingest.stage import Staging
from app.services.ingest.write import Batch, Outcome

# Imports of any source take turns file by file (PostgreSQL advisory lock), so two imports
# running at once cannot both add the same newcomer.
BATCH_LOCK_KEY = 0x43434449  # "CCDI"
ERROR_DETAILS_KEPT = 200
HEARTBEAT_SECONDS = 60  # a working run touches its upload log at least this often (runs.reap_stale)


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
    # Rows and people apart: how each row found its client, and who waits for a reviewer.
    rows_matched_by_id: int = 0
    clients_matched_by_id: int = 0
    rows_matched_by_name: int = 0
    clients_matched_by_name: int = 0
    lowest_match_probability: float | None = None
    rows_new: int = 0
    people_held: int = 0

    def lines(self) -> list[str]:
        head = f"{self.source} {self.file_name}: {self.status}" + (" (dry run: nothing was written)" if self.dry_run
                                                                  else "")
        if self.error and not self.rows_read:
            return [head, self.error]
        return [
            head, *([self.error] if self.error else []),
            f"rows read: {self.rows_read}",
            f"matched to an existing client by {self.source} id: {self.rows_matched_by_id} rows "
            f"({self.clients_matched_by_id} clients)",
            f"matched automatically to an existing client by name and birth date: {self.rows_matched_by_name} rows "
            f"({self.clients_matched_by_name} clients" + (
                f"; match probability {self.lowest_match_probability:.2f} or more)"
                if self.lowest_match_probability is not None else ")"),
            f"new clients: {self.inserted} (from {self.rows_new} rows)",
            f"existing clients whose details changed: {self.updated}; unchanged: {self.unchanged}",
            f"held for review, nothing written for them: {self.possible_duplicates} rows "
            f"({self.people_held} people)",
            f"rejected for bad values: {self.rejected} rows",
            f"enrollments written: {self.enrollments} (of which flagged for review because a service "
            f"restriction is in force: {self.enrollments_flagged}), intakes written: {self.intakes}, "
            f"discharges written: {self.discharges}",
            f"duration: {self.duration_seconds:.1f} s",
        ]

    @classmethod
    def of(cls, log: ClientUploadLog) -> "ImportSummary":
        details = log.upload_details or {}
        return cls(log.id, log.file_name, log.source, log.status, bool(details.get("dry_run")), log.total_rows,
                   log.records_created, log.records_updated, log.records_skipped,
                   details.get("rejected", (log.errors_count or 0) - (log.duplicates_flagged or 0)),
                   log.duplicates_flagged, details.get("enrollments", 0), details.get("enrollments_flagged", 0),
                   details.get("intakes", 0),
                   details.get("discharges", 0), log.duration_seconds or 0.0, log.error_message,
                   details.get("rows_matched_by_id", 0), details.get("clients_matched_by_id", 0),
                   details.get("rows_matched_by_name", 0), details.get("clients_matched_by_name", 0),
                   details.get("lowest_match_probability"), details.get("rows_new", 0),
                   details.get("people_held", 0))


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

    The answer covers the row's whole cluster: every row of the file held as the same person
    is written, each exactly as the import would have written it. The cluster's review items
    are closed: the chosen client's as "merged", the others as "not_duplicate", so the pairs are
    not flagged again. Returns the outcome of ``import_row_id``. The caller commits.
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
    key = (row.details or {}).get("incoming_key")
    held = [row] if key is None else [
        other for other in session.scalars(sa.select(ImportRow).where(
            ImportRow.upload_log_id == log.id, ImportRow.status == "review"))
        if (other.details or {}).get("incoming_key") == key]
    rows = in_content_order([(run._parse(r), r.cells) for r in held])
    source_id = next((p.source_id for p in rows if p.source_id), None)
    items = session.scalars(sa.select(ClientDuplicate).where(
        ClientDuplicate.import_row_id.in_([r.id for r in held]))).all()
    if client_id is not None and client_id not in {item.primary_client_id for item in items}:
        raise ValueError("Choose one of the clients the row was flagged against, or none.")
    known = session.scalar(sa.select(ClientSourceId.client_id).where(
        ClientSourceId.source_system == log.source, ClientSourceId.source_client_id == source_id)) \
        if source_id else None
    if known is not None and known != client_id:
        raise ValueError(f"{log.source} id {source_id} already belongs to another client.")
    cluster = Cluster(key or run.incoming_key(rows[0]), source_id)
    decision = ClusterDecision(cluster, BY_NAME if client_id else NEW, client_id or uuid.uuid4(),
                               add_source_id=known is None)
    batch = Batch(run)
    if client_id is not None:
        batch._load_clients({client_id})
    batch._load_children()
    with audit.acting_as(f"import {log.source} {log.file_name}"[:100]):
        outcomes, _ = batch.write_cluster(
            decision, rows, "a reviewer: same person as this client" if client_id else "a reviewer: a new person")
        batch.apply()
        for item in items:
            item.status = "merged" if item.primary_client_id == client_id else "not_duplicate"
            item.reviewed_at = datetime.now(timezone.utc)
            item.reviewed_by_id = reviewed_by_id
        for other in held:
            outcome = outcomes[other.id]
            other.status, other.client_id = outcome.status, outcome.client_id
            other.reason = f"{other.reason} — resolved by review"
    return outcomes[row.id]


# -- the run ---------------------------------------------------------------------------------
@dataclass
class Counters:
    """What the run did: clients (people) and rows counted apart, as the summary reports them."""

    inserted: int = 0  # new clients
    updated: int = 0  # existing clients whose details changed
    unchanged: int = 0  # existing clients written to without a change of details
    rejected: int = 0  # rows rejected for bad values
    review: int = 0  # rows held for review
    people_held: int = 0
    rows_new: int = 0
    rows_by_id: int = 0
    rows_by_name: int = 0
    lowest_probability: float | None = None
    enrollments: int = 0
    enrollments_flagged: int = 0
    intakes: int = 0
    discharges: int = 0
    done: int = 0
    # Clients counted once each. Nearly every client is written by one cluster, so a count is exact
    # for it; only clients several clusters write to (``shared``) are kept, in sets, to be counted once.
    # (Sets of every matched client were the largest thing an import kept per row.)
    shared: frozenset = frozenset()
    clients_by_id: int = 0
    clients_by_name: int = 0
    clients_changed: int = 0
    shared_by_id: set = field(default_factory=set)
    shared_by_name: set = field(default_factory=set)
    shared_changed: set = field(default_factory=set)

    def matched(self, client_id, by_id: bool, changed: bool) -> None:
        if client_id in self.shared:
            (self.shared_by_id if by_id else self.shared_by_name).add(client_id)
            if changed:
                self.shared_changed.add(client_id)
            return
        if by_id:
            self.clients_by_id += 1
        else:
            self.clients_by_name += 1
        self.clients_changed += changed

    def distinct(self) -> tuple[int, int, int, int]:
        """Clients matched by id, by name, changed, and matched but unchanged."""
        matched = self.shared_by_id | self.shared_by_name
        changed = self.clients_changed + len(self.shared_changed)
        unchanged = self.clients_by_id + self.clients_by_name - self.clients_changed + len(
            matched - self.shared_changed)
        return (self.clients_by_id + len(self.shared_by_id), self.clients_by_name + len(self.shared_by_name),
                changed, unchanged)


def process_upload(upload_log_id, *, progress: Callable[[int, int], None] | None = None,
                   batch_size: int | None = None, resume: bool = False) -> ImportSummary:
    """Run a queued import to the end and return its summary. Safe to call twice: a finished import is
    reported, and a running one is left to the process running it, unless ``resume`` says that process
    died (a redelivered task): then the run starts again from the top, converging on what is written."""
    from flask import current_app

    session = db.session
    log = session.get(ClientUploadLog, upload_log_id)
    if log is None:
        raise LookupError(f"No import {upload_log_id}.")
    if log.is_finished or (log.status == "running" and not resume):
        return ImportSummary.of(log)
    check_permission()
    batch_size = batch_size or int(current_app.config.get("INGEST_BATCH_SIZE", DEFAULT_INGEST_BATCH_SIZE))
    thresholds = matching.Thresholds.from_config(current_app.config)
    if log.status == "running":
        clear_rows(session, log.id)
    details = dict(log.upload_details or {})
    details.pop("rows_done", None)
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
            fail(session, upload_log_id, str(exc), started)
        except Exception as exc:
            session.rollback()
            log_stopped(upload_log_id, exc)
            message = stopped_message(exc)
            fail(session, upload_log_id, message, started)
            raise ImportStopped(message) from exc
    return ImportSummary.of(session.get(ClientUploadLog, upload_log_id))


class ImportRun(Staging, RowParsing):
    """One import: stage the file, link it as a whole, decide every cluster, then write in batches."""

    def __init__(self, session, log: ClientUploadLog, details: dict, thresholds, batch_size, progress):
        self.session, self.log, self.details = session, log, details
        self.source, self.thresholds, self.batch_size, self.progress = log.source, thresholds, batch_size, progress
        self.dry_run = bool(details.get("dry_run"))
        self.model: matching.LinkageModel | None = None  # the file's, once it is linked
        self.today = date.today()
        self.counters = Counters()
        self.errors: list[dict] = []
        # Services written to a client several clusters write to, across batches: a dry run writes nothing the
        # next batch could find. Other clients' services are all written by one batch, which knows them.
        self.written_keys: set[tuple] = set()
        self.beat_at = time.monotonic()

    def heartbeat(self) -> None:
        """Show the run is alive (the reaper ends runs whose log stops moving): commits what is in hand."""
        if time.monotonic() - self.beat_at >= HEARTBEAT_SECONDS:
            self.log.updated_at = datetime.now(timezone.utc)
            self.session.commit()
            self.beat_at = time.monotonic()

    def _rejected_in_staging(self, number: int, reason: str) -> None:
        self.counters.rejected += 1
        self.counters.done += 1
        if len(self.errors) < ERROR_DETAILS_KEPT:
            self.errors.append({"row": number, "reason": reason})

    # -- link, decide, write -------------------------------------------------------------------
    def process(self) -> None:
        """Imports of any source take turns for the whole file: its decisions are taken before it
        writes, so another import must not add the same newcomers meanwhile."""
        lock = None
        if self.session.connection().dialect.name == "postgresql":
            # On a connection of its own: the session's connection goes back to the pool at each commit.
            lock = self.session.get_bind().engine.connect()
            lock.execute(sa.select(sa.func.pg_advisory_lock(BATCH_LOCK_KEY)))
            lock.commit()
        try:
            with heap.long_lived_state():
                self._link_decide_write()
        finally:
            if lock is not None:
                lock.execute(sa.select(sa.func.pg_advisory_unlock(BATCH_LOCK_KEY)))
                lock.commit()
                lock.close()

    def _link_decide_write(self) -> None:
        links = FileLinks(self)
        links.read(self._reject)
        heap.freeze()  # the file's people and clusters live until it is written
        links.link_to_clients()
        decisions = decide_clusters(links.clusters, self.source, self.thresholds)
        self.model = links.model  # what each batch describes its decisions' evidence with
        del links
        heap.freeze()  # and now their candidates and decisions
        self.counters.shared = shared_clients(decisions)
        # Clusters held against a client this file creates come after it; each batch holds whole clusters.
        # A written batch's decisions are let go (with the evidence described for them).
        ordered = deque([d for d in decisions if d.writes] + [d for d in decisions if not d.writes])
        del decisions
        batch, rows = [], 0
        while ordered:
            decision = ordered.popleft()
            batch.append(decision)
            rows += decision.cluster.row_count
            if rows >= self.batch_size:
                self._process_batch(batch)
                batch, rows = [], 0
        if batch:
            self._process_batch(batch)

    def _reject(self, rejected: list[tuple]) -> None:
        """Rows that cannot be read: recorded (and committed) as they are found."""
        outcomes = {row.id: Outcome("rejected", reason) for row, reason in rejected}
        self.counters.rejected += len(rejected)
        self._record_outcomes([row for row, _ in rejected], outcomes, None)
        self.session.commit()

    def _process_batch(self, decisions: list[ClusterDecision]) -> None:
        describe(decisions, self.model, self.source)
        numbers = [number for decision in decisions for number in decision.cluster.rows]
        staged = {row.row_number: row for row in self.session.execute(
            sa.select(ImportRow.id, ImportRow.row_number, ImportRow.cells)
            .where(ImportRow.upload_log_id == self.log.id,
                   matching.one_of(ImportRow.row_number, numbers, self.session.connection().dialect.name)))}
        batch = Batch(self)
        batch._load_clients({d.client_id for d in decisions if d.outcome in (BY_ID, BY_NAME)})
        batch._load_children()
        outcomes: dict[uuid.UUID, Outcome] = {}
        counters = self.counters
        for decision in decisions:
            cluster = decision.cluster
            rows = in_content_order([(self._parse(staged[number]), staged[number].cells) for number in cluster.rows])
            if decision.writes:
                written, changed = batch.write_cluster(decision, rows, matched_by_words(decision, self.source))
                outcomes.update(written)
                self._count_written(decision, changed)
            elif decision.outcome == HELD:
                outcomes.update(batch.hold(decision, rows))
                counters.review += cluster.row_count
                counters.people_held += 1
            else:
                outcomes.update({row.staged_id: Outcome("rejected", decision.reason) for row in rows})
                counters.rejected += cluster.row_count
        if not self.dry_run:
            batch.apply()
            take_over_held_rows(self.session, self.log, {
                item["incoming_key"]: item["import_row_id"] for item in batch.new_duplicates})
        self._record_outcomes([staged[number] for number in numbers], outcomes, batch)
        self.session.commit()
        heap.collect()  # the batch's records, while automatic collection is paused (heap.py)
        if self.progress:
            self.progress(counters.done, self.log.total_rows)

    def _count_written(self, decision: ClusterDecision, changed: bool) -> None:
        counters, rows = self.counters, decision.cluster.row_count
        if decision.outcome == NEW:
            counters.inserted += 1
            counters.rows_new += rows
            return
        if decision.outcome == BY_ID:
            counters.rows_by_id += rows
        else:
            counters.rows_by_name += rows
            value = decision.score.value
            counters.lowest_probability = value if counters.lowest_probability is None else min(
                counters.lowest_probability, value)
        counters.matched(decision.client_id, decision.outcome == BY_ID, changed)

    def _record_outcomes(self, staged, outcomes: dict[uuid.UUID, Outcome], batch: Batch | None) -> None:
        counters = self.counters
        updates, spent = [], []
        for row in staged:
            outcome = outcomes[row.id]
            if outcome.status not in KEPT_STATUSES:  # written: the row has done its job (drop_spent_rows)
                spent.append(row.id)
                continue
            if len(self.errors) < ERROR_DETAILS_KEPT:
                self.errors.append({"row": row.row_number, "reason": outcome.reason})
            updates.append({"id": row.id, "status": outcome.status, "reason": outcome.reason,
                            "client_id": None if self.dry_run else outcome.client_id, "details": outcome.details})
        if batch is not None:
            counters.enrollments += batch.enrollments_written
            counters.enrollments_flagged += batch.enrollments_flagged
            counters.intakes += batch.intakes_written
            counters.discharges += batch.discharges_written
        counters.done += len(staged)
        # Deleted with the batch it wrote, not marked and deleted when the run ends: a run that stops meanwhile
        # starts again from the top (process_upload), and rewriting every row's cells cost as much as deleting.
        if spent:
            self.session.execute(sa.delete(ImportRow).where(
                matching.one_of(ImportRow.id, spent, self.session.connection().dialect.name)))
        bulk.update_rows(self.session, ImportRow.__table__, updates)
        self._write_counters()

    def _write_counters(self) -> None:
        log, counters = self.log, self.counters
        by_id, by_name, counters.updated, counters.unchanged = counters.distinct()
        log.records_created, log.records_updated, log.records_skipped = (counters.inserted, counters.updated,
                                                                         counters.unchanged)
        log.errors_count = counters.rejected + counters.review
        log.duplicates_flagged = counters.review
        log.error_details = list(self.errors)
        self.details.update({"rows_done": counters.done, "enrollments": counters.enrollments,
                             "enrollments_flagged": counters.enrollments_flagged,
                             "intakes": counters.intakes, "discharges": counters.discharges,
                             "unchanged": counters.unchanged, "rejected": counters.rejected,
                             "possible_duplicates": counters.review, "people_held": counters.people_held,
                             "rows_new": counters.rows_new, "rows_matched_by_id": counters.rows_by_id,
                             "clients_matched_by_id": by_id,
                             "rows_matched_by_name": counters.rows_by_name,
                             "clients_matched_by_name": by_name,
                             "lowest_match_probability": counters.lowest_probability})
        log.upload_details = dict(self.details)

    def finish(self, seconds: float) -> None:
        log, counters = self.log, self.counters
        self._write_counters()
        log.status = "partial" if counters.rejected or counters.review else "success"
        if log.total_rows and counters.rejected == log.total_rows:
            log.status = "failed"
            log.error_message = (f"Every row ({log.total_rows}) was rejected, so nothing was imported; the rejects "
                                 "file lists each row and why.")
        log.completed_at = datetime.now(timezone.utc)
        log.duration_seconds = round(seconds, 3)
        if not self.dry_run:
            summary = {"file": log.file_name, "source": log.source, "sha256": log.file_sha256,
                       "rows_read": log.total_rows, "clients_inserted": counters.inserted,
                       "clients_updated": counters.updated, "clients_unchanged": counters.unchanged,
                       "rows_rejected": counters.rejected, "possible_duplicates": counters.review,
                       "people_held": counters.people_held, "rows_matched_by_id": counters.rows_by_id,
                       "rows_matched_by_name": counters.rows_by_name, "rows_new_clients": counters.rows_new,
                       "enrollments_written": counters.enrollments,
                       "enrollments_flagged": counters.enrollments_flagged, "intakes_written": counters.intakes,
                       "discharges_written": counters.discharges, "status": log.status}
            audit.record(self.session, "client_upload_logs", log.id, "import",
                         {key: {"before": None, "after": value} for key, value in summary.items()})
        # Written rows have done their job; rejected and review rows stay for the rejects file and reviewers.
        drop_spent_rows(self.session, log.id)
        if not self.dry_run:
            drop_superseded_rows(self.session, log)
        self.session.commit()

