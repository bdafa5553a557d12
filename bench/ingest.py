"""Import speed on PostgreSQL, measured against the floor of a plain COPY of the same rows.

    python -m bench.ingest --rows 20000 --clients 200000
    python -m bench.ingest --rows 100000 --clients 1000000     # the size issue 4 asks for
    python -m bench.ingest --rows 20000 --clients 200000 --memory --database-url .../ccd_bench_memory

The script (re)creates a throwaway database (``--database-url``, default
``ccd_bench_ingest`` on the local server: it is DROPPED first), migrates it, loads M
synthetic clients with COPY, writes an N-row EMHware export (bench/synthetic.py), then
times, in the same run:

* the floor: ``COPY`` of the export file into an unindexed table of text columns;
* the import: ``app.services.ingest.import_file`` exactly as ``ccd ingest`` runs it
  (staging, matching, writing clients/enrollments/source ids, audit rows, review items).

With ``--memory`` the import runs alone in a fresh process (nothing of the set-up in it),
which reports its resident memory before the import and at its peak (bench/memory).
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


def timed_import(path: Path, batch_size: int | None, profile: bool) -> tuple[float, list[str]]:
    """The import in this process, as ``ccd ingest`` runs it: its time and outcome (and profile)."""
    from app.services.ingest import import_file

    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    summary = import_file(path, "EMHware", batch_size=batch_size)
    seconds = time.perf_counter() - started
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return seconds, summary.lines()


def import_in_fresh_process(url: str, path: str, batch_size: int | None) -> dict:
    """The import alone, in a process that holds nothing else: its time, and its memory before and at the peak."""
    from app import create_app
    from app.services.ingest import import_file
    from bench.common import memory_kib, reset_peak_memory

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        reset_peak_memory()
        before = memory_kib("VmRSS")
        started = time.perf_counter()
        summary = import_file(Path(path), "EMHware", batch_size=batch_size)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "lines": summary.lines(), "rss_before_kib": before,
            "peak_kib": memory_kib("VmHWM")}


def import_memory(url: str, path: Path, batch_size: int | None) -> dict:
    """Run ``import_in_fresh_process`` in a spawned child (not a fork of this process and its set-up data)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(import_in_fresh_process, url, str(path), batch_size).result()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Import speed against a COPY floor, on PostgreSQL.")
    parser.add_argument("--rows", type=int, default=20000, help="rows in the export (N)")
    parser.add_argument("--clients", type=int, default=200000, help="clients already in CCD (M)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--profile", action="store_true", help="print where the import spends its time")
    parser.add_argument("--memory", action="store_true",
                        help="run the import alone in a fresh process and report its peak resident memory")
    args = parser.parse_args(argv)

    import flask_migrate

    from app import create_app
    from app.extensions import db
    from app.models import Department, Program
    from app.services.accounts import ensure_roles
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
            if args.memory:
                measured = import_memory(args.database_url, path, args.batch_size)
                seconds, summary_lines = measured["seconds"], measured["lines"]
            else:
                seconds, summary_lines = timed_import(path, args.batch_size, args.profile)

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
    if args.memory:
        print(f"import process: resident {measured['rss_before_kib'] / 1024:,.0f} MiB before the import, "
              f"peak {measured['peak_kib'] / 1024:,.0f} MiB during it "
              f"(growth {(measured['peak_kib'] - measured['rss_before_kib']) / 1024:,.0f} MiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
