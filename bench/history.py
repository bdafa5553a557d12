"""How the reading side of the audit trail holds up on a ten-year trail (PostgreSQL).

Seeds a throwaway database with NOISE_ROWS audit rows spread over ten years and one
client with a long history of its own, then times the History tab's page, the "as of"
rebuild and the Audit Log list, and prints the query plans that should use an index.

    createdb ccd_bench_history
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/ccd_bench_history \
        .venv/bin/python bench/history.py [NOISE_ROWS]

The database is emptied and rebuilt by the migrations first; drop it afterwards.
"""

import os
import sys
import time
from types import SimpleNamespace
from datetime import date, datetime, timedelta, timezone

import flask_migrate
import sqlalchemy as sa

from app import audit, create_app
from app.extensions import db
from app.models import AuditLog, Client
from app.services import history

NOISE_ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
OWN_EDITS = 2_000
REPEAT = 20


def timed(label, fn, repeat=REPEAT):
    fn()  # warm the cache: the figure is the steady state, not the first disk read
    start = time.perf_counter()
    for _ in range(repeat):
        result = fn()
    print(f"{label:<55} {(time.perf_counter() - start) / repeat * 1000:8.1f} ms")
    return result


def explain(label, statement):
    compiled = statement.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
    plan = db.session.execute(sa.text(f"EXPLAIN {compiled}")).scalars().all()
    print(f"-- plan: {label}\n   " + "\n   ".join(plan[:6]))


def seed():
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    flask_migrate.upgrade()
    print(f"seeding {NOISE_ROWS:,} rows of other clients over ten years…")
    db.session.execute(sa.text("""
        INSERT INTO audit_logs (id, entity, entity_id, action, actor_name, changed_at, diff_json, client_id,
                                created_at, updated_at)
        SELECT gen_random_uuid(), 'clients', c, 'update', 'bench', now() - (g % 3650) * interval '1 day',
               jsonb_build_object('phone', jsonb_build_object('before', g::text, 'after', (g + 1)::text)), c,
               now(), now()
        FROM (SELECT g, md5((g % 50000)::text)::uuid AS c FROM generate_series(1, :n) g) s
    """), {"n": NOISE_ROWS})
    client = Client(first_name="Bench", last_name="Client", dob=date(1970, 1, 1), phone="0")
    with audit.acting_as("bench"):
        db.session.add(client)
        db.session.flush()
    start = datetime.now(timezone.utc) - timedelta(days=3650)
    rows = [audit.audit_row("clients", client.id, "update", {"phone": {"before": str(n), "after": str(n + 1)}},
                            client_id=client.id, actor=(None, "bench"),
                            at=start + timedelta(days=3650 * n / OWN_EDITS)) for n in range(OWN_EDITS)]
    audit.record_many(db.session, rows)
    with audit.bulk_write():
        db.session.execute(sa.update(Client).where(Client.id == client.id).values(phone=str(OWN_EDITS)))
    db.session.commit()
    db.session.execute(sa.text("ANALYZE audit_logs"))
    db.session.commit()
    return client.id


def main():
    url = os.environ.get("BENCH_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        sys.exit("Set BENCH_DATABASE_URL to a throwaway PostgreSQL database (it is emptied).")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        client_id = seed()
        coordinator = SimpleNamespace(id=None, role_names=frozenset({"Coordinator"}))
        total = db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog))
        print(f"audit_logs rows: {total:,}")
        five_years_ago = datetime.now(timezone.utc) - timedelta(days=1825)

        page = timed("History tab, page 1 (count + 20 rows, one client)",
                     lambda: history.client_history(client_id, coordinator, page=1))
        print(f"   ({page.total:,} rows for this client)")
        timed("History tab, last page (offset paging)",
              lambda: history.client_history(client_id, coordinator, page=10_000))
        then = timed("client_as_of five years back (walks back ~1,000 rows)",
                     lambda: history.client_as_of(client_id, five_years_ago))
        print(f"   (phone then: {then['phone']}, now: {OWN_EDITS})")
        timed("client_children_as_of five years back",
              lambda: history.client_children_as_of(client_id, five_years_ago))
        timed("Audit Log count (the list skips it: simple_list_pager)",
              lambda: db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog)
                                        .where(history.visible_rows(coordinator))), 3)
        timed("Audit Log list: newest 25 rows a coordinator may read",
              lambda: db.session.scalars(sa.select(AuditLog).where(history.visible_rows(coordinator))
                                         .order_by(AuditLog.changed_at.desc()).limit(25)).all())
        timed("Audit Log list: one record's rows",
              lambda: db.session.scalars(sa.select(AuditLog).where(AuditLog.entity_id == client_id)
                                         .order_by(AuditLog.changed_at.desc()).limit(25)).all())

        explain("History tab page", sa.select(AuditLog).where(AuditLog.client_id == client_id)
                .order_by(AuditLog.changed_at.desc()).limit(20))
        explain("as of: rows after the moment", sa.select(AuditLog).where(
            AuditLog.entity == "clients", AuditLog.entity_id.in_([client_id]),
            AuditLog.changed_at > five_years_ago).order_by(AuditLog.changed_at.desc()))
        db.session.rollback()


if __name__ == "__main__":
    main()
