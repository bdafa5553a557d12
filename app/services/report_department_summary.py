"""The Department summary: the Organizational Summary's numbers per department, side by side.

Each department's column is the Organizational Summary for that department, counted by the
Summary's own queries (app/services/reports.py), so a client served in two of its programs
counts once in it, and "new" means new to that department's programs; the last column is
the Summary over every program the person sees, where a client served in two departments
counts once. One definition, never re-counted here.
"""

from __future__ import annotations

from datetime import date

import uuid

from app.extensions import db
from app.services.reports import (
    DEFINITIONS, DIMENSIONS, ORG_SUMMARY_DEFINITIONS, _breakdown, _by_department, _by_program, _check_period,
    _materialise_served, _served_counts, _tune_for_report, covered_program_ids,
)

MEASURES = (("distinct_clients_served", "served"), ("new_clients", "new"), ("continuing_clients", "continuing"))


def _summary(counts: dict) -> dict:
    """The Organizational Summary's numbers from its counts (app/services/reports.py)."""
    served, new = counts.get(("_served", None), 0), counts.get(("_new", None), 0)
    return {"distinct_clients_served": served, "new_clients": new, "continuing_clients": served - new,
            "breakdowns": {d.key: _breakdown(d, counts) for d in DIMENSIONS}}


def department_summary(date_from: date, date_to: date, *, staff=None) -> dict:
    """The Organizational Summary of [date_from, date_to] for each department the person sees, and overall.

    The served pairs are found once for every covered program, as the Summary finds them, and
    each department's counts are the Summary's counts over its part of them, with "new" asked
    of its own programs: the Summary's own queries, not a Summary per department, which read
    the period's enrollments again for each department.
    """
    _check_period(date_from, date_to)
    covered = covered_program_ids(staff)
    _tune_for_report()
    served = _materialise_served(date_from, date_to, covered, [])
    columns = []
    for row in _by_department(served, _by_program(served, covered)):
        own = covered_program_ids(staff, department_id=uuid.UUID(row["department_id"]))
        part = served.select().where(served.c.program_id.in_(own)).subquery("department_served")
        columns.append({"department_id": row["department_id"], "department": row["department"],
                        "summary": _summary(_served_counts(part, date_from, date_to, own))})
    overall = _summary(_served_counts(served, date_from, date_to, covered))
    served.drop(db.session.connection())
    columns.append({"department_id": None, "department": "All departments", "summary": overall})

    measures = [{"key": key, "kind": kind, "clients": [column["summary"][key] for column in columns]}
                for key, kind in MEASURES]
    breakdowns = {}
    for key, breakdown in overall["breakdowns"].items():
        found = [{r["value"]: r["clients"] for r in column["summary"]["breakdowns"][key]["rows"]}
                 for column in columns]
        breakdowns[key] = {"label": breakdown["label"], "multi_valued": breakdown["multi_valued"],
                           "rows": [{"value": row["value"], "label": row["label"],
                                     "clients": [counts.get(row["value"], 0) for counts in found]}
                                    for row in breakdown["rows"]]}
    return {
        "report": "department_summary",
        "date_from": date_from.isoformat(),
        "date_to": date_to.isoformat(),
        "department": None,
        "program": None,
        "scope": "all programs" if covered is None else "limited",
        "departments": [{"department_id": c["department_id"], "department": c["department"]} for c in columns],
        "measures": measures,
        "breakdowns": breakdowns,
        "definitions": {
            "departments": "Each department's column is the Organizational Summary for that department alone: a "
                           "client served in several of its programs counts once, and is new when new to its "
                           "programs. The last column covers every program counted, where a client served in "
                           "several departments counts once, so it can be less than the sum of the others.",
            **{key: DEFINITIONS[key] for key in ORG_SUMMARY_DEFINITIONS},
        },
    }
