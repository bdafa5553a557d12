"""Writing many prepared rows at once, on the session's connection and in its transaction.

Imports write tens of thousands of clients, enrollments and audit rows per file. On
PostgreSQL they go in with COPY, which costs a fraction of multi-row INSERTs; elsewhere
(SQLite) as one executemany. Both paths fill the columns' Python-side defaults the way an
ORM insert would, so a row written here looks the same as one written through a form.

Updates skip the ORM's optimistic-lock check (app/models/base.py ``Versioned``), so they raise
a versioned row's version themselves: an edit form opened before the write is then refused
instead of saving its older values over the new ones.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session


# Fewer rows than this go in as one INSERT: COPY's set-up costs more than it saves, and the
# everyday single writes (a sign-in's audit row) stay ordinary statements that SQLAlchemy's
# events see (the security tests watch those for writes made by GET requests).
COPY_MIN_ROWS = 100


def _python_defaults(table: sa.Table, present: set[str]) -> dict[str, object]:
    """Columns missing from the rows that have a Python-side default: a value, or a callable making one."""
    defaults = {}
    for column in table.c:
        if column.name in present or column.default is None or not column.default.is_scalar and \
                not column.default.is_callable:
            continue
        defaults[column.name] = column.default.arg
    return defaults


def _json_columns(table: sa.Table) -> frozenset[str]:
    return frozenset(c.name for c in table.c if isinstance(c.type, sa.JSON))


def insert_rows(session: Session, table: sa.Table, rows: Iterable[dict]) -> int:
    """Insert ``rows`` (dicts of column values) into ``table``; rows may differ in which columns they give."""
    return insert_rows_on(session.connection(), table, rows)


def insert_rows_on(connection, table: sa.Table, rows: Iterable[dict]) -> int:
    """``insert_rows`` on a connection (a flush event's, which has no session to hand)."""
    groups: dict[tuple[str, ...], list[dict]] = defaultdict(list)
    for row in rows:
        groups[tuple(sorted(row))].append(row)
    for names, group in groups.items():
        defaults = _python_defaults(table, set(names))
        if connection.dialect.name == "postgresql" and len(group) >= COPY_MIN_ROWS:
            _copy(connection, table, names, defaults, group)
        else:
            connection.execute(sa.insert(table), [{**_made(defaults), **row} for row in group])
    return sum(len(group) for group in groups.values())


def _made(defaults: dict[str, object]) -> dict[str, object]:
    return {name: value(None) if callable(value) else value for name, value in defaults.items()}


def _copy(connection, table: sa.Table, names: tuple[str, ...], defaults: dict, rows: list[dict]) -> None:
    columns = list(names) + list(defaults)
    as_json = _json_columns(table)
    encode = [json.dumps if name in as_json else None for name in columns]
    cursor = connection.connection.driver_connection.cursor()
    column_list = ", ".join(f'"{name}"' for name in columns)
    statement = f'COPY "{table.name}" ({column_list}) FROM STDIN'
    with cursor.copy(statement) as copy:
        for row in rows:
            values = [row[name] for name in names]
            values += _made(defaults).values()
            copy.write_row([value if fn is None or value is None else fn(value) for value, fn in zip(values, encode)])


VERSION = "version"


def _version_bump(table: sa.Table) -> dict:
    """SET version = version + 1 on a versioned table, nothing elsewhere."""
    return {VERSION: table.c[VERSION] + 1} if VERSION in table.c else {}


def update_by_id(session: Session, table: sa.Table, rows: Iterable[dict]) -> int:
    """Update rows by primary key ``id``; rows may differ in which columns they set.

    One executemany per set of columns, on the session's connection and in its transaction,
    with the version raised and ``updated_at`` refreshed (its onupdate) as an ORM flush would.
    """
    groups: dict[tuple[str, ...], list[dict]] = defaultdict(list)
    for row in rows:
        groups[tuple(sorted(name for name in row if name != "id"))].append(row)
    connection = session.connection()
    for names, group in groups.items():
        values = {name: sa.bindparam(f"new_{name}", type_=table.c[name].type) for name in names}
        statement = sa.update(table).where(table.c.id == sa.bindparam("row_id")).values(
            {**values, **_version_bump(table)})
        connection.execute(statement, [{"row_id": row["id"], **{f"new_{name}": row[name] for name in names}}
                                       for row in group])
    return sum(len(group) for group in groups.values())


def update_rows(session: Session, table: sa.Table, rows: list[dict]) -> int:
    """Update rows by primary key ``id``; every dict gives the same columns.

    On PostgreSQL the new values go into a temporary table with COPY and are applied by one
    UPDATE … FROM; elsewhere one executemany. A versioned table's version goes up by one.
    """
    if not rows:
        return 0
    connection = session.connection()
    names = [name for name in rows[0] if name != "id"]
    if connection.dialect.name != "postgresql":
        connection.execute(sa.update(table).where(table.c.id == sa.bindparam("_id")).values(
            {**{name: sa.bindparam(name) for name in names}, **_version_bump(table)}),
            [{"_id": row["id"], **{name: row[name] for name in names}} for row in rows])
        return len(rows)
    staging = f"_bulk_{table.name}"
    column_list = ", ".join(f'"{name}"' for name in ["id", *names])
    connection.exec_driver_sql(f'DROP TABLE IF EXISTS "{staging}"')
    connection.exec_driver_sql(f'CREATE TEMPORARY TABLE "{staging}" ON COMMIT DROP AS '
                               f'SELECT {column_list} FROM "{table.name}" WITH NO DATA')
    as_json = _json_columns(table)
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f'COPY "{staging}" ({column_list}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([row["id"], *(json.dumps(row[name]) if name in as_json and row[name] is not None
                                         else row[name] for name in names)])
    assignments = ", ".join([f'"{name}" = s."{name}"' for name in names]
                            + ([f'"{VERSION}" = t."{VERSION}" + 1'] if VERSION in table.c else []))
    connection.exec_driver_sql(f'UPDATE "{table.name}" t SET {assignments} FROM "{staging}" s WHERE t.id = s.id')
    return len(rows)
