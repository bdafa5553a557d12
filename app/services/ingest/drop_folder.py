"""The daily drop folder: every file left in ``INGEST_DROP_DIR/<source>/`` is imported and archived.

A file for one program (SMIS reports have no Program column) goes in a sub-folder named
after the program: ``INGEST_DROP_DIR/SMIS/<program name>/file.csv``. A file whose content
was already imported (same SHA-256) is not read again: it is logged as skipped, reported,
and archived like the others. A file that cannot be imported is moved aside to
``INGEST_DROP_DIR/refused/<source>/<day>/`` (its upload log says why) and the next file is
imported, so the folder is empty after every run and one bad file never blocks the others.
Only a lost database connection stops the run: the files wait for the next one.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa

from app import audit
from app.choices import SOURCE_SYSTEMS
from app.extensions import db
from app.models import ClientUploadLog
from app.services.ingest.importer import ImportSummary, import_file, sha256_of
from app.services.ingest.reading import FileRefused
from app.services.ingest.runs import ImportStopped

IMPORTABLE_SUFFIXES = (".csv", ".xlsx", ".txt")
REFUSED_FOLDER = "refused"


@dataclass
class DropResult:
    path: Path
    source: str
    program: str | None
    outcome: str  # "imported", "skipped", "failed" (moved aside) or "waiting" (left for the next run)
    message: str
    archived_to: Path | None = None

    def line(self) -> str:
        where = f" -> {self.archived_to}" if self.archived_to else ""
        return f"{self.outcome}: {self.source} {self.path.name}: {self.message}{where}"


def drop_folders(config) -> tuple[Path, Path]:
    drop = Path(config["INGEST_DROP_DIR"])
    archive = Path(config.get("INGEST_ARCHIVE_DIR") or drop / "archive")
    return drop, archive


def pending_files(drop: Path) -> list[tuple[str, str | None, Path]]:
    """(source, program or None, path) of every file waiting, oldest first within each source."""
    found = []
    for source in SOURCE_SYSTEMS:
        folder = drop / source
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir(), key=lambda p: (p.stat().st_mtime, p.name)):
            if path.is_file() and path.suffix.lower() in IMPORTABLE_SUFFIXES and not path.name.startswith("."):
                found.append((source, None, path))
            elif path.is_dir():
                for inner in sorted(path.iterdir(), key=lambda p: (p.stat().st_mtime, p.name)):
                    if inner.is_file() and inner.suffix.lower() in IMPORTABLE_SUFFIXES \
                            and not inner.name.startswith("."):
                        found.append((source, path.name, inner))
    return found


def already_imported(sha256: str) -> ClientUploadLog | None:
    """The earlier real (not dry-run) import of the same content, if any."""
    for log in db.session.scalars(sa.select(ClientUploadLog).where(
            ClientUploadLog.file_sha256 == sha256, ClientUploadLog.status.in_(("success", "partial")))
            .order_by(ClientUploadLog.started_at)):
        if not (log.upload_details or {}).get("dry_run"):
            return log
    return None


def _archive(path: Path, archive: Path, source: str) -> Path:
    now = datetime.now(timezone.utc)
    target_dir = archive / source / now.strftime("%Y-%m-%d")
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{now:%H%M%S}-{path.name}"
    counter = 1
    while target.exists():
        target = target_dir / f"{now:%H%M%S}-{counter}-{path.name}"
        counter += 1
    shutil.move(str(path), target)
    return target


def _skip(path: Path, source: str, sha256: str, previous: ClientUploadLog) -> ClientUploadLog:
    message = (f"Same content (SHA-256) as {previous.file_name}, imported "
               f"{previous.started_at:%Y-%m-%d %H:%M}; not imported again.")
    log = ClientUploadLog(file_name=path.name[:255], file_size=path.stat().st_size,
                          file_type=path.suffix.lstrip(".")[:10],
                          file_sha256=sha256, source=source, status="skipped", error_message=message,
                          started_at=datetime.now(timezone.utc), completed_at=datetime.now(timezone.utc),
                          duration_seconds=0.0,
                          upload_details={"drop_folder": True, "same_as": str(previous.id)})
    db.session.add(log)
    db.session.flush()
    audit.record(db.session, "client_upload_logs", log.id, "import",
                 {"file": {"before": None, "after": path.name}, "status": {"before": None, "after": "skipped"},
                  "same_as": {"before": None, "after": str(previous.id)}})
    db.session.commit()
    return log


def import_drop_folder(config) -> list[DropResult]:
    """Import and archive every waiting file; a file that fails is moved aside and the others go on."""
    drop, archive = drop_folders(config)
    results = []
    pending = pending_files(drop)
    for index, (source, program, path) in enumerate(pending):
        sha256 = sha256_of(path)
        previous = already_imported(sha256)
        if previous is not None:
            log = _skip(path, source, sha256, previous)
            result = DropResult(path, source, program, "skipped", log.error_message)
        else:
            try:
                summary: ImportSummary = import_file(path, source, program_name=program,
                                                     extra_details={"drop_folder": True})
            except (ImportStopped, FileRefused) as exc:
                db.session.rollback()
                if isinstance(exc.__cause__, (sa.exc.OperationalError, sa.exc.InterfaceError)):
                    results.extend(DropResult(p, s, g, "waiting", f"not imported: {exc}") for s, g, p in pending[index:])
                    return results
                log = _log_of(path, sha256)
                result = DropResult(path, source, program, "failed", str(exc))
            else:
                outcome = "failed" if summary.status == "failed" else "imported"
                message = summary.error or (f"{summary.rows_read} rows: {summary.inserted} new, {summary.updated} "
                                            f"updated, {summary.unchanged} unchanged, {summary.rejected} rejected, "
                                            f"{summary.possible_duplicates} for review")
                result = DropResult(path, source, program, outcome, message)
                log = db.session.get(ClientUploadLog, summary.upload_log_id)
        if result.outcome == "failed":
            result.archived_to = _archive(path, drop / REFUSED_FOLDER, source)
        else:
            result.archived_to = _archive(path, archive, source)
        if log is not None:
            log.upload_details = {**(log.upload_details or {}), "archived_to": str(result.archived_to)}
        db.session.commit()
        results.append(result)
    return results


def _log_of(path: Path, sha256: str) -> ClientUploadLog | None:
    """The upload log of the run that just stopped on this file."""
    return db.session.scalar(sa.select(ClientUploadLog).where(
        ClientUploadLog.file_sha256 == sha256, ClientUploadLog.file_name == path.name[:255])
        .order_by(ClientUploadLog.started_at.desc()).limit(1))
