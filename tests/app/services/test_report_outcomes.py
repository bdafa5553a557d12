"""Outcomes counts each program's discharges by reason and the successful share by its definitions, on random
data for every scope; which reasons are successful is the administrators' option list."""

import uuid
from datetime import date

import pytest
import sqlalchemy as sa

from app.choices import NOT_STATED
from app.extensions import db
from app.models import ChoiceOption
from app.services.report_enrollment_history import enrollment_ids
from app.services.report_outcomes import outcomes_report
from app.services.reports import ReportError
from tests.app.services.conftest import counted_enrollments, covered_programs, reason_of

PERIODS = ((date(2024, 1, 1), date(2024, 6, 30)), (date(2024, 3, 1), date(2024, 3, 1)),
           (date(2023, 1, 1), date(2025, 3, 31)))


def _successful():
    return set(db.session.scalars(sa.select(ChoiceOption.value).where(
        ChoiceOption.list_key == "successful_discharge_reason", ChoiceOption.is_active)))


def _expected(world, covered, date_from, date_to):
    ended = [e for e in counted_enrollments(world, covered) if e.end_date and date_from <= e.end_date <= date_to]
    successful = _successful()

    def outcome(enrollments):
        reasons: dict = {}
        for e in enrollments:
            key = reason_of(world, e) or NOT_STATED
            reasons[key] = reasons.get(key, 0) + 1
        done = sum(1 for e in enrollments if reason_of(world, e) in successful)
        return {"discharges": len(enrollments), "successful": done,
                "successful_pct": round(100 * done / len(enrollments), 1) if enrollments else None,
                "reasons": reasons}

    listed = [p for p in world["programs"] if p.id in covered and (
        (not p.is_archived and p.status != "inactive") or any(e.program_id == p.id for e in ended))]
    return {"overall": outcome(ended),
            "by_program": {p.name: outcome([e for e in ended if e.program_id == p.id]) for p in listed}}


def _found(report, row):
    reasons = {r["reason"]: n for r, n in zip(report["reasons"], row["by_reason"]) if n}
    return {"discharges": row["discharges"], "successful": row["successful"],
            "successful_pct": row["successful_pct"], "reasons": reasons}


@pytest.mark.parametrize("where", [None, "department", "program"])
def test_every_count_follows_the_definitions_for_every_scope(enrollment_world, world_scopes, where):
    world = enrollment_world
    department = world["departments"][0] if where == "department" else None
    program = world["programs"][0] if where == "program" else None
    for date_from, date_to in PERIODS:
        for staff, visible in world_scopes:
            covered = covered_programs(world, visible, department, program)
            expected = _expected(world, covered, date_from, date_to)
            report = outcomes_report(date_from, date_to, staff=staff, department_id=department and department.id,
                                     program_id=program and program.id)
            about = f"{staff and staff.last_name} {date_from}–{date_to} {where}"
            assert _found(report, report["overall"]) == expected["overall"], about
            assert {row["program"]: _found(report, row) for row in report["by_program"]} == expected["by_program"]


def test_successful_reasons_are_the_option_list_not_code(enrollment_world):
    period = (date(2023, 1, 1), date(2025, 3, 31))
    before = outcomes_report(*period)["overall"]
    db.session.add(ChoiceOption(list_key="successful_discharge_reason", value="Lost contact", sort_order=99))
    db.session.commit()
    after = outcomes_report(*period)
    lost = after["overall"]["by_reason"][[r["reason"] for r in after["reasons"]].index("Lost contact")]
    assert lost > 0 and after["overall"]["successful"] == before["successful"] + lost
    assert next(r for r in after["reasons"] if r["reason"] == "Lost contact")["successful"] is True


def test_the_enrollments_behind_each_count_are_the_ones_it_counted(enrollment_world, world_scopes):
    world, date_from, date_to = enrollment_world, date(2024, 1, 1), date(2024, 12, 31)
    successful = _successful()
    for staff, visible in world_scopes[1:5]:
        report = outcomes_report(date_from, date_to, staff=staff)
        for row in report["by_program"]:
            program_id = uuid.UUID(row["program_id"])
            ended = [e for e in counted_enrollments(world, visible) if e.program_id == program_id
                     and e.end_date and date_from <= e.end_date <= date_to]
            listed = set(db.session.scalars(enrollment_ids("successful", date_from, date_to, staff=staff,
                                                           program_id=program_id)))
            assert listed == {e.id for e in ended if reason_of(world, e) in successful}
            assert len(listed) == row["successful"]
            for reason, n in zip(report["reasons"], row["by_reason"]):
                listed = set(db.session.scalars(enrollment_ids("ended", date_from, date_to, staff=staff,
                                                               program_id=program_id, reason=reason["reason"])))
                assert len(listed) == n


def test_bad_input_gets_a_clear_error(db_session):
    with pytest.raises(ReportError, match="after it ends"):
        outcomes_report(date(2024, 2, 1), date(2024, 1, 1))
