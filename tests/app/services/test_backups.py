"""Backups: ten-year retention that deletes exactly what falls outside it, and a dump that restores."""

import json
import os
import shutil
import tempfile
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from app.extensions import db
from app.models import Client, Department, Program
from app.services import backups
from app.services.backups import BackupSettings, apply_retention, backup_name, backups_to_keep

TODAY = date(2026, 11, 22)
ELEVEN_YEARS_AGO = date(2015, 11, 22)


def every_day(first: date, last: date):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def expected_to_keep(days: set[date], today: date) -> set[date]:
    """The rule in words: the last 35 days' backups; and for each of the last 121 months (ten years back
    to this month) that month's earliest backup."""
    recent = {day for day in days if 0 <= (today - day).days < 35}
    months = {(today.year - 10 + (today.month - 1 + n) // 12, (today.month - 1 + n) % 12 + 1) for n in range(121)}
    by_month: dict[tuple[int, int], list[date]] = {}
    for day in days:
        by_month.setdefault((day.year, day.month), []).append(day)
    monthly = {min(by_month[month]) for month in months if month in by_month}
    return recent | monthly


def test_retention_over_eleven_years_of_nightly_backups():
    days = set(every_day(ELEVEN_YEARS_AGO, TODAY))
    kept = backups_to_keep(days, TODAY)
    assert kept == expected_to_keep(days, TODAY)
    assert len(kept) == 35 + 121 - 1, "35 dailies and 121 month-firsts, 2026-11-01 counted once"
    assert min(kept) == date(2016, 11, 1) and date(2016, 10, 1) not in kept
    assert all(day in kept for day in every_day(TODAY - timedelta(days=34), TODAY))
    assert TODAY - timedelta(days=35) not in kept


def test_a_missing_first_of_the_month_keeps_that_months_earliest_backup():
    days = set(every_day(date(2020, 1, 1), TODAY)) - {date(2021, 7, 1), date(2021, 7, 2)}
    kept = backups_to_keep(days, TODAY)
    assert date(2021, 7, 3) in kept and date(2021, 7, 4) not in kept


def _touch_backup(directory, day, manifest=True):
    path = directory / backup_name(day)
    path.write_bytes(b"dump")
    if manifest:
        path.with_suffix(".json").write_text("{}")


@pytest.fixture
def many_files_dir(tmp_path):
    """A folder for thousands of small files: in memory (/dev/shm) where there is one, as creating
    files on this machine's disk costs milliseconds each."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="ccd-retention-", dir=shm))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_eleven_years_of_backup_files_keep_exactly_the_right_ones(many_files_dir):
    tmp_path = many_files_dir
    unrelated = ["notes.txt", "ccd-latest.dump", "ccd-2020-13-01.dump", "ccd-2019-01-01.dump.part"]
    for name in unrelated:
        (tmp_path / name).write_text("keep me")
    all_days = set(every_day(ELEVEN_YEARS_AGO, TODAY))
    for day in all_days:
        _touch_backup(tmp_path, day)

    deleted = apply_retention(tmp_path, TODAY)

    expected = expected_to_keep(all_days, TODAY)
    dumps = {path.name for path in tmp_path.glob("ccd-*.dump")} - set(unrelated)
    assert dumps == {backup_name(day) for day in expected}
    assert {p.name for p in tmp_path.glob("*.json")} == {backup_name(day)[:-5] + ".json" for day in expected}, \
        "a manifest goes with its dump"
    assert sorted(deleted) == sorted(backup_name(day) for day in all_days - expected)
    assert all((tmp_path / name).read_text() == "keep me" for name in unrelated)


def test_running_retention_every_night_for_eleven_years_ends_in_the_same_place():
    """A month's first backup, kept once, is never lost later as the months roll on."""
    stored: set[date] = set()
    for night in every_day(ELEVEN_YEARS_AGO, TODAY):
        stored = backups_to_keep(stored | {night}, night)
    assert stored == expected_to_keep(set(every_day(ELEVEN_YEARS_AGO, TODAY)), TODAY)


def test_retention_keeps_backups_dated_after_today(tmp_path):
    _touch_backup(tmp_path, TODAY + timedelta(days=3))
    assert apply_retention(tmp_path, TODAY) == []


def test_backup_refuses_sqlite_with_a_clear_message(tmp_path):
    settings = BackupSettings(f"sqlite:///{tmp_path / 'ccd.sqlite3'}", tmp_path / "backups")
    with pytest.raises(backups.BackupError, match="need PostgreSQL"):
        backups.run_backup(settings, TODAY)


def test_restore_test_without_a_backup_says_what_to_do(tmp_path):
    settings = BackupSettings("postgresql://postgres@127.0.0.1/none", tmp_path)
    with pytest.raises(backups.BackupError, match="run 'ccd backup' first"):
        backups.restore_test(settings)


class FakeS3:
    """Just enough of boto3's S3 client: an in-memory bucket."""

    def __init__(self, keys=()):
        self.objects = set(keys)

    def upload_file(self, filename, bucket, key):
        self.objects.add(key)

    def get_paginator(self, name):
        client = self

        class Paginator:
            def paginate(self, Bucket, Prefix):
                yield {"Contents": [{"Key": key} for key in sorted(client.objects) if key.startswith(Prefix)]}
        return Paginator()

    def delete_objects(self, Bucket, Delete):
        for item in Delete["Objects"]:
            self.objects.discard(item["Key"])


def test_upload_applies_the_same_retention_to_the_bucket(tmp_path):
    old_days = [date(2010, 1, 1), date(2019, 5, 1), date(2019, 5, 2), TODAY - timedelta(days=1)]
    bucket = FakeS3({f"ccd/{backup_name(day)}" for day in old_days} | {f"ccd/{backup_name(day)[:-5]}.json"
                                                                      for day in old_days} | {"ccd/other.txt"})
    _touch_backup(tmp_path, TODAY)
    settings = BackupSettings("postgresql://x@127.0.0.1/x", tmp_path, s3_bucket="b", s3_prefix="ccd/")
    where = backups.upload_to_s3(settings, tmp_path / backup_name(TODAY), TODAY, client=bucket)
    assert where == f"s3://b/ccd/{backup_name(TODAY)}"
    assert bucket.objects == {"ccd/other.txt"} | {f"ccd/ccd-{day.isoformat()}.{ext}" for ext in ("dump", "json")
                                                   for day in (date(2019, 5, 1), TODAY - timedelta(days=1), TODAY)}


@pytest.fixture
def source_database(database_url):
    """A committed PostgreSQL database of its own, with some rows, dropped afterwards."""
    name = f"ccd_backup_src_{uuid.uuid4().hex[:8]}"
    server = sa.create_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = make_url(database_url).set(database=name)
    engine = sa.create_engine(url)
    db.metadata.create_all(engine)
    with engine.begin() as connection:
        department = uuid.uuid4()
        connection.execute(sa.insert(Department), [{"id": department, "name": "Housing"}])
        connection.execute(sa.insert(Program), [{"id": uuid.uuid4(), "name": f"Program {n}",
                                                 "department_id": department} for n in range(3)])
        connection.execute(sa.insert(Client), [{"id": uuid.uuid4(), "first_name": "Alex", "last_name": f"N{n}"}
                                               for n in range(25)])
    engine.dispose()
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()


@pytest.mark.postgres_only
def test_backup_then_restore_test_round_trip_gives_equal_counts_and_catches_a_changed_file(source_database, tmp_path):
    settings = BackupSettings(source_database, tmp_path / "backups")
    result = backups.run_backup(settings, TODAY)

    assert result.path == tmp_path / "backups" / "ccd-2026-11-22.dump" and result.path.stat().st_size > 0
    manifest = json.loads(result.path.with_suffix(".json").read_text())
    assert manifest["tables"]["public.clients"] == 25 and manifest["tables"]["public.programs"] == 3
    assert not list((tmp_path / "backups").glob("*.part")), "nothing half-written is left"
    assert result.path.stat().st_mode & 0o077 == 0, "a backup is readable by the service account only"

    restored = backups.restore_test(settings)
    assert restored.ok, restored.describe()
    by_table = {table: (expected, after) for table, expected, after in restored.rows}
    assert by_table["public.clients"] == (25, 25) and by_table["public.departments"] == (1, 1)
    assert set(by_table) == set(manifest["tables"])

    with result.path.open("ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(backups.BackupError, match="has changed since it was written"):
        backups.restore_test(settings)


@pytest.mark.postgres_only
def test_backup_command_then_restore_test_command(app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "BACKUP_DIR", str(tmp_path))
    runner = app.test_cli_runner()
    made = runner.invoke(args=["ccd", "backup"])
    assert made.exit_code == 0, made.output
    assert "verified with pg_restore --list" in made.output and len(list(tmp_path.glob("ccd-*.dump"))) == 1
    tested = runner.invoke(args=["ccd", "backup", "--restore-test"])
    assert tested.exit_code == 0, tested.output
    assert "every table's row count matches" in tested.output and "public.roles" in tested.output


def test_backup_command_on_sqlite_says_it_needs_postgresql(app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path / 'ccd.sqlite3'}")
    result = app.test_cli_runner().invoke(args=["ccd", "backup"])
    assert result.exit_code != 0 and "need PostgreSQL" in result.output
