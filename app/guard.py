"""Refuse, at flush time, any write the signed-in person's roles do not allow.

The admin screens already refuse what the rule table forbids; this is the layer below
them, so a new screen, a forgotten hook or a bulk action cannot write around the rules.
Outside a request (CLI commands, Celery tasks, migrations) the actor is the system.
"""

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

from flask import has_request_context
from flask_login import current_user
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from app.permissions import SELF_SERVICE, SYSTEM_WRITTEN, Action, Grant, grant


_also_allowed: ContextVar[frozenset[str]] = ContextVar("ccd_guard_also_allowed", default=frozenset())


class WriteNotPermitted(PermissionError):
    """The person may not make this change directly."""


@contextmanager
def also_allow(*tables: str) -> Iterator[None]:
    """Let a service that checked its own permission write rows of ``tables`` the role cannot edit by hand.

    A merge, which only Coordinators and Administrators may make, moves the merged-away
    client's staff assignments (a staff-admin table) to the survivor.
    """
    token = _also_allowed.set(_also_allowed.get() | frozenset(tables))
    try:
        yield
    finally:
        _also_allowed.reset(token)


def _changed_fields(obj) -> set[str]:
    state = inspect(obj)
    return {attr.key for attr in state.attrs if attr.history.has_changes()}


def _acting_roles():
    """The roles of the person making this request, or None when the system acts."""
    if not has_request_context():
        return None
    user = current_user._get_current_object()
    if user is None or not user.is_authenticated:
        return frozenset()
    return user.role_names


def _acting_staff_id():
    user = current_user._get_current_object()
    staff = getattr(user, "staff", None) if user is not None and user.is_authenticated else None
    return staff.id if staff is not None else None


def _own_row(obj, table: str, staff_id) -> bool:
    """A self-service row that names the acting person, both as it was and as it will be."""
    column = SELF_SERVICE.get(table)
    if column is None or staff_id is None:
        return False
    history = inspect(obj).attrs[column].history
    return set(history.added) | set(history.unchanged) | set(history.deleted) == {staff_id}


def _check(session: Session, flush_context, instances) -> None:
    roles = _acting_roles()
    if roles is None:
        return
    staff_id = _acting_staff_id()
    pending = [(obj, Action.CREATE) for obj in session.new]
    pending += [(obj, Action.EDIT) for obj in session.dirty if session.is_modified(obj)]
    pending += [(obj, Action.DELETE) for obj in session.deleted]
    for obj, action in pending:
        table = getattr(obj, "__tablename__", None)
        if table is None or table in SYSTEM_WRITTEN or table in _also_allowed.get():
            continue
        exempt = getattr(obj, "__guard_exempt_fields__", frozenset())
        if action is Action.EDIT and exempt and _changed_fields(obj) <= exempt:
            continue
        if _own_row(obj, table, staff_id):
            continue
        decision = grant(roles, table, action)
        if decision is Grant.ALLOW:
            continue
        if decision is Grant.PROPOSE:
            raise WriteNotPermitted(
                "Your role proposes changes for approval; it cannot change records directly."
            )
        raise WriteNotPermitted(f"Your role may not {action.value} records in {table.replace('_', ' ')}.")


def install() -> None:
    """Attach the guard to every SQLAlchemy session (idempotent)."""
    if not event.contains(Session, "before_flush", _check):
        event.listen(Session, "before_flush", _check)
