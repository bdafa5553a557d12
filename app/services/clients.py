"""What a client's record page shows besides the client's own fields."""

import sqlalchemy as sa

from app.extensions import db
from app.models import Client, Discharge, Enrollment, Intake, ServiceRestriction

HISTORY_TAB_LIMIT = 100


def _newest(model, client_id, order_column, limit):
    total = db.session.scalar(sa.select(sa.func.count()).select_from(model).where(model.client_id == client_id))
    rows = db.session.scalars(
        sa.select(model).where(model.client_id == client_id).order_by(order_column.desc()).limit(limit)
    ).all()
    return rows, total


def client_record_tabs(client: Client, limit: int = HISTORY_TAB_LIMIT) -> dict:
    """Enrollments, intakes, discharges and restrictions of one client, newest first, at most ``limit`` each."""
    return {
        "enrollments": _newest(Enrollment, client.id, Enrollment.start_date, limit),
        "intakes": _newest(Intake, client.id, Intake.intake_date, limit),
        "discharges": _newest(Discharge, client.id, Discharge.discharge_date, limit),
        "restrictions": _newest(ServiceRestriction, client.id, ServiceRestriction.start_date, limit),
        "source_ids": (client.source_ids, len(client.source_ids)),
    }
