"""The real import path, from outside: fresh databases, the ``ccd`` CLI in its own process, and what it left.

Nothing here calls the importer in the bench process. A database is made by the same
commands an operator runs (``flask --app wsgi db upgrade``, ``ccd bootstrap``), the programs
the files need are added, and each file goes through ``flask --app wsgi ccd ingest`` in a
child process with ``DATABASE_URL`` (and any setting such as ``INGEST_BATCH_SIZE``) in its
environment. Afterwards the database is read with plain SQL: clients, their source ids,
enrollments, the import rows still held and their review items.

A template database is prepared once (migrations, bootstrap, programs) and copied for each
import (a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL), so every data
set starts from exactly what those commands leave.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]


def _child_env(url: str, settings: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INGEST_", "DATABASE_URL"))}
    env.update({"DATABASE_URL": url, "FLASK_APP": "wsgi", "CCD_ENV": "development", "PYTHONPATH": str(ROOT),
                "CCD_LOG_LEVEL": "WARNING"})
    env.update({k: str(v) for k, v in (settings or {}).items()})
    return env


@dataclass
class CommandRun:
    seconds: float
    returncode: int
    stdout: str
    stderr: str
    peak_kib: int  # the command's own peak resident memory (bench/peak_rss.py)


PEAK_RSS = Path(__file__).resolve().parent / "peak_rss.py"


def run_command(args: list[str], url: str, settings: dict | None = None, check: bool = True) -> CommandRun:
    """One command in its own process; its wall time and its own peak memory (bench/peak_rss.py says why a
    child started straight from this process cannot tell it)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err, \
            tempfile.TemporaryDirectory() as folder:
        peak_file = Path(folder) / "peak"
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, str(PEAK_RSS), str(peak_file), *args], cwd=ROOT,
                                 env=_child_env(url, settings), stdout=out, stderr=err)
        child.wait()
        seconds = time.perf_counter() - started
        peak_kib = int(peak_file.read_text()) if peak_file.exists() else 0
        out.seek(0)
        err.seek(0)
        result = CommandRun(seconds, child.returncode, out.read(), err.read(), peak_kib)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(args[3:])} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def ingest(url: str, path: Path, source: str, program: str | None = None, settings: dict | None = None,
           profile_to: Path | None = None) -> CommandRun:
    """``flask --app wsgi ccd ingest --src FILE --source SOURCE`` in its own process (under cProfile if asked)."""
    command = FLASK + ["ccd", "ingest", "--src", str(path), "--source", source]
    if program:
        command += ["--program", program]
    if profile_to is not None:
        command = [sys.executable, "-m", "cProfile", "-o", str(profile_to)] + command[1:]
    # Rows held for review make the run "partial", which is not a failure of the command.
    return run_command(command, url, settings, check=False)


class Databases:
    """Throwaway databases for one bench run: a prepared template, and fresh copies of it."""

    def __init__(self, postgres_url: str | None, programs: tuple[str, ...], prefix: str = "ccd_mb"):
        self.postgres_url, self.programs, self.prefix = postgres_url, programs, prefix
        self.folder = Path(tempfile.mkdtemp(prefix=f"{prefix}_"))
        self.made: list[str] = []
        self.template = self._name("template")
        self._create(self.template, template=None)
        url = self.url(self.template)
        run_command(FLASK + ["db", "upgrade"], url)
        run_command(FLASK + ["ccd", "bootstrap"], url)
        run_command([sys.executable, "-c", _ADD_PROGRAMS, *programs], url)

    def _name(self, what: str) -> str:
        return f"{self.prefix}_{what}_{uuid.uuid4().hex[:8]}"

    def url(self, name: str) -> str:
        if self.postgres_url is None:
            return f"sqlite:///{self.folder / (name + '.sqlite3')}"
        return urlunsplit(urlsplit(self.postgres_url)._replace(path=f"/{name}"))

    def _maintenance(self):
        import psycopg

        return psycopg.connect(urlunsplit(urlsplit(self.postgres_url)._replace(path="/postgres")), autocommit=True)

    def _create(self, name: str, template: str | None) -> None:
        if self.postgres_url is None:
            if template is not None:
                shutil.copyfile(self.folder / f"{template}.sqlite3", self.folder / f"{name}.sqlite3")
        else:
            with self._maintenance() as conn:
                conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        self.made.append(name)

    def fresh(self) -> str:
        """A new database holding exactly the template; its URL."""
        name = self._name("run")
        self._create(name, self.template)
        return self.url(name)

    def drop(self, url: str) -> None:
        if self.postgres_url is None:
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
            return
        name = urlsplit(url).path.lstrip("/")
        with self._maintenance() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        if self.postgres_url is not None:
            with self._maintenance() as conn:
                for name in self.made:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(self.folder, ignore_errors=True)


_ADD_PROGRAMS = """
import sys
from app import create_app
from app.audit import acting_as
from app.extensions import db
from app.models import Department, Program
app = create_app()
with app.app_context(), acting_as("bench set-up"):
    department = Department(name="Bench")
    db.session.add_all([Program(name=name, department=department) for name in sys.argv[1:]])
    db.session.commit()
"""


# Words an import row waiting for a person's decision may carry (today "review").
HELD_STATUSES = frozenset({"review", "held", "pending", "pending_review"})


def import_status(url: str, file_name: str) -> str | None:
    """The status the import of ``file_name`` ended with, as its upload log records it (None: no log)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.scalar(sa.text("SELECT status FROM client_upload_logs WHERE file_name = :name "
                                       "ORDER BY started_at DESC LIMIT 1"), {"name": file_name})
    finally:
        engine.dispose()


@dataclass
class HeldRow:
    cells: list
    candidates: set  # client ids of the review items raised for the row


@dataclass
class Leftovers:
    """What the imports left in a database, read with plain SQL."""
    enrollment_client: dict          # (program name, start date) -> client id
    held: dict                       # (program name, admission date) -> HeldRow
    other_rows: dict                 # (program name, admission date) -> status of an import row kept otherwise
    client_names: dict               # client id -> "First Last (dob)"
    source_ids: dict = field(default_factory=dict)  # client id -> {(source, id)}
    logs: list = field(default_factory=list)        # (file name, status, duration seconds)


def read_leftovers(url: str, files: list) -> Leftovers:
    """``files``: (ExportFile, file name) in import order, to read each kept row's program and admission date."""
    from datetime import date

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            q = conn.execute
            enrollment_client = {
                (program, start if isinstance(start, date) else date.fromisoformat(str(start)[:10])): client
                for client, program, start in q(sa.text(
                    "SELECT e.client_id, p.name, e.start_date FROM client_program_enrollments e "
                    "JOIN programs p ON p.id = e.program_id"))}
            names = {client: f"{first} {last} ({dob or 'no DOB'})" for client, first, last, dob in q(sa.text(
                "SELECT id, first_name, last_name, dob FROM clients"))}
            source_ids = defaultdict(set)
            for client, source, source_id in q(sa.text(
                    "SELECT client_id, source_system, source_client_id FROM client_source_ids")):
                source_ids[client].add((source, source_id))
            logs = {name: (log_id, status, seconds) for log_id, name, status, seconds in q(sa.text(
                "SELECT id, file_name, status, duration_seconds FROM client_upload_logs"))}
            # A held cluster's review items sit on its first row, and a reviewer's answer writes all its rows:
            # every row of the cluster (its incoming key) is held against the clients those items name.
            candidates, by_key = defaultdict(set), defaultdict(set)
            for row_id, log_id, key, client in q(sa.text(
                    "SELECT d.import_row_id, r.upload_log_id, d.incoming_key, d.primary_client_id "
                    "FROM client_duplicates d JOIN import_rows r ON r.id = d.import_row_id")):
                candidates[str(row_id)].add(client)
                by_key[(str(log_id), key)].add(client)
            held, other = {}, {}
            for export, file_name in files:
                log_id = logs.get(file_name, (None,))[0]
                if log_id is None:
                    continue
                for row_id, status, cells, details in q(sa.text(
                        "SELECT id, status, cells, details FROM import_rows WHERE upload_log_id = :log"),
                        {"log": log_id}):
                    cells = cells if isinstance(cells, list) else json.loads(cells)
                    details = details if isinstance(details, dict) else json.loads(details or "{}")
                    key = _row_key(export, cells)
                    if key is None:
                        continue
                    if status in HELD_STATUSES or str(row_id) in candidates:
                        named = by_key.get((str(log_id), details.get("incoming_key")), set())
                        held[key] = HeldRow(cells, candidates.get(str(row_id), set()) | named)
                    else:
                        other[key] = status
        return Leftovers(enrollment_client, held, other, names, dict(source_ids),
                         [(name, status, seconds) for name, (_, status, seconds) in logs.items()])
    finally:
        engine.dispose()


def _row_key(export, cells):
    from datetime import date

    from bench.export_files import EMHWARE_HEADER, SMIS_HEADER

    header = SMIS_HEADER if export.source == "SMIS" else EMHWARE_HEADER
    try:
        admission = date.fromisoformat(cells[header.index("Admission Date")])
    except (IndexError, ValueError):
        return None
    program = export.program if export.source == "SMIS" else cells[header.index("Program")]
    return program, admission
