"""The access log: rows written in one statement, and append-only in the session and in the database."""

import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from app import bulk
from app.audit import acting_as
from app.extensions import db
from app.models import ClientAccess, Staff
from app.services import access_log
from app.services.history import local_time
from tests import factories


def _count():
    return db.session.scalar(sa.select(sa.func.count()).select_from(ClientAccess))


def test_one_read_writes_one_row_per_distinct_client_in_one_statement(db_session):
    first, second = factories.create("clients"), factories.create("clients")
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if "client_access_log" in statement:
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        with acting_as("task ccd.test"):
            written = access_log.record_reads("drill_down", [first.id, second.id, first.id], detail="page")
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert written == 2 and _count() == 2
    assert len(statements) == 1
    rows = db.session.scalars(sa.select(ClientAccess)).all()
    assert {(r.client_id, r.client_ids, r.actor_name, r.staff_id, r.detail, r.address) for r in rows} == {
        (first.id, None, "task ccd.test", None, "page", None), (second.id, None, "task ccd.test", None, "page", None)}


def test_an_export_writes_one_row_listing_its_distinct_clients(db_session):
    first, second = factories.create("clients"), factories.create("clients")
    with acting_as("task ccd.test"):
        written = access_log.record_reads("export", [first.id, second.id, first.id], detail="file.csv")
    assert written == 2 and _count() == 1
    db.session.expire_all()
    row = db.session.scalar(sa.select(ClientAccess))
    assert (row.client_id, row.client_ids, row.detail, row.kind) == (None, [first.id, second.id], "file.csv", "export")
    reads = access_log.client_reads()
    assert sorted(db.session.execute(sa.select(reads.c.client_id, reads.c.detail)).all()) == sorted(
        [(first.id, "file.csv"), (second.id, "file.csv")])


def test_a_row_names_one_client_or_lists_several_never_both(db_session):
    from sqlalchemy.exc import IntegrityError

    for values in ({"client_id": None}, {"client_id": uuid.uuid4(), "client_ids": [uuid.uuid4()]}):
        with pytest.raises(IntegrityError):
            with db.session.begin_nested():
                db.session.add(ClientAccess(kind="export", actor_name="test", **values))
                db.session.flush()


def test_an_unknown_kind_of_read_is_refused(db_session):
    with pytest.raises(ValueError, match="Unknown kind of read"):
        access_log.record_reads("peek", [uuid.uuid4()])


def test_nothing_shown_writes_nothing(db_session):
    assert access_log.record_reads("details", []) == 0
    assert _count() == 0


def test_the_session_refuses_to_change_or_delete_a_row(db_session):
    row = factories.create("client_access_log")
    row.kind = "export"
    with pytest.raises(access_log.AccessLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(ClientAccess, row.id))
    with pytest.raises(access_log.AccessLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(access_log.AccessLogIsAppendOnly):
        db.session.execute(sa.update(ClientAccess).values(kind="export"))
    with pytest.raises(access_log.AccessLogIsAppendOnly):
        db.session.execute(sa.delete(ClientAccess))


@pytest.mark.parametrize("statement", [
    "UPDATE client_access_log SET kind = 'export'",
    "DELETE FROM client_access_log",
])
def test_the_database_refuses_to_rewrite_the_log(db_session, statement):
    factories.create("client_access_log")
    with pytest.raises(DBAPIError, match="append-only"):
        with db.session.begin_nested():
            db.session.execute(sa.text(statement))
    assert _count() == 1


@pytest.mark.postgres_only
def test_postgres_refuses_truncate(db_session):
    with pytest.raises(DBAPIError, match="append-only"):
        with db.session.begin_nested():
            db.session.execute(sa.text("TRUNCATE client_access_log"))


def test_a_staff_member_in_the_log_cannot_be_deleted(db_session):
    from sqlalchemy.exc import IntegrityError

    reader = factories.create("staff")
    access_log.record_reads("details", [uuid.uuid4()], actor=(reader.id, reader.full_name))
    db.session.commit()
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            staff = Staff.__table__
            db.session.connection().execute(sa.delete(staff).where(staff.c.id == reader.id))


def test_a_clients_newest_reads_come_first_with_the_total(db_session):
    someone, other = factories.create("clients"), factories.create("clients")
    reader = factories.create("staff")
    start = datetime(2026, 3, 1, tzinfo=timezone.utc)
    rows = [access_log.access_rows("details", [someone.id], actor=(reader.id, reader.full_name),
                                   at=start + timedelta(minutes=m))[0] for m in range(3)]
    rows += access_log.access_rows("details", [other.id], actor=(None, "x"))
    rows += access_log.access_rows("export", [other.id, someone.id], actor=(reader.id, reader.full_name),
                                   detail="file.csv", at=start + timedelta(minutes=1, seconds=30))
    rows += access_log.access_rows("export", [other.id], actor=(reader.id, reader.full_name), detail="other.csv",
                                   at=start + timedelta(minutes=5))
    bulk.insert_rows(db.session, ClientAccess.__table__, rows)
    shown, total = access_log.who_has_looked(someone.id, limit=3)
    assert total == 4, "three record pages and the one export that held the client"
    assert [r.when for r in shown] == [local_time(start + timedelta(minutes=m)) for m in (2, 1.5, 1)]
    assert (shown[0].who, shown[0].what) == (reader.full_name, "Record page")
    assert (shown[1].what, shown[1].detail) == ("Export file", "file.csv")
