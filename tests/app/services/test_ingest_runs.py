"""Runs that do not end well: killed (reaped, resumed), redelivered, crashed and re-run, re-run while
people wait for review. Nothing stays running, no staged row outlives its run, re-runs converge."""

import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Client, ClientDuplicate, ClientSourceId, ClientUploadLog, Enrollment, ImportRow
from app.services.ingest import import_file, process_upload, start_import
from app.services.ingest.runs import ImportStopped, reap_stale, resume
from app.services.ingest.write import Batch
from app.services.review import waiting_by_import
from tests import factories

HEADER = "ID,Last Name,First Name,Program,DOB,Admission Date"
PEOPLE = [("C1", "Abara", "Ngozi", "1950-01-10"), ("C2", "Bergstrom", "Lars", "1957-02-11"),
          ("C3", "Castillo", "Ines", "1964-03-12"), ("C4", "Dubois", "Remi", "1971-04-13")]


@pytest.fixture
def program(db_session):
    return factories.create("programs")


def export(tmp_path, program, people=PEOPLE):
    path = tmp_path / f"{uuid.uuid4().hex[:6]}-export.csv"
    path.write_text("\n".join([HEADER] + [f"{uid},{last},{first},{program.name},{dob},2024-01-15"
                                          for uid, last, first, dob in people]) + "\n")
    return path


def count(model, *where):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def killed_midway(path, program):
    """A run as a killed process leaves it: running, half its rows staged, its log untouched for an hour."""
    log = start_import(path, "EMHware")
    log.status, log.total_rows = "running", 4
    db.session.add_all(ImportRow(upload_log_id=log.id, row_number=n, cells=["C9", "Roy", "Luc"], status="staged")
                       for n in (2, 3))
    db.session.commit()
    an_hour_ago = datetime.now(timezone.utc) - timedelta(hours=1)
    db.session.execute(sa.update(ClientUploadLog).where(ClientUploadLog.id == log.id)
                       .values(updated_at=an_hour_ago))
    db.session.commit()
    return log


def test_a_killed_run_is_ended_by_the_reaper_and_resumed_to_a_clean_import(tmp_path, program):
    log = killed_midway(export(tmp_path, program), program)
    fresh = start_import(export(tmp_path, program, PEOPLE[:1]), "EMHware")
    fresh.status = "running"
    db.session.commit()

    reaped = reap_stale(30)
    assert [r.id for r in reaped] == [log.id], "a run still moving is left alone"
    db.session.refresh(log)
    assert log.status == "failed" and "stopped without finishing" in log.error_message
    assert "re-run the same file" in log.error_message
    assert count(ImportRow, ImportRow.upload_log_id == log.id) == 0, "its staged client rows are gone"

    summary = resume(log)
    assert (summary.status, summary.inserted, summary.enrollments) == ("success", 4, 4)
    again = resume(log)
    assert (again.inserted, again.unchanged, again.enrollments) == (0, 4, 0), "resuming converges"
    assert count(ClientSourceId, ClientSourceId.source_client_id.in_(["C1", "C2", "C3", "C4"])) == 4


def test_a_redelivered_run_starts_again_from_the_top(tmp_path, program):
    log = killed_midway(export(tmp_path, program), program)
    assert process_upload(log.id).status == "running", "without resume a running import is left to its process"
    summary = process_upload(log.id, resume=True)
    assert (summary.status, summary.rows_read, summary.inserted) == ("success", 4, 4)
    assert count(ImportRow, ImportRow.upload_log_id == log.id) == 0


def test_a_crashed_run_keeps_no_staged_rows_and_its_rerun_clears_what_it_kept(tmp_path, program, monkeypatch):
    people = PEOPLE + [("C5", "Eze", "Chidi", "1980-02-30")]  # one bad date: a rejected row
    path = export(tmp_path, program, people)
    real_apply = Batch.apply

    def crash(self):
        real_apply(self)
        raise RuntimeError("worker killed")

    monkeypatch.setattr(Batch, "apply", crash)
    with pytest.raises(ImportStopped):
        import_file(path, "EMHware", batch_size=2)
    failed = db.session.scalar(sa.select(ClientUploadLog).where(ClientUploadLog.status == "failed"))
    statuses = set(db.session.scalars(sa.select(ImportRow.status).where(ImportRow.upload_log_id == failed.id)))
    assert statuses == {"rejected"}, "only what a rejects file shows stays"

    monkeypatch.setattr(Batch, "apply", real_apply)
    summary = import_file(path, "EMHware", batch_size=2)
    assert (summary.inserted + summary.unchanged, summary.rejected) == (4, 1)
    assert count(ImportRow, ImportRow.upload_log_id == failed.id) == 0, "the finished re-run reports the rejects"


def test_rerunning_a_file_never_doubles_the_rows_waiting_for_review(tmp_path, program):
    for first in ("Jon", "John"):
        db.session.add(factories.client(first_name=first, last_name="Okafor", dob=date(1992, 3, 3)))
    db.session.commit()
    path = export(tmp_path, program, [("CLI8", "Okafor", "Jonn", "1992-03-03"), PEOPLE[0]])
    for _ in range(3):
        summary = import_file(path, "EMHware")
        assert summary.possible_duplicates == 1
    assert count(ImportRow, ImportRow.status == "review") == 1
    assert count(ClientDuplicate, ClientDuplicate.incoming_key == "EMHware:CLI8") == 2
    waiting = waiting_by_import()
    assert [(w.upload_log_id, w.rows, w.items) for w in waiting] == [(summary.upload_log_id, 1, 2)]
    held = db.session.scalar(sa.select(ImportRow).where(ImportRow.status == "review"))
    assert held.upload_log_id == summary.upload_log_id, "the items point at the latest run's row"


def test_a_lost_database_connection_ends_the_run_with_a_message(tmp_path, program, monkeypatch):
    from app.services.ingest import importer

    def lost(self):
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("terminating connection due to administrator "
                                                                "command"))

    monkeypatch.setattr(importer.ImportRun, "process", lost)
    with pytest.raises(ImportStopped, match="connection to the database was lost"):
        import_file(export(tmp_path, program), "EMHware")
    log = db.session.scalar(sa.select(ClientUploadLog).where(ClientUploadLog.status == "failed"))
    assert "administrator command" not in log.error_message and "re-run the same file" in log.error_message
    assert count(Client) == 0 and count(Enrollment) == 0
