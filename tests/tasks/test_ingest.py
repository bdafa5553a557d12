"""The import tasks: an uploaded file, and the daily drop folder that skips content already imported."""

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditLog, ClientUploadLog
from app.services.ingest import start_import
from tasks.ingest import drop_folder, run_upload
from tests import factories


def bound(app, task):
    """The task on this test app's Celery (another app built later may have become Celery's default)."""
    return app.extensions["celery"].tasks[task.name]


def test_beat_runs_the_drop_folder_daily(app):
    entry = app.config["CELERY"]["beat_schedule"]["ccd-ingest-drop-folder"]
    assert entry["task"] == drop_folder.name == "ccd.ingest.drop_folder"
    assert str(entry["schedule"].hour) == "{2}" and str(entry["schedule"].minute) == "{30}"


def test_run_upload_imports_a_queued_file_and_names_the_import_as_actor(app, db_session, tmp_path):
    program = factories.create("programs")
    path = tmp_path / "emh.csv"
    path.write_text(f"ID,Last Name,First Name,Program,DOB,Admission Date\nX1,Roy,Luc,{program.name},1970-01-01,"
                    "2024-01-01\n")
    log = start_import(path, "EMHware")
    result = bound(app, run_upload).apply(args=[str(log.id)]).get()
    assert result == {"status": "success", "rows": 1}
    actors = set(db.session.scalars(sa.select(AuditLog.actor_name).where(AuditLog.action == "import")))
    assert actors == {"import EMHware emh.csv"}
    assert bound(app, run_upload).apply(args=[str(log.id)]).get() == {"status": "success", "rows": 1}, "a redelivery does nothing"


def test_drop_folder_imports_archives_and_skips_same_content(app, db_session, tmp_path, monkeypatch):
    program = factories.create("programs")
    drop, archive = tmp_path / "drop", tmp_path / "archive"
    monkeypatch.setitem(app.config, "INGEST_DROP_DIR", str(drop))
    monkeypatch.setitem(app.config, "INGEST_ARCHIVE_DIR", str(archive))
    content = "Client No.,Last Name,First Name,DOB,Admission Date\n77,Roy,Luc,1970-01-01,2024-01-01\n"
    (drop / "SMIS" / program.name).mkdir(parents=True)
    (drop / "SMIS" / program.name / "occupancy.csv").write_text(content)
    first = bound(app, drop_folder).apply().get()
    assert len(first) == 1 and first[0].startswith("imported: SMIS occupancy.csv")
    assert not list((drop / "SMIS" / program.name).iterdir()), "imported files leave the drop folder"

    (drop / "SMIS" / program.name / "occupancy-again.csv").write_text(content)
    second = bound(app, drop_folder).apply().get()
    assert len(second) == 1 and second[0].startswith("skipped: SMIS occupancy-again.csv")
    skipped = db.session.scalar(sa.select(ClientUploadLog).where(ClientUploadLog.status == "skipped"))
    assert "Same content" in skipped.error_message and skipped.upload_details["archived_to"]
    assert len(list(archive.rglob("*.csv"))) == 2


def test_an_import_is_given_back_to_the_queue_when_its_worker_dies(app):
    task = bound(app, run_upload)
    assert task.acks_late is True and task.reject_on_worker_lost is True


def test_beat_ends_dead_imports_every_ten_minutes(app):
    from tasks.ingest import reap

    entry = app.config["CELERY"]["beat_schedule"]["ccd-ingest-reap"]
    assert entry["task"] == reap.name == "ccd.ingest.reap"
    assert sorted(entry["schedule"].minute) == [0, 10, 20, 30, 40, 50]


def test_a_redelivered_upload_runs_again_from_the_top(app, db_session, tmp_path):
    from app.models import ImportRow

    program = factories.create("programs")
    path = tmp_path / "emh.csv"
    path.write_text(f"ID,Last Name,First Name,Program,DOB,Admission Date\nX1,Roy,Luc,{program.name},1970-01-01,"
                    "2024-01-01\n")
    log = start_import(path, "EMHware")
    log.status = "running"  # its first worker died after staging
    db.session.add(ImportRow(upload_log_id=log.id, row_number=2, cells=["X1"], status="staged"))
    db.session.commit()
    task = bound(app, run_upload)
    assert task.apply(args=[str(log.id)]).get()["status"] == "running", "a first delivery leaves it to its worker"
    task.push_request(delivery_info={"redelivered": True})  # as the broker hands it to the next worker
    try:
        redelivered = task.run(str(log.id))
    finally:
        task.pop_request()
    assert redelivered == {"status": "success", "rows": 1}


def test_a_file_that_fails_is_moved_aside_and_the_next_file_is_imported(app, db_session, tmp_path, monkeypatch):
    program = factories.create("programs")
    drop, archive = tmp_path / "drop", tmp_path / "archive"
    monkeypatch.setitem(app.config, "INGEST_DROP_DIR", str(drop))
    monkeypatch.setitem(app.config, "INGEST_ARCHIVE_DIR", str(archive))
    folder = drop / "SMIS" / program.name
    folder.mkdir(parents=True)
    header = "Client No.,Last Name,First Name,DOB,Admission Date\n"
    (folder / "a-missing-columns.csv").write_text("Last Name\nRoy\n")
    (folder / "b-nul.csv").write_bytes((header + "77,Ro\x00y,Luc,1970-01-01,2024-01-01\n"
                                        "78,Roy,Ann,1971-01-01,2024-01-01\n").encode())
    (folder / "c-good.csv").write_text(header + "79,Lee,Sam,1972-01-01,2024-01-01\n")
    lines = bound(app, drop_folder).apply().get()
    assert [line.split(":")[0] for line in lines] == ["failed", "imported", "imported"], lines
    assert not list(folder.iterdir())
    assert [p.name.split("-", 1)[1] for p in (drop / "refused" / "SMIS").rglob("*.csv")] == ["a-missing-columns.csv"]
    assert len(list(archive.rglob("*.csv"))) == 2
    statuses = dict(db.session.execute(sa.select(ClientUploadLog.file_name, ClientUploadLog.status)).all())
    assert statuses == {"a-missing-columns.csv": "failed", "b-nul.csv": "partial", "c-good.csv": "success"}


def test_a_file_whose_import_crashes_is_moved_aside_too(app, db_session, tmp_path, monkeypatch):
    from app.services.ingest import importer

    program = factories.create("programs")
    drop = tmp_path / "drop"
    monkeypatch.setitem(app.config, "INGEST_DROP_DIR", str(drop))
    monkeypatch.setitem(app.config, "INGEST_ARCHIVE_DIR", str(tmp_path / "archive"))
    (drop / "SMIS" / program.name).mkdir(parents=True)
    (drop / "SMIS" / program.name / "crash.csv").write_text("Client No.,Last Name,First Name\n1,Roy,Luc\n")
    monkeypatch.setattr(importer.ImportRun, "process", lambda self: 1 / 0)
    lines = bound(app, drop_folder).apply().get()
    assert len(lines) == 1 and lines[0].startswith("failed: SMIS crash.csv: The import stopped on an unexpected "
                                                   "error (ZeroDivisionError)")
    assert len(list((drop / "refused").rglob("*.csv"))) == 1


def test_the_reap_task_ends_an_import_whose_log_stopped_moving(app, db_session, tmp_path):
    from datetime import datetime, timedelta, timezone

    from tasks.ingest import reap

    path = tmp_path / "smis.csv"
    path.write_text("Client No.,Last Name,First Name\n1,Roy,Luc\n")
    log = start_import(path, "SMIS")
    log.status = "running"
    db.session.commit()
    db.session.execute(sa.update(ClientUploadLog).where(ClientUploadLog.id == log.id).values(
        updated_at=datetime.now(timezone.utc) - timedelta(minutes=app.config["INGEST_STALE_MINUTES"] + 1)))
    db.session.commit()
    lines = bound(app, reap).apply().get()
    assert len(lines) == 1 and lines[0].startswith(f"{log.id}: SMIS smis.csv: The import stopped without finishing")
    assert db.session.get(ClientUploadLog, log.id).status == "failed"
