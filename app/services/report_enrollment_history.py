"""The Enrollment history report: enrollments started, ended (by discharge reason) and open, month by month.

An enrollment's end is a discharge: its reason is the reason of the discharge recorded for
the same client and program on the end date (imports and the demo write both together).
Those words ("counted enrollment", "started", "ended", "open at the end", "length of stay")
are defined once here, as SQL conditions, and used both to count and by the enrollment list
filter behind every number (admin_views/filters.py), so a count and the list it opens are
one definition. The Outcomes report counts the same ends per program.

Counted with a few GROUP BY queries whatever the period: "open at the end of a month" is
the enrollments open the day before the period, plus those started since, minus those
ended since, which is exactly "started by then and not ended by then".
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.choices import NOT_STATED
from app.extensions import db
from app.models import Client, Department, Discharge, Enrollment, Program
from app.services.options import active_options
from app.services.reports.definitions import ReportError, client_not_counted, enrollment_overlaps
from app.services.reports.inputs import (
    as_uuid, check_period, covered_program_ids, id_and_name, in_programs, record_in_scope,
)
from app.services.reports.tuning import tune_for_report

NO_DISCHARGE_LABEL = "No discharge recorded"
MAX_MONTHS = 120
# "successful": ended with a reason the administrators count as a planned or successful completion;
# "active": service somewhere in the period (the enrollments behind Program performance's occupancy).
KINDS = ("started", "ended", "open", "successful", "active")
SUCCESSFUL_LIST = "successful_discharge_reason"

HISTORY_DEFINITIONS: dict[str, str] = {
    "counted_enrollment": (
        "Enrollments in the programs the report covers; archived enrollments, archived clients and clients "
        "merged into another record are not counted. Each enrollment counts once, whoever its client is."
    ),
    "started": "An enrollment started in a month when its start date falls in that month (within the period).",
    "ended": (
        "An enrollment ended in a month when its end date falls in that month (within the period). Its "
        "discharge reason is the reason of the discharge recorded for the same client and program on the end "
        f"date (the first in alphabetical order if there are several); without one it counts under "
        f"“{NO_DISCHARGE_LABEL}”."
    ),
    "open_at_end": (
        "Open at the end of a month: started on or before its last day (or the period's last day) and not "
        "ended by then — no end date, or an end date after that day. An enrollment ending on the last day is "
        "ended, not open."
    ),
    "length_of_stay": (
        "Length of stay: days from the start date to the end date of an ended enrollment; the median is "
        "taken over the enrollments ended in the month (or in the whole period for the total)."
    ),
}


# --- The definitions, as SQL ------------------------------------------------------------------

def enrollment_counted(covered):
    """The enrollment is counted (HISTORY_DEFINITIONS["counted_enrollment"]). The clients that do not
    count are taken away by id: they are few, and joining every client to check two flags is not."""
    gone = aliased(Client)
    return sa.and_(Enrollment.is_archived.is_(False), in_programs(Enrollment.program_id, covered),
                   ~sa.exists().where(gone.id == Enrollment.client_id, client_not_counted(gone)))


def discharge_reason(enrollment=Enrollment):
    """The reason of the discharge that ended ``enrollment`` (HISTORY_DEFINITIONS["ended"]), NULL without one."""
    return (
        sa.select(sa.func.min(Discharge.reason))
        .where(Discharge.client_id == enrollment.client_id, Discharge.program_id == enrollment.program_id,
               Discharge.discharge_date == enrollment.end_date)
        .correlate(enrollment)
        .scalar_subquery()
    )


def ended_with_reason(date_from: date, date_to: date, covered, *columns) -> sa.Subquery:
    """``columns`` of each counted enrollment ended in [date_from, date_to], with its ``reason`` (the same
    definition as discharge_reason()). Asked as one outer join to the period's discharges, hashed, rather
    than one discharge lookup per ended enrollment: a year's ends at a million clients are 175,000."""
    found = sa.and_(Discharge.client_id == Enrollment.client_id, Discharge.program_id == Enrollment.program_id,
                    Discharge.discharge_date == Enrollment.end_date,
                    Discharge.discharge_date.between(date_from, date_to))
    return (
        sa.select(*columns, sa.func.min(Discharge.reason).label("reason"))
        .select_from(Enrollment).outerjoin(Discharge, found)
        .where(enrollment_counted(covered), kind_condition("ended", date_from, date_to))
        .group_by(Enrollment.id, *columns)
        .subquery("ended")
    )


def reason_is(reason: str, enrollment=Enrollment):
    """The enrollment's discharge reason is ``reason`` (NOT_STATED: it has none)."""
    found = discharge_reason(enrollment)
    return found.is_(None) if reason == NOT_STATED else found == reason


def successful_reasons() -> list[str]:
    """The discharge reasons that count as a planned or successful completion: an option list the
    administrators edit under Settings (defaults in app/choices.py), not code."""
    return active_options(SUCCESSFUL_LIST)


def open_on(day: date):
    """Started on or before ``day`` and not ended by then (HISTORY_DEFINITIONS["open_at_end"])."""
    return sa.and_(Enrollment.start_date <= day, sa.or_(Enrollment.end_date.is_(None), Enrollment.end_date > day))


def length_of_stay():
    """Days from start to end of an ended enrollment, as an integer on either database."""
    if db.session.get_bind().dialect.name == "postgresql":
        return Enrollment.end_date - Enrollment.start_date
    return sa.cast(sa.func.julianday(Enrollment.end_date) - sa.func.julianday(Enrollment.start_date), sa.Integer)


def month_of(column):
    """The month a date falls in, as a value whose text starts with YYYY-MM on either database."""
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(column, "YYYY-MM")
    return sa.func.strftime("%Y-%m", column)


def kind_condition(kind: str, date_from: date, date_to: date, reason: str | None = None):
    """The enrollments a drill-down of ``kind`` lists: started or ended in [date_from, date_to] (ended
    ones with ``reason`` when given, or with a successful one), or open at the end of ``date_to``."""
    if kind == "started":
        return Enrollment.start_date.between(date_from, date_to)
    if kind == "ended":
        ended = Enrollment.end_date.between(date_from, date_to)
        return ended if reason is None else sa.and_(ended, reason_is(reason))
    if kind == "open":
        return open_on(date_to)
    if kind == "active":
        return enrollment_overlaps(date_from, date_to)
    if kind == "successful":
        return sa.and_(Enrollment.end_date.between(date_from, date_to),
                       discharge_reason().in_(successful_reasons()))
    raise ReportError(f"Unknown kind of enrollment {kind!r}: one of {', '.join(KINDS)}.")


def enrollment_ids(kind: str, date_from: date, date_to: date, *, staff=None, department_id=None,
                   program_id=None, reason: str | None = None) -> sa.Select:
    """Ids of the counted enrollments of ``kind`` in the covered programs: what a count's drill-down lists."""
    covered = covered_program_ids(staff, department_id, program_id)
    return (sa.select(Enrollment.id)
            .where(enrollment_counted(covered), kind_condition(kind, date_from, date_to, reason))
            .correlate(None))


# --- Inputs ---------------------------------------------------------------------------------------

def months_of(date_from: date, date_to: date) -> list[tuple[date, date]]:
    """The calendar months the period touches, each cut to the period: (first day, last day)."""
    months, first = [], date_from
    while first <= date_to:
        following = (first.replace(day=1) + timedelta(days=32)).replace(day=1)
        months.append((first, min(following - timedelta(days=1), date_to)))
        first = following
    return months


def coverage(department_id, program_id, staff):
    """The department and program asked for (checked), and the covered program ids."""
    department = record_in_scope(Department, as_uuid(department_id, "department"), "department")
    program = record_in_scope(Program, as_uuid(program_id, "program"), "program")
    if department is not None and program is not None and program.department_id != department.id:
        raise ReportError(f"The program {program.name} is not in the department {department.name}.")
    return department, program, covered_program_ids(staff, department and department.id, program and program.id)


def median_of(distribution: dict[int, int]) -> float | None:
    """The median of values given as {value: how many}, None for none."""
    total = sum(distribution.values())
    if not total:
        return None
    ordered = sorted(distribution.items())

    def at(position: int) -> int:
        seen = 0
        for value, n in ordered:
            seen += n
            if seen > position:
                return value
        raise ValueError(position)

    return (at((total - 1) // 2) + at(total // 2)) / 2


# --- The report ---------------------------------------------------------------------------------

def enrollment_history(date_from: date, date_to: date, *, department_id=None, program_id=None, staff=None) -> dict:
    """Enrollments started, ended (by reason) and open at the end, per month of [date_from, date_to]."""
    check_period(date_from, date_to)
    months = months_of(date_from, date_to)
    if len(months) > MAX_MONTHS:
        raise ReportError(f"The period covers {len(months)} months; ask for {MAX_MONTHS} months at most.")
    department, program, covered = coverage(department_id, program_id, staff)
    counted = enrollment_counted(covered)
    tune_for_report()

    started_month = month_of(Enrollment.start_date).label("month")
    started = {month[:7]: n for month, n in db.session.execute(
        sa.select(started_month, sa.func.count()).where(counted, kind_condition("started", date_from, date_to))
        .group_by(started_month))}
    ended_month = month_of(Enrollment.end_date).label("month")
    ended_rows = ended_with_reason(date_from, date_to, covered, ended_month, length_of_stay().label("days"))
    by_reason: dict[tuple[str, str | None], int] = {}
    stays: dict[str, dict[int, int]] = {}
    for month, reason, days, n in db.session.execute(
            sa.select(ended_rows.c.month, ended_rows.c.reason, ended_rows.c.days, sa.func.count())
            .group_by(ended_rows.c.month, ended_rows.c.reason, ended_rows.c.days)):
        key = (month[:7], reason)
        by_reason[key] = by_reason.get(key, 0) + n
        stays.setdefault(month[:7], {})
        stays[month[:7]][int(days)] = stays[month[:7]].get(int(days), 0) + n
    open_before = db.session.scalar(
        sa.select(sa.func.count()).select_from(Enrollment).where(counted, open_on(date_from - timedelta(days=1))))

    rows, still_open, all_stays = [], open_before, {}
    for first, last in months:
        key = f"{first:%Y-%m}"
        ended = sum(n for (month, _), n in by_reason.items() if month == key)
        still_open += started.get(key, 0) - ended
        for days, n in stays.get(key, {}).items():
            all_stays[days] = all_stays.get(days, 0) + n
        rows.append({"month": key, "first_day": first.isoformat(), "last_day": last.isoformat(),
                     "started": started.get(key, 0), "ended": ended, "open_at_end": still_open,
                     "median_stay_days": median_of(stays.get(key, {}))})
    reasons = sorted({reason for _, reason in by_reason if reason is not None}, key=str.lower)
    reasons += [None] if any(reason is None for _, reason in by_reason) else []
    return {
        "report": "enrollment_history",
        "date_from": date_from.isoformat(),
        "date_to": date_to.isoformat(),
        "department": id_and_name(department),
        "program": id_and_name(program),
        "scope": "all programs" if covered is None else "limited",
        "open_at_start": open_before,
        "months": rows,
        "totals": {"started": sum(r["started"] for r in rows), "ended": sum(r["ended"] for r in rows),
                   "open_at_end": still_open, "median_stay_days": median_of(all_stays)},
        "ended_by_reason": [
            {"reason": NOT_STATED if reason is None else reason,
             "label": NO_DISCHARGE_LABEL if reason is None else reason,
             "by_month": [by_reason.get((row["month"], reason), 0) for row in rows],
             "total": sum(by_reason.get((row["month"], reason), 0) for row in rows)}
            for reason in reasons
        ],
        "definitions": dict(HISTORY_DEFINITIONS),
    }
