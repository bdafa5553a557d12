"""How a report's transaction is set up on PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db

# The work_mem a report's transaction gets.
REPORT_WORK_MEM = "256MB"


def tune_for_report() -> None:
    """PostgreSQL settings for the rest of this transaction only (JIT is off for every connection:
    app/config.py): work_mem up, because the served set of a year at a million clients is hashed
    several times, and at the default 4MB each hash spills to disk in batches.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'"))

