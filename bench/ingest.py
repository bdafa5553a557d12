"""Import speed on PostgreSQL, measured against the floor of a plain COPY of the same rows.

    python -m bench.ingest --rows 20000 --clients 200000
    python -m bench.ingest --rows 100000 --clients 1000000     # the size issue 4 asks for

The script (re)creates a throwaway database (``--database-url``, default
``ccd_bench_ingest`` on the local server: it is DROPPED first), migrates it, loads M
synthetic clients with COPY, writes an N-row EMHware export (bench/synthetic.py), then
times, in the same run:

* the floor: ``COPY`` of the export file into an unindexed table of text columns;
* the import: ``app.services.ingest.import_file`` exactly as ``ccd ingest`` runs it
  (staging, matching, writing clients/enrollments/source ids, audit rows, review items).
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/ccd_bench_ingest"


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name.startswith("ccd_bench"):
        raise SystemExit(f"Refusing to drop {name!r}: the bench database name must start with ccd_bench.")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


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
            import uuid

            for c in data.clients:
                if c.emh_id:
                    copy.write_row((uuid.uuid4(), c.id, "EMHware", c.emh_id))
        cursor.execute("ANALYZE clients")
        cursor.execute("ANALYZE client_source_ids")
        raw.commit()
    finally:
        raw.close()


def copy_floor(path: Path, engine, columns: int) -> float:
    """Seconds to COPY the export file into an unindexed table of text columns."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("CREATE TABLE bench_copy_floor (" + ", ".join(f"c{i} text" for i in range(columns)) + ")")
        raw.commit()
        started = time.perf_counter()
        with path.open("rb") as handle, cursor.copy("COPY bench_copy_floor FROM STDIN WITH (FORMAT csv, HEADER true)") \
                as copy:
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
        raw.commit()
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_copy_floor")
        raw.commit()
        return seconds
    finally:
        raw.close()


def import_in_child(path: Path, database_url: str, batch_size: int | None) -> tuple[list[str], float, float]:
    """Run ``ccd ingest`` as its own process, as an operator would: its summary, the import's own
    duration (from the summary, so the process start-up is not counted) and its peak memory."""
    import resource
    import subprocess
    import sys

    env = {**os.environ, "DATABASE_URL": database_url, "FLASK_APP": "wsgi"}
    if batch_size:
        env["INGEST_BATCH_SIZE"] = str(batch_size)
    done = subprocess.run([sys.executable, "-m", "flask", "ccd", "ingest", "--src", str(path), "--source", "EMHware"],
                          env=env, capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent)
    if done.returncode:
        raise SystemExit(f"ccd ingest failed:\n{done.stdout}\n{done.stderr}")
    lines = done.stdout.strip().splitlines()
    seconds = next(float(line.split()[1]) for line in lines if line.startswith("duration:"))
    return lines, seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Import speed against a COPY floor, on PostgreSQL.")
    parser.add_argument("--rows", type=int, default=20000, help="rows in the export (N)")
    parser.add_argument("--clients", type=int, default=200000, help="clients already in CCD (M)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--profile", action="store_true", help="print where the import spends its time")
    args = parser.parse_args(argv)

    import flask_migrate

    from app import create_app
    from app.extensions import db
    from app.models import Department, Program
    from app.services.accounts import ensure_roles
    from app.services.ingest import import_file
    from bench.synthetic import emhware_lines, generate

    recreate_database(args.database_url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": args.database_url})
    with app.app_context():
        flask_migrate.upgrade()
        ensure_roles()
        department = Department(name="Bench")
        programs = ("Bench Program A", "Bench Program B")
        db.session.add_all([Program(name=name, department=department) for name in programs])
        db.session.commit()

        started = time.perf_counter()
        data = generate(clients=args.clients, rows=args.rows, seed=args.seed, programs=programs)
        generated = time.perf_counter() - started
        started = time.perf_counter()
        load_clients(data, db.engine)
        loaded = time.perf_counter() - started

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "emhware-receiving-services.csv"
            with path.open("w", newline="", encoding="utf-8") as handle:
                csv.writer(handle).writerows(emhware_lines(data))
            floor = copy_floor(path, db.engine, columns=15)
            if args.profile:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                profiler.enable()
                started = time.perf_counter()
                summary_lines = import_file(path, "EMHware", batch_size=args.batch_size).lines()
                seconds = time.perf_counter() - started
                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
                pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
                peak_mb = None
            else:
                summary_lines, seconds, peak_mb = import_in_child(path, args.database_url, args.batch_size)

        client_count = db.session.scalar(sa.select(sa.func.count()).select_from(sa.table("clients")))
        audit_rows = db.session.scalar(sa.select(sa.func.count()).select_from(sa.table("audit_logs")))
    kinds = {}
    for row in data.rows:
        kinds[row.kind] = kinds.get(row.kind, 0) + 1
    print(f"setup: generated {args.clients} clients + {args.rows} rows in {generated:.1f} s, loaded in {loaded:.1f} s")
    print(f"row kinds: {kinds}")
    print("\n".join(summary_lines))
    print(f"clients now: {client_count}, audit rows written: {audit_rows}")
    print(f"import: {args.rows} rows in {seconds:.2f} s = {args.rows / seconds:,.0f} rows/s")
    print(f"COPY floor: {floor:.3f} s = {args.rows / floor:,.0f} rows/s")
    print(f"import / COPY: {seconds / floor:.1f}x")
    if peak_mb is not None:
        print(f"import peak memory (maximum resident set of the ccd ingest process): {peak_mb:,.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
