"""An import's traced peak memory at two file sizes, as a ratio, for this checkout and (optionally) a
baseline checkout, in one run.

    python -m bench.import_memory_sizes                          # 1,000 and 4,000 rows, this tree
    python -m bench.import_memory_sizes --rows 2000 --baseline /path/to/main/checkout

Each import runs alone in a fresh process (``--child``): a SQLite database in a temporary folder,
two programs, an EMHware export of N rows from bench/synthetic.py (a quarter as many people),
a warm-up import of 40 rows, then ``import_file`` under tracemalloc. The peak is what the import
allocated above what was held when it started. Flat memory: the ratio stays near 1 and the bytes
per added row small; a leak shows as bytes per row.

Reading alone (``read_sheet`` over every row of a CSV export, no database) is measured the same
way at ``--read-rows`` and four times as many: the file's text is the one thing that grows with
the file there.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _export(folder: Path, rows: int, seed: int) -> Path:
    from bench.synthetic import emhware_lines, generate

    path = folder / f"emhware-{rows}-{seed}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(emhware_lines(generate(clients=max(rows // 4, 20), rows=rows, seed=seed)))
    return path


def child(rows: int) -> dict:
    import logging

    import flask_migrate

    from app import create_app
    from app.extensions import db
    from app.services.accounts import ensure_roles
    from app.services.ingest import import_file
    from app.services.options import ensure_default_options
    from tests import factories

    logging.disable(logging.WARNING)
    folder = Path(tempfile.mkdtemp())
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.sqlite3'}", "SECRET_KEY": "b" * 40})
    with app.app_context():
        flask_migrate.upgrade()
        ensure_roles()
        ensure_default_options()
        for name in ("Bench Program A", "Bench Program B"):
            db.session.add(factories.program(name=name))
        db.session.commit()
        import_file(_export(folder, 40, seed=3), "EMHware")
        path = _export(folder, rows, seed=5)
        db.session.remove()
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        started = time.perf_counter()
        summary = import_file(path, "EMHware")
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        return {"rows": rows, "peak": peak, "seconds": time.perf_counter() - started, "status": summary.status}


def read_child(rows: int) -> dict:
    from app.services.ingest.reading import read_sheet

    path = _export(Path(tempfile.mkdtemp()), rows, seed=2)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    count = sum(1 for _ in read_sheet(path).rows)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return {"rows": count, "peak": peak, "seconds": 0.0, "status": "read"}


def measure(tree: Path, rows: int, mode: str = "--child") -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.import_memory_sizes", mode, str(rows)], cwd=tree,
                         env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1000, help="the smaller file; the larger has 4x as many")
    parser.add_argument("--baseline", type=Path, help="another checkout (e.g. main) measured the same way")
    parser.add_argument("--read-rows", type=int, default=20000, help="reading alone: the smaller file")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--read-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child)))
        return 0
    if args.read_child:
        print(json.dumps(read_child(args.read_child)))
        return 0
    trees = [("this tree", ROOT)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])
    print(f"| tree | peak at {args.rows:,} rows | peak at {4 * args.rows:,} rows | ratio | bytes per added row "
          "| seconds (small, large) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, tree in trees:
        small, large = measure(tree, args.rows), measure(tree, 4 * args.rows)
        per_row = (large["peak"] - small["peak"]) / (3 * args.rows)
        print(f"| {label} | {small['peak'] / 2**20:.1f} MiB | {large['peak'] / 2**20:.1f} MiB | "
              f"{large['peak'] / small['peak']:.2f} | {per_row:,.0f} | {small['seconds']:.1f}, {large['seconds']:.1f} |",
              flush=True)
    print()
    print(f"| tree | reading peak at {args.read_rows:,} rows | at {4 * args.read_rows:,} rows | ratio "
          "| bytes per added row |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, tree in trees:
        small, large = measure(tree, args.read_rows, "--read-child"), measure(tree, 4 * args.read_rows, "--read-child")
        print(f"| {label} | {small['peak'] / 2**20:.1f} MiB | {large['peak'] / 2**20:.1f} MiB | "
              f"{large['peak'] / small['peak']:.2f} | {(large['peak'] - small['peak']) / (3 * args.read_rows):,.0f} |",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
