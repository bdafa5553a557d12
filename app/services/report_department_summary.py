"""The Department summary: the Organizational Summary's numbers per department, side by side.

Each department's column IS the Organizational Summary for that department
(app/services/reports.py: ``org_summary(department_id=…)``), so a client served in two of
its programs counts once in it, and "new" means new to that department's programs; the
last column is the Summary over every program the person sees, where a client served in
two departments counts once. One definition, never re-counted here.
"""

from __future__ import annotations

from datetime import date

from app.services.reports import DEFINITIONS, ORG_SUMMARY_DEFINITIONS, _check_period, org_summary

MEASURES = (("distinct_clients_served", "served"), ("new_clients", "new"), ("continuing_clients", "continuing"))


def department_summary(date_from: date, date_to: date, *, staff=None) -> dict:
    """The Organizational Summary of [date_from, date_to] for each department the person sees, and overall."""
    _check_period(date_from, date_to)
    overall = org_summary(date_from, date_to, staff=staff)
    columns = [{"department_id": row["department_id"], "department": row["department"],
                "summary": org_summary(date_from, date_to, department_id=row["department_id"], staff=staff)}
               for row in overall["by_department"]]
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
        "scope": overall["scope"],
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
