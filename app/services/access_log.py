"""Who looked at whom: every read of a client's data leaves a row in client_access_log.

Mental-health and health-card data make CCD personal health information, so the agency must
be able to answer "who has seen this client's record?". The screens, exports, the door check
and the emailed reports call ``record_reads`` with the clients they showed, in the caller's
transaction (the caller commits). Most reads write one row per client (app/bulk.py, one
statement); an export, which can send thousands of clients away at once, writes one row that
lists them (``client_ids``, migration 0028): a full log row per client cost a third of the
export's time (bench/access_log.py). ``client_reads`` and ``reads_of_client`` read both forms
as one row per read and client, so every reader (the record's "Who has looked" tab, the
Access report, the nightly check) counts an exported client exactly like one opened.

The log is append-only twice over: the database refuses UPDATE and DELETE (migration 0023),
and the session refuses to flush a changed or deleted row, or to run a bulk UPDATE or DELETE
on the table, so code gets a clear error before the database is even asked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

import sqlalchemy as sa
from flask import has_request_context, request
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, aliased

from app import audit, bulk
from app.choices import ACCESS_KIND_NAMES, ACCESS_KINDS
from app.extensions import db
from app.models import Client, ClientAccess, ClientDuplicate, Staff
from app.services.history import local_time

TABLE = ClientAccess.__table__
PATH_LENGTH = TABLE.c.path.type.length
ACTOR_LENGTH = TABLE.c.actor_name.type.length
DETAIL_LENGTH = TABLE.c.detail.type.length
# An export logs the clients it wrote every this many, as they leave (one listing row each).
EXPORT_LOG_BATCH = 5000
# Reads that list their clients in one row rather than writing a row per client.
LISTED_KINDS = frozenset({"export"})
# "Who has looked" shows this many of a client's newest reads.
WHO_HAS_LOOKED_LIMIT = 100


class AccessLogIsAppendOnly(RuntimeError):
    """Code tried to change or remove a row of the access log."""


def clients_of(row) -> list[uuid.UUID]:
    """The clients whose data a record shows: the client itself, both sides of a duplicate pair, or the
    client a row belongs to (an enrollment, a restriction, an audit row). Records of no client give none."""
    if isinstance(row, Client):
        return [row.id]
    if isinstance(row, ClientAccess):
        return []  # the log's own rows say who read, not what the client's record holds
    if isinstance(row, ClientDuplicate):
        return [c for c in (row.primary_client_id, row.duplicate_client_id) if c is not None]
    client_id = getattr(row, "client_id", None)
    return [client_id] if isinstance(client_id, uuid.UUID) else []


def _where_from() -> tuple[str | None, str | None]:
    """The reader's address (the app's trusted-proxy rule, app/security.py, has already set it) and
    the page's path; none outside a request. The query string stays out: a search holds names."""
    if not has_request_context():
        return None, None
    return request.remote_addr, request.path[:PATH_LENGTH]


def access_rows(kind: str, client_ids: Iterable[uuid.UUID], *, actor: tuple[uuid.UUID | None, str] | None = None,
                detail: str | None = None, at: datetime | None = None) -> list[dict]:
    """The rows that log this read, ready for INSERT: one per distinct client, or for a kind in
    ``LISTED_KINDS`` one listing them all. ``actor`` is (staff id, name) and defaults to whoever
    is acting (app/audit.py's rule)."""
    if kind not in ACCESS_KINDS:
        raise ValueError(f"Unknown kind of read {kind!r}; use one of: {', '.join(ACCESS_KINDS)}.")
    clients = list(dict.fromkeys(client_ids))
    if not clients:
        return []
    staff_id, name = actor or audit.current_actor()
    address, path = _where_from()
    at = (at or datetime.now(timezone.utc)).astimezone(timezone.utc)  # stored in UTC, as every timestamp
    shared = {"accessed_at": at, "staff_id": staff_id, "actor_name": (name or "")[:ACTOR_LENGTH] or None,
              "kind": kind, "address": address, "path": path,
              "detail": detail[:DETAIL_LENGTH] if detail else None}
    if kind in LISTED_KINDS:
        return [{"id": uuid.uuid4(), "client_ids": clients, **shared}]
    return [{"id": uuid.uuid4(), "client_id": client_id, **shared} for client_id in clients]


def _clients_logged(rows: list[dict]) -> int:
    """How many clients these rows log (a listing row logs each client it lists)."""
    return sum(len(row["client_ids"]) if row.get("client_ids") is not None else 1 for row in rows)


def record_reads(kind: str, client_ids: Iterable[uuid.UUID], *, actor=None, detail: str | None = None,
                 session: Session | None = None) -> int:
    """Log that these clients' data was shown; returns how many clients were logged. The caller commits."""
    session = session or db.session
    rows = access_rows(kind, client_ids, actor=actor, detail=detail)
    listing = [row for row in rows if row.get("client_ids") is not None]
    one_each = [row for row in rows if row.get("client_ids") is None]
    if one_each:
        bulk.insert_rows(session, TABLE, one_each)
    if listing:
        _insert_listing_rows(session, listing)
    return _clients_logged(rows)


def _insert_listing_rows(session: Session, rows: list[dict]) -> None:
    """Rows that list their clients. On PostgreSQL the list travels as one ``uuid[]`` literal, which
    the server parses: psycopg's own dumping of a list of UUIDs costs several times more per client."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(sa.insert(TABLE), rows)
        return
    names = [name for name in rows[0] if name != "client_ids"]
    statement = sa.insert(TABLE).values(
        {**{name: sa.bindparam(name, type_=TABLE.c[name].type) for name in names},
         "client_ids": sa.cast(sa.bindparam("client_id_list", type_=sa.Text()), postgresql.ARRAY(sa.Uuid()))})
    connection.execute(statement, [{**{name: row[name] for name in names},
                                    "client_id_list": "{" + ",".join(map(str, row["client_ids"])) + "}"}
                                   for row in rows])


def commit_reads(session: Session | None = None) -> None:
    """Commit the access rows of a page that reads and writes nothing else, cheaply.

    Nothing the page loaded is expired: it is still being rendered from those objects, and
    expiring them would reload each one. On PostgreSQL the commit does not wait for the disk
    (``synchronous_commit = off`` for this transaction only): that wait was most of the log's
    cost on a record page (bench/access_log.py). The rows are still written whole and in order;
    only a database server crash within a fraction of a second of the read could lose them.
    """
    session = session or db.session()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SET LOCAL synchronous_commit = off"))
    keep = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = keep


def record_reads_of(kind: str, records: Iterable, **kw) -> int:
    """``record_reads`` for the clients behind records of any table (see ``clients_of``)."""
    return record_reads(kind, [c for row in records for c in clients_of(row)], **kw)


def staff_by_email(session: Session, email: str) -> uuid.UUID | None:
    """The staff member who reads mail at ``email`` (an emailed report's reader), if CCD knows them."""
    return session.scalar(sa.select(Staff.id).where(sa.func.lower(Staff.email) == email.strip().lower()).limit(1))


# -- reading the log --------------------------------------------------------------------------
@dataclass(frozen=True)
class Look:
    """One read as a person reads it: the agency's local time, the reader's name, the kind in words."""

    when: str
    who: str
    what: str
    address: str
    path: str
    detail: str


def described(row) -> Look:
    return Look(local_time(row.accessed_at), reader_name(row), ACCESS_KIND_NAMES.get(row.kind, row.kind),
                row.address or "", row.path or "", row.detail or "")


def _read_columns():
    """The columns a read's row shares with every client it showed."""
    return (TABLE.c.accessed_at, TABLE.c.staff_id, TABLE.c.actor_name, TABLE.c.kind, TABLE.c.address,
            TABLE.c.path, TABLE.c.detail)


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _listed_entries():
    """The entries of each row's client list, as a FROM item joined to the log row, and its client id."""
    if _postgres():
        entries = sa.func.unnest(TABLE.c.client_ids).table_valued(
            sa.column("client_id", sa.Uuid())).render_derived("listed")
        return entries, entries.c.client_id
    entries = sa.func.json_each(TABLE.c.client_ids).table_valued("value")
    return entries, sa.type_coerce(entries.c.value, sa.Uuid())


def lists_client(client_id: uuid.UUID) -> sa.ColumnElement[bool]:
    """A log row lists this client (through the GIN index on PostgreSQL)."""
    if _postgres():
        return sa.type_coerce(TABLE.c.client_ids, postgresql.ARRAY(sa.Uuid())).contains([client_id])
    entries, entry = _listed_entries()
    return sa.select(sa.literal(1)).select_from(entries).where(entry == client_id).exists()


def read_of(client_id: uuid.UUID) -> sa.ColumnElement[bool]:
    """A log row is a read of this client, in either form."""
    return sa.or_(TABLE.c.client_id == client_id, lists_client(client_id))


def client_reads() -> sa.Subquery:
    """One row per read and client shown: (access_id, client_id, accessed_at, staff_id, actor_name, kind,
    address, path, detail). Conditions on the read's columns reach both forms' indexes."""
    entries, entry = _listed_entries()
    one_each = sa.select(TABLE.c.id.label("access_id"), TABLE.c.client_id, *_read_columns()).where(
        TABLE.c.client_id.is_not(None))
    listed = sa.select(TABLE.c.id.label("access_id"), entry.label("client_id"), *_read_columns()).select_from(
        TABLE).join(entries, sa.true())
    return sa.union_all(one_each, listed).subquery("client_reads")


def reads_of_client(client_id: uuid.UUID) -> sa.Subquery:
    """``client_reads`` of one client, each form found through its own index."""
    one_each = sa.select(TABLE.c.id.label("access_id"), TABLE.c.client_id, *_read_columns()).where(
        TABLE.c.client_id == client_id)
    listed = sa.select(TABLE.c.id.label("access_id"), sa.literal(client_id, sa.Uuid()).label("client_id"),
                       *_read_columns()).where(lists_client(client_id))
    return sa.union_all(one_each, listed).subquery("client_reads")


def who_has_looked(client_id: uuid.UUID, limit: int = WHO_HAS_LOOKED_LIMIT) -> tuple[list[Look], int]:
    """A client's newest reads and how many there are in all (one statement: the count rides on the rows)."""
    reads = reads_of_client(client_id)
    staff = aliased(Staff, name="staff")
    rows = db.session.execute(
        sa.select(reads, staff, sa.func.count().over().label("total"))
        .outerjoin(staff, staff.id == reads.c.staff_id)
        .order_by(reads.c.accessed_at.desc(), reads.c.access_id).limit(limit)).all()
    return [described(row) for row in rows], (rows[0].total if rows else 0)


def reader_name(row) -> str:
    """Who read, for a log row or a ``client_reads`` row with its ``staff``."""
    return row.staff.full_name if row.staff is not None else (row.actor_name or audit.SYSTEM_ACTOR)


# -- append-only in the session ----------------------------------------------------------------
def _refuse_changes(session: Session, flush_context, instances) -> None:
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, ClientAccess) and (obj in session.deleted or session.is_modified(obj)):
            raise AccessLogIsAppendOnly("client_access_log is append-only: its rows are never changed or deleted.")


def _refuse_bulk_changes(orm_execute_state) -> None:
    if not (orm_execute_state.is_update or orm_execute_state.is_delete):
        return
    mapper = orm_execute_state.bind_mapper
    if mapper is not None and getattr(mapper, "local_table", None) is TABLE:
        raise AccessLogIsAppendOnly("client_access_log is append-only: its rows are never changed or deleted.")


def install() -> None:
    """Attach the append-only guards to every session (idempotent)."""
    if not event.contains(Session, "before_flush", _refuse_changes):
        event.listen(Session, "before_flush", _refuse_changes)
    if not event.contains(Session, "do_orm_execute", _refuse_bulk_changes):
        event.listen(Session, "do_orm_execute", _refuse_bulk_changes)
