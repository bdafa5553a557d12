"""Program performance counts served, new, discharged, occupancy against capacity and turnover by their
definitions, day by day in plain Python, on random data for every scope."""

import uuid
from datetime import date, timedelta

import pytest

from app.extensions import db
from app.services.report_enrollment_history import enrollment_ids
from app.services.report_program_performance import program_performance
from app.services.reports import ReportError, org_summary, served_client_ids
from tests.app.services.conftest import counted_enrollments, covered_programs

PERIODS = ((date(2024, 1, 1), date(2024, 6, 30)), (date(2024, 2, 10), date(2024, 2, 10)),
           (date(2023, 1, 1), date(2025, 3, 31)))


def _days(date_from, date_to):
    return [date_from + timedelta(days=n) for n in range((date_to - date_from).days + 1)]


def _capacity_on(program, day):
    entries = [c for c in program.capacities if c.effective_date <= day]
    return max(entries, key=lambda c: c.effective_date).capacity if entries else program.capacity_current


def _is_new(world, client_id, program_ids, date_from):
    return not any(e.client_id == client_id and e.program_id in program_ids and not e.is_archived
                   and e.start_date < date_from for e in world["enrollments"]) \
        and not any(i.client_id == client_id and i.program_id in program_ids and i.intake_date < date_from
                    for i in world["intakes"])


def _expected(world, covered, date_from, date_to):
    days = _days(date_from, date_to)
    served_enrollments = [e for e in counted_enrollments(world, covered)
                          if e.start_date <= date_to and (e.end_date is None or e.end_date >= date_from)]

    def active(e, day):
        return e.start_date <= day and (e.end_date is None or e.end_date >= day)

    rows = {}
    for p in world["programs"]:
        mine = [e for e in served_enrollments if e.program_id == p.id]
        if p.id not in covered or not (mine or (not p.is_archived and p.status != "inactive")):
            continue
        served = {e.client_id for e in mine}
        occupied = sum(len({e.client_id for e in mine if active(e, day)}) for day in days)
        capacity = None if p.no_capacity_limit else sum(_capacity_on(p, day) for day in days)
        discharged = sum(1 for e in mine if e.end_date and date_from <= e.end_date <= date_to)
        average = occupied / len(days)
        rows[p.name] = {
            "served": len(served), "new": sum(1 for c in served if _is_new(world, c, {p.id}, date_from)),
            "discharged": discharged, "occupied_client_days": occupied, "average_occupancy": round(average, 1),
            "average_capacity": None if capacity is None else round(capacity / len(days), 1),
            "occupancy_pct": round(100 * occupied / capacity, 1) if capacity else None,
            "turnover": round(discharged / average, 2) if average else None,
        }
    served = {e.client_id for e in served_enrollments}
    return {"rows": rows, "served": len(served),
            "new": sum(1 for c in served if _is_new(world, c, covered, date_from)),
            "discharged": sum(r["discharged"] for r in rows.values()),
            "occupied": sum(r["occupied_client_days"] for r in rows.values()), "served_enrollments": served_enrollments}


KEYS = ("served", "new", "discharged", "occupied_client_days", "average_occupancy", "average_capacity",
        "occupancy_pct", "turnover")


@pytest.mark.parametrize("where", [None, "department", "program"])
def test_every_count_follows_the_definitions_for_every_scope(enrollment_world, world_scopes, where):
    world = enrollment_world
    department = world["departments"][0] if where == "department" else None
    program = world["programs"][0] if where == "program" else None
    for date_from, date_to in PERIODS:
        for staff, visible in world_scopes:
            covered = covered_programs(world, visible, department, program)
            expected = _expected(world, covered, date_from, date_to)
            report = program_performance(date_from, date_to, staff=staff, program_id=program and program.id,
                                         department_id=department and department.id)
            about = f"{staff and staff.last_name} {date_from}–{date_to} {where}"
            assert {row["program"]: {k: row[k] for k in KEYS} for row in report["by_program"]} == expected["rows"], \
                about
            total = report["total"]
            assert (total["served"], total["new"], total["discharged"], total["occupied_client_days"]) == (
                expected["served"], expected["new"], expected["discharged"], expected["occupied"]), about


def test_a_programs_row_is_the_org_summary_for_that_program(enrollment_world, world_scopes):
    date_from, date_to = date(2024, 1, 1), date(2024, 6, 30)
    staff = world_scopes[2][0]
    for row in program_performance(date_from, date_to, staff=staff)["by_program"]:
        summary = org_summary(date_from, date_to, staff=staff, program_id=row["program_id"])
        assert (row["served"], row["new"]) == (summary["distinct_clients_served"], summary["new_clients"])


def test_the_records_behind_each_count_are_the_ones_it_counted(enrollment_world, world_scopes):
    world, date_from, date_to = enrollment_world, date(2024, 1, 1), date(2024, 6, 30)
    for staff, visible in world_scopes[1:5]:
        expected = _expected(world, visible, date_from, date_to)
        for row in program_performance(date_from, date_to, staff=staff)["by_program"]:
            pid = uuid.UUID(row["program_id"])
            mine = [e for e in expected["served_enrollments"] if e.program_id == pid]
            served = set(db.session.scalars(served_client_ids(date_from, date_to, staff=staff, program_id=pid)))
            new = set(db.session.scalars(served_client_ids(date_from, date_to, staff=staff, program_id=pid,
                                                           kind="new")))
            active = set(db.session.scalars(enrollment_ids("active", date_from, date_to, staff=staff,
                                                           program_id=pid)))
            ended = set(db.session.scalars(enrollment_ids("ended", date_from, date_to, staff=staff, program_id=pid)))
            assert (len(served), len(new), len(ended)) == (row["served"], row["new"], row["discharged"])
            assert active == {e.id for e in mine}


def test_no_capacity_limit_programs_have_no_capacity_or_share(enrollment_world):
    report = program_performance(date(2024, 1, 1), date(2024, 6, 30))
    unlimited = next(row for row in report["by_program"] if row["program"] == "E3")
    assert unlimited["no_capacity_limit"] and unlimited["average_capacity"] is None
    assert unlimited["occupancy_pct"] is None


def test_bad_input_gets_a_clear_error(db_session):
    with pytest.raises(ReportError, match="after it ends"):
        program_performance(date(2024, 2, 1), date(2024, 1, 1))
