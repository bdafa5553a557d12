"""How long the scoped queries take on a large database (PostgreSQL only).

Builds a throwaway database with ``--clients`` clients (1-2 enrollments each across 100
programs in 10 departments, two audit rows each, 1% restricted), then times, for a Staff
member of one program, a Manager of three, a Leader of one department and a person with
no assignment, the queries the screens run: the client list page and its count, one
client by id, the enrollment list, the audit log page and its count, the client
look-up, the dashboard and the door-side restriction check. Prints the median of
``--repeat`` runs and, with ``--explain``, each plan.

    .venv/bin/python bench/scope_queries.py --clients 1000000
"""

import argparse
import statistics
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import (  # noqa: E402
    AuditLog, Client, DepartmentLeaderAssignment, Enrollment, ProgramManagerAssignment, Staff,
    StaffProgramAssignment,
)
from app.models import Role as RoleRow  # noqa: E402
from app.services.dashboard import dashboard_figures  # noqa: E402
from app.services.restrictions import check_at_the_door  # noqa: E402
from app.services.scope import restrict  # noqa: E402

PROGRAMS, DEPARTMENTS = 100, 10

FILL = [
    """INSERT INTO departments (id, name) SELECT gen_random_uuid(), 'Department ' || d
       FROM generate_series(0, {departments} - 1) d""",
    """INSERT INTO programs (id, name, department_id, capacity_current)
       SELECT gen_random_uuid(), 'Program ' || p,
              (SELECT id FROM departments WHERE name = 'Department ' || (p % {departments})), 50
       FROM generate_series(0, {programs} - 1) p""",
    """CREATE TEMP TABLE program_no AS SELECT id, substr(name, 9)::int AS no FROM programs""",
    """INSERT INTO clients (id, first_name, last_name, dob)
       SELECT gen_random_uuid(), 'First' || (i % 300), 'Last' || (i % 20000), date '1940-01-01' + (i % 25000)
       FROM generate_series(1, {clients}) i""",
    """CREATE TEMP TABLE client_no AS SELECT id, row_number() OVER (ORDER BY id) AS no FROM clients""",
    """INSERT INTO client_program_enrollments (id, client_id, program_id, start_date, end_date, status)
       SELECT gen_random_uuid(), c.id, p.id, date '2020-01-01' + (c.no % 1500)::int,
              CASE WHEN c.no % 2 = 0 THEN date '2020-01-01' + (c.no % 1500)::int + 90 END,
              CASE WHEN c.no % 2 = 0 THEN 'completed' ELSE 'active' END
       FROM client_no c JOIN program_no p ON p.no = c.no % {programs}""",
    """INSERT INTO client_program_enrollments (id, client_id, program_id, start_date, status)
       SELECT gen_random_uuid(), c.id, p.id, date '2024-06-01', 'active'
       FROM client_no c JOIN program_no p ON p.no = (c.no * 7 + 3) % {programs} WHERE c.no % 3 = 0""",
    """INSERT INTO service_restrictions (id, client_id, scope, start_date)
       SELECT gen_random_uuid(), id, 'org', date '2025-01-01' FROM client_no WHERE no % 100 = 0""",
    """INSERT INTO audit_logs (id, entity, entity_id, client_id, action, actor_name, changed_at, diff_json)
       SELECT gen_random_uuid(), 'clients', c.id, c.id, a.action, 'bench',
              now() - ((c.no * 2 + a.n) % 500000) * interval '1 minute', '{{}}'::jsonb
       FROM client_no c CROSS JOIN (VALUES (0, 'create'), (1, 'update')) AS a(n, action)""",
    "ANALYZE",
]


def build(app, clients: int) -> dict[str, Staff]:
    with app.app_context():
        import flask_migrate

        flask_migrate.upgrade()
        started = time.perf_counter()
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE audit_logs DISABLE TRIGGER USER")
            for statement in FILL:
                conn.execute(sa.text(statement.format(clients=clients, programs=PROGRAMS, departments=DEPARTMENTS)))
            conn.exec_driver_sql("ALTER TABLE audit_logs ENABLE TRIGGER USER")
        print(f"filled {clients:,} clients in {time.perf_counter() - started:.0f}s")
        roles = {name: RoleRow(name=name) for name in ("Staff", "Manager", "Leader")}
        programs = db.session.execute(sa.text("SELECT id, name FROM programs ORDER BY name")).all()
        by_name = {name: pid for pid, name in programs}
        department_0 = db.session.scalar(sa.text("SELECT id FROM departments WHERE name = 'Department 0'"))
        people = {}
        for key, role in (("staff", "Staff"), ("manager", "Manager"), ("leader", "Leader"), ("nobody", "Staff")):
            people[key] = Staff(first_name="Bench", last_name=key, email=f"{key}@bench.example",
                                roles=[roles[role]])
        db.session.add_all(people.values())
        db.session.flush()
        db.session.add(StaffProgramAssignment(staff_id=people["staff"].id, program_id=by_name["Program 1"]))
        for n in (2, 3, 4):
            db.session.add(ProgramManagerAssignment(staff_id=people["manager"].id, program_id=by_name[f"Program {n}"]))
        db.session.add(DepartmentLeaderAssignment(staff_id=people["leader"].id, department_id=department_0))
        db.session.commit()
        db.session.execute(sa.text("ANALYZE"))
        return {key: person.id for key, person in people.items()}


def queries(person):
    """(name, callable) for each query a screen runs for ``person``."""
    def page(model, *order):
        return lambda: db.session.execute(restrict(sa.select(model).order_by(*order).limit(25), model, person)).all()

    def count(model):
        return lambda: db.session.scalar(restrict(sa.select(sa.func.count()).select_from(model), model, person))

    some_client = db.session.scalar(sa.select(Client.id).limit(1))
    return [
        ("clients page", page(Client, Client.last_name, Client.first_name)),
        ("clients count", count(Client)),
        ("client by id", lambda: db.session.execute(
            restrict(sa.select(Client).where(Client.id == some_client), Client, person)).first()),
        ("enrollments page", page(Enrollment, Enrollment.start_date.desc())),
        ("audit page", page(AuditLog, AuditLog.changed_at.desc())),
        ("audit count", count(AuditLog)),
        ("client look-up 'last123'", lambda: db.session.execute(restrict(
            sa.select(Client).where(sa.cast(Client.last_name, sa.String).ilike("%last123%"))
            .order_by(Client.last_name).limit(10), Client, person)).all()),
        ("dashboard", lambda: dashboard_figures(person)),
        ("door check", lambda: check_at_the_door(db.session, person, last_name="Last100",
                                                 dob=date(1940, 1, 1) + timedelta(days=100), first_name="First100")),
    ]


def _explain_each(person, name, query) -> None:
    """Run ``query`` once, then EXPLAIN ANALYZE every SELECT it sent."""
    sent = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", capture)
    try:
        query()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", capture)
    for statement, parameters in sent:
        print(f"\n-- {name}")
        cursor = db.session.connection().connection.driver_connection.cursor()
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS OFF) " + statement, parameters)
        for (line,) in cursor.fetchall():
            print(line)


def run(app, people: dict, repeat: int, explain: str | None) -> None:
    with app.app_context():
        for key, staff_id in people.items():
            person = db.session.get(Staff, staff_id)
            print(f"\n== {key} ({', '.join(sorted(person.role_names))})")
            for name, query in queries(person):
                timings = []
                for _ in range(repeat):
                    started = time.perf_counter()
                    query()
                    timings.append((time.perf_counter() - started) * 1000)
                print(f"  {name:<26} {statistics.median(timings):8.1f} ms")
            db.session.rollback()
        if explain:
            person = db.session.get(Staff, people[explain])
            for name, query in queries(person):
                _explain_each(person, name, query)
            db.session.rollback()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--explain", choices=("staff", "manager", "leader", "nobody"),
                        help="also print the query plans for this person")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    parser.add_argument("--database", help="time a database kept by an earlier --keep run instead of filling one")
    args = parser.parse_args()
    name = args.database or f"ccd_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(f"{args.server}/postgres", isolation_level="AUTOCOMMIT")
    if not args.database:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"{args.server}/{name}", "SECRET_KEY": "bench-" + "x" * 32})
        if args.database:
            with app.app_context():
                people = {row.last_name: row.id for row in db.session.scalars(
                    sa.select(Staff).where(Staff.email.like("%@bench.example")))}
        else:
            people = build(app, args.clients)
        run(app, people, args.repeat, args.explain)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    finally:
        if args.keep or args.database:
            print(f"kept database {name}")
        else:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    main()
