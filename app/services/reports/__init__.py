"""The CCD reports' shared ground and the two first reports, the Organizational Summary and the Vacancy Tracker.

Reports are counted in the database with GROUP BY queries, never by walking clients in Python,
so they stay right and quick on ten years of history. The package holds, one idea a module:

- definitions: the words every report counts by ("served", "active on", "capacity on", "not
  stated", age band), as the sentences pages print and as SQL conditions;
- inputs: the period, department, program and filters a report is asked for, and the programs
  it therefore covers;
- served: who is served in a period and who of them is new, and the served pairs table;
- tuning: the session settings of a report's transaction;
- org_summary and vacancy: the two reports.

``staff=None`` means the system (CLI, scheduled tasks): no visibility limit. Otherwise the
visibility rule of app/services/scope.py applies. Results are JSON-ready dicts (ids and
dates as strings) so pages, CSV/XLSX exports, ``ccd report … --format json`` and emailed
reports all share one shape. The names below are what the rest of the app imports from here.
"""

from app.services.reports.definitions import (
    DEFINITIONS, DIMENSION_BY_KEY, DIMENSIONS, NOT_STATED_WORDS, Dimension, ReportError, age_band_condition,
    client_counted, client_not_counted, demographic_condition, enrollment_active_on, enrollment_active_on_parts,
    enrollment_overlaps, no_stated_item, not_stated, program_open, years_before,
)
from app.services.reports.inputs import (
    covered_program_ids, find_department, find_program, last_full_month, parse_day, report_choices,
)
from app.services.reports.org_summary import ORG_SUMMARY_DEFINITIONS, org_summary, stated_options
from app.services.reports.served import SERVED_KINDS, SERVED_TABLE, served_client_ids
from app.services.reports.tuning import REPORT_WORK_MEM
from app.services.reports.vacancy import VACANCY_DEFINITIONS, vacancy_report

__all__ = [
    "DEFINITIONS", "DIMENSIONS", "DIMENSION_BY_KEY", "Dimension", "NOT_STATED_WORDS", "ORG_SUMMARY_DEFINITIONS",
    "REPORT_WORK_MEM", "ReportError", "SERVED_KINDS", "SERVED_TABLE", "VACANCY_DEFINITIONS", "age_band_condition",
    "client_counted", "client_not_counted", "covered_program_ids", "demographic_condition", "enrollment_active_on",
    "enrollment_active_on_parts", "enrollment_overlaps", "find_department", "find_program", "last_full_month",
    "no_stated_item", "not_stated", "org_summary", "parse_day", "program_open", "report_choices",
    "served_client_ids", "stated_options", "vacancy_report", "years_before",
]
