"""The Department summary's columns are each department's Organizational Summary, recomputed here from the
definitions on random data for every scope: distinct clients counted once per department and once overall."""

from datetime import date

import pytest

from app.choices import NOT_STATED
from app.services.report_department_summary import department_summary
from app.services.reports import ReportError
from tests.app.services.conftest import expected_summary

PERIODS = ((date(2024, 1, 1), date(2024, 6, 30)), (date(2023, 1, 1), date(2025, 3, 31)))


def _column(report, position):
    measures = {m["key"]: m["clients"][position] for m in report["measures"]}
    breakdowns = {key: {row["value"]: row["clients"][position] for row in b["rows"] if row["clients"][position]}
                  for key, b in report["breakdowns"].items()}
    return measures, breakdowns


def test_every_column_follows_the_definitions_for_every_scope(enrollment_world, world_scopes):
    world = enrollment_world
    for date_from, date_to in PERIODS:
        for staff, visible in world_scopes:
            report = department_summary(date_from, date_to, staff=staff)
            about = f"{staff and staff.last_name} {date_from}–{date_to}"
            names = [column["department"] for column in report["departments"]]
            expected_departments = sorted(
                {p.department.name for p in world["programs"] if p.id in visible and (
                    (not p.is_archived and p.status != "inactive")
                    or expected_summary(world, {p.id}, date_from, date_to, {})["served"])})
            assert names == expected_departments + ["All departments"], about
            for position, column in enumerate(report["departments"]):
                covered = {p.id for p in world["programs"] if p.id in visible
                           and (column["department_id"] is None or str(p.department_id) == column["department_id"])}
                expected = expected_summary(world, covered, date_from, date_to, {})
                measures, breakdowns = _column(report, position)
                assert measures == {"distinct_clients_served": len(expected["served"]),
                                    "new_clients": len(expected["new"]),
                                    "continuing_clients": len(expected["served"] - expected["new"])}, about
                assert breakdowns == {key: {v: n for v, n in counts.items() if n}
                                      for key, counts in expected["breakdowns"].items()}, (about, column)


def test_a_client_in_two_departments_counts_once_in_each_and_once_overall(enrollment_world):
    report = department_summary(date(2023, 1, 1), date(2025, 3, 31))
    served = next(m for m in report["measures"] if m["key"] == "distinct_clients_served")["clients"]
    assert served[-1] < sum(served[:-1]), "the random world has clients served in both departments"
    assert report["breakdowns"]["gender"]["rows"][-1]["value"] == NOT_STATED


def test_bad_input_gets_a_clear_error(db_session):
    with pytest.raises(ReportError, match="after it ends"):
        department_summary(date(2024, 2, 1), date(2024, 1, 1))
