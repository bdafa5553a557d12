"""The Program performance report: per program for a period, clients served, new, discharged, average
occupancy against capacity and turnover.

"Served" and "new" are the Organizational Summary's definitions (app/services/reports/served.py)
taken one program at a time, so a program's row is what the Summary says for that program
alone; "discharged" is the Outcomes report's discharges (enrollments ended in the period).
Occupancy comes from the same served enrollments: every day of the period each counted
client active in the program fills one place, however many enrollments they hold there;
capacity is the capacity in force on each day (capacity history), and programs with no
capacity limit have no capacity, vacancy or occupancy share.
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models import Department, Enrollment, Intake, Program, ProgramCapacity
from app.services.report_enrollment_history import coverage, enrollment_counted, kind_condition
from app.services.reports.definitions import DEFINITIONS, enrollment_overlaps, percent, program_open
from app.services.reports.inputs import check_period, id_and_name, in_programs
from app.services.reports.served import served_client_ids
from app.services.reports.tuning import tune_for_report

EPOCH = date(2000, 1, 1)

PERFORMANCE_DEFINITIONS: dict[str, str] = {
    "served": DEFINITIONS["served"],
    "new": DEFINITIONS["new"] + " In a program's row the programs covered are that program alone; in the total "
                                "row, every program the report covers.",
    "discharged": (
        "Discharged: the program's enrollments that ended in the period (end date in it), as the Outcomes report "
        "counts them; archived enrollments and clients that do not count are left out."
    ),
    "occupancy": (
        "Average occupancy: over the days of the period, the average number of counted clients with an enrollment "
        "active in the program that day (a client holding two enrollments there fills one place). Average "
        "capacity: the average of the capacity in force on each day (the capacity-history entry with the latest "
        "effective date on or before it, else the program's current capacity). Occupancy % = average occupancy ÷ "
        "average capacity. Programs with no capacity limit show no capacity and no share, and are left out of "
        "the total's capacity and share."
    ),
    "turnover": "Turnover: discharges in the period ÷ average occupancy — how many times the average caseload "
                "was replaced.",
    "programs": "Listed: the covered programs still open, and any other covered program that served someone "
                "in the period.",
}


def _day_number(column):
    """Days since 2000-01-01 as an integer on either database, for interval arithmetic."""
    if db.session.get_bind().dialect.name == "postgresql":
        return column - EPOCH
    return sa.cast(sa.func.julianday(column) - sa.func.julianday(EPOCH.isoformat()), sa.Integer)


def _greatest(*values):
    return (sa.func.greatest if db.session.get_bind().dialect.name == "postgresql" else sa.func.max)(*values)


def _least(*values):
    return (sa.func.least if db.session.get_bind().dialect.name == "postgresql" else sa.func.min)(*values)


def occupied_client_days(date_from: date, date_to: date, covered) -> dict:
    """{program id: days × counted clients active in it}, over [date_from, date_to].

    Each enrollment is cut to the period; ordered by start within (program, client), a row
    adds only the days after everything before it reached (the running maximum of earlier
    ends), so overlapping enrollments of one client are one place and no day counts twice.
    """
    first, last = (date_from - EPOCH).days, (date_to - EPOCH).days
    clipped = (
        sa.select(Enrollment.program_id, Enrollment.client_id,
                  _greatest(_day_number(Enrollment.start_date), first).label("s"),
                  _least(sa.func.coalesce(_day_number(Enrollment.end_date), last), last).label("e"))
        .where(enrollment_counted(covered), enrollment_overlaps(date_from, date_to))
        .subquery("clipped")
    )
    reached = sa.func.max(clipped.c.e).over(partition_by=[clipped.c.program_id, clipped.c.client_id],
                                            order_by=[clipped.c.s, clipped.c.e], rows=(None, -1))
    ordered = sa.select(clipped.c.program_id, clipped.c.s, clipped.c.e, reached.label("reached")).subquery("ordered")
    added = _greatest(
        0, ordered.c.e - _greatest(ordered.c.s, sa.func.coalesce(ordered.c.reached, ordered.c.s - 1) + 1) + 1)
    return {pid: int(days) for pid, days in db.session.execute(
        sa.select(ordered.c.program_id, sa.func.sum(added)).group_by(ordered.c.program_id))}


def capacity_days(programs, date_from: date, date_to: date) -> dict:
    """{program id: the sum over the period's days of the capacity in force} for programs with a limit."""
    limited = [p for p in programs if not p.no_capacity_limit]
    history: dict = {}
    for pid, effective, capacity in db.session.execute(
            sa.select(ProgramCapacity.program_id, ProgramCapacity.effective_date, ProgramCapacity.capacity)
            .where(ProgramCapacity.program_id.in_([p.id for p in limited]),
                   ProgramCapacity.effective_date <= date_to)
            .order_by(ProgramCapacity.effective_date)):
        history.setdefault(pid, []).append((effective, capacity))
    totals = {}
    for program in limited:
        entries = history.get(program.id, [])
        # Before the first entry on or before the period, the current capacity applies (DEFINITIONS["capacity_on"]).
        steps = [(date_from, program.capacity_current)]
        for effective, capacity in entries:
            if effective <= date_from:
                steps = [(date_from, capacity)]
            else:
                steps.append((effective, capacity))
        total = 0
        for position, (start, capacity) in enumerate(steps):
            end = steps[position + 1][0] - timedelta(days=1) if position + 1 < len(steps) else date_to
            total += capacity * ((end - start).days + 1)
        totals[program.id] = total
    return totals


def _served_and_new(date_from: date, date_to: date, covered) -> dict:
    """{program id: (clients served, new clients)}, each program covering only itself for "new"."""
    pairs = (
        sa.select(Enrollment.client_id, Enrollment.program_id,
                  sa.func.max(sa.case((Enrollment.start_date < date_from, 1), else_=0)).label("started_before"))
        .where(enrollment_counted(covered), enrollment_overlaps(date_from, date_to))
        .group_by(Enrollment.client_id, Enrollment.program_id)
        .subquery("pairs")
    )
    earlier = aliased(Enrollment)
    is_new = sa.and_(
        pairs.c.started_before == 0,
        ~sa.exists().where(earlier.client_id == pairs.c.client_id, earlier.program_id == pairs.c.program_id,
                           earlier.start_date < date_from, earlier.is_archived.is_(False)),
        ~sa.exists().where(Intake.client_id == pairs.c.client_id, Intake.program_id == pairs.c.program_id,
                           Intake.intake_date < date_from),
    )
    return {pid: (served, int(new or 0)) for pid, served, new in db.session.execute(
        sa.select(pairs.c.program_id, sa.func.count(), sa.func.sum(sa.case((is_new, 1), else_=0)))
        .group_by(pairs.c.program_id))}


def _row(program, department_name: str, served: int, new: int, discharged: int, occupied: int,
         capacity: int | None, days: int) -> dict:
    average = occupied / days
    limited = capacity is not None
    return {
        "program_id": str(program.id), "program": program.name, "department": department_name,
        "no_capacity_limit": program.no_capacity_limit,
        "served": served, "new": new, "discharged": discharged,
        "occupied_client_days": occupied,
        "average_occupancy": round(average, 1),
        "average_capacity": round(capacity / days, 1) if limited else None,
        "occupancy_pct": percent(occupied, capacity) if limited else None,
        "turnover": round(discharged / average, 2) if average else None,
    }


def _distinct_clients(client_ids: sa.Select) -> int:
    found = client_ids.subquery("found")
    return db.session.scalar(sa.select(sa.func.count(sa.distinct(found.c.client_id))))


def program_performance(date_from: date, date_to: date, *, department_id=None, program_id=None, staff=None) -> dict:
    """Per covered program: served, new, discharged, average occupancy and capacity, turnover; and the total."""
    check_period(date_from, date_to)
    department, program, covered = coverage(department_id, program_id, staff)
    days = (date_to - date_from).days + 1
    tune_for_report()

    counts = _served_and_new(date_from, date_to, covered)
    discharged = dict(db.session.execute(
        sa.select(Enrollment.program_id, sa.func.count())
        .where(enrollment_counted(covered), kind_condition("ended", date_from, date_to))
        .group_by(Enrollment.program_id)).all())
    occupied = occupied_client_days(date_from, date_to, covered)
    listed = db.session.execute(
        sa.select(Program, Department.name).join(Department, Department.id == Program.department_id)
        .where(in_programs(Program.id, covered), sa.or_(program_open(), Program.id.in_(list(counts))))
        .order_by(Department.name, Program.name)).all()
    capacities = capacity_days([p for p, _ in listed], date_from, date_to)
    rows = [_row(p, dname, *counts.get(p.id, (0, 0)), discharged.get(p.id, 0), occupied.get(p.id, 0),
                 capacities.get(p.id), days) for p, dname in listed]

    where = {"department_id": department and department.id, "program_id": program and program.id}
    served_total = _distinct_clients(served_client_ids(date_from, date_to, staff=staff, **where))
    new_total = _distinct_clients(served_client_ids(date_from, date_to, staff=staff, kind="new", **where))
    limited = [row for row in rows if not row["no_capacity_limit"]]
    occupied_all = sum(occupied.values())
    occupied_limited = sum(row["occupied_client_days"] for row in limited)
    capacity_all = sum(capacities.get(p.id, 0) for p, _ in listed)
    discharged_all = sum(discharged.values())
    return {
        "report": "program_performance",
        "date_from": date_from.isoformat(),
        "date_to": date_to.isoformat(),
        "department": id_and_name(department),
        "program": id_and_name(program),
        "scope": "all programs" if covered is None else "limited",
        "days": days,
        "by_program": rows,
        "total": {
            "served": served_total, "new": new_total, "discharged": discharged_all,
            "occupied_client_days": occupied_all,
            "average_occupancy": round(occupied_all / days, 1),
            "average_capacity": round(capacity_all / days, 1) if limited else None,
            "occupancy_pct": percent(occupied_limited, capacity_all) if limited else None,
            "turnover": round(discharged_all * days / occupied_all, 2) if occupied_all else None,
        },
        "definitions": dict(PERFORMANCE_DEFINITIONS),
    }
