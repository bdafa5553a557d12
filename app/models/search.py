"""The search keys of every client, kept in step with the client by the session itself.

One row per (key, client): a word of a name, the birth date, phone numbers, email, postal
code, UID and source ids, as app/search_keys.py writes them. The primary key's index
answers exact keys and prefixes alike on PostgreSQL and SQLite, so client search finds the
same people on both. Any flush that writes a client or one of its source ids rewrites that
client's keys in the same transaction; writers that bypass the ORM (the importer's bulk
statements) call ``refresh_search_keys`` themselves.
"""

from __future__ import annotations

import uuid
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.bulk import insert_rows_on
from app.extensions import db
from app.models.clients import Client, ClientSourceId
from app.search_keys import KEY_LENGTH, client_keys

# Byte order on PostgreSQL, as SQLite compares: a prefix is then one range of the index.
KEY_TYPE = sa.String(KEY_LENGTH).with_variant(sa.String(KEY_LENGTH, collation="C"), "postgresql")
KEY_FIELDS = ("first_name", "last_name", "preferred_name", "alias", "dob", "phone", "phone_alt", "email",
              "postal_code", "uid_external")
CHUNK = 500


class ClientSearchKey(db.Model):
    __tablename__ = "client_search_keys"

    key: Mapped[str] = mapped_column(KEY_TYPE, primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("clients.id", ondelete="CASCADE"),
                                                 primary_key=True, index=True)


def _chunks(values: list, size: int = CHUNK):
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _keys_of(connection, client_ids: list) -> list[dict]:
    c = Client.__table__.c
    sources: dict = {}
    for client_id, value in connection.execute(
            sa.select(ClientSourceId.client_id, ClientSourceId.source_client_id)
            .where(ClientSourceId.client_id.in_(client_ids))):
        sources.setdefault(client_id, []).append(value)
    rows = []
    for record in connection.execute(sa.select(c.id, *(c[name] for name in KEY_FIELDS)).where(c.id.in_(client_ids))):
        values = record._mapping
        keys = client_keys(**{name: values[name] for name in KEY_FIELDS}, source_ids=sources.get(record.id, ()))
        rows += [{"key": k, "client_id": record.id} for k in sorted(keys)]
    return rows


def refresh_search_keys(connection, client_ids: Iterable) -> None:
    """Rewrite the search keys of these clients from what the database now holds (a removed client has none)."""
    table = ClientSearchKey.__table__
    for chunk in _chunks(sorted(set(client_ids), key=str)):
        connection.execute(sa.delete(table).where(table.c.client_id.in_(chunk)))
        rows = _keys_of(connection, chunk)
        if rows:  # an import's batch writes thousands of keys: COPY on PostgreSQL
            insert_rows_on(connection, table, rows)


def rebuild_search_keys(connection, chunk: int = 5000) -> int:
    """Every client's keys, written afresh (a migration's backfill, a bench seed); returns the clients done."""
    connection.execute(sa.delete(ClientSearchKey.__table__))
    done, last = 0, None
    while True:
        query = sa.select(Client.__table__.c.id).order_by(Client.__table__.c.id).limit(chunk)
        if last is not None:
            query = query.where(Client.__table__.c.id > last)
        ids = list(connection.scalars(query))
        if not ids:
            return done
        for part in _chunks(ids):
            rows = _keys_of(connection, part)
            if rows:
                connection.execute(sa.insert(ClientSearchKey.__table__), rows)
        done, last = done + len(ids), ids[-1]


def _changes_keys(obj) -> bool:
    state = sa.inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in KEY_FIELDS)


def _clients_touched(session: Session) -> set:
    """Clients whose keys this flush may change; read in ``after_flush``, where the flush's new, changed
    and removed objects are still listed and new rows already have their ids."""
    touched = {obj.id for obj in session.new if isinstance(obj, Client)}
    touched |= {obj.id for obj in session.dirty if isinstance(obj, Client) and _changes_keys(obj)}
    for obj in session.new | session.dirty | session.deleted:
        if isinstance(obj, ClientSourceId):
            history = sa.inspect(obj).attrs.client_id.history
            touched.update(x for x in (obj.client_id, *(history.deleted or ())) if x is not None)
    return touched


@event.listens_for(Session, "after_flush")
def _refresh_after_flush(session: Session, flush_context) -> None:
    touched = _clients_touched(session)
    if touched:
        refresh_search_keys(session.connection(), touched)
