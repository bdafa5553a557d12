#!/usr/bin/env python3
"""What the access log costs: the client details page and a list export, with and without logging, in one run.

    python -m bench.access_log [--database-url URL] [--rounds 15] [--repeat 10]

On the database bench/seed filled. Each round times the busiest client's details page and a
client list export (a common surname's clients, as a CSV) ``repeat`` times with the access
log writing and ``repeat`` times with it writing nothing (app.services.access_log.access_rows
answering no rows, so nothing is inserted or committed), the two orders alternating between
rounds so that a machine busy with other work slows both alike. Prints the medians, p95s and
the ratio logged / not logged (target: at most 1.05).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from common import BENCH_PASSWORD, DEFAULT_URL, SignedInClient  # noqa: E402


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


@contextmanager
def logging_off():
    """The same code path with no rows to write: the cost of logging is all that is left out."""
    from app.services import access_log

    real = access_log.access_rows
    access_log.access_rows = lambda *args, **kwargs: []
    try:
        yield
    finally:
        access_log.access_rows = real


def _time(client: SignedInClient, path: str, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _fixtures(url: str) -> tuple[str, str, int]:
    import psycopg

    with psycopg.connect(url) as conn:
        busiest = conn.execute("""
            SELECT client_id FROM client_program_enrollments GROUP BY client_id ORDER BY count(*) DESC LIMIT 1
        """).fetchone()[0]
        surname, count = conn.execute("""
            SELECT last_name, count(*) FROM clients WHERE merged_into_id IS NULL GROUP BY last_name
            ORDER BY count(*) DESC LIMIT 1
        """).fetchone()
    return str(busiest), surname, count


def run(url: str, rounds: int, repeat: int) -> dict:
    from app import create_app, freeze_startup_objects

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-" + "k" * 40, "RATELIMIT_ENABLED": False})
    busiest, surname, exported = _fixtures(url)
    coordinator = SignedInClient(app, "coordinator@bench.ccd", BENCH_PASSWORD)
    freeze_startup_objects()
    pages = {"client details (busiest client)": f"/admin/clients/details/?id={busiest}",
             f"client list export, CSV ({exported} clients named {surname})":
                 f"/admin/clients/export/csv/?search={surname}"}
    samples = {(name, mode): [] for name in pages for mode in ("logged", "not logged")}
    for path in pages.values():  # warm-up, both ways
        _time(coordinator, path, 2)
        with logging_off():
            _time(coordinator, path, 2)
    for round_number in range(rounds):
        for name, path in pages.items():
            order = ("logged", "not logged") if round_number % 2 == 0 else ("not logged", "logged")
            for mode in order:
                if mode == "logged":
                    samples[(name, mode)] += _time(coordinator, path, repeat)
                else:
                    with logging_off():
                        samples[(name, mode)] += _time(coordinator, path, repeat)
    figures = {}
    for name in pages:
        on, off = samples[(name, "logged")], samples[(name, "not logged")]
        figures[name] = {"logged_median": statistics.median(on), "logged_p95": percentile(on, 0.95),
                         "off_median": statistics.median(off), "off_p95": percentile(off, 0.95),
                         "ratio": statistics.median(on) / statistics.median(off), "samples": len(on)}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    figures = run(args.database_url, args.rounds, args.repeat)
    print("| page | logged median ms | logged p95 ms | not logged median ms | not logged p95 ms | ratio (medians) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, f in figures.items():
        print(f"| {name} | {f['logged_median']:.1f} | {f['logged_p95']:.1f} | {f['off_median']:.1f} | "
              f"{f['off_p95']:.1f} | {f['ratio']:.3f} |")
    worst = max(f["ratio"] for f in figures.values())
    print(f"\nWorst ratio {worst:.3f} (target ≤ 1.05): {'met' if worst <= 1.05 else 'NOT met'}; "
          f"{next(iter(figures.values()))['samples']} timed requests per page and mode.")


if __name__ == "__main__":
    main()
