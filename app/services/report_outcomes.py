"""The Outcomes report: discharges by reason per program for a period, and the share that were planned or
successful completions.

A discharge here is an enrollment's end, as the Enrollment history counts it
(app/services/report_enrollment_history.py): each ended enrollment once, under the reason
of the discharge recorded on its end date. Which reasons are successful is the option list
``successful_discharge_reason`` that administrators edit under Settings, read when the
report runs. One GROUP BY over the period's ended enrollments gives every cell.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from app.choices import NOT_STATED
from app.extensions import db
from app.models import Department, Enrollment, Program
from app.services.options import active_options
from app.services.report_enrollment_history import (
    HISTORY_DEFINITIONS, NO_DISCHARGE_LABEL, coverage, ended_with_reason, successful_reasons,
)
from app.services.reports.definitions import percent, program_open
from app.services.reports.inputs import check_period, id_and_name, in_programs
from app.services.reports.tuning import tune_for_report

OUTCOME_DEFINITIONS: dict[str, str] = {
    "counted_enrollment": HISTORY_DEFINITIONS["counted_enrollment"],
    "discharge": (
        "A discharge is an enrollment that ended in the period (its end date falls in it), counted once, under "
        "the reason of the discharge recorded for the same client and program on the end date (the first in "
        f"alphabetical order if there are several); without one, under “{NO_DISCHARGE_LABEL}”."
    ),
    "successful": (
        "Planned or successful completions: discharges whose reason is in the option list “Successful discharge "
        "reason” (Settings › Option lists). Their share is taken of all the program's discharges, those with no "
        "discharge recorded included."
    ),
    "programs": "Listed: the covered programs still open, and any other covered program with a discharge in "
                "the period.",
}


def _reason_order(found: set[str | None]) -> list[str | None]:
    """The discharge-reason option list's order, then other reasons found, then no reason recorded."""
    listed = [value for value in active_options("discharge_reason") if value in found]
    others = sorted((value for value in found if value is not None and value not in listed), key=str.lower)
    return listed + others + ([None] if None in found else [])


def outcomes_report(date_from: date, date_to: date, *, department_id=None, program_id=None, staff=None) -> dict:
    """Discharges in [date_from, date_to] per covered program and reason, with the successful share."""
    check_period(date_from, date_to)
    department, program, covered = coverage(department_id, program_id, staff)
    successful = set(successful_reasons())
    tune_for_report()

    ended = ended_with_reason(date_from, date_to, covered, Enrollment.program_id)
    counts: dict[tuple, int] = {
        (pid, reason): n for pid, reason, n in db.session.execute(
            sa.select(ended.c.program_id, ended.c.reason, sa.func.count())
            .group_by(ended.c.program_id, ended.c.reason))}
    with_ends = {pid for pid, _ in counts}
    programs = db.session.execute(
        sa.select(Program.id, Program.name, Department.name)
        .join(Department, Department.id == Program.department_id)
        .where(in_programs(Program.id, covered), sa.or_(program_open(), Program.id.in_(list(with_ends))))
        .order_by(Department.name, Program.name)).all()
    reasons = _reason_order({reason for _, reason in counts})

    def outcome(by_reason: dict) -> dict:
        total = sum(by_reason.values())
        done = sum(n for reason, n in by_reason.items() if reason in successful)
        return {"discharges": total, "successful": done, "successful_pct": percent(done, total),
                "by_reason": [by_reason.get(reason, 0) for reason in reasons]}

    rows = []
    for pid, name, department_name in programs:
        rows.append({"program_id": str(pid), "program": name, "department": department_name,
                     **outcome({reason: n for (p, reason), n in counts.items() if p == pid})})
    overall: dict = {}
    for (_, reason), n in counts.items():
        overall[reason] = overall.get(reason, 0) + n
    return {
        "report": "outcomes",
        "date_from": date_from.isoformat(),
        "date_to": date_to.isoformat(),
        "department": id_and_name(department),
        "program": id_and_name(program),
        "scope": "all programs" if covered is None else "limited",
        "reasons": [{"reason": NOT_STATED if reason is None else reason,
                     "label": NO_DISCHARGE_LABEL if reason is None else reason,
                     "successful": reason in successful} for reason in reasons],
        "successful_reasons": sorted(successful, key=str.lower),
        "by_program": rows,
        "overall": outcome(overall),
        "definitions": dict(OUTCOME_DEFINITIONS),
    }
