"""What the home page shows each person: figures, work waiting for them, and their clients, all within scope.

Every count and list goes through ``restrict()`` (app/services/scope.py), so the home page never
counts a row the person could not open from it; each section is ``None`` for the roles whose
screens it would point to are closed to them (the page then leaves it out).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import Client, ClientDuplicate, ClientUploadLog, Enrollment, ImportRow, PendingChange, Program
from app.models import ServiceRestriction
from app.permissions import Action, Role, may, may_import
from app.services.clock import agency_today
from app.services.programs import active_enrollment_condition, enrollment_current_parts
from app.services.scope import restrict, visible_program_ids

RECENT_IMPORTS = 5
LISTED_ROWS = 25


def _count(model, staff, *conditions) -> int:
    query = restrict(sa.select(sa.func.count()).select_from(model).where(*conditions), model, staff, whole_scope=True)
    return db.session.scalar(query)


def _roles(staff) -> frozenset[str]:
    return staff.role_names if staff is not None else frozenset()


def restriction_in_force(today: date):
    restriction = ServiceRestriction
    return sa.and_(restriction.is_archived.is_(False), restriction.start_date <= today,
                   sa.or_(restriction.end_date.is_(None), restriction.end_date >= today))


def dashboard_figures(staff, today: date | None = None) -> dict[str, int]:
    """Clients, programs, active enrollments and active restrictions that ``staff`` may see."""
    today = today or date.today()
    return {
        "clients": _count(Client, staff, Client.is_archived.is_(False)),
        "programs": _count(Program, staff, Program.is_archived.is_(False)),
        "active_enrollments": _count(Enrollment, staff, active_enrollment_condition(today)),
        "active_restrictions": _count(ServiceRestriction, staff, restriction_in_force(today)),
    }


# The screen each figure's card opens: the figure is only shown to whoever may list it.
FIGURE_SCREENS = {"clients": "clients", "programs": "programs", "active_enrollments": "client_program_enrollments",
                  "active_restrictions": "service_restrictions"}


def visible_figures(staff, today: date | None = None) -> dict[str, int]:
    """The figures whose screen the person may open, in the page's order."""
    roles = _roles(staff)
    return {key: value for key, value in dashboard_figures(staff, today).items()
            if may(roles, FIGURE_SCREENS[key], Action.LIST)}


def pending_approvals(staff) -> int | None:
    """Proposals waiting for a decision, for the people who decide them (None for everyone else)."""
    if not may(_roles(staff), PendingChange.__tablename__, Action.REVIEW):
        return None
    return _count(PendingChange, staff, PendingChange.status == "pending")


@dataclass(frozen=True)
class RecentImport:
    log: ClientUploadLog
    waiting_items: int  # review items of this import still waiting for a reviewer


def recent_imports(staff, limit: int = RECENT_IMPORTS) -> list[RecentImport] | None:
    """The newest imports and what each still waits on, for the people who run imports (None otherwise)."""
    if not may_import(_roles(staff)):
        return None
    logs = list(db.session.scalars(restrict(sa.select(ClientUploadLog), ClientUploadLog, staff)
                                   .order_by(ClientUploadLog.started_at.desc(), ClientUploadLog.id).limit(limit)))
    if not logs:
        return []
    waiting = dict(db.session.execute(
        sa.select(ImportRow.upload_log_id, sa.func.count(ClientDuplicate.id))
        .join(ClientDuplicate, ClientDuplicate.import_row_id == ImportRow.id)
        .where(ImportRow.upload_log_id.in_([log.id for log in logs]), ImportRow.status == "review",
               ClientDuplicate.status == "pending")
        .group_by(ImportRow.upload_log_id)).all())
    return [RecentImport(log, waiting.get(log.id, 0)) for log in logs]


@dataclass(frozen=True)
class EndingSoon:
    total: int
    rows: list[ServiceRestriction]
    days: int


def restrictions_ending_soon(staff, days: int, today: date | None = None,
                             limit: int = LISTED_ROWS) -> EndingSoon | None:
    """Restrictions in force whose end date is within ``days`` days, soonest first (None if the person
    may not list restrictions)."""
    if not may(_roles(staff), ServiceRestriction.__tablename__, Action.LIST):
        return None
    today = today or agency_today()
    restriction = ServiceRestriction
    ending = sa.and_(restriction_in_force(today), restriction.end_date.is_not(None),
                     restriction.end_date <= today + timedelta(days=days))
    rows = db.session.scalars(
        restrict(sa.select(restriction).where(ending), restriction, staff)
        .options(joinedload(restriction.client), joinedload(restriction.program))
        .order_by(restriction.end_date, restriction.id).limit(limit))
    return EndingSoon(_count(restriction, staff, ending), list(rows), days)


@dataclass(frozen=True)
class ProgramClients:
    total: int  # distinct clients
    rows: list[Enrollment]


def program_clients(staff, today: date | None = None, limit: int = LISTED_ROWS) -> ProgramClients | None:
    """For Staff: the clients currently enrolled in the programs they work in (None for other roles)."""
    if staff is None or Role.STAFF not in staff.role_names or not may(staff.role_names, "clients", Action.LIST):
        return None
    programs = visible_program_ids(staff)
    today = today or agency_today()
    current = sa.or_(*enrollment_current_parts(today))
    where = (Enrollment.program_id.in_(programs) if programs is not None else sa.true(), current,
             Enrollment.client.has(Client.is_archived.is_(False)))
    total = db.session.scalar(restrict(
        sa.select(sa.func.count(sa.distinct(Enrollment.client_id))).select_from(Enrollment).where(*where),
        Enrollment, staff, whole_scope=True))
    rows = db.session.scalars(
        restrict(sa.select(Enrollment).where(*where), Enrollment, staff)
        .join(Client, Client.id == Enrollment.client_id).join(Program, Program.id == Enrollment.program_id)
        .options(joinedload(Enrollment.client), joinedload(Enrollment.program))
        .order_by(Program.name, Client.last_name, Client.first_name, Enrollment.id).limit(limit))
    return ProgramClients(total, list(rows))
