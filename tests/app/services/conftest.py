"""Fixtures and expectations the enrollment-based report tests share: a random agency, the scopes people see it
through, and the numbers the definitions give, recomputed in plain Python."""

import random
from datetime import date, timedelta

import pytest

from app.choices import AGE_BANDS, NOT_STATED
from app.extensions import db
from app.models import (
    DepartmentLeaderAssignment, Discharge, Intake, ProgramCapacity, ProgramManagerAssignment, StaffProgramAssignment,
)
from app.services.reports import years_before
from tests import factories
from tests.conftest import make_staff

REASONS = ("Completed program", "Lost contact", "Moved to permanent housing", "Left voluntarily")


@pytest.fixture
def enrollment_world(db_session):
    """Two departments, five programs (one inactive, one archived, one without a capacity limit, capacity
    history on two), 60 clients (some archived or merged away), 160 enrollments and 40 intakes around 2024:
    most ended enrollments with a discharge on the end date, some with none, some with two, some discharges
    on other days."""
    rng = random.Random(20241202)
    dept_a, dept_b = factories.department(name="E dept A"), factories.department(name="E dept B")
    programs = [
        factories.program(name="E1", department=dept_a, capacity_current=12),
        factories.program(name="E2", department=dept_a, capacity_current=5),
        factories.program(name="E3", department=dept_b, no_capacity_limit=True),
        factories.program(name="E4", department=dept_b, status="inactive", capacity_current=3),
        factories.program(name="E5", department=dept_a, is_archived=True, capacity_current=4),
    ]
    db.session.add_all(programs)
    db.session.flush()
    db.session.add_all([ProgramCapacity(program=programs[0], effective_date=date(2024, 2, 10), capacity=8),
                        ProgramCapacity(program=programs[0], effective_date=date(2024, 5, 1), capacity=15),
                        ProgramCapacity(program=programs[1], effective_date=date(2023, 1, 1), capacity=2)])
    clients = [factories.client(is_archived=n % 17 == 3, gender=rng.choice(["Woman", "Man", "Unknown", " ", None]),
                                languages_spoken=rng.choice([[], ["English"], ["French", "English"], ["unknown"]]),
                                race=rng.choice(["Black", None]),
                                dob=None if n % 11 == 0 else date(1945, 1, 1) + timedelta(days=rng.randrange(28000)))
               for n in range(60)]
    db.session.add_all(clients)
    db.session.flush()
    clients[9].merged_into = clients[10]
    enrollments, discharges = [], []
    for n in range(160):
        start = date(2023, 9, 1) + timedelta(days=rng.randrange(420))
        end = None if rng.random() < 0.35 else start + timedelta(days=rng.randrange(150))
        enrollment = factories.enrollment(client=rng.choice(clients), program=rng.choice(programs),
                                          start_date=start, end_date=end, is_archived=n % 19 == 7)
        enrollments.append(enrollment)
        if end is not None and rng.random() < 0.85:
            for _ in range(2 if rng.random() < 0.1 else 1):
                discharges.append(Discharge(client=enrollment.client, program=enrollment.program,
                                            discharge_date=end, reason=rng.choice(REASONS)))
    intakes = [Intake(client=rng.choice(clients), program=rng.choice(programs),
                      intake_date=date(2023, 10, 1) + timedelta(days=rng.randrange(300))) for _ in range(40)]
    for _ in range(10):
        discharges.append(Discharge(client=rng.choice(clients), program=rng.choice(programs),
                                    discharge_date=date(2024, 1, 1) + timedelta(days=rng.randrange(200)),
                                    reason=rng.choice(REASONS)))
    db.session.add_all(enrollments + discharges + intakes)
    db.session.commit()
    return {"departments": (dept_a, dept_b), "programs": programs, "clients": clients,
            "enrollments": enrollments, "discharges": discharges, "intakes": intakes}


@pytest.fixture
def world_scopes(enrollment_world):
    """(staff, ids of the programs they see) for each kind of visibility; None is the system."""
    programs, departments = enrollment_world["programs"], enrollment_world["departments"]
    manager, leader, staff = make_staff("Manager"), make_staff("Leader"), make_staff("Staff")
    db.session.add_all([ProgramManagerAssignment(staff=manager, program=programs[0]),
                        ProgramManagerAssignment(staff=manager, program=programs[3]),
                        DepartmentLeaderAssignment(staff=leader, department=departments[1]),
                        StaffProgramAssignment(staff=staff, program=programs[1])])
    db.session.commit()
    return [
        (None, {p.id for p in programs}),
        (make_staff("Analyst"), {p.id for p in programs}),
        (manager, {programs[0].id, programs[3].id}),
        (leader, {p.id for p in programs if p.department is departments[1]}),
        (staff, {programs[1].id}),
        (make_staff("Manager"), set()),
    ]


def covered_programs(world, visible, department=None, program=None) -> set:
    """The programs a report counts for a person who sees ``visible``, narrowed to a department or program."""
    return {p.id for p in world["programs"] if p.id in visible
            and (department is None or p.department_id == department.id)
            and (program is None or p.id == program.id)}


def counted_enrollments(world, covered):
    """The enrollments the reports count, by the definition, in plain Python."""
    return [e for e in world["enrollments"] if not e.is_archived and e.program_id in covered
            and not e.client.is_archived and e.client.merged_into_id is None]


def reason_of(world, e):
    """The reason of the discharge of the same client and program on the end date (first alphabetically)."""
    found = sorted(d.reason for d in world["discharges"]
                   if d.client_id == e.client_id and d.program_id == e.program_id and d.discharge_date == e.end_date)
    return found[0] if found else None


def is_blank(value) -> bool:
    """No answer, by the definition: missing, blank or "unknown"."""
    return value is None or value.strip().lower() in ("", "unknown")


def age_band_of(dob, day):
    """The age band of a birth date on ``day``, by the definition, in plain Python."""
    if dob is None:
        return None
    for key, lowest, highest in AGE_BANDS:
        if dob <= years_before(day, lowest) and (highest is None or dob > years_before(day, highest + 1)):
            return key
    return None


def expected_summary(world, covered, date_from, date_to, filters):
    """Every number of the Organizational Summary, from the rows the test wrote, by the definitions."""
    def overlaps(e):
        return not e.is_archived and e.start_date <= date_to and (e.end_date is None or e.end_date >= date_from)

    def matches(c):
        for key, value in filters.items():
            if key == "age_band":
                found = age_band_of(c.dob, date_to)
                if found != (None if value == NOT_STATED else value):
                    return False
            elif key in ("languages_spoken", "ethnicity"):
                stated = {item for item in (getattr(c, key) or []) if not is_blank(item)}
                if bool(stated) if value == NOT_STATED else value not in stated:
                    return False
            elif not (is_blank(getattr(c, key)) if value == NOT_STATED else getattr(c, key) == value):
                return False
        return True

    served_pairs = {(e.client.id, e.program.id) for e in world["enrollments"]
                    if overlaps(e) and e.program.id in covered and not e.client.is_archived
                    and e.client.merged_into is None and matches(e.client)}
    served = {client_id for client_id, _ in served_pairs}
    clients = {c.id: c for c in world["clients"]}
    new = {client_id for client_id in served
           if not any(e.client.id == client_id and not e.is_archived and e.start_date < date_from
                      and e.program.id in covered for e in world["enrollments"])
           and not any(i.client.id == client_id and i.intake_date < date_from and i.program.id in covered
                       for i in world["intakes"])}
    breakdowns = {}
    for key in ("gender", "sexual_orientation", "citizenship_status", "indigenous_status", "race"):
        counts = {}
        for client_id in served:
            value = getattr(clients[client_id], key)
            value = NOT_STATED if is_blank(value) else value
            counts[value] = counts.get(value, 0) + 1
        breakdowns[key] = counts
    for key in ("languages_spoken", "ethnicity"):
        counts = {}
        for client_id in served:
            stated = {item for item in (getattr(clients[client_id], key) or []) if not is_blank(item)}
            for value in stated or {NOT_STATED}:
                counts[value] = counts.get(value, 0) + 1
        breakdowns[key] = counts
    bands = {}
    for client_id in served:
        band = age_band_of(clients[client_id].dob, date_to) or NOT_STATED
        bands[band] = bands.get(band, 0) + 1
    breakdowns["age_band"] = bands
    listed = [p for p in world["programs"] if p.id in covered
              and ((not p.is_archived and p.status != "inactive") or any(pid == p.id for _, pid in served_pairs))]
    by_program = {p.name: len({c for c, pid in served_pairs if pid == p.id}) for p in listed}
    by_department = {}
    for p in listed:
        in_department = {c for c, pid in served_pairs
                         if next(q for q in world["programs"] if q.id == pid).department_id == p.department_id}
        by_department[p.department.name] = len(in_department)
    return {"served": served, "new": new, "breakdowns": breakdowns, "by_program": by_program,
            "by_department": by_department}
