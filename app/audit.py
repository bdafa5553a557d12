"""The audit trail: every write to a CCD record leaves one AuditLog row in the same transaction.

The rows are written by the session itself (``after_flush``), so a new screen, an import,
a CLI command or a Celery task cannot forget them. Code that knows *why* a write happens
says so with ``audit_action("approve")``; code that runs without a signed-in person names
itself with ``acting_as("task ccd.ingest")``. Bulk ORM statements, which skip the
per-object events, are refused on audited tables unless the caller records them itself
inside ``bulk_write()``.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, time, timezone
from decimal import Decimal
from typing import Any, Iterable, Iterator

import sqlalchemy as sa
from flask import has_request_context
from flask_login import current_user
from sqlalchemy import event, inspect
from sqlalchemy.orm import ColumnProperty, Session

from app.choices import AUDIT_ACTIONS, is_multi_valued

# Logs of their own, not records: auditing them would only echo what they already say.
NOT_AUDITED = frozenset({"audit_logs", "client_access_log", "email_logs", "client_upload_logs", "import_rows", "notifications",
                         "pending_changes"})
# Kept by the database (timestamps, the optimistic-lock version) or too sensitive to copy into the trail.
NEVER_DIFFED = frozenset({"created_at", "updated_at", "version"})
REDACTED = frozenset({"password_hash"})
REDACTED_VALUE = "(changed)"
SYSTEM_ACTOR = "system"

_actor: ContextVar[str | None] = ContextVar("ccd_audit_actor", default=None)
_action: ContextVar[str | None] = ContextVar("ccd_audit_action", default=None)
_bulk_allowed: ContextVar[bool] = ContextVar("ccd_audit_bulk_allowed", default=False)


class AuditBypass(RuntimeError):
    """A bulk statement would change audited rows without leaving a trail."""


@contextmanager
def acting_as(name: str) -> Iterator[None]:
    """Writes made inside are attributed to ``name`` (a job, import or command) when nobody is signed in."""
    token = _actor.set(name)
    try:
        yield
    finally:
        _actor.reset(token)


@contextmanager
def audit_action(action: str) -> Iterator[None]:
    """Writes made inside are recorded as ``action`` (approve, import, merge…) instead of create/update/delete."""
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"Unknown audit action {action!r}.")
    token = _action.set(action)
    try:
        yield
    finally:
        _action.reset(token)


@contextmanager
def bulk_write() -> Iterator[None]:
    """Allow bulk ORM statements on audited tables; the caller records them with ``record_many``."""
    token = _bulk_allowed.set(True)
    try:
        yield
    finally:
        _bulk_allowed.reset(token)


def current_actor() -> tuple[uuid.UUID | None, str]:
    """(staff id, name) of whoever is acting: the signed-in person, else the named job, else the system."""
    if has_request_context():
        user = current_user._get_current_object() if current_user else None
        if user is not None and user.is_authenticated and user.staff is not None:
            return user.staff.id, user.staff.full_name
    return None, _actor.get() or SYSTEM_ACTOR


_AS_IS = frozenset({type(None), bool, int, float, str})
_AS_TEXT = frozenset({uuid.UUID, Decimal})
_AS_ISO = frozenset({datetime, date, time})


def jsonable(value: Any) -> Any:
    """A value as it should be stored in a diff: JSON types only, dates as ISO strings.

    By exact type first: an import writes an audit row per record, each diff a dict of dicts, and the
    isinstance chain ran millions of times an import (subclasses still take it)."""
    kind = type(value)
    if kind in _AS_IS:
        return value
    if kind is dict:
        return {key if type(key) is str else str(key): jsonable(item) for key, item in value.items()}
    if kind in _AS_ISO:
        return value.isoformat()
    if kind in _AS_TEXT:
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    return str(value)


def from_jsonable(model, field: str, value: Any) -> Any:
    """A value stored by ``jsonable`` (a diff, a proposal, a merge record) back as the column holds it."""
    if value is None:
        return None
    column = inspect(model).columns[field]
    if isinstance(column.type, sa.JSON):
        return value
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return value
    if kind is uuid.UUID:
        return uuid.UUID(str(value))
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is date:
        return date.fromisoformat(value)
    if kind is time:
        return time.fromisoformat(value)
    if kind is Decimal:
        return Decimal(str(value))
    return value


def audit_row(entity: str, entity_id, action: str, diff: dict | None = None, *,
              client_id=None, actor: tuple[uuid.UUID | None, str] | None = None,
              at: datetime | None = None) -> dict:
    """One audit_logs row as a dict ready for INSERT."""
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"Unknown audit action {action!r}.")
    changed_by_id, actor_name = actor or current_actor()
    return {
        "id": uuid.uuid4(), "entity": entity, "entity_id": entity_id, "client_id": client_id, "action": action,
        "changed_by_id": changed_by_id, "actor_name": actor_name,
        "changed_at": at or datetime.now(timezone.utc), "diff_json": jsonable(diff or {}),
    }


def record_many(session: Session, rows: Iterable[dict]) -> None:
    """Insert prepared audit rows (from ``audit_row``) on the session's connection, in its transaction."""
    from app import bulk
    from app.models import AuditLog

    bulk.insert_rows(session, AuditLog.__table__, rows)


def record(session: Session, entity: str, entity_id, action: str, diff: dict | None = None, **kw) -> None:
    """Record one event that is not a plain row change: a sign-in, a decline, an import summary."""
    record_many(session, [audit_row(entity, entity_id, action, diff, **kw)])


# -- the session hook ------------------------------------------------------------------------
def _columns(state) -> list[str]:
    return [p.key for p in state.mapper.iterate_properties if isinstance(p, ColumnProperty)]


def _ignored(obj) -> frozenset[str]:
    return NEVER_DIFFED | getattr(obj, "__guard_exempt_fields__", frozenset())


def _shown(key: str, value: Any) -> Any:
    return REDACTED_VALUE if key in REDACTED and value is not None else jsonable(value)


def _snapshot(obj) -> dict:
    state = inspect(obj)
    ignored = _ignored(obj)
    return {key: _shown(key, state.dict[key]) for key in _columns(state) if key in state.dict and key not in ignored}


def _collection_changes(state) -> dict:
    """Many-to-many collections (a staff member's roles) as before/after lists of names."""
    changes = {}
    for rel in state.mapper.relationships:
        if rel.secondary is None or rel.viewonly:
            continue
        history = state.attrs[rel.key].history
        if history.added or history.deleted:
            before = sorted(str(v) for v in (*history.unchanged, *history.deleted))
            after = sorted(str(v) for v in (*history.unchanged, *history.added))
            changes[rel.key] = {"before": before, "after": after}
    return changes


def same_value(table: str, column: str, before: Any, after: Any) -> bool:
    """No change to report: equal values, or a multi-select's same choices in another order.

    One definition for the audit trail and the approvals (app/services/approvals.py), so a
    form that sends a multi-select's choices in its own order changes neither.
    """
    if before == after:
        return True
    if is_multi_valued(table, column) and isinstance(before, (list, type(None))) \
            and isinstance(after, (list, type(None))):
        return {str(v) for v in before or ()} == {str(v) for v in after or ()}
    return False


def update_diff(obj) -> dict:
    """Fields of a loaded, modified object that really changed, as {field: {before, after}}."""
    state = inspect(obj)
    ignored = _ignored(obj)
    diff = {}
    for key in _columns(state):
        if key in ignored:
            continue
        history = state.attrs[key].history
        if not history.has_changes():
            continue
        before = history.deleted[0] if history.deleted else None
        after = history.added[0] if history.added else None
        if same_value(state.mapper.local_table.name, key, before, after):
            continue
        diff[key] = {"before": _shown(key, before), "after": _shown(key, after)}
    diff.update(_collection_changes(state))
    return diff


def _entity_id(obj):
    """The record's id; None for tables keyed by a pair (their keys are in the diff)."""
    key_columns = inspect(obj).mapper.primary_key
    return getattr(obj, key_columns[0].key) if len(key_columns) == 1 else None


def client_of(obj):
    """The client a record belongs to, so a client's History can list its children's changes too."""
    if getattr(obj, "__tablename__", None) == "clients":
        return obj.id
    return getattr(obj, "client_id", None)


def _plain_action(obj, default: str, diff: dict) -> str:
    if default == "update" and set(diff) - {"archived_at"} == {"is_archived"}:
        return "archive" if diff["is_archived"]["after"] else "restore"
    return default


def _after_flush(session: Session, flush_context) -> None:
    override = _action.get()
    actor = None
    rows = []
    now = datetime.now(timezone.utc)

    def add(obj, action, diff):
        nonlocal actor
        actor = actor or current_actor()
        rows.append(audit_row(obj.__tablename__, _entity_id(obj), override or _plain_action(obj, action, diff), diff,
                              client_id=client_of(obj), actor=actor, at=now))

    for obj in session.new:
        if getattr(obj, "__tablename__", None) not in NOT_AUDITED | {None}:
            snapshot = _snapshot(obj)
            add(obj, "create", {key: {"before": None, "after": value} for key, value in snapshot.items()})
    for obj in session.dirty:
        if getattr(obj, "__tablename__", None) in NOT_AUDITED | {None} or not session.is_modified(obj):
            continue
        diff = update_diff(obj)
        if diff:
            add(obj, "update", diff)
    for obj in session.deleted:
        if getattr(obj, "__tablename__", None) not in NOT_AUDITED | {None}:
            add(obj, "delete", {key: {"before": value, "after": None} for key, value in _snapshot(obj).items()})
    record_many(session, rows)


def _refuse_unaudited_bulk(orm_execute_state) -> None:
    if not (orm_execute_state.is_update or orm_execute_state.is_delete or orm_execute_state.is_insert):
        return
    if _bulk_allowed.get():
        return
    mapper = orm_execute_state.bind_mapper
    table = getattr(mapper, "local_table", None) if mapper is not None else None
    name = getattr(table, "name", None)
    if name is not None and name not in NOT_AUDITED:
        raise AuditBypass(
            f"A bulk statement on {name} would skip the audit trail; change the rows through the session, "
            "or record them with app.audit.record_many inside app.audit.bulk_write()."
        )


def _keep_old_value(target, value, oldvalue, initiator):
    return value


def _load_old_values(model_classes) -> None:
    """Make setting an attribute of an expired object load its old value first, so "before" is known.

    Without this, a change made after a commit (which expires every object) would be
    recorded with an empty "before".
    """
    for cls in model_classes:
        if getattr(cls, "__tablename__", None) in NOT_AUDITED | {None}:
            continue
        for prop in inspect(cls).column_attrs:
            attribute = getattr(cls, prop.key)
            if not event.contains(attribute, "set", _keep_old_value):
                event.listen(attribute, "set", _keep_old_value, active_history=True, retval=True)


def install(model_classes) -> None:
    """Attach the audit hooks to every SQLAlchemy session and audited model (idempotent)."""
    _load_old_values(model_classes)
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
    if not event.contains(Session, "do_orm_execute", _refuse_unaudited_bulk):
        event.listen(Session, "do_orm_execute", _refuse_unaudited_bulk)
