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
