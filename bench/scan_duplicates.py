"""How long the scan for duplicates takes, and what it finds, on a throwaway PostgreSQL database.

    python -m bench.scan_duplicates --clients 20000 --duplicates 0.05

Creates ``ccd_bench_scan_<random>`` next to the configured server (PGHOST/PGPORT/PGUSER,
default 127.0.0.1:5432 postgres), builds it with the migrations, inserts N Faker clients of
which a share get a second, altered record (nickname, typo, swapped names or a birth date
with day and month transposed), runs ``scan_for_duplicates`` and prints clients/s and how
many of the planted pairs were flagged at each threshold. The database is dropped afterwards.

Measured (2 shared cores, PostgreSQL 15, 2026-11-22, matching as of ingest def7511),
--clients 20000 --threshold 0.75: 20,987 clients (987 planted pairs) scanned in 31.2 s
(674 clients/s, 1,049 pairs flagged).

    threshold  planted pairs flagged  other pairs flagged
         0.75    980 of 987 (0.993)        69
         0.80    980 of 987 (0.993)        14
         0.85    980 of 987 (0.993)        10
         0.90    951 of 987 (0.964)         0

With the earlier scoring, at the import's review band (0.63) a 5,000-client run flagged 861
other pairs beside its 236 planted ones: the scan asks about every pair of clients, so it
keeps its own default of 0.80 (DUPLICATE_SCAN_THRESHOLD).
"""

from __future__ import annotations

import argparse
import os
import random
import time
import uuid
from datetime import date

import flask_migrate
import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.models import Client, ClientDuplicate
from app.services import matching
from app.services.merge import scan_for_duplicates

NICKNAMES = {"Robert": "Bob", "William": "Bill", "Margaret": "Maggie", "Elizabeth": "Liz", "Michael": "Mike",
             "Jennifer": "Jen", "Christopher": "Chris", "Patricia": "Pat", "Richard": "Rick", "Catherine": "Kate"}


def _altered(first: str, last: str, dob: date, rng: random.Random) -> tuple[str, str, date]:
    kind = rng.choice(("nickname", "typo", "swap", "dob"))
    if kind == "nickname" and first in NICKNAMES:  # Faker's own names; most have no nickname here
        return NICKNAMES[first], last, dob
    if kind == "swap":
        return last, first, dob
    if kind == "dob" and dob.day <= 12 and dob.day != dob.month:
        return first, last, date(dob.year, dob.day, dob.month)
    position = rng.randrange(1, len(last))
    return first, last[:position] + last[position + 1:] + last[position - 1], dob


def _rows(count: int, share: float, seed: int) -> tuple[list[dict], set[frozenset]]:
    from faker import Faker

    fake = Faker("en_CA")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    rows, planted = [], set()
    for _ in range(count):
        first = fake.first_name()
        last, dob = fake.last_name(), fake.date_of_birth(minimum_age=18, maximum_age=85)
        people = [(first, last, dob)]
        if rng.random() < share:
            people.append(_altered(first, last, dob, rng))
        ids = [uuid.uuid4() for _ in people]
        if len(ids) == 2:
            planted.add(frozenset(ids))
        for key, (f, l, d) in zip(ids, people):
            keys = matching.match_keys(f, l, d)
            rows.append({"id": key, "first_name": f, "last_name": l, "dob": d, "languages_spoken": [],
                         "ethnicity": [], "extended": {}, "block_last_key": keys.last_key,
                         "block_first_key": keys.first_key, "block_names_key": keys.names_key,
                         "block_prefix_key": keys.prefix_key})
    return rows, planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20000)
    parser.add_argument("--duplicates", type=float, default=0.05, help="share of clients given a second record")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--threshold", type=float, default=0.6,
                        help="scan at this score, then report what each higher threshold would have flagged")
    args = parser.parse_args()

    host, port, user = (os.environ.get("PGHOST", "127.0.0.1"), os.environ.get("PGPORT", "5432"),
                        os.environ.get("PGUSER", "postgres"))
    name = f"ccd_bench_scan_{uuid.uuid4().hex[:6]}"
    server = sa.create_engine(f"postgresql+psycopg://{user}@{host}:{port}/postgres", isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg://{user}@{host}:{port}/{name}"})
        with app.app_context():
            flask_migrate.upgrade()
            rows, planted = _rows(args.clients, args.duplicates, args.seed)
            with db.engine.begin() as conn:  # a fixture, not CCD data: no audit trail wanted
                for start in range(0, len(rows), 5000):
                    conn.execute(sa.insert(Client.__table__), rows[start:start + 5000])
                conn.exec_driver_sql("ANALYZE clients")
            started = time.perf_counter()
            summary = scan_for_duplicates(db.session, threshold=args.threshold, batch_size=args.batch_size)
            elapsed = time.perf_counter() - started
            by_key = {row["id"]: (row["first_name"], row["last_name"]) for row in rows}
            scored = db.session.execute(sa.select(ClientDuplicate.primary_client_id,
                                                  ClientDuplicate.duplicate_client_id,
                                                  ClientDuplicate.similarity_score)).all()
            flagged = [(a, b) for a, b, _ in scored]
            found = {frozenset(pair) for pair in flagged}
            print(f"clients: {summary.clients_scanned} ({len(planted)} planted duplicate pairs)")
            print(f"scan: {elapsed:.1f} s, {summary.clients_scanned / elapsed:,.0f} clients/s, "
                  f"batch size {args.batch_size}")
            print("threshold  planted pairs flagged  other pairs flagged")
            for level in (0.63, 0.7, 0.75, 0.8, 0.85, 0.9, 0.92):
                if level < args.threshold:
                    continue
                hits = {frozenset((a, b)) for a, b, value in scored if value >= level}
                print(f"{level:9.2f}  {len(hits & planted):5d} of {len(planted)} ({len(hits & planted) / len(planted):.3f})"
                      f"  {len(hits - planted):8d}")
            print(f"pairs flagged at {args.threshold}: {summary.pairs_flagged}; planted pairs among them: {len(planted & found)} "
                  f"of {len(planted)}; other pairs (a person decides): {len(found - planted)}, e.g. "
                  f"{[by_key[a] + by_key[b] for a, b in (tuple(p) for p in list(found - planted)[:3])]}")
            db.session.remove()
            db.engine.dispose()
    finally:
        with server.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    main()
