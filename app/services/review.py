"""The review queue's answers: held import rows and possible-duplicate pairs, decided one by one or by the page.

A held import row (a ``ClientDuplicate`` with an ``import_row``, one item per candidate) is
answered "same person as this client" (the row is written onto that client, with its
enrollment and source id), "a new person" (written as a new client) or "not sure, leave
it" (it keeps waiting; the note stays). A pair of clients is merged, declared "not the same
person", or left. The screens, the ``ccd review`` commands and any task call these
functions; each checks the reviewer's right again (``may_merge_clients``), runs in a
savepoint (all of an answer or none of it), and records the answer itself (who, which item,
which answer) as one ``review`` row in the audit trail, next to the rows it changes.

The statuses these answers leave are the model's training labels: ``merged`` for the same
person, ``not_duplicate`` for two people (see the matching contract).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from app import audit
from app.extensions import db
from app.models import ClientDuplicate, ClientUploadLog, ImportRow
from app.permissions import may_merge_clients
from app.services import merge as merge_service

SAME_PERSON, NEW_PERSON, NOT_DUPLICATE, MERGE, LEAVE = "same_person", "new_person", "not_duplicate", "merge", "leave"
ANSWER_WORDS = {
    SAME_PERSON: "same person as the chosen client", NEW_PERSON: "a new person",
    NOT_DUPLICATE: "not the same person", MERGE: "merged", LEAVE: "left for later",
}
# What a page of items can be answered with at once; "same person" and a merge need a choice per item.
BULK_ANSWERS = (NEW_PERSON, NOT_DUPLICATE, LEAVE)
STATUS_WORDS = {"pending": "waiting", "merged": "decided: the same person", "not_duplicate": "decided: not the same"}
AUDIT_ENTITY = ClientDuplicate.__tablename__


class ReviewError(ValueError):
    """An answer that cannot be given; the message says why, and nothing was written."""


@dataclass
class Answered:
    answer: str
    item_id: uuid.UUID
    client_id: uuid.UUID | None = None
    message: str = ""


@dataclass
class BulkOutcome:
    answer: str
    done: list[Answered] = field(default_factory=list)
    refused: list[tuple[uuid.UUID, str]] = field(default_factory=list)

    def describe(self) -> str:
        text = f"{len(self.done)} item(s) answered \u201c{ANSWER_WORDS[self.answer]}\u201d."
        if self.refused:
            text += f" {len(self.refused)} not answered: " + " ".join(
                f"{message}" for _, message in self.refused[:5])
            if len(self.refused) > 5:
                text += f" (and {len(self.refused) - 5} more)"
        return text


# -- who may answer ---------------------------------------------------------------------------
def check_reviewer(reviewer) -> None:
    """A staff member answers with their own right; without one (``ccd review`` at the console) inside a
    request, the signed-in person's right is what counts."""
    if reviewer is None:
        from app.services.scope import acting_staff

        reviewer = acting_staff()
        if reviewer is None:
            from flask import has_request_context

            if has_request_context():
                raise ReviewError("Sign in as a Coordinator or an Administrator to review possible duplicates.")
            return
    if not may_merge_clients(reviewer.role_names):
        raise ReviewError("Only a Coordinator or an Administrator may review possible duplicates.")


# -- finding the item ---------------------------------------------------------------------------
def as_key(raw) -> uuid.UUID:
    """An item or client id as typed or posted (a string) as the key's type."""
    if isinstance(raw, uuid.UUID):
        return raw
    try:
        return uuid.UUID(str(raw).strip())
    except (ValueError, TypeError, AttributeError):
        raise ReviewError(f"{raw!r} is not an item id; `ccd review list` shows them.") from None


def get_item(item_id) -> ClientDuplicate:
    item = db.session.get(ClientDuplicate, as_key(item_id))
    if item is None:
        raise ReviewError(f"There is no review item {item_id}.")
    return item


def is_held_row(item: ClientDuplicate) -> bool:
    """True for an import row waiting beside a client (not yet a record), False for a pair of clients."""
    return item.duplicate_client_id is None and item.import_row_id is not None


def row_items(row_id: uuid.UUID) -> list[ClientDuplicate]:
    """Every candidate a held row was flagged against, most likely first."""
    return list(db.session.scalars(sa.select(ClientDuplicate).where(ClientDuplicate.import_row_id == row_id)
                                   .order_by(ClientDuplicate.similarity_score.desc(), ClientDuplicate.id)))


def _waiting(item: ClientDuplicate) -> None:
    if item.status != "pending":
        raise ReviewError(f"Item {item.id} was already decided ({STATUS_WORDS.get(item.status, item.status)}).")
    if is_held_row(item) and (item.import_row is None or item.import_row.status != "review"):
        raise ReviewError(f"Item {item.id}: its imported row was already written or removed.")


def _held(item: ClientDuplicate) -> None:
    if not is_held_row(item):
        raise ReviewError(f"Item {item.id} pairs two clients: merge them, or answer \u201cnot the same person\u201d.")


def _pair(item: ClientDuplicate) -> None:
    if is_held_row(item):
        raise ReviewError(f"Item {item.id} is an imported row, not a client yet: answer \u201csame person\u201d "
                          "with the client it is, or \u201ca new person\u201d.")


# -- the trail ------------------------------------------------------------------------------
def _record(item: ClientDuplicate, answer: str, reviewer, notes: str | None, **facts) -> None:
    """The answer itself in the audit trail: which item, which answer, by whom, with the note."""
    diff = {"answer": answer, "answer_words": ANSWER_WORDS[answer], "notes": (notes or "").strip() or None,
            "primary_client_id": item.primary_client_id, "duplicate_client_id": item.duplicate_client_id,
            "import_row_id": item.import_row_id, **facts}
    actor = (reviewer.id, reviewer.full_name) if reviewer is not None else None
    audit.record(db.session, AUDIT_ENTITY, item.id, "review", diff,
                 client_id=facts.get("client_id") or item.primary_client_id, actor=actor)


def _note(item: ClientDuplicate, reviewer, notes: str | None) -> None:
    """A new note is added below the earlier ones (who wrote each, and when, is in the trail)."""
    text = (notes or "").strip()
    if not text or text == item.review_notes:
        return
    item.review_notes = f"{item.review_notes}\n{text}" if item.review_notes else text


# -- held import rows -------------------------------------------------------------------------
def _write_held_row(item: ClientDuplicate, client_id: uuid.UUID | None, reviewer, notes):
    from app.services.ingest import FileRefused
    from app.services.ingest.importer import apply_reviewed_row

    row = item.import_row
    try:
        outcome = apply_reviewed_row(row.id, client_id, reviewed_by_id=reviewer.id if reviewer is not None else None)
    except (LookupError, ValueError, FileRefused) as exc:
        raise ReviewError(f"Item {item.id}: {exc}") from None
    for each in row_items(row.id):
        if each.primary_client_id == client_id or (client_id is None and each.id == item.id):
            _note(each, reviewer, notes)
    db.session.flush()
    return outcome


def same_person(item_id, client_id, reviewer, notes: str | None = None) -> Answered:
    """The held row is this client: written onto them, with its enrollment and source id; the row's other
    candidates become "not the same"."""
    check_reviewer(reviewer)
    item = get_item(item_id)
    _held(item)
    _waiting(item)
    client_key = as_key(client_id)
    candidates = {each.primary_client_id for each in row_items(item.import_row_id) if each.status == "pending"}
    if client_key not in candidates:
        raise ReviewError(f"Client {client_id} is not one of the candidates of item {item.id}; "
                          "choose one of those shown, or answer \u201ca new person\u201d.")
    row = item.import_row
    with db.session.begin_nested():
        outcome = _write_held_row(item, client_key, reviewer, notes)
        _record(item, SAME_PERSON, reviewer, notes, client_id=client_key, row_number=row.row_number,
                upload_log_id=row.upload_log_id, row_status=outcome.status)
    return Answered(SAME_PERSON, item.id, client_key, f"Row {row.row_number} was written onto the chosen client.")


def new_person(item_id, reviewer, notes: str | None = None) -> Answered:
    """The held row is nobody CCD knows: written as a new client; every candidate becomes "not the same"."""
    check_reviewer(reviewer)
    item = get_item(item_id)
    _held(item)
    _waiting(item)
    row = item.import_row
    with db.session.begin_nested():
        outcome = _write_held_row(item, None, reviewer, notes)
        _record(item, NEW_PERSON, reviewer, notes, client_id=outcome.client_id, row_number=row.row_number,
                upload_log_id=row.upload_log_id, row_status=outcome.status)
    return Answered(NEW_PERSON, item.id, outcome.client_id, f"Row {row.row_number} was written as a new client.")


# -- pairs of clients (and one candidate of a held row) ----------------------------------------
def not_duplicate(item_id, reviewer, notes: str | None = None) -> Answered:
    """Two different people: the pair is remembered as such and never flagged again.

    For a held row this dismisses one candidate; the row's last candidate cannot be dismissed
    this way (the row would wait for nobody): answering "a new person" says exactly that.
    """
    check_reviewer(reviewer)
    item = get_item(item_id)
    _waiting(item)
    if is_held_row(item):
        others = [each for each in row_items(item.import_row_id) if each.status == "pending" and each.id != item.id]
        if not others:
            raise ReviewError(f"Item {item.id} is the last candidate of its imported row: if the row is not this "
                              "client, answer \u201ca new person\u201d, which writes it.")
    with db.session.begin_nested():
        try:
            merge_service.mark_not_duplicate(item.id, reviewer)
        except merge_service.MergeError as exc:
            raise ReviewError(str(exc)) from None
        _note(item, reviewer, notes)
        _record(item, NOT_DUPLICATE, reviewer, notes)
    return Answered(NOT_DUPLICATE, item.id, None, "Marked as not the same person; the pair will not be flagged again.")


def merge(item_id, survivor_id, field_choices: dict[str, str] | None, reviewer,
          notes: str | None = None) -> merge_service.MergeResult:
    """The pair is one person: fold the other record into ``survivor_id`` (app/services/merge.py)."""
    check_reviewer(reviewer)
    item = get_item(item_id)
    _pair(item)
    _waiting(item)
    survivor = as_key(survivor_id)
    pair = {item.primary_client_id, item.duplicate_client_id}
    if survivor not in pair:
        raise ReviewError(f"Client {survivor_id} is not one of the two records of item {item.id}.")
    (merged,) = pair - {survivor}
    with db.session.begin_nested():
        try:
            result = merge_service.merge_clients(survivor, merged, field_choices, reviewer, duplicate_id=item.id,
                                                 notes=notes)
        except merge_service.MergeError as exc:
            raise ReviewError(str(exc)) from None
        _record(item, MERGE, reviewer, notes, client_id=survivor, merged_id=merged, merge_audit_id=result.audit_id,
                moved={table: len(ids) for table, ids in result.moved.items()})
    return result


# -- either kind ----------------------------------------------------------------------------
def leave(item_id, reviewer, notes: str | None = None) -> Answered:
    """Not sure yet: the item keeps waiting; the note is kept on it (and on its row's other candidates)."""
    check_reviewer(reviewer)
    item = get_item(item_id)
    _waiting(item)
    with db.session.begin_nested():
        targets = [each for each in row_items(item.import_row_id) if each.status == "pending"] \
            if is_held_row(item) else [item]
        for each in targets:
            _note(each, reviewer, notes)
        _record(item, LEAVE, reviewer, notes)
    return Answered(LEAVE, item.id, None, "Left for later" + (" with your note." if (notes or "").strip() else "."))


ANSWERS = {NEW_PERSON: new_person, NOT_DUPLICATE: not_duplicate, LEAVE: leave}


def answer_many(answer: str, item_ids, reviewer, notes: str | None = None) -> BulkOutcome:
    """One answer for a page of items, each decided on its own: one that cannot be answered is listed with
    the reason and the others still are. Items of the same held row count once."""
    if answer not in BULK_ANSWERS:
        raise ReviewError(f"\u201c{answer}\u201d cannot be given to many items at once; "
                          f"choose one of {', '.join(BULK_ANSWERS)}.")
    check_reviewer(reviewer)
    outcome = BulkOutcome(answer)
    rows_done: set[uuid.UUID] = set()
    for raw in item_ids:
        try:
            item = get_item(raw)
            if answer != NOT_DUPLICATE and is_held_row(item):
                if item.import_row_id in rows_done:
                    continue
                rows_done.add(item.import_row_id)
            outcome.done.append(ANSWERS[answer](item.id, reviewer, notes))
        except ReviewError as exc:
            outcome.refused.append((raw, str(exc)))
    return outcome


# -- the queue -------------------------------------------------------------------------------
@dataclass
class ImportWaiting:
    upload_log_id: uuid.UUID
    file_name: str
    source: str
    started_at: datetime
    rows: int
    items: int


def waiting_by_import() -> list[ImportWaiting]:
    """Per import, how many of its rows (and candidate items) wait for a reviewer, newest import first."""
    pending = sa.and_(ClientDuplicate.status == "pending", ImportRow.status == "review")
    query = (sa.select(ClientUploadLog.id, ClientUploadLog.file_name, ClientUploadLog.source,
                       ClientUploadLog.started_at, sa.func.count(sa.distinct(ImportRow.id)),
                       sa.func.count(ClientDuplicate.id))
             .join(ImportRow, ImportRow.upload_log_id == ClientUploadLog.id)
             .join(ClientDuplicate, ClientDuplicate.import_row_id == ImportRow.id)
             .where(pending)
             .group_by(ClientUploadLog.id, ClientUploadLog.file_name, ClientUploadLog.source,
                       ClientUploadLog.started_at)
             .order_by(ClientUploadLog.started_at.desc()))
    return [ImportWaiting(*row) for row in db.session.execute(query)]


def waiting_pairs_count() -> int:
    """Pairs of clients waiting (found by the scan or added by hand)."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(ClientDuplicate).where(
        ClientDuplicate.status == "pending", ClientDuplicate.duplicate_client_id.is_not(None)))


def waiting_items(upload_log_id=None, limit: int = 200) -> list[ClientDuplicate]:
    """Waiting items, held rows by import and row, then pairs by likelihood; ``upload_log_id`` keeps one import's."""
    query = (sa.select(ClientDuplicate).outerjoin(ImportRow, ClientDuplicate.import_row_id == ImportRow.id)
             .where(ClientDuplicate.status == "pending",
                    sa.or_(ImportRow.id.is_(None), ImportRow.status == "review")))
    if upload_log_id is not None:
        query = query.where(ImportRow.upload_log_id == as_key(upload_log_id))
    query = query.order_by(ImportRow.upload_log_id.is_(None), ImportRow.upload_log_id, ImportRow.row_number,
                           ClientDuplicate.similarity_score.desc(), ClientDuplicate.id).limit(limit)
    return list(db.session.scalars(query))
