"""The audit trail in names: which record a row is about, and who proposed what a reviewer approved.

Kept apart from app/services/history.py (reading the changes themselves): naming goes through
the reader's scope, so a record the reader may not see is never named.
"""

from __future__ import annotations

import uuid
from typing import Any, Iterable

import sqlalchemy as sa

from app.extensions import db
from app.labels import record_noun
from app.models import AuditLog, Client, PendingChange, Staff
from app.services.history import actor_of, as_utc, model_for
from app.services.scope import restrict

NOT_ON_FILE = "no longer on file"
OUT_OF_SCOPE = "not in your scope"


def client_name(client: Client) -> str:
    born = f" (born {client.dob:%Y-%m-%d})" if client.dob else ""
    return f"{client.last_name}, {client.first_name}{born}"


def _record_text(obj) -> str:
    return client_name(obj) if isinstance(obj, Client) else (obj.full_name if isinstance(obj, Staff) else str(obj))


def record_names(pairs: Iterable[tuple[str, Any]], staff) -> dict[tuple[str, str], str]:
    """{(table, id): "Client Alexander, Lori (born 1971-05-05)"} for the records audit rows are about.

    Each record is read through ``staff``'s own scope (one query per table), so a record the
    person may not see is never named: it reads "not in your scope", a removed one "no longer on file".
    """
    wanted: dict[str, set[uuid.UUID]] = {}
    for table, record_id in pairs:
        if record_id is not None and model_for(table) is not None and "id" in model_for(table).__table__.c:
            wanted.setdefault(table, set()).add(uuid.UUID(str(record_id)))
    names = {}
    for table, ids in wanted.items():
        model = model_for(table)
        seen = {obj.id: obj for obj in db.session.scalars(restrict(sa.select(model).where(model.id.in_(ids)),
                                                                    model, staff))}
        missing = ids - set(seen)
        on_file = set(db.session.scalars(sa.select(model.id).where(model.id.in_(missing)))) if missing else set()
        for record_id in ids:
            if record_id in seen:
                text = _record_text(seen[record_id])
            else:
                text = f"({OUT_OF_SCOPE if record_id in on_file else NOT_ON_FILE})"
            names[(table, str(record_id))] = f"{record_noun(table)} {text}"
    return names


def approval_requesters(rows: Iterable[AuditLog]) -> dict[uuid.UUID, str]:
    """{audit row id: the requester's name} for rows that applied an approved proposal.

    The trail's "approve" row is written by the reviewer; the proposal it applied is the approved
    change to the same record closed by the same reviewer nearest in time (one query for all rows).
    """
    rows = [row for row in rows if row.action == "approve" and row.entity_id is not None]
    if not rows:
        return {}
    changes = db.session.scalars(
        sa.select(PendingChange).where(PendingChange.status == "approved",
                                       PendingChange.entity_id.in_({row.entity_id for row in rows}))).all()
    found = {}
    for row in rows:
        candidates = [c for c in changes if c.entity == row.entity and c.entity_id == row.entity_id
                      and c.reviewed_by_id == row.changed_by_id and c.reviewed_at is not None]
        if candidates:
            nearest = min(candidates, key=lambda c: abs((as_utc(c.reviewed_at) - as_utc(row.changed_at)).total_seconds()))
            found[row.id] = nearest.requested_by.full_name
    return found


def actor_with_requester(row: AuditLog, requesters: dict) -> str:
    """Who made the change; for an approved proposal, both who proposed it and who approved it."""
    requester = requesters.get(row.id)
    if requester is None:
        return actor_of(row)
    return f"{actor_of(row)}, approving the proposal of {requester}"
