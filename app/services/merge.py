"""Possible duplicates: flag them once, dismiss them for good, merge them, and undo a merge.

A merge is the most dangerous write CCD makes (two people's histories become one), so
it happens in one savepoint (all of it or none of it), every moved row is written
through the ORM (the audit trail records each), and one summary row of its own
(entity ``client_merges``, action ``merge``) keeps everything needed to put both
records back exactly as they were. The merged-away record is archived and points at
the survivor; it is never deleted.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import audit, guard
from app.constraints import explain
from app.extensions import db
from app.labels import entity_label, label
from app.models import (
    AuditLog, Client, ClientDuplicate, ClientSourceId, Discharge, Enrollment, Intake, ServiceRestriction,
    StaffClientAssignment,
)
from app.permissions import may_merge_clients

MERGE_ENTITY = "client_merges"
SURVIVOR, MERGED = "survivor", "merged"

# Client fields a reviewer chooses between. Keys, timestamps, versions and archive state belong
# to the records themselves; uid_external is unique, so each record keeps its own.
NOT_CHOSEN = frozenset({"id", "created_at", "updated_at", "version", "is_archived", "archived_at",
                        "merged_into_id", "uid_external"}) | Client.__guard_exempt_fields__  # match keys follow names
MERGE_FIELDS: tuple[str, ...] = tuple(
    column.key for column in sa.inspect(Client).column_attrs if column.key not in NOT_CHOSEN
)

# Everything that belongs to a client and follows it to the survivor.
MOVED_CHILDREN = (Enrollment, Intake, Discharge, ServiceRestriction, ClientSourceId, StaffClientAssignment)
# Moving a staff assignment writes a staff-admin table; the merge permission covers it.
ALSO_WRITTEN = ("staff_client_assignments",)

# Similarity -> how sure the flag is, shown on the duplicates screen.
CONFIDENCE_BANDS = ((0.9, "high"), (0.75, "medium"), (0.0, "low"))


class MergeError(ValueError):
    """A duplicate review step that cannot be done; the message says why and nothing was written."""


# What the merge message calls each kind of moved row (one, several).
MOVED_WORDS = {
    "client_program_enrollments": ("enrollment", "enrollments"), "intakes": ("intake", "intakes"),
    "discharges": ("discharge", "discharges"), "service_restrictions": ("restriction", "restrictions"),
    "client_source_ids": ("source id", "source ids"),
    "staff_client_assignments": ("staff assignment", "staff assignments"),
}


@dataclass
class MergeResult:
    audit_id: uuid.UUID
    survivor_id: uuid.UUID
    merged_id: uuid.UUID
    moved: dict[str, list[str]] = field(default_factory=dict)
    kept: dict[str, list[dict]] = field(default_factory=dict)
    survivor_name: str = ""
    merged_name: str = ""
    moved_source_ids: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """Which record went into which, and how many of each kind of row moved (zeros included)."""
        parts = []
        for table, (one, many) in MOVED_WORDS.items():
            count = len(self.moved.get(table, []))
            part = f"{count} {one if count == 1 else many}"
            if table == "client_source_ids" and self.moved_source_ids:
                part += f" ({', '.join(self.moved_source_ids)})"
            parts.append(part)
        names = f" {self.merged_name} into {self.survivor_name}" if self.merged_name and self.survivor_name else ""
        text = f"Merged{names}. Moved to the kept record: {', '.join(parts)}."
        for table, rows in self.kept.items():
            if rows:
                text += (f" {len(rows)} of the {entity_label(table).lower()} stayed on the archived record because "
                         f"the survivor already has the same one.")
        return text


# -- flagging and dismissing -----------------------------------------------------------------
def confidence_for(score: float) -> str:
    return next(level for floor, level in CONFIDENCE_BANDS if score >= floor)


def canonical_pair(client_a_id: uuid.UUID, client_b_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """The order a pair is stored in, so (a, b) and (b, a) are one review item."""
    return (client_a_id, client_b_id) if str(client_a_id) < str(client_b_id) else (client_b_id, client_a_id)


def find_pair(session: Session, client_a_id: uuid.UUID, client_b_id: uuid.UUID) -> ClientDuplicate | None:
    """The review item for this pair, whichever order it was stored in."""
    return session.scalar(sa.select(ClientDuplicate).where(sa.or_(
        sa.and_(ClientDuplicate.primary_client_id == client_a_id, ClientDuplicate.duplicate_client_id == client_b_id),
        sa.and_(ClientDuplicate.primary_client_id == client_b_id, ClientDuplicate.duplicate_client_id == client_a_id),
    )))


def flag_possible_duplicate(session: Session, client_a_id: uuid.UUID, client_b_id: uuid.UUID, score: float,
                            match_type: str, details: dict | None = None, source: str | None = None,
                            confidence: str | None = None) -> ClientDuplicate | None:
    """Queue a pair for review, unless it was ever flagged before (pending, dismissed or merged).

    Returns the new review item, or None when nothing was written: the pair is known
    already, or one of the two records has been merged away. Imports and the scan call
    this for every candidate pair, so a "not a duplicate" decision sticks.
    """
    if client_a_id == client_b_id:
        raise ValueError("A client cannot be a duplicate of itself.")
    if not 0 <= score <= 1:
        raise ValueError(f"A similarity score is between 0 and 1, not {score}.")
    if find_pair(session, client_a_id, client_b_id) is not None:
        return None
    merged_away = session.scalar(sa.select(sa.func.count()).select_from(Client).where(
        Client.id.in_((client_a_id, client_b_id)), Client.merged_into_id.is_not(None)))
    if merged_away:
        return None
    primary_id, duplicate_id = canonical_pair(client_a_id, client_b_id)
    item = ClientDuplicate(
        primary_client_id=primary_id, duplicate_client_id=duplicate_id, similarity_score=score,
        match_type=match_type, confidence_level=confidence or confidence_for(score),
        match_details=audit.jsonable(details or {}), detection_source=source, status="pending",
    )
    try:
        with session.begin_nested():
            session.add(item)
    except IntegrityError:
        # Another import flagged the same pair a moment ago: it is known now, which is all we need.
        return None
    return item


def _check_reviewer(reviewer) -> None:
    if reviewer is not None and not may_merge_clients(reviewer.role_names):
        raise MergeError("Only a Coordinator or an Administrator may review possible duplicates.")


def _get_duplicate(duplicate_id) -> ClientDuplicate:
    item = db.session.get(ClientDuplicate, duplicate_id)
    if item is None:
        raise MergeError("That possible duplicate no longer exists.")
    return item


def mark_not_duplicate(duplicate_id: uuid.UUID, reviewer, notes: str | None = None) -> ClientDuplicate:
    """Dismiss a pair for good: it stays stored as "not a duplicate", so no import or scan flags it again."""
    _check_reviewer(reviewer)
    item = _get_duplicate(duplicate_id)
    if item.status == "merged":
        raise MergeError("These records were merged; undo the merge first if they are different people.")
    if item.status == "not_duplicate":
        return item
    item.status = "not_duplicate"
    item.reviewed_by_id = reviewer.id if reviewer is not None else None
    item.reviewed_at = datetime.now(timezone.utc)
    item.review_notes = (notes or "").strip() or item.review_notes
    db.session.flush()
    return item


# -- merging ---------------------------------------------------------------------------------
def _lock_pair(*client_ids) -> None:
    """Lock both records (in one fixed order, so two reviewers cannot deadlock) for the rest of the transaction."""
    for client_id in sorted(client_ids, key=str):
        db.session.get(Client, client_id, with_for_update=True)


def _get_client(client_id, role: str) -> Client:
    client = db.session.get(Client, client_id)
    if client is None:
        raise MergeError(f"The {role} record no longer exists.")
    if client.merged_into_id is not None:
        raise MergeError(f"{client} was already merged into another record; review that record instead.")
    return client


def _validate_choices(field_choices: dict[str, str] | None) -> dict[str, str]:
    choices = dict(field_choices or {})
    unknown = sorted(set(choices) - set(MERGE_FIELDS))
    if unknown:
        raise MergeError(f"These fields cannot be chosen in a merge: {', '.join(unknown)}.")
    bad = sorted(name for name, side in choices.items() if side not in (SURVIVOR, MERGED))
    if bad:
        raise MergeError(f"Choose 'survivor' or 'merged' for: {', '.join(label(name) for name in bad)}.")
    return choices


def _unique_keys(model) -> list[tuple[str, ...]]:
    """Column sets that are unique on ``model`` and include the client, where a moved row could collide."""
    table = model.__table__
    keys = [tuple(c.key for c in uc.columns) for uc in table.constraints if isinstance(uc, sa.UniqueConstraint)]
    keys += [tuple(c.key for c in ix.columns) for ix in table.indexes if ix.unique and len(ix.expressions)
             == len(ix.columns)]
    return [key for key in keys if "client_id" in key and len(key) > 1]


def _collides(model, row, survivor_id, keys) -> bool:
    """True when the survivor already holds a row equal to ``row`` on one of ``keys``."""
    for key in keys:
        values = {name: getattr(row, name) for name in key if name != "client_id"}
        if any(value is None for value in values.values()):
            continue
        match = sa.select(model.id).where(model.client_id == survivor_id,
                                          *(getattr(model, name) == value for name, value in values.items()))
        if db.session.scalar(match.limit(1)) is not None:
            return True
    return False


def _move_children(survivor: Client, merged: Client) -> tuple[dict[str, list[str]], dict[str, list[dict]]]:
    moved: dict[str, list[str]] = {}
    kept: dict[str, list[dict]] = {}
    for model in MOVED_CHILDREN:
        table = model.__tablename__
        keys = _unique_keys(model)
        rows = db.session.scalars(sa.select(model).where(model.client_id == merged.id).order_by(model.id)).all()
        moved[table], kept[table] = [], []
        for row in rows:
            if keys and _collides(model, row, survivor.id, keys):
                kept[table].append({"id": str(row.id), "reason": "the surviving record already has the same one"})
                continue
            row.client_id = survivor.id
            moved[table].append(str(row.id))
        db.session.flush()
    return moved, kept


def merge_clients(survivor_id: uuid.UUID, merged_id: uuid.UUID, field_choices: dict[str, str] | None,
                  reviewer, duplicate_id: uuid.UUID | None = None, notes: str | None = None) -> MergeResult:
    """Fold ``merged_id`` into ``survivor_id``; the caller commits.

    ``field_choices`` maps a client field to "survivor" or "merged" (whose value the
    surviving record keeps); unnamed fields keep the survivor's value. A child row the
    survivor already has an equal of (same staff assignment, same natural key) stays on
    the archived record and is listed in the result: the merge never half-happens.
    """
    _check_reviewer(reviewer)
    choices = _validate_choices(field_choices)
    if survivor_id == merged_id:
        raise MergeError("Choose two different records to merge.")
    _lock_pair(survivor_id, merged_id)
    survivor = _get_client(survivor_id, "surviving")
    merged = _get_client(merged_id, "merged")
    duplicate = None
    if duplicate_id is not None:
        duplicate = db.session.get(ClientDuplicate, duplicate_id, with_for_update=True, populate_existing=True)
        if duplicate is None:
            raise MergeError("That possible duplicate no longer exists.")
        if {duplicate.primary_client_id, duplicate.duplicate_client_id} != {survivor.id, merged.id}:
            raise MergeError("That review item is about a different pair of records.")
        if duplicate.status != "pending":
            raise MergeError(f"That pair was already reviewed ({duplicate.status.replace('_', ' ')}).")

    try:
        with audit.audit_action("merge"), guard.also_allow(*ALSO_WRITTEN), db.session.begin_nested():
            survivor_before, survivor_after = {}, {}
            for name, side in sorted(choices.items()):
                if side != MERGED or getattr(merged, name) == getattr(survivor, name):
                    continue
                survivor_before[name] = audit.jsonable(getattr(survivor, name))
                setattr(survivor, name, copy.deepcopy(getattr(merged, name)))
                survivor_after[name] = audit.jsonable(getattr(survivor, name))
            db.session.flush()

            moved, kept = _move_children(survivor, merged)

            merged_before = {name: audit.jsonable(getattr(merged, name))
                             for name in ("is_archived", "archived_at", "merged_into_id")}
            merged.is_archived = True
            merged.archived_at = merged.archived_at or datetime.now(timezone.utc)
            merged.merged_into_id = survivor.id

            duplicate_before = None
            if duplicate is not None:
                duplicate_before = {name: audit.jsonable(getattr(duplicate, name))
                                    for name in ("status", "reviewed_by_id", "reviewed_at", "review_notes")}
                duplicate.status = "merged"
                duplicate.reviewed_by_id = reviewer.id if reviewer is not None else None
                duplicate.reviewed_at = datetime.now(timezone.utc)
                duplicate.review_notes = (notes or "").strip() or duplicate.review_notes
            db.session.flush()

            summary = {
                "survivor_id": str(survivor.id), "merged_id": str(merged.id),
                "survivor_name": str(survivor), "merged_name": str(merged),
                "field_choices": choices, "survivor_before": survivor_before, "survivor_after": survivor_after,
                "merged_before": merged_before, "moved": moved, "kept": kept,
                "duplicate_id": str(duplicate.id) if duplicate is not None else None,
                "duplicate_before": duplicate_before,
            }
            row = audit.audit_row(MERGE_ENTITY, merged.id, "merge", summary, client_id=survivor.id)
            audit.record_many(db.session, [row])
    except IntegrityError as exc:
        raise MergeError(f"Nothing was merged: {explain(exc)}") from None
    moved_ids = [uuid.UUID(value) for value in moved.get("client_source_ids", [])]
    source_ids = [str(each) for each in db.session.scalars(
        sa.select(ClientSourceId).where(ClientSourceId.id.in_(moved_ids)))] if moved_ids else []
    return MergeResult(audit_id=row["id"], survivor_id=survivor.id, merged_id=merged.id, moved=moved, kept=kept,
                       survivor_name=str(survivor), merged_name=str(merged), moved_source_ids=sorted(source_ids))


# -- undoing a merge -------------------------------------------------------------------------
def get_merge(merge_audit_id) -> AuditLog:
    entry = db.session.get(AuditLog, merge_audit_id)
    if entry is None or entry.entity != MERGE_ENTITY or entry.action != "merge":
        raise MergeError("That audit entry is not a merge.")
    return entry


def _later_merge_events(entry: AuditLog) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog).where(
        AuditLog.entity == MERGE_ENTITY, AuditLog.entity_id == entry.entity_id, AuditLog.id != entry.id,
        AuditLog.changed_at >= entry.changed_at,
    ))


def undo_problems(entry: AuditLog) -> list[str]:
    """Why this merge cannot be undone now (empty when it can): undoing must never overwrite later work."""
    summary = entry.diff_json
    survivor = db.session.get(Client, uuid.UUID(summary["survivor_id"]))
    merged = db.session.get(Client, uuid.UUID(summary["merged_id"]))
    if survivor is None or merged is None:
        return ["One of the two records has since been deleted."]
    if _later_merge_events(entry):
        return ["This merge was already undone (or the record was merged again later)."]
    if merged.merged_into_id != survivor.id:
        return [f"{merged} no longer points at {survivor}."]
    problems = []
    if survivor.merged_into_id is not None:
        problems.append(f"{survivor} was itself merged into another record afterwards; undo that merge first.")
    changed = [label(name) for name, after in summary["survivor_after"].items()
               if audit.jsonable(getattr(survivor, name)) != after]
    if changed:
        problems.append(f"These fields of {survivor} were changed after the merge: {', '.join(changed)}. "
                        "Undoing would overwrite those changes; put them back or correct the records by hand.")
    for model in MOVED_CHILDREN:
        ids = [uuid.UUID(value) for value in summary["moved"].get(model.__tablename__, [])]
        if not ids:
            continue
        still_there = db.session.scalar(sa.select(sa.func.count()).select_from(model).where(
            model.id.in_(ids), model.client_id == survivor.id))
        if still_there != len(ids):
            problems.append(f"{len(ids) - still_there} of the moved {entity_label(model.__tablename__).lower()} "
                            f"were deleted or moved since the merge.")
    return problems


def undo_merge(merge_audit_id: uuid.UUID, reviewer) -> uuid.UUID:
    """Put both records and their children back as they were before the merge; the caller commits.

    Refused, with the reasons, when anything the merge touched changed afterwards: an
    undo that silently threw away a later correction would be a new data loss.
    Returns the id of the ``unmerge`` summary row.
    """
    _check_reviewer(reviewer)
    entry = get_merge(merge_audit_id)
    _lock_pair(uuid.UUID(entry.diff_json["survivor_id"]), uuid.UUID(entry.diff_json["merged_id"]))
    problems = undo_problems(entry)
    if problems:
        raise MergeError("This merge cannot be undone: " + " ".join(problems))
    summary = entry.diff_json
    survivor = db.session.get(Client, uuid.UUID(summary["survivor_id"]))
    merged = db.session.get(Client, uuid.UUID(summary["merged_id"]))
    try:
        with audit.audit_action("unmerge"), guard.also_allow(*ALSO_WRITTEN), db.session.begin_nested():
            for name, before in summary["survivor_before"].items():
                setattr(survivor, name, audit.from_jsonable(Client, name, before))
            for model in MOVED_CHILDREN:
                ids = [uuid.UUID(value) for value in summary["moved"].get(model.__tablename__, [])]
                for row in db.session.scalars(sa.select(model).where(model.id.in_(ids))) if ids else ():
                    row.client_id = merged.id
            for name, before in summary["merged_before"].items():
                setattr(merged, name, audit.from_jsonable(Client, name, before))
            if summary.get("duplicate_id") and summary.get("duplicate_before"):
                duplicate = db.session.get(ClientDuplicate, uuid.UUID(summary["duplicate_id"]))
                if duplicate is not None:
                    for name, before in summary["duplicate_before"].items():
                        setattr(duplicate, name, audit.from_jsonable(ClientDuplicate, name, before))
            db.session.flush()
            row = audit.audit_row(MERGE_ENTITY, merged.id, "unmerge",
                                  {"merge_audit_id": str(entry.id), "survivor_id": str(survivor.id),
                                   "merged_id": str(merged.id), "survivor_name": str(survivor),
                                   "merged_name": str(merged)}, client_id=survivor.id)
            audit.record_many(db.session, [row])
    except IntegrityError as exc:
        raise MergeError(f"Nothing was undone: {explain(exc)}") from None
    return row["id"]


# -- what the review screens show ------------------------------------------------------------
@dataclass
class FieldComparison:
    name: str
    label: str
    first: str
    second: str

    @property
    def differs(self) -> bool:
        return self.first != self.second

    @property
    def default_side(self) -> str:
        """Which value a reviewer most likely keeps: the first, unless only the second has one."""
        return "second" if self.second and not self.first else "first"


def shown_value(value: Any) -> str:
    """A field value as plain text for the side-by-side page (the template escapes it)."""
    if value is None or value == "" or value == [] or value == {}:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{label(key)}: {shown_value(item)}" for key, item in sorted(value.items()))
    return str(value)


def compare_clients(first: Client, second: Client) -> list[FieldComparison]:
    """Every choosable field of two records, labelled, as text, in form order."""
    return [FieldComparison(name, label(name), shown_value(getattr(first, name)), shown_value(getattr(second, name)))
            for name in MERGE_FIELDS]


def child_counts(client_id: uuid.UUID) -> dict[str, int]:
    """How many rows of each kind would move with this record."""
    return {model.__tablename__: db.session.scalar(
        sa.select(sa.func.count()).select_from(model).where(model.client_id == client_id))
        for model in MOVED_CHILDREN}


def merge_history(limit: int = 100) -> list[AuditLog]:
    """The newest merges and undos, newest first."""
    return db.session.scalars(sa.select(AuditLog).where(AuditLog.entity == MERGE_ENTITY)
                              .order_by(AuditLog.changed_at.desc()).limit(limit)).all()


def latest_merge_of(client_id: uuid.UUID) -> AuditLog | None:
    """The merge that archived this record, if it is merged away now."""
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.entity == MERGE_ENTITY,
                                                        AuditLog.entity_id == client_id)
                              .order_by(AuditLog.changed_at.desc()).limit(1))
    return entry if entry is not None and entry.action == "merge" else None


# -- finding duplicates already in the database ----------------------------------------------
SCAN_BATCH_SIZE = 500
SCAN_SOURCE = "scan"
# Measured with bench/scan_duplicates.py: at 0.80, 980 of 987 planted pairs and 14 others in 20,987 clients.
DEFAULT_SCAN_THRESHOLD = 0.80


@dataclass
class ScanSummary:
    clients_scanned: int = 0
    pairs_flagged: int = 0

    def describe(self) -> str:
        return f"Scanned {self.clients_scanned} clients; {self.pairs_flagged} new possible duplicate pair(s) flagged."


def scan_threshold(config) -> float:
    """The score from which the scan flags a pair (config DUPLICATE_SCAN_THRESHOLD)."""
    value = float(config.get("DUPLICATE_SCAN_THRESHOLD", DEFAULT_SCAN_THRESHOLD))
    if not 0 < value <= 1:
        raise ValueError(f"DUPLICATE_SCAN_THRESHOLD must be between 0 and 1, not {value}.")
    return value


def scan_for_duplicates(session: Session, threshold: float | None = None, batch_size: int = SCAN_BATCH_SIZE,
                        progress=None) -> ScanSummary:
    """Flag pairs of live clients the import's blocking and scoring find alike (score >= ``threshold``).

    Clients are read in batches by id and each batch is blocked and scored in the
    database exactly as an import row would be, so the scan never loads the whole
    client table nor compares every client with every other. Each batch is committed:
    a scan that is stopped can simply be run again (known pairs are skipped).

    The threshold is the scan's own, higher than the import's review band: an import
    asks about one incoming row, while the scan asks about every pair of clients, and at
    the import's band common names with a near birth date would flood the queue.
    """
    from flask import current_app

    from app.services import matching

    threshold = scan_threshold(current_app.config) if threshold is None else threshold
    summary = ScanSummary()
    live = sa.and_(Client.is_archived.is_(False), Client.merged_into_id.is_(None))
    after = None
    while True:
        query = sa.select(Client.id, Client.first_name, Client.last_name, Client.dob, Client.preferred_name,
                          Client.alias, Client.gender, Client.city, Client.address_line1).where(live).order_by(Client.id).limit(batch_size)
        if after is not None:
            query = query.where(Client.id > after)
        rows = session.execute(query).all()
        if not rows:
            break
        people = [matching.Person(r.first_name, r.last_name, r.dob, r.preferred_name, r.alias, r.gender,
                                  city=r.city, address=r.address_line1) for r in rows]
        candidate_lists = matching.find_candidates(session, people, extra_condition=Client.merged_into_id.is_(None),
                                                   min_score=threshold)
        for row, candidates in zip(rows, candidate_lists):
            for candidate in candidates:
                if candidate.client_id == row.id or candidate.score.value < threshold:
                    continue
                flagged = flag_possible_duplicate(session, row.id, candidate.client_id, candidate.score.value,
                                                  candidate.score.match_type, candidate.score.details(),
                                                  source=SCAN_SOURCE)
                summary.pairs_flagged += flagged is not None
        summary.clients_scanned += len(rows)
        after = rows[-1].id
        session.commit()
        if progress is not None:
            progress(summary)
    return summary
