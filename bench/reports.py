"""How long the two reports take on an agency-sized database (not a test: timings vary by machine).

    createdb ccd_bench
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/ccd_bench .venv/bin/python bench/reports.py --clients 20000

It builds the schema with the migrations, fills an EMPTY database with synthetic departments,
programs (with capacity history), clients and enrollments spread over ten years, then times
org_summary() over a month and a year and vacancy_report() for today, each a few times.
It refuses a database that already holds clients, so it cannot touch real data.
"""

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import flask_migrate  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from app import create_app  # noqa: E402
from app.choices import DEFAULT_OPTIONS  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Client, Department, Enrollment, Program, ProgramCapacity  # noqa: E402
from app.services.accounts import ensure_roles  # noqa: E402
from app.services.options import ensure_default_options  # noqa: E402
from app.services.reports import org_summary, vacancy_report  # noqa: E402

TODAY = date(2026, 1, 15)


def fill(clients: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    departments = [{"id": uuid.uuid4(), "name": f"Bench department {n}"} for n in range(6)]
    programs = [{"id": uuid.uuid4(), "name": f"Bench program {n}", "department_id": departments[n % 6]["id"],
                 "capacity_current": rng.randint(10, 80), "no_capacity_limit": n % 9 == 0} for n in range(40)]
    history = [{"id": uuid.uuid4(), "program_id": p["id"], "effective_date": date(2016 + y, 1, 1),
                "capacity": rng.randint(10, 80)} for p in programs for y in range(0, 10, 3)]
    db.session.execute(sa.insert(Department.__table__), departments)
    db.session.execute(sa.insert(Program.__table__), programs)
    db.session.execute(sa.insert(ProgramCapacity.__table__), history)
    people, stays = [], []
    for _ in range(clients):
        person = {
            "id": uuid.uuid4(), "first_name": "Bench", "last_name": uuid.uuid4().hex[:10],
            "dob": date(1940, 1, 1) + timedelta(days=rng.randint(0, 80 * 365)) if rng.random() > 0.05 else None,
            "gender": rng.choice(DEFAULT_OPTIONS["gender"] + [None]),
            "citizenship_status": rng.choice(DEFAULT_OPTIONS["citizenship_status"] + [None]),
            "languages_spoken": rng.sample(DEFAULT_OPTIONS["language"], rng.randint(0, 3)),
        }
        people.append(person)
        for _ in range(rng.randint(1, 3)):
            start = date(2016, 1, 1) + timedelta(days=rng.randint(0, 3650))
            end = start + timedelta(days=rng.randint(1, 700)) if rng.random() < 0.8 else None
            stays.append({"id": uuid.uuid4(), "client_id": person["id"], "program_id": rng.choice(programs)["id"],
                          "start_date": start, "end_date": end})
    for chunk in range(0, len(people), 5000):
        db.session.execute(sa.insert(Client.__table__), people[chunk:chunk + 5000])
    for chunk in range(0, len(stays), 5000):
        db.session.execute(sa.insert(Enrollment.__table__), stays[chunk:chunk + 5000])
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")  # as autovacuum would after a load this size
    print(f"filled: {clients} clients, {len(stays)} enrollments, {len(programs)} programs")


def timed(label: str, run, repeat: int) -> None:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
        db.session.expire_all()
    print(f"{label:<40} median {statistics.median(seconds) * 1000:8.1f} ms   (min {min(seconds) * 1000:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        sys.exit("Set BENCH_DATABASE_URL to an empty, throwaway database.")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-" + "x" * 32})
    with app.app_context():
        flask_migrate.upgrade()
        ensure_roles()
        ensure_default_options()
        db.session.commit()
        if db.session.scalar(sa.select(sa.func.count()).select_from(Client)):
            sys.exit("This database already holds clients; the bench only fills an empty one.")
        fill(args.clients)
        result = org_summary(date(2025, 12, 1), date(2025, 12, 31))
        print(f"December 2025: {result['distinct_clients_served']} distinct clients served")
        timed("org_summary, one month", lambda: org_summary(date(2025, 12, 1), date(2025, 12, 31)), args.repeat)
        timed("org_summary, one year", lambda: org_summary(date(2025, 1, 1), date(2025, 12, 31)), args.repeat)
        timed("org_summary, one year, gender filter",
              lambda: org_summary(date(2025, 1, 1), date(2025, 12, 31), filters={"gender": "Woman"}), args.repeat)
        timed("vacancy_report, one day", lambda: vacancy_report(TODAY), args.repeat)


if __name__ == "__main__":
    main()
