"""SQLite settings for the embedded default, where one file serves a threaded web server.

SQLite allows one writer at a time, and pysqlite's defaults make that break under a real
server: a reader's open transaction blocks every writer's COMMIT (rollback journal), a
transaction that read first and writes later gets "database is locked" at once instead of
waiting its turn, and a COMMIT that failed leaves the transaction open on a pooled
connection for the next request to trip over. So, for SQLite connections only:

- WAL journal: readers never block the writer, nor the writer its readers;
- a busy timeout, so a writer waits for the write lock instead of failing;
- transactions begin when their first statement runs, ``BEGIN IMMEDIATE`` when that
  statement writes; a transaction that only read and then writes ends its read and
  begins again as a writer (what PostgreSQL's READ COMMITTED gives every statement);
- a connection that comes back to the pool still inside a transaction is rolled back.

PostgreSQL connections are left exactly as they are.
"""

import re

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

# How long a writer waits for another writer to finish before "database is locked".
BUSY_TIMEOUT_MS = 30_000
_STATE = "ccd_sqlite_transaction"
_PENDING, _READING, _WRITING = "pending", "reading", "writing"
# Statements that take the write lock; a SAVEPOINT announces writes to come.
_WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|SAVEPOINT)\b", re.IGNORECASE)


def is_sqlite(dbapi_connection) -> bool:
    return type(dbapi_connection).__module__.startswith("sqlite3")


@event.listens_for(Engine, "connect")
def _configure_connection(dbapi_connection, connection_record):
    """Foreign keys on, WAL, a busy timeout; SQLAlchemy (not pysqlite) decides where transactions begin."""
    if not is_sqlite(dbapi_connection):
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _begin(connection):
    """Defer the BEGIN to the first statement, which tells whether the transaction writes."""
    if connection.dialect.name == "sqlite":
        connection.info[_STATE] = _PENDING


def _end(connection):
    connection.info.pop(_STATE, None)


event.listen(Engine, "commit", _end)
event.listen(Engine, "rollback", _end)


def _writes(statement: str, context) -> bool:
    """Compiled statements say what they are (a CTE can front an UPDATE); driver SQL is read by its verb."""
    if context is not None and (context.isinsert or context.isupdate or context.isdelete or context.isddl):
        return True
    return bool(_WRITES.match(statement))


@event.listens_for(Engine, "before_cursor_execute")
def _begin_for_statement(connection, cursor, statement, parameters, context, executemany):
    state = connection.info.get(_STATE)
    if state is None or state == _WRITING:
        return
    writes = _writes(statement, context)
    raw = connection.connection.dbapi_connection
    if state == _READING:
        if not writes:
            return
        # Only read so far: end that read and queue for the write lock like any writer.
        raw.execute("COMMIT")
    raw.execute("BEGIN IMMEDIATE" if writes else "BEGIN")
    connection.info[_STATE] = _WRITING if writes else _READING


@event.listens_for(Pool, "checkin")
def _roll_back_leftover(dbapi_connection, connection_record):
    """A COMMIT that failed (SQLITE_BUSY) leaves SQLite's transaction open while SQLAlchemy
    thinks it ended; never hand such a connection to the next request."""
    if dbapi_connection is not None and is_sqlite(dbapi_connection) and dbapi_connection.in_transaction:
        dbapi_connection.rollback()
    connection_record.info.pop(_STATE, None)
