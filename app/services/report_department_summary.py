"""The Department summary: the Organizational Summary's numbers per department, side by side.

Each department's column is the Organizational Summary for that department, counted by the
Summary's own queries (app/services/reports/org_summary.py), so a client served in two of its programs
counts once in it, and "new" means new to that department's programs; the last column is
the Summary over every program the person sees, where a client served in two departments
counts once. One definition, never re-counted here.
"""

from __future__ import annotations

from datetime import date

import uuid

from app.extensions import db
from app.services.reports.definitions import DEFINITIONS, DIMENSIONS
from app.services.reports.inputs import check_period, covered_program_ids
from app.services.reports.org_summary import (
    ORG_SUMMARY_DEFINITIONS, breakdown, served_counts_by_department, served_departments, stated_options,
)
from app.services.reports.served import materialise_served
from app.services.reports.tuning import tune_for_report

MEASURES = (("distinct_clients_served", "served"), ("new_clients", "new"), ("continuing_clients", "continuing"))


def _summary(counts: dict, options: dict[str, list[str]]) -> dict:
    """The Organizational Summary's numbers from its counts (app/services/reports/org_summary.py);
    ``options`` holds each breakdown's stated options, read once for every column."""
    served, new = counts.get(("_served", None), 0), counts.get(("_new", None), 0)
    return {"distinct_clients_served": served, "new_clients": new, "continuing_clients": served - new,
            "breakdowns": {d.key: breakdown(d, counts, options.get(d.key)) for d in DIMENSIONS}}


def department_summary(date_from: date, date_to: date, *, staff=None) -> dict:
    """The Organizational Summary of [date_from, date_to] for each department the person sees, and overall.

    The served pairs are found once for every covered program, as the Summary finds them, and
    every department's counts come from one query over them, grouped by department, with "new"
    asked of the department's own programs (served_counts_by_department): the Summary's own
    counts, not a Summary per department, which read the period's enrollments again for each
    department, nor a count per department, which read every client again for each.
    """
    check_period(date_from, date_to)
    covered = covered_program_ids(staff)
    tune_for_report()
    served = materialise_served(date_from, date_to, covered, [], by_department=True)
    departments = served_departments(served, covered)
    counts = served_counts_by_department(served, date_from, date_to, covered)
    options = {d.key: stated_options(d.list_key) for d in DIMENSIONS if d.list_key is not None}
    columns = [{**department, "summary": _summary(counts.get(uuid.UUID(department["department_id"]), {}), options)}
               for department in departments]
    overall = _summary(counts[None], options)
    served.drop(db.session.connection())
    columns.append({"department_id": None, "department": "All departments", "summary": overall})

    measures = [{"key": key, "kind": kind, "clients": [column["summary"][key] for column in columns]}
                for key, kind in MEASURES]
    breakdowns = {}
    for key, shown in overall["breakdowns"].items():
        found = [{r["value"]: r["clients"] for r in column["summary"]["breakdowns"][key]["rows"]}
                 for column in columns]
        breakdowns[key] = {"label": shown["label"], "multi_valued": shown["multi_valued"],
                           "rows": [{"value": row["value"], "label": row["label"],
                                     "clients": [counts.get(row["value"], 0) for counts in found]}
                                    for row in shown["rows"]]}
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
