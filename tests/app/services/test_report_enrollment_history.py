"""Enrollment history counts what its definitions say, on random data, for every scope, and each
drill-down lists exactly the enrollments its count counted."""

import statistics
from datetime import date, timedelta

import pytest

from app.choices import NOT_STATED
from app.extensions import db
from app.services.report_enrollment_history import (
    NO_DISCHARGE_LABEL, enrollment_history, enrollment_ids, median_of, months_of,
)
from app.services.reports import ReportError
from tests.app.services.conftest import counted_enrollments, covered_programs, reason_of

PERIODS = ((date(2024, 1, 1), date(2024, 6, 30)), (date(2024, 2, 15), date(2024, 2, 20)),
           (date(2023, 1, 1), date(2025, 3, 31)))


def _expected(world, covered, date_from, date_to):
    counted = counted_enrollments(world, covered)

    def open_on(day):
        return {e.id for e in counted if e.start_date <= day and (e.end_date is None or e.end_date > day)}

    def between(value, first, last):
        return value is not None and first <= value <= last

    months = []
    for first, last in months_of(date_from, date_to):
        ended = [e for e in counted if between(e.end_date, first, last)]
        stays = [(e.end_date - e.start_date).days for e in ended]
        months.append({"month": f"{first:%Y-%m}", "first_day": first.isoformat(), "last_day": last.isoformat(),
                       "started": sum(1 for e in counted if between(e.start_date, first, last)),
                       "ended": len(ended), "open_at_end": len(open_on(last)),
                       "median_stay_days": statistics.median(stays) if stays else None})
    ended = [e for e in counted if between(e.end_date, date_from, date_to)]
    reasons: dict = {}
    for e in ended:
        reason = reason_of(world, e)
        key = NOT_STATED if reason is None else reason
        row = reasons.setdefault(key, [0] * len(months))
        row[next(i for i, m in enumerate(months) if m["first_day"] <= e.end_date.isoformat() <= m["last_day"])] += 1
    stays = [(e.end_date - e.start_date).days for e in ended]
    return {"open_at_start": len(open_on(date_from - timedelta(days=1))), "months": months,
            "totals": {"started": sum(m["started"] for m in months), "ended": len(ended),
                       "open_at_end": len(open_on(date_to)),
                       "median_stay_days": statistics.median(stays) if stays else None},
            "reasons": reasons, "counted": counted}


@pytest.mark.parametrize("where", [None, "department", "program"])
def test_every_count_follows_the_definitions_for_every_scope(enrollment_world, world_scopes, where):
    world = enrollment_world
    department = world["departments"][0] if where == "department" else None
    program = world["programs"][2] if where == "program" else None
    for date_from, date_to in PERIODS:
        for staff, visible in world_scopes:
            covered = covered_programs(world, visible, department, program)
            expected = _expected(world, covered, date_from, date_to)
            report = enrollment_history(date_from, date_to, staff=staff, department_id=department and department.id,
                                        program_id=program and program.id)
            about = f"{staff and staff.last_name} {date_from}–{date_to} {where}"
            assert report["open_at_start"] == expected["open_at_start"], about
            assert report["months"] == expected["months"], about
            assert report["totals"] == expected["totals"], about
            assert {row["reason"]: row["by_month"] for row in report["ended_by_reason"]} == expected["reasons"], about
            assert all(row["total"] == sum(row["by_month"]) for row in report["ended_by_reason"])


def test_the_enrollments_behind_each_count_are_the_ones_it_counted(enrollment_world, world_scopes):
    world, date_from, date_to = enrollment_world, date(2024, 1, 1), date(2024, 4, 30)
    for staff, visible in world_scopes[1:5]:
        counted = counted_enrollments(world, visible)
        report = enrollment_history(date_from, date_to, staff=staff)
        for month in report["months"]:
            first, last = date.fromisoformat(month["first_day"]), date.fromisoformat(month["last_day"])
            started = set(db.session.scalars(enrollment_ids("started", first, last, staff=staff)))
            ended = set(db.session.scalars(enrollment_ids("ended", first, last, staff=staff)))
            still_open = set(db.session.scalars(enrollment_ids("open", last, last, staff=staff)))
            assert started == {e.id for e in counted if first <= e.start_date <= last}
            assert ended == {e.id for e in counted if e.end_date and first <= e.end_date <= last}
            assert (len(started), len(ended), len(still_open)) == (month["started"], month["ended"],
                                                                   month["open_at_end"])
        for row in report["ended_by_reason"]:
            listed = set(db.session.scalars(enrollment_ids("ended", date_from, date_to, staff=staff,
                                                           reason=row["reason"])))
            want = NOT_STATED if row["label"] == NO_DISCHARGE_LABEL else row["label"]
            assert listed == {e.id for e in counted if e.end_date and date_from <= e.end_date <= date_to
                              and (reason_of(world, e) or NOT_STATED) == want}


def test_months_are_cut_to_the_period():
    assert months_of(date(2024, 1, 20), date(2024, 3, 5)) == [
        (date(2024, 1, 20), date(2024, 1, 31)), (date(2024, 2, 1), date(2024, 2, 29)),
        (date(2024, 3, 1), date(2024, 3, 5))]
    assert months_of(date(2024, 12, 31), date(2025, 1, 1)) == [
        (date(2024, 12, 31), date(2024, 12, 31)), (date(2025, 1, 1), date(2025, 1, 1))]


@pytest.mark.parametrize("values", [[], [4], [1, 9], [3, 3, 1, 10], [5, 1, 2, 2, 8]])
def test_median_of_a_distribution_is_the_median_of_its_values(values):
    distribution: dict = {}
    for value in values:
        distribution[value] = distribution.get(value, 0) + 1
    assert median_of(distribution) == (statistics.median(values) if values else None)


@pytest.mark.parametrize("kwargs, message", [
    ({"date_from": date(2024, 2, 1), "date_to": date(2024, 1, 1)}, "after it ends"),
    ({"date_from": date(2000, 1, 1), "date_to": date(2024, 1, 1)}, "months at most"),
    ({"date_from": date(2024, 1, 1), "date_to": date(2024, 1, 31), "program_id": "nope"}, "is not a program id"),
])
def test_bad_input_gets_a_clear_error(db_session, kwargs, message):
    with pytest.raises(ReportError, match=message):
        enrollment_history(**kwargs)


def test_an_unknown_kind_of_enrollment_is_refused(db_session):
    with pytest.raises(ReportError, match="Unknown kind"):
        enrollment_ids("lost", date(2024, 1, 1), date(2024, 1, 2))
