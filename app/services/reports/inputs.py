"""What a report is asked for: the period, the department or program, the demographic filters, and
so the programs it covers, read from what a person typed and checked against what they may see.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import Department, Program
from app.services.reports.definitions import DIMENSION_BY_KEY, ReportError
from app.services.scope import restrict, visible_program_ids


def as_uuid(value, what: str) -> uuid.UUID | None:
    if value is None or value == "":
        return None
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise ReportError(f"{value!r} is not a {what} id.") from None


def record_in_scope(model, key: uuid.UUID | None, what: str, staff=None):
    """The department or program a report is narrowed to. One outside ``staff``'s scope is answered
    exactly like one that does not exist, so its name is never shown to them."""
    if key is None:
        return None
    query = sa.select(model).where(model.id == key)
    row = db.session.scalar(query if staff is None else restrict(query, model, staff))
    if row is None:
        raise ReportError(f"There is no {what} with id {key}.")
    return row


def find_department(name: str) -> Department:
    """The department called ``name`` (any case), for the CLI's ``--department NAME``."""
    row = db.session.scalar(sa.select(Department).where(sa.func.lower(Department.name) == name.strip().lower()))
    if row is None:
        raise ReportError(f"There is no department called {name!r}.")
    return row


def find_program(name: str) -> Program:
    row = db.session.scalar(sa.select(Program).where(sa.func.lower(Program.name) == name.strip().lower()))
    if row is None:
        raise ReportError(f"There is no program called {name!r}.")
    return row


def parse_day(text: str | None, what: str, default: date | None = None) -> date:
    """A YYYY-MM-DD date typed by a person; empty gives ``default``; anything else a clear error."""
    if text is None or not str(text).strip():
        if default is None:
            raise ReportError(f"{what}: give a date as YYYY-MM-DD.")
        return default
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise ReportError(f"{what}: {text!r} is not a date; use YYYY-MM-DD.") from None


def report_choices(staff=None) -> dict:
    """The departments and programs a person may pick on a report page (those they can see)."""
    covered = covered_program_ids(staff)
    programs = db.session.execute(
        sa.select(Program.id, Program.name, Program.is_archived, Department.id, Department.name)
        .join(Department, Department.id == Program.department_id)
        .where(in_programs(Program.id, covered))
        .order_by(Program.name)
    ).all()
    departments = sorted({(str(did), dname) for _, _, _, did, dname in programs}, key=lambda d: d[1].lower())
    return {
        "departments": departments,
        "programs": [(str(pid), name + (" (archived)" if archived else "")) for pid, name, archived, _, _ in programs],
    }


def last_full_month(today: date) -> tuple[date, date]:
    """The default Organizational Summary period: the whole calendar month before ``today``."""
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def covered_program_ids(staff=None, department_id=None, program_id=None) -> sa.Select | None:
    """Ids of the programs a report covers (visible to ``staff``, within the department or program
    asked for), or None when it covers every program."""
    conditions = []
    if staff is not None:
        visible = visible_program_ids(staff)
        if visible is not None:
            conditions.append(Program.id.in_(visible))
    if department_id is not None:
        conditions.append(Program.department_id == department_id)
    if program_id is not None:
        conditions.append(Program.id == program_id)
    return sa.select(Program.id).where(*conditions) if conditions else None


def in_programs(column, covered: sa.Select | None):
    return sa.true() if covered is None else column.in_(covered)


def check_period(date_from: date, date_to: date) -> None:
    if not isinstance(date_from, date) or not isinstance(date_to, date):
        raise ReportError("Give the period as two dates.")
    if date_from > date_to:
        raise ReportError(f"The period starts ({date_from:%Y-%m-%d}) after it ends ({date_to:%Y-%m-%d}).")


def clean_filters(filters: dict | None) -> dict[str, str]:
    cleaned = {}
    for key, value in (filters or {}).items():
        if value is None or value == "":
            continue
        if key not in DIMENSION_BY_KEY:
            raise ReportError(f"Unknown filter {key!r}. Filters: {', '.join(DIMENSION_BY_KEY)}.")
        cleaned[key] = str(value)
    return cleaned


def id_and_name(row) -> dict | None:
    return None if row is None else {"id": str(row.id), "name": row.name}

