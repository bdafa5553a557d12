"""Nightly PostgreSQL backups: pg_dump, verified, kept for ten years, and proven restorable.

Each backup is ``ccd-YYYY-MM-DD.dump`` (pg_dump custom format) in ``BACKUP_DIR`` with a
manifest beside it (``.json``: row counts per table, size, SHA-256). The row counts are
taken inside the very snapshot pg_dump exports, so a restore must reproduce them exactly:
``restore_test`` restores the newest backup into a scratch database and compares.

Retention (the spec asks for ten years of history): every backup of the last 35 days,
and the first backup of each month for ten years. Only files named like a backup are
ever deleted, and only when they fall outside both rules.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

DAILY_KEEP_DAYS = 35
MONTHLY_KEEP_YEARS = 10
BACKUP_NAME = re.compile(r"^ccd-(\d{4}-\d{2}-\d{2})\.dump$")
PG_TIMEOUT_SECONDS = 6 * 3600
PRIVATE = 0o600  # backups hold every client's record: readable by the service account only


class BackupError(RuntimeError):
    """A backup, upload or restore test that did not work; the message says what to fix."""


@dataclass(frozen=True)
class BackupSettings:
    database_url: str
    directory: Path
    s3_bucket: str | None = None
    s3_prefix: str = "ccd-backups/"
    s3_endpoint_url: str | None = None

    @classmethod
    def from_config(cls, config) -> "BackupSettings":
        return cls(config["SQLALCHEMY_DATABASE_URI"], Path(config["BACKUP_DIR"]), config.get("BACKUP_S3_BUCKET"),
                   config.get("BACKUP_S3_PREFIX") or "", config.get("BACKUP_S3_ENDPOINT_URL"))


@dataclass
class BackupResult:
    path: Path
    size: int
    tables: dict[str, int]
    deleted: list[str] = field(default_factory=list)
    uploaded: str | None = None

    def describe(self) -> str:
        lines = [f"Backup {self.path} ({self.size:,} bytes, {len(self.tables)} tables, "
                 f"{sum(self.tables.values()):,} rows) verified with pg_restore --list."]
        if self.uploaded:
            lines.append(f"Uploaded to {self.uploaded}.")
        lines.append(f"Retention removed {len(self.deleted)} old backup(s)" +
                     (": " + ", ".join(self.deleted) if self.deleted else "."))
        return "\n".join(lines)


@dataclass
class RestoreResult:
    path: Path
    rows: list[tuple[str, int | None, int | None]]  # table, in the backup's snapshot, after restore

    @property
    def ok(self) -> bool:
        return bool(self.rows) and all(expected == restored for _, expected, restored in self.rows)

    def describe(self) -> str:
        lines = [f"Restore test of {self.path}: " + ("every table's row count matches." if self.ok
                                                       else "ROW COUNTS DIFFER.")]
        width = max((len(table) for table, _, _ in self.rows), default=5)
        for table, expected, restored in self.rows:
            mark = "ok" if expected == restored else "DIFFERENT"
            lines.append(f"  {table:<{width}}  {_count(expected):>10}  {_count(restored):>10}  {mark}")
        return "\n".join(lines)


def _count(value) -> str:
    return "missing" if value is None else f"{value:,}"


# --- retention (pure) -------------------------------------------------------------------

def _months_back(day: date, years: int) -> tuple[int, int]:
    return day.year - years, day.month


def backups_to_keep(days: Iterable[date], today: date) -> set[date]:
    """The backup dates retention keeps: the last 35 days, and each month's first for ten years."""
    days = sorted(set(days))
    keep = {day for day in days if day > today - timedelta(days=DAILY_KEEP_DAYS)}
    first_of_month: dict[tuple[int, int], date] = {}
    for day in days:
        first_of_month.setdefault((day.year, day.month), day)
    oldest_month = _months_back(today, MONTHLY_KEEP_YEARS)
    keep |= {day for month, day in first_of_month.items() if month >= oldest_month}
    return keep


def backup_name(day: date) -> str:
    return f"ccd-{day.isoformat()}.dump"


def parse_backup_name(name: str) -> date | None:
    match = BACKUP_NAME.match(name)
    if not match:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


def backups_in(directory: Path) -> dict[date, Path]:
    found = {}
    if directory.is_dir():
        for path in directory.iterdir():
            day = parse_backup_name(path.name)
            if day is not None and path.is_file():
                found[day] = path
    return found


def apply_retention(directory: Path, today: date) -> list[str]:
    """Delete the backups (and their manifests) retention does not keep; returns their names."""
    found = backups_in(directory)
    keep = backups_to_keep(found, today)
    deleted = []
    for day in sorted(set(found) - keep):
        path = found[day]
        path.unlink()
        path.with_suffix(".json").unlink(missing_ok=True)
        deleted.append(path.name)
    return deleted


# --- PostgreSQL tools -------------------------------------------------------------------

def _tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if candidates:
        return str(candidates[-1])
    raise BackupError(f"{name} was not found. Install the PostgreSQL client tools (Debian: postgresql-client) "
                      "of the server's major version.")


@dataclass(frozen=True)
class _Target:
    """How the PostgreSQL tools and psycopg reach one database, with the password kept out of argv."""

    uri: str
    env: dict
    name: str

    @classmethod
    def from_url(cls, database_url: str, database: str | None = None) -> "_Target":
        url = make_url(database_url)
        if url.get_backend_name() != "postgresql":
            raise BackupError(f"Backups use pg_dump and need PostgreSQL; this CCD runs on {url.get_backend_name()}. "
                              "Copy the SQLite file in the instance folder instead.")
        if database is not None:
            url = url.set(database=database)
        env = dict(os.environ)
        if url.password:
            env["PGPASSWORD"] = str(url.password)
        uri = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
        return cls(uri, env, url.database or "")

    def connect(self, **kwargs):
        return psycopg.connect(self.uri, password=self.env.get("PGPASSWORD"), **kwargs)


def _run(args: list[str], target: _Target, what: str) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(args, env=target.env, capture_output=True, text=True, timeout=PG_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise BackupError(f"{what} did not finish within {PG_TIMEOUT_SECONDS // 3600} hours.") from None
    if done.returncode != 0:
        raise BackupError(f"{what} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    return done


def _table_counts(cursor) -> dict[str, int]:
    cursor.execute("SELECT schemaname, tablename FROM pg_tables "
                   "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2")
    counts = {}
    for schema, table in cursor.fetchall():
        cursor.execute(sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table)))
        counts[f"{schema}.{table}"] = cursor.fetchone()[0]
    return counts


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- backup -----------------------------------------------------------------------------

def run_backup(settings: BackupSettings, today: date, s3_client=None) -> BackupResult:
    """Dump the database, verify the dump, apply retention, then upload when S3 is configured."""
    target = _Target.from_url(settings.database_url)
    directory = settings.directory
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"Cannot create the backup folder {directory}: {exc}") from exc
    final = directory / backup_name(today)
    partial = directory / (final.name + ".part")
    try:
        # pg_dump reads the snapshot this transaction exports, so the counts describe the dump exactly.
        with target.connect() as connection:
            connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            with connection.transaction(), connection.cursor() as cursor:
                cursor.execute("SELECT pg_export_snapshot()")
                snapshot = cursor.fetchone()[0]
                tables = _table_counts(cursor)
                _run([_tool("pg_dump"), "--format=custom", f"--snapshot={snapshot}", f"--file={partial}",
                      f"--dbname={target.uri}"], target, "pg_dump")
    except psycopg.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"Could not read the database for the backup: {exc}") from exc
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    try:
        listing = _run([_tool("pg_restore"), "--list", str(partial)], target, "pg_restore --list").stdout
        if "TABLE DATA" not in listing and any(tables.values()):
            raise BackupError(f"pg_restore --list of {partial} shows no table data; the dump is not usable.")
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    partial.chmod(PRIVATE)  # every client's record is in here
    os.replace(partial, final)
    manifest = {"database": target.name, "created_at": datetime.now(timezone.utc).isoformat(),
                "size": final.stat().st_size, "sha256": _sha256(final), "tables": tables}
    manifest_path = final.with_suffix(".json")
    manifest_partial = manifest_path.with_name(manifest_path.name + ".part")
    manifest_partial.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    manifest_partial.chmod(PRIVATE)
    os.replace(manifest_partial, manifest_path)
    result = BackupResult(final, manifest["size"], tables, apply_retention(directory, today))
    if settings.s3_bucket:
        result.uploaded = upload_to_s3(settings, final, today, s3_client)
    return result


def _s3(settings: BackupSettings):
    try:
        import boto3
    except ImportError:
        raise BackupError("BACKUP_S3_BUCKET is set but boto3 is not installed: pip install 'ccd[s3]'. "
                          "The local backup was made.") from None
    return boto3.client("s3", endpoint_url=settings.s3_endpoint_url)


def upload_to_s3(settings: BackupSettings, path: Path, today: date, client=None) -> str:
    """Upload the backup and its manifest, then apply the same retention to the bucket."""
    client = client or _s3(settings)
    prefix = settings.s3_prefix
    try:
        for each in (path, path.with_suffix(".json")):
            client.upload_file(str(each), settings.s3_bucket, prefix + each.name)
        stored: dict[date, str] = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=settings.s3_bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                day = parse_backup_name(item["Key"][len(prefix):])
                if day is not None:
                    stored[day] = item["Key"]
        expired = sorted(set(stored) - backups_to_keep(stored, today))
        if expired:
            keys = [stored[day] for day in expired] + [stored[day][:-len(".dump")] + ".json" for day in expired]
            client.delete_objects(Bucket=settings.s3_bucket,
                                  Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True})
    except BackupError:
        raise
    except Exception as exc:  # boto3 raises its own error types; the message is what the operator needs
        raise BackupError(f"The local backup {path.name} was made, but the upload to "
                          f"s3://{settings.s3_bucket}/{prefix} failed: {exc}") from exc
    return f"s3://{settings.s3_bucket}/{prefix}{path.name}"


# --- restore test -----------------------------------------------------------------------

def restore_test(settings: BackupSettings, path: Path | None = None) -> RestoreResult:
    """Restore the newest backup (or ``path``) into a scratch database and compare row counts per table."""
    if path is None:
        found = backups_in(settings.directory)
        if not found:
            raise BackupError(f"There is no backup in {settings.directory} to test; run 'ccd backup' first.")
        path = found[max(found)]
    manifest_path = path.with_suffix(".json")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"The manifest {manifest_path} of this backup cannot be read: {exc}") from exc
    if manifest.get("sha256") != _sha256(path):
        raise BackupError(f"{path} has changed since it was written (its SHA-256 differs from the manifest).")

    server = _Target.from_url(settings.database_url, database="postgres")
    scratch_name = f"ccd_restore_test_{secrets.token_hex(4)}"
    scratch = _Target.from_url(settings.database_url, database=scratch_name)
    try:
        with server.connect(autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch_name)))
    except psycopg.Error as exc:
        raise BackupError(f"Could not create the scratch database {scratch_name} (the database user needs "
                          f"CREATEDB): {exc}") from exc
    try:
        _run([_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", f"--dbname={scratch.uri}",
              str(path)], scratch, "pg_restore")
        with scratch.connect() as connection, connection.cursor() as cursor:
            restored = _table_counts(cursor)
    finally:
        with server.connect(autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch_name)))
    expected = manifest.get("tables", {})
    rows = [(table, expected.get(table), restored.get(table)) for table in sorted(set(expected) | set(restored))]
    return RestoreResult(path, rows)
