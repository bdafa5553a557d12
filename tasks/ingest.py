"""Import tasks: an uploaded file, and the daily drop folder (beat entry ``ccd-ingest-drop-folder``)."""

import logging
from pathlib import Path

from celery import shared_task
from flask import current_app

from app.extensions import db
from app.models import ClientUploadLog
from app.services.ingest import process_upload
from app.services.ingest.drop_folder import import_drop_folder

logger = logging.getLogger(__name__)


@shared_task(name="ccd.ingest.run_upload")
def run_upload(upload_log_id: str) -> dict:
    """Run an import queued from the Imports page; the uploaded copy is removed once it has been read."""
    import uuid

    summary = process_upload(uuid.UUID(upload_log_id))
    log = db.session.get(ClientUploadLog, summary.upload_log_id)
    path = Path((log.upload_details or {}).get("path", ""))
    upload_dir = Path(current_app.config["INGEST_UPLOAD_DIR"]).resolve()
    if log.is_finished and path.is_file() and path.resolve().parent == upload_dir:
        path.unlink()
    return {"status": summary.status, "rows": summary.rows_read}


@shared_task(name="ccd.ingest.drop_folder")
def drop_folder() -> list[str]:
    """Import and archive every file in the drop folder; returns one line per file."""
    lines = [result.line() for result in import_drop_folder(current_app.config)]
    for line in lines:
        logger.info(line)
    return lines
