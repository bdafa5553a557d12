"""The Data quality report counts what its checks say, for every scope, and its drill-downs list those records."""

import random
from datetime import date, timedelta

import pytest

from app.extensions import db
from app.models import (
    ClientDuplicate, DepartmentLeaderAssignment, Discharge, Intake, ProgramManagerAssignment, StaffProgramAssignment,
)
from app.services import data_quality
from app.services.data_quality import CHECKS, data_quality_report, flagged_client_ids, flagged_enrollment_ids
from app.services.reports import ReportError
from tests import factories
from tests.conftest import make_staff

PLACEHOLDER = date(1900, 1, 1)
NOT_STATED_WORDS = {"", "unknown"}


def add(*rows):
    db.session.add_all(rows)
    db.session.commit()
    return rows


@pytest.fixture
def world(db_session):
    """Two departments, four programs, 60 clients from three sources with gaps, placeholder birth dates and
    possible duplicates, and enrollments, intakes and discharges scattered around 2024."""
    rng = random.Random(20241201)
    dept_a, dept_b = factories.department(name="DQ dept A"), factories.department(name="DQ dept B")
    programs = [factories.program(name="DQ1", department=dept_a), factories.program(name="DQ2", department=dept_a),
                factories.program(name="DQ3", department=dept_b), factories.program(name="DQ4", department=dept_b)]
    add(*programs)
    clients = []
    for n in range(60):
        clients.append(factories.client(
            dob=rng.choice([None, PLACEHOLDER, date(1970, 1, 1) + timedelta(days=rng.randrange(15000))]),
            gender=rng.choice(["Woman", "Man", "Unknown", "", None]),
            sexual_orientation=rng.choice(["Straight", None]), citizenship_status=rng.choice(["Citizen", None]),
            indigenous_status=rng.choice([None, "unknown", "Métis"]), race=rng.choice(["Black", " ", None]),
            ethnicity=rng.choice([[], ["Unknown"], ["East Asian"], ["", None, " unknown "]]),
            languages_spoken=rng.choice([[], ["English"], ["unknown", "French"], [None, "Cree"], [" "]]),
            source_system=rng.choice([None, "CCD", "SMIS", "EMHware"]), is_archived=n % 19 == 4))
    add(*clients)
    add(ClientDuplicate(primary_client=clients[1], duplicate_client=clients[2], similarity_score=0.9,
                        match_type="name_dob", confidence_level="high", status="pending", detection_source="scan"),
        ClientDuplicate(primary_client=clients[3], duplicate_client=clients[4], similarity_score=0.9,
                        match_type="name_dob", confidence_level="high", status="not_duplicate",
                        detection_source="scan"))
    enrollments = [factories.enrollment(client=rng.choice(clients), program=rng.choice(programs),
                                        start_date=(start := date(2023, 1, 1) + timedelta(days=rng.randrange(700))),
                                        end_date=None if rng.random() < 0.5 else start + timedelta(days=rng.randrange(90)),
                                        is_archived=n % 13 == 2)
                   for n in range(140)]
    add(*enrollments)
    events = []
    for _ in range(50):
        events.append(Intake(client=rng.choice(clients), program=rng.choice(programs),
                             intake_date=date(2023, 1, 1) + timedelta(days=rng.randrange(700))))
    for _ in range(20):
        events.append(Discharge(client=rng.choice(clients), program=rng.choice(programs),
                                discharge_date=date(2023, 6, 1) + timedelta(days=rng.randrange(500)), reason="Moved"))
    add(*events)
    return {"departments": (dept_a, dept_b), "programs": programs, "clients": clients, "enrollments": enrollments,
            "intakes": [e for e in events if isinstance(e, Intake)],
            "discharges": [e for e in events if isinstance(e, Discharge)]}


def _scopes(world):
    programs = world["programs"]
    manager, leader, staff = make_staff("Manager"), make_staff("Leader"), make_staff("Staff")
    add(ProgramManagerAssignment(staff=manager, program=programs[0]),
        DepartmentLeaderAssignment(staff=leader, department=world["departments"][1]),
        StaffProgramAssignment(staff=staff, program=programs[1]))
    return [(None, {p.id for p in programs}), (manager, {programs[0].id}),
            (leader, {p.id for p in programs if p.department is world["departments"][1]}), (staff, {programs[1].id}),
            (make_staff("Staff"), set())]


def _blank(value) -> bool:
    return value is None or value.strip().lower() in NOT_STATED_WORDS


def _client_flags(client, pending_ids) -> set[str]:
    flags = set()
    if client.dob is None:
        flags.add("dob_missing")
    if client.dob == PLACEHOLDER:
        flags.add("dob_placeholder")
    for key in ("gender", "sexual_orientation", "citizenship_status", "indigenous_status", "race"):
        if _blank(getattr(client, key)):
            flags.add(f"{key}_not_stated")
    for key in ("ethnicity", "languages_spoken"):
        if all(_blank(item) for item in getattr(client, key) or []):
            flags.add(f"{key}_not_stated")
    if client.id in pending_ids:
        flags.add("in_duplicate_review")
    return flags


def _enrollment_flags(e, world, as_of, stale_days) -> set[str]:
    flags = set()
    same = lambda event: event.client_id == e.client_id and event.program_id == e.program_id  # noqa: E731
    if not any(same(i) for i in world["intakes"]):
        flags.add("enrollment_without_intake")
    since = as_of - timedelta(days=stale_days)
    if e.end_date is None and e.start_date < since \
            and not any(same(i) and since <= i.intake_date <= as_of for i in world["intakes"]) \
            and not any(same(d) and since <= d.discharge_date <= as_of for d in world["discharges"]):
        flags.add("stale_open_enrollment")
    return flags


def _expected(world, covered, date_from, date_to, stale_days):
    pending = {c.id for pair in ((world["clients"][1], world["clients"][2]),) for c in pair}
    served = [e for e in world["enrollments"] if not e.is_archived and e.program_id in covered
              and e.start_date <= date_to and (e.end_date is None or e.end_date >= date_from)
              and not e.client.is_archived and e.client.merged_into_id is None]

    def counts(enrollments):
        clients = {e.client for e in enrollments}
        result = {c.key: 0 for c in CHECKS}
        for client in clients:
            for flag in _client_flags(client, pending):
                result[flag] += 1
        for e in enrollments:
            for flag in _enrollment_flags(e, world, date_to, stale_days):
                result[flag] += 1
        return {"clients": len(clients), "enrollments": len(enrollments), "counts": result}

    source = lambda e: e.client.source_system or "CCD"  # noqa: E731
    return {
        "overall": counts(served),
        "by_program": {p.name: counts([e for e in served if e.program_id == p.id]) for p in world["programs"]
                       if any(e.program_id == p.id for e in served)},
        "by_source": {s: counts([e for e in served if source(e) == s]) for s in {source(e) for e in served}},
        "served": served, "pending": pending,
    }


def _plain(row):
    return {"clients": row["clients"], "enrollments": row["enrollments"], "counts": row["counts"]}


@pytest.mark.parametrize("stale_days", [30, 365])
def test_every_count_follows_its_check_for_every_scope(world, stale_days):
    for date_from, date_to in ((date(2024, 1, 1), date(2024, 3, 31)), (date(2023, 1, 1), date(2024, 12, 31))):
        for staff, covered in _scopes(world):
            expected = _expected(world, covered, date_from, date_to, stale_days)
            report = data_quality_report(date_from, date_to, stale_days=stale_days, staff=staff)
            about = f"{staff and staff.role_names} {date_from}–{date_to} {stale_days}"
            assert _plain(report["overall"]) == expected["overall"], about
            assert {row["program"]: _plain(row) for row in report["by_program"]} == expected["by_program"], about
            assert {row["source"]: _plain(row) for row in report["by_source"]} == expected["by_source"], about
            for check in CHECKS:
                whole = report["overall"]["clients" if check.level == "client" else "enrollments"]
                part = report["overall"]["counts"][check.key]
                assert report["overall"]["shares"][check.key] == (round(100 * part / whole, 1) if whole else None)


def test_the_records_behind_each_count_are_the_ones_it_counted(world):
    date_from, date_to, stale_days = date(2023, 1, 1), date(2024, 12, 31), 90
    for staff, covered in _scopes(world)[:3]:
        expected = _expected(world, covered, date_from, date_to, stale_days)
        served = expected["served"]
        for check in CHECKS:
            if check.level == "client":
                want = {e.client_id for e in served if check.key in _client_flags(e.client, expected["pending"])}
                got = set(db.session.scalars(flagged_client_ids(check.key, date_from, date_to, staff=staff)))
            else:
                want = {e.id for e in served if check.key in _enrollment_flags(e, world, date_to, stale_days)}
                got = set(db.session.scalars(flagged_enrollment_ids(check.key, date_from, date_to, stale_days,
                                                                    staff=staff)))
            assert got == want, (check.key, staff and staff.role_names)
        program = world["programs"][0]
        in_program = {e.client_id for e in served if e.program_id == program.id and e.client.dob is None}
        assert set(db.session.scalars(flagged_client_ids("dob_missing", date_from, date_to, staff=staff,
                                                         program_id=program.id))) == in_program


def test_the_report_leaves_no_temporary_table_behind(world):
    first = data_quality_report(date(2023, 1, 1), date(2024, 12, 31))
    assert data_quality_report(date(2023, 1, 1), date(2024, 12, 31)) == first, "a second report in one transaction"


def test_placeholder_dates_come_from_the_configuration(world, app):
    rare = date(1901, 2, 3)
    client = world["clients"][5]
    client.dob = rare
    db.session.commit()
    before = data_quality_report(date(2023, 1, 1), date(2024, 12, 31))["overall"]["counts"]["dob_placeholder"]
    saved = app.config["MATCH_PLACEHOLDER_DOBS"]
    app.config["MATCH_PLACEHOLDER_DOBS"] = [PLACEHOLDER, rare]
    try:
        after = data_quality_report(date(2023, 1, 1), date(2024, 12, 31))["overall"]["counts"]["dob_placeholder"]
    finally:
        app.config["MATCH_PLACEHOLDER_DOBS"] = saved
    served = any(e.client is client and not e.is_archived for e in world["enrollments"])
    assert after == before + (1 if served and not client.is_archived else 0)


@pytest.mark.parametrize("kwargs, message", [
    ({"stale_days": 0}, "whole number from 1 to 3650"),
    ({"department_id": "nope"}, "not a department id"),
])
def test_bad_input_gets_a_clear_error(db_session, kwargs, message):
    with pytest.raises(ReportError, match=message):
        data_quality_report(date(2024, 1, 1), date(2024, 1, 31), **kwargs)
    with pytest.raises(ReportError, match="starts"):
        data_quality_report(date(2024, 2, 1), date(2024, 1, 31))


def test_unknown_check_is_refused(db_session):
    with pytest.raises(ReportError, match="Unknown data quality check"):
        data_quality.client_check("shoe_size")


def test_the_world_exercises_every_check(world):
    counts = data_quality_report(date(2023, 1, 1), date(2024, 12, 31), stale_days=90)["overall"]["counts"]
    assert all(counts[check.key] > 0 for check in CHECKS), counts
