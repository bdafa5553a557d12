"""What a client's record page shows besides the client's own fields."""

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import Client, Discharge, Enrollment, Intake, ServiceRestriction
from app.services.scope import restrict

HISTORY_TAB_LIMIT = 100


def _newest(model, client_id, staff, order_column, limit, *shown):
    """A count and the newest ``limit`` rows, with the record each row points to (``shown``: its
    program, subprogram) joined in rather than loaded one per row. The count rides on the rows (a
    window count), so a tab costs one statement; a tab with no rows counts none."""
    rows_query = restrict(sa.select(model, sa.func.count().over()).where(model.client_id == client_id), model, staff)
    found = db.session.execute(rows_query.options(*(joinedload(relation) for relation in shown))
                               .order_by(order_column.desc()).limit(limit)).all()
    return [row for row, _ in found], (found[0][1] if found else 0)


def client_record_tabs(client: Client, staff, limit: int = HISTORY_TAB_LIMIT) -> dict:
    """Enrollments, intakes, discharges and restrictions of one client that ``staff`` may see,
    newest first, at most ``limit`` each."""
    return {
        "enrollments": _newest(Enrollment, client.id, staff, Enrollment.start_date, limit,
                               Enrollment.program, Enrollment.subprogram),
        "intakes": _newest(Intake, client.id, staff, Intake.intake_date, limit, Intake.program),
        "discharges": _newest(Discharge, client.id, staff, Discharge.discharge_date, limit, Discharge.program),
        "restrictions": _newest(ServiceRestriction, client.id, staff, ServiceRestriction.start_date, limit,
                                ServiceRestriction.program),
        "source_ids": (client.source_ids, len(client.source_ids)),
    }
