"""``/healthz``: what a container orchestrator asks before sending traffic.

It answers without a sign-in and says nothing about the agency's data: 200 "ok" when the
database answers a trivial query, 503 otherwise (the reason goes to the log, not the page).
"""

import logging

import sqlalchemy as sa
from flask import Blueprint

from app.extensions import db

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception:
        log.exception("Health check: the database did not answer")
        db.session.rollback()
        return "database unavailable\n", 503, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}
    return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}
