"""The Vacancy Tracker: capacity, occupied and vacant places per open program on a day."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from app.extensions import db
from app.models import Client, Department, Enrollment, Program
from app.services.reports.definitions import (
    DEFINITIONS, ReportError, capacity_on, client_not_counted, enrollment_active_on_parts, percent, program_open,
)
from app.services.reports.inputs import as_uuid, covered_program_ids, id_and_name, in_programs, record_in_scope

VACANCY_DEFINITIONS = ("active_on", "capacity_on", "occupied", "vacant_total")


def vacancy_report(as_of: date, *, department_id=None, staff=None) -> dict:
    """Capacity, occupied and vacant places per open program on ``as_of``, with totals per
    department and overall; one query for all programs (see DEFINITIONS)."""
    if not isinstance(as_of, date):
        raise ReportError("Give the day of the report as a date.")
    department = record_in_scope(Department, as_uuid(department_id, "department"), "department", staff)
    covered = covered_program_ids(staff, department and department.id)

    result = db.session.execute(
        sa.select(
            Program.id, Program.name, Program.status, Program.no_capacity_limit, Department.id, Department.name,
            capacity_on(as_of).label("capacity"), occupied_on(as_of),
        )
        .join(Department, Department.id == Program.department_id)
        .where(program_open(), in_programs(Program.id, covered))
        .order_by(Department.name, Program.name)
    )
    rows = [
        _vacancy_row(pid, pname, status, no_limit, did, dname, capacity, clients)
        for pid, pname, status, no_limit, did, dname, capacity, clients in result
    ]
    departments: dict[str, dict] = {}
    for row in rows:
        departments.setdefault(row["department_id"], {"department_id": row["department_id"],
                                                      "department": row["department"], "rows": []})["rows"].append(row)
    return {
        "report": "vacancy",
        "as_of": as_of.isoformat(),
        "department": id_and_name(department),
        "scope": "all programs" if covered is None else "limited",
        "rows": rows,
        "totals": {
            "overall": _totals(rows),
            "by_department": [
                {"department_id": d["department_id"], "department": d["department"], **_totals(d["rows"])}
                for d in departments.values()
            ],
        },
        "definitions": {key: DEFINITIONS[key] for key in VACANCY_DEFINITIONS},
    }


def occupied_on(day: date):
    """Distinct counted clients active in a program on ``day`` (DEFINITIONS["occupied"]), correlated to Program.

    Counted program by program from the open-enrollments index (and the few enrollments
    ending later), never by reading every enrollment and joining every client: clients that
    do not count are taken away by id, and they are few.
    """
    parts = [sa.select(Enrollment.client_id).where(Enrollment.program_id == Program.id, part).correlate(Program)
             for part in enrollment_active_on_parts(day)]
    active = sa.union_all(*parts).subquery("active")
    return (
        sa.select(sa.func.count(sa.distinct(active.c.client_id)))
        .where(active.c.client_id.not_in(sa.select(Client.id).where(client_not_counted())))
        .scalar_subquery()
    )



def _vacancy_row(pid, pname, status, no_limit, did, dname, capacity, occupied) -> dict:
    limited = not no_limit
    return {
        "program_id": str(pid), "program": pname, "department_id": str(did), "department": dname,
        "status": status,
        "no_capacity_limit": no_limit,
        "capacity": capacity if limited else None,
        "occupied": occupied,
        "vacant": capacity - occupied if limited else None,
        "occupancy_pct": percent(occupied, capacity) if limited else None,
        "over_capacity": limited and occupied > capacity,
    }


def _totals(rows: list[dict]) -> dict:
    """Sums of a group of vacancy rows (a handful of programs, already counted by the database)."""
    limited = [row for row in rows if not row["no_capacity_limit"]]
    capacity = sum(row["capacity"] for row in limited)
    occupied = sum(row["occupied"] for row in limited)
    return {
        "programs": len(rows),
        "capacity": capacity,
        "occupied": occupied,
        "vacant": sum(max(row["vacant"], 0) for row in limited),
        "occupancy_pct": percent(occupied, capacity),
        "over_capacity_programs": sum(1 for row in limited if row["over_capacity"]),
        "no_limit_programs": len(rows) - len(limited),
        "occupied_no_limit": sum(row["occupied"] for row in rows if row["no_capacity_limit"]),
    }
