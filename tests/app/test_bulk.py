"""Bulk writes (COPY on PostgreSQL): rows come out as an ORM insert or update would leave them."""

import uuid
from datetime import date

import pytest

from app import bulk
from app.extensions import db
from app.models import Client, ImportRow
from tests import factories


@pytest.fixture(params=["copy", "insert"])
def write_path(request, monkeypatch):
    """Both ways rows go in: COPY (PostgreSQL, large batches) and plain INSERTs (small batches, SQLite)."""
    monkeypatch.setattr(bulk, "COPY_MIN_ROWS", 1 if request.param == "copy" else 10**9)
    return request.param


def test_inserted_rows_get_the_python_defaults_and_keep_json_values(db_session, write_path):
    first, second = uuid.uuid4(), uuid.uuid4()
    written = bulk.insert_rows(db.session, Client.__table__, [
        {"id": first, "first_name": "Marie", "last_name": "Tremblay", "dob": date(1980, 1, 2),
         "languages_spoken": ["French", "English"]},
        {"id": second, "first_name": "Omar", "last_name": "Haddad"},  # other columns: defaults
    ])
    assert written == 2
    marie, omar = db.session.get(Client, first), db.session.get(Client, second)
    assert (marie.dob, marie.languages_spoken) == (date(1980, 1, 2), ["French", "English"])
    assert omar.languages_spoken == [] and omar.ethnicity == [] and omar.extended == {}
    assert omar.is_archived is False and omar.created_at is not None


def test_updates_change_only_the_given_rows_and_columns(db_session):
    log = factories.create("client_upload_logs")
    rows = [ImportRow(upload_log_id=log.id, row_number=n, cells=[str(n)]) for n in (1, 2, 3)]
    db.session.add_all(rows)
    db.session.commit()
    bulk.update_rows(db.session, ImportRow.__table__, [
        {"id": rows[0].id, "status": "rejected", "reason": "Bad date", "details": {"row": 1}},
        {"id": rows[2].id, "status": "inserted", "reason": None, "details": {}},
    ])
    db.session.expire_all()
    got = {r.row_number: (r.status, r.reason, r.details, r.cells) for r in db.session.query(ImportRow)}
    assert got == {1: ("rejected", "Bad date", {"row": 1}, ["1"]), 2: ("staged", None, {}, ["2"]),
                   3: ("inserted", None, {}, ["3"])}


def test_updates_by_id_raise_the_version_and_change_only_the_given_columns(db_session):
    """Bulk updates skip the ORM's version check, so they raise the version themselves: an edit form
    opened before the write is then refused instead of saving over it."""
    first, second, untouched = (factories.create("clients") for _ in range(3))
    written = bulk.update_by_id(db.session, Client.__table__, [
        {"id": first.id, "city": "Sudbury"},
        {"id": second.id, "city": "Barrie", "languages_spoken": ["Cree"]},  # rows may set different columns
    ])
    assert written == 2
    db.session.expire_all()
    got = {row.id: (row.city, row.languages_spoken, row.version) for row in (
        db.session.get(Client, key) for key in (first.id, second.id, untouched.id))}
    assert got == {first.id: ("Sudbury", first.languages_spoken, 2), second.id: ("Barrie", ["Cree"], 2),
                   untouched.id: (untouched.city, untouched.languages_spoken, 1)}
