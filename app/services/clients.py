"""What a client's record page shows besides the client's own fields."""

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.labels import code_label
from app.models import Client, Discharge, Enrollment, Intake, ServiceRestriction
from app.services import approvals
from app.services.restrictions import in_force_on
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


def age_on(born: date | None, day: date) -> int | None:
    """Whole years from ``born`` to ``day`` (None when the birth date is unknown)."""
    if born is None:
        return None
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


@dataclass(frozen=True)
class RestrictionInForce:
    """One restriction in force today, as the record's banner shows it."""

    restriction: ServiceRestriction
    ending_soon: bool

    @property
    def scope(self) -> str:
        return code_label("scope", self.restriction.scope)

    @property
    def program(self) -> str:
        return self.restriction.program.name if self.restriction.program is not None else ""

    @property
    def until(self) -> str:
        if self.restriction.end_date is not None:
            return self.restriction.end_date.isoformat()
        return "indefinitely" if self.restriction.is_indefinite else "no end date set"


def restrictions_in_force(client_id, staff, today: date, ending_soon_days: int) -> list[RestrictionInForce]:
    """The client's restrictions in force on ``today`` that ``staff`` may see (the rule of
    app/services/restrictions.py), soonest ending first; those ending within ``ending_soon_days`` marked."""
    r = ServiceRestriction
    query = restrict(sa.select(r).where(r.client_id == client_id, in_force_on(today)), r, staff)
    rows = db.session.scalars(query.options(joinedload(r.program))
                              .order_by(r.end_date.is_(None), r.end_date, r.start_date)).all()
    last_soon_day = today + timedelta(days=ending_soon_days)
    return [RestrictionInForce(row, row.end_date is not None and row.end_date <= last_soon_day) for row in rows]


@dataclass(frozen=True)
class ClientHeader:
    """Who this is, at a glance: the top of the client's record and of its edit form."""

    client: Client
    age: int | None
    source_ids: list[str]
    restrictions: list[RestrictionInForce]
    pending_changes: int


def client_header(client: Client, staff, today: date, ending_soon_days: int) -> ClientHeader:
    ids = [f"{row.source_system} {row.source_client_id}" for row in client.source_ids]
    if client.uid_external:
        ids.insert(0, f"{client.source_system or 'External'} UID {client.uid_external}")
    return ClientHeader(client, age_on(client.dob, today), ids,
                        restrictions_in_force(client.id, staff, today, ending_soon_days),
                        approvals.pending_for_record(Client.__tablename__, client.id))
