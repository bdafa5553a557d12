"""Import speed on PostgreSQL, as the CLI runs it in its own process, against an honest COPY floor.

    python -m bench.ingest --rows 5000 --clients 50000            # a quick check
    python -m bench.ingest --rows 100000 --clients 1000000         # the size issue 14 asks for
    python -m bench.ingest --rows 20000 --clients 200000 --no-profile

The script (re)creates a throwaway database (``--database-url``, default ``ccd_bench_ingest``
on the local server: it is DROPPED first, and afterwards unless ``--keep``), migrates it,
loads M synthetic clients with their EMHware ids by COPY (then VACUUM ANALYZE, as autovacuum leaves a
live database), writes an N-row EMHware export
(bench/synthetic.py), then measures:

* the floor, in the same run and on the same database: reading the file and COPYing its
  records into the real, indexed tables: a client and its source id for each id CCD does not
  hold, an enrollment for every valid row, and an audit row for each record (the transaction
  is rolled back, so the import sees the same database);
* the import: ``flask --app wsgi ccd ingest --src FILE --source EMHware`` in a child process
  (nothing of the bench's set-up in its memory): its wall time, the import's own duration
  (``client_upload_logs.duration_seconds``), and the child's peak resident memory (wait4);
* what each stage costs: the same import again, on a copy of the database made before the
  first one (``CREATE DATABASE … TEMPLATE``: at a million clients that copy takes a while and
  disk space; ``--no-profile`` skips it), under cProfile in its own process; the profile's
  shares of read/stage, link and write (see ``STAGES``) are applied to the unprofiled duration.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import pstats
import shutil
import tempfile
import time
import uuid
from datetime import date, datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/ccd_bench_ingest"
SAFE_PREFIXES = ("ccd_bench", "ccd_mb")
PROGRAMS = ("Bench Program A", "Bench Program B")
# Which functions of the import are which stage. A function counts when its file path contains
# the first part and its name is the second; only the outermost matching calls are summed, so
# stages do not double count. Reading the staged rows is "read" (their parsing), grouping and
# clustering them "link"; a batch re-reads its rows, and that counts as "write", where it happens.
STAGES = {
    "read & stage the file": [("services/ingest", "stage"), ("services/ingest", "read_sheet"),
                              ("services/ingest", "_parse")],
    "link (clusters, candidates, decisions)": [("services/ingest/link", "_reject_conflicting_ids"),
                                               ("services/matching", "with_data_frequencies"),
                                               ("services/ingest/link", "_cluster"),
                                               ("services/ingest/link", "link_to_clients"),
                                               ("services/ingest/decide", "decide_clusters"),
                                               ("services/ingest/decide", "shared_clients")],
    "write (records, audit rows, outcomes)": [("services/ingest", "_process_batch"), ("services/ingest", "_reject"),
                                              ("services/ingest", "finish")],
}


def _database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _maintenance(url: str):
    import psycopg

    return psycopg.connect(urlunsplit(urlsplit(url)._replace(path="/postgres")), autocommit=True)


def recreate_database(url: str, template: str | None = None) -> None:
    name = _database_name(url)
    if not name.startswith(SAFE_PREFIXES):
        raise SystemExit(f"Refusing to drop {name!r}: the bench database name must start with "
                         f"{' or '.join(SAFE_PREFIXES)}.")
    with _maintenance(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))


def drop_database(url: str) -> None:
    with _maintenance(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{_database_name(url)}" WITH (FORCE)')


def load_clients(data, engine) -> None:
    """The existing clients, with their EMHware ids, loaded the fast way (this is set-up, not measured)."""
    from app.services.matching import match_keys

    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy("COPY clients (id, first_name, last_name, preferred_name, dob, gender, city, source_system, "
                         "block_last_key, block_names_key, block_prefix_key) FROM STDIN") as copy:
            for c in data.clients:
                keys = match_keys(c.first_name, c.last_name, c.dob)
                copy.write_row((c.id, c.first_name, c.last_name, c.preferred_name, c.dob, c.gender, c.city,
                                "EMHware" if c.emh_id else "SMIS", keys.last_key, keys.names_key,
                                keys.prefix_key))
        with cursor.copy("COPY client_source_ids (id, client_id, source_system, source_client_id) FROM STDIN") as copy:
            for c in data.clients:
                if c.emh_id:
                    copy.write_row((uuid.uuid4(), c.id, "EMHware", c.emh_id))
        raw.commit()
    finally:
        raw.close()
    # As autovacuum leaves a live database: a table just filled by COPY has no hint bits set, and the import's
    # every lookup then wrote the pages it read (13,752 of 17,598 in one lookup: 0.9 s against 0.12 s). On a
    # connection of its own: VACUUM needs autocommit, which a pooled connection must not keep.
    import psycopg

    with psycopg.connect(engine.url.set(drivername="postgresql").render_as_string(hide_password=False),
                         autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) clients")
        conn.execute("VACUUM (ANALYZE) client_source_ids")


def copy_floor(path: Path, engine) -> tuple[float, int, int]:
    """Seconds to read the export and COPY its records into the real, indexed tables: for a row of an id
    CCD does not hold, a client and its source id; for every valid row, an enrollment; an audit row for
    each record. Rolled back, so the import that follows sees the same database. (The ids CCD holds are
    read before the clock starts: which records to write is the question the import answers.)"""
    from bench.synthetic import EMHWARE_HEADER

    column = {title: index for index, title in enumerate(EMHWARE_HEADER)}
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        programs = dict(cursor.execute("SELECT name, id FROM programs").fetchall())
        known = dict(cursor.execute("SELECT source_client_id, client_id FROM client_source_ids "
                                    "WHERE source_system = 'EMHware'").fetchall())
        started = time.perf_counter()
        clients, source_ids, enrollments, audit = [], [], [], []
        now = datetime.now(timezone.utc)
        actor = f"import EMHware {path.name}"[:100]
        with path.open(newline="", encoding="utf-8") as handle:
            rows = csv.reader(handle)
            next(rows)
            for cells in rows:
                program = programs.get(cells[column["Program"]])
                try:
                    dob = date.fromisoformat(cells[column["DOB"]]) if cells[column["DOB"]] else None
                    start = date.fromisoformat(cells[column["Admission Date"]])
                except ValueError:
                    continue
                if program is None:
                    continue
                source_id, enrollment = cells[column["ID"]], uuid.uuid4()
                written = []
                client_id = known.get(source_id)
                if client_id is None:  # a client the file adds, with its id; a known id adds only the enrollment
                    client_id, source_row = uuid.uuid4(), uuid.uuid4()
                    known[source_id] = client_id
                    first, last = cells[column["First Name"]], cells[column["Last Name"]]
                    clients.append((client_id, first, last, dob, cells[column["Gender"]] or None,
                                    cells[column["City"]] or None, "EMHware"))
                    source_ids.append((source_row, client_id, "EMHware", source_id))
                    written += [("clients", client_id, {"first_name": first, "last_name": last,
                                                        "dob": dob and dob.isoformat(),
                                                        "gender": cells[column["Gender"]],
                                                        "city": cells[column["City"]]}),
                                ("client_source_ids", source_row, {"client_id": str(client_id),
                                                                   "source_system": "EMHware",
                                                                   "source_client_id": source_id})]
                enrollments.append((enrollment, client_id, program, start, "active"))
                written.append(("client_program_enrollments", enrollment, {
                    "client_id": str(client_id), "program_id": str(program), "start_date": start.isoformat(),
                    "status": "active"}))
                for entity, entity_id, diff in written:
                    audit.append((uuid.uuid4(), entity, entity_id, client_id, "import", actor, now,
                                  json.dumps({k: {"before": None, "after": v} for k, v in diff.items()})))
        for table, columns, records in (
                ("clients", "id, first_name, last_name, dob, gender, city, source_system", clients),
                ("client_source_ids", "id, client_id, source_system, source_client_id", source_ids),
                ("client_program_enrollments", "id, client_id, program_id, start_date, status", enrollments),
                ("audit_logs", "id, entity, entity_id, client_id, action, actor_name, changed_at, diff_json", audit)):
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for record in records:
                    copy.write_row(record)
        seconds = time.perf_counter() - started
        raw.rollback()
        return seconds, len(clients), len(enrollments)
    finally:
        raw.close()


def stage_costs(profile_path: Path) -> tuple[float, dict[str, float]]:
    """The profiled import's total (``import_file``) and each stage's outermost cumulative seconds."""
    stats = pstats.Stats(str(profile_path)).stats
    total = max((ct for (file, _, name), (_, _, _, ct, _) in stats.items()
                 if "services/ingest" in file and name == "import_file"), default=0.0)

    def stage_of(key):
        file, _, name = key
        for stage, entries in STAGES.items():
            if any(part in file and name == wanted for part, wanted in entries):
                return stage
        return None

    matched = {key: stage_of(key) for key in stats if stage_of(key)}

    inside: dict = {}

    def within_a_stage(caller) -> bool:
        """Whether ``caller`` is a stage function, or an app function a chain of the app's own callers leads
        to one from (memoised; cycles count as no). Library functions are not followed: a generic wrapper is
        called from everywhere."""
        if caller in matched:
            return True
        if caller not in stats or f"{os.sep}app{os.sep}" not in caller[0]:
            return False
        if caller not in inside:
            inside[caller] = False
            inside[caller] = any(within_a_stage(up) for up in stats[caller][4])
        return inside[caller]

    costs = {stage: 0.0 for stage in STAGES}
    for key, stage in matched.items():
        callers = stats[key][4]
        if not callers:
            costs[stage] += stats[key][3]
        # Per caller: a function called both inside a stage (a batch re-parsing its rows) and outside
        # (reading the file) counts only its outside calls here.
        costs[stage] += sum(cumulative for caller, (_, _, _, cumulative) in callers.items()
                            if not within_a_stage(caller))
    return total, costs


def main(argv=None) -> int:
    folder = Path(tempfile.mkdtemp(prefix="ccd_mb_ingest_"))
    try:
        return measure(argv, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def measure(argv, folder: Path) -> int:
    parser = argparse.ArgumentParser(description="Import speed (the CLI in its own process) against a COPY floor.")
    parser.add_argument("--rows", type=int, default=20000, help="rows in the export (N)")
    parser.add_argument("--clients", type=int, default=200000, help="clients already in CCD (M)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL),
                        help="a throwaway PostgreSQL database: it is DROPPED first")
    parser.add_argument("--batch-size", type=int, default=None, help="INGEST_BATCH_SIZE for the import")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--no-profile", action="store_true", help="skip the profiled second import (stage costs)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (default: drop it)")
    parser.add_argument("--profile-out", type=Path, default=None,
                        help="also keep the profiled import's cProfile stats in this file (to read with pstats)")
    parser.add_argument("--memory", action="store_true", help="kept for bench/memory: the import's peak memory "
                                                              "is always measured now")
    args = parser.parse_args(argv)

    import flask_migrate

    from app import create_app
    from app.audit import acting_as
    from app.extensions import db
    from app.models import Department, Program
    from app.services.accounts import ensure_roles
    from bench.real_import import ingest
    from bench.synthetic import emhware_lines, generate

    url = args.database_url
    recreate_database(url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context(), acting_as("bench set-up"):
        flask_migrate.upgrade()
        ensure_roles()
        department = Department(name="Bench")
        db.session.add_all([Program(name=name, department=department) for name in PROGRAMS])
        db.session.commit()
        started = time.perf_counter()
        data = generate(clients=args.clients, rows=args.rows, seed=args.seed, programs=PROGRAMS)
        generated = time.perf_counter() - started
        started = time.perf_counter()
        load_clients(data, db.engine)
        loaded = time.perf_counter() - started
        kinds = {}
        for row in data.rows:
            kinds[row.kind] = kinds.get(row.kind, 0) + 1
        path = folder / "emhware-receiving-services.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(emhware_lines(data))
        del data
        floor, floor_clients, floor_enrollments = copy_floor(path, db.engine)
        db.session.remove()
        db.engine.dispose()

    profile_url = None
    if not args.no_profile:
        profile_url = urlunsplit(urlsplit(url)._replace(path=f"/{_database_name(url)}_profile"))
        recreate_database(profile_url, template=_database_name(url))
    settings = {"INGEST_BATCH_SIZE": args.batch_size} if args.batch_size else {}
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        clients_before = conn.scalar(sa.text("SELECT count(*) FROM clients"))
        audit_before = conn.scalar(sa.text("SELECT count(*) FROM audit_logs"))
    run = ingest(url, path, "EMHware", settings=settings)
    if run.returncode not in (0, 1) or "Traceback" in run.stderr:
        raise SystemExit(f"ccd ingest failed ({run.returncode}):\n{run.stdout}\n{run.stderr[-3000:]}")
    with engine.connect() as conn:
        q = conn.scalar
        duration = q(sa.text("SELECT duration_seconds FROM client_upload_logs ORDER BY started_at DESC LIMIT 1"))
        outcome = {
            "clients added": q(sa.text("SELECT count(*) FROM clients")) - clients_before,
            "enrollments": q(sa.text("SELECT count(*) FROM client_program_enrollments")),
            "rows held for review": q(sa.text("SELECT count(*) FROM import_rows WHERE status = 'review'")),
            "review items": q(sa.text("SELECT count(*) FROM client_duplicates")),
            "rows rejected": q(sa.text("SELECT count(*) FROM import_rows WHERE status = 'rejected'")),
            "audit rows written": q(sa.text("SELECT count(*) FROM audit_logs")) - audit_before,
        }
    engine.dispose()

    profile = None
    if profile_url:
        profile_path = folder / "ingest.prof"
        try:
            ingest(profile_url, path, "EMHware", settings=settings, profile_to=profile_path)
            profile = stage_costs(profile_path)
            if args.profile_out:
                shutil.copyfile(profile_path, args.profile_out)
        finally:
            drop_database(profile_url)
    if not args.keep:
        drop_database(url)

    rows = args.rows
    import platform
    import sys

    print(f"# bench.ingest {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}, Python {platform.python_version()}; command: python -m bench.ingest "
          f"{' '.join(sys.argv[1:])}")
    print(f"setup: generated {args.clients:,} clients + {rows:,} rows in {generated:.1f} s, loaded in {loaded:.1f} s")
    print(f"row kinds: {kinds}")
    print("outcome (read from the database): " + ", ".join(f"{k} {v:,}" for k, v in outcome.items()))
    print()
    print("| | seconds | rows/s |")
    print("| --- | ---: | ---: |")
    print(f"| `ccd ingest` process, wall (start-up included) | {run.seconds:.2f} | {rows / run.seconds:,.0f} |")
    if duration:
        print(f"| the import's own duration (client_upload_logs) | {duration:.2f} | {rows / duration:,.0f} |")
    print(f"| floor: read the file, COPY {floor_clients:,} clients + source ids, {floor_enrollments:,} enrollments "
          f"and their audit rows into the indexed tables | {floor:.3f} | {rows / floor:,.0f} |")
    print(f"| import / floor | **{(duration or run.seconds) / floor:.1f}×** | |")
    print(f"| peak resident memory of the `ccd ingest` process | {run.peak_kib / 1024:,.0f} MiB | |")
    if profile:
        total, costs = profile
        measured = duration or run.seconds
        print()
        print(f"Stages (cProfile of the same import in its own process: {total:.1f} s profiled; shares applied "
              f"to the unprofiled {measured:.1f} s):")
        print()
        print("| stage | share | about s |")
        print("| --- | ---: | ---: |")
        for stage, seconds in costs.items():
            share = seconds / total if total else 0.0
            print(f"| {stage} | {share:.0%} | {share * measured:.1f} |")
        other = max(total - sum(costs.values()), 0.0) / total if total else 0.0
        print(f"| other (grouping the rows, queuing the batches, the run's own commits) | {other:.0%} | {other * measured:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
