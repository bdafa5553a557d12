"""Import tasks: an uploaded file, the daily drop folder (beat entry ``ccd-ingest-drop-folder``), and the
reaper that ends runs whose process died (beat entry ``ccd-ingest-reap``)."""

import logging
from pathlib import Path

from celery import shared_task
from flask import current_app

from app.extensions import db
from app.models import ClientUploadLog
from app.services.ingest import process_upload
from app.services.ingest.drop_folder import import_drop_folder
from app.services.ingest.runs import reap_stale

logger = logging.getLogger(__name__)


# Acknowledged only once it has run, and given back to the queue when its worker dies mid-run: the
# redelivered task starts the run again from the top (process_upload's ``resume``), which converges.
@shared_task(name="ccd.ingest.run_upload", bind=True, acks_late=True, reject_on_worker_lost=True)
def run_upload(self, upload_log_id: str) -> dict:
    """Run an import queued from the Imports page; the uploaded copy is removed once it has been read."""
    import uuid

    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    summary = process_upload(uuid.UUID(upload_log_id), resume=redelivered)
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


@shared_task(name="ccd.ingest.reap")
def reap() -> list[str]:
    """Mark failed every import whose upload log stopped moving (its process was killed)."""
    reaped = reap_stale(current_app.config["INGEST_STALE_MINUTES"])
    lines = [f"{log.id}: {log.source} {log.file_name}: {log.error_message}" for log in reaped]
    for line in lines:
        logger.warning(line)
    return lines
