"""A demo client's histories: enrollments with their intakes and discharges, and service restrictions.

Stays respect who a program serves and never overlap in one program; restrictions come in
every state a screen shows (indefinite, ending soon, expired, dated).
"""

import random
from datetime import date, timedelta

from app.models import Discharge, Enrollment, Intake, Program, ServiceRestriction, Staff
from app.services.demo.clients import Person
from app.services.demo.drawing import pick, pick_many, shift_years
from app.services.demo.organisation import ProgramSpec

HISTORY_YEARS = 6
_RESTRICTION_REASONS = ("Repeated incidents on site.", "Assault on another client.", "Threats made to staff.",
                        "Drug dealing on the premises.", "Damage to a bedroom and common area.",
                        "Harassment of staff after warnings.")


def _serves(program_spec: ProgramSpec, person: Person, start: date) -> bool:
    dob = person.client.dob
    if program_spec.serves == "youth":
        return dob is not None and shift_years(start, -25) < dob
    if program_spec.serves == "women":
        return person.gender in ("Woman", "Transgender woman")
    if program_spec.serves == "men":
        return person.gender in ("Man", "Transgender man")
    if program_spec.serves == "newcomer":
        return person.newcomer
    return True


def _program_weight(spec: ProgramSpec) -> int:
    """Bigger programs see more clients; a program for a particular group is where that group goes first."""
    return (60 if spec.no_limit else spec.capacity) * (3 if spec.serves else 1)


def make_history(rng: random.Random, person: Person, programs: list[tuple[ProgramSpec, Program]],
                 today: date) -> list:
    """Enrollments with their intakes and discharges; never two overlapping stays in one program."""
    client = person.client
    earliest = shift_years(today, -HISTORY_YEARS)
    if client.dob is not None:
        earliest = max(earliest, shift_years(client.dob, 16))
    span = max((today - earliest).days, 0)
    stays: list[Enrollment] = []
    rows: list = []
    for _ in range(rng.choices([1, 2, 3], [55, 30, 15])[0]):
        for _attempt in range(6):
            start = earliest + timedelta(days=rng.randint(0, span))
            eligible = [(spec, program) for spec, program in programs if _serves(spec, person, start)]
            if not eligible:
                continue
            spec, program = rng.choices(eligible, [_program_weight(spec) for spec, _ in eligible])[0]
            end = None
            if client.is_inactive or rng.random() < 0.4:
                end = min(start + timedelta(days=rng.randint(7, 540)), today)
            if any(stay.program_id == program.id and stay.start_date <= (end or date.max)
                   and start <= (stay.end_date or date.max) for stay in stays):
                continue
            subprograms = sorted((sub for sub in program.subprograms if sub.is_active), key=lambda sub: sub.name)
            status = "active" if end is None else rng.choices(["completed", "discharged"], [55, 45])[0]
            enrollment = Enrollment(
                client_id=client.id, program_id=program.id,
                subprogram_id=rng.choice(subprograms).id if subprograms and rng.random() < 0.9 else None,
                start_date=start, end_date=end, status=status,
                receiving_services_date=min(start + timedelta(days=rng.randint(0, 7)), end or today),
            )
            stays.append(enrollment)
            rows.append(enrollment)
            rows.append(Intake(
                client_id=client.id, program_id=program.id, intake_date=start,
                source_system=client.source_system or "CCD",
                referral_source=pick(rng, "referral_source", {"Self": 20, "Self, Family or Friend": 10,
                                                              "Hospital": 10, "Shelter": 12,
                                                              "Community agency": 15, "Central Intake": 20}),
                housing_status=pick(rng, "housing_status", {"Homeless – sheltered": 30,
                                                            "Homeless – unsheltered": 15,
                                                            "Precariously housed": 20, "Housed": 15,
                                                            "Transitional housing": 10, "Unknown": 10}),
            ))
            if end is not None:
                if status == "completed":
                    reason = rng.choice(["Completed program", "Moved to permanent housing", "Moved to another program"])
                else:
                    reason = pick(rng, "discharge_reason", {
                        "Completed program": 0, "Moved to permanent housing": 0, "Moved to another program": 0,
                        "Left voluntarily": 30, "Service restriction": 10, "Lost contact": 30,
                        "Hospitalised": 10, "Incarcerated": 8, "Deceased": 0, "Other": 12})
                rows.append(Discharge(client_id=client.id, program_id=program.id, discharge_date=end,
                                      reason=reason))
            break
    return rows


def make_restriction(rng: random.Random, kind: int, person: Person, enrolled: list[Program],
                     staff: list[Staff], today: date) -> ServiceRestriction:
    """A restriction of one of five kinds, so every state shows up: indefinite, ending within two
    weeks, expired, and two kinds of ordinary dated ones."""
    indefinite = kind == 0
    if kind == 0:
        start, end = today - timedelta(days=rng.randint(30, 1000)), None
    elif kind == 1:
        end = today + timedelta(days=rng.randint(1, 14))
        start = end - timedelta(days=rng.randint(30, 365))
    elif kind == 2:
        end = today - timedelta(days=rng.randint(1, 400))
        start = end - timedelta(days=rng.randint(14, 365))
    else:
        start = today - timedelta(days=rng.randint(0, 300))
        end = start + timedelta(days=rng.randint(60, 730))
    program = rng.choice(enrolled) if enrolled and rng.random() < 0.6 else None
    behaviours = pick_many(rng, "behaviour", rng.choices([0, 1, 2], [20, 50, 30])[0])
    bill_168 = rng.random() < 0.25
    if bill_168 and "Threatening staff" not in behaviours:
        behaviours.append("Threatening staff")
    return ServiceRestriction(
        client_id=person.client.id, scope="program" if program else "org",
        program_id=program.id if program else None,
        restriction_types=pick_many(rng, "restriction_type", rng.choices([1, 2], [60, 40])[0]),
        behaviours=behaviours, is_bill_168=bill_168, is_no_trespass=rng.random() < 0.25,
        start_date=start, end_date=end, is_indefinite=indefinite,
        reason=rng.choice(_RESTRICTION_REASONS),
        entered_by_id=rng.choice(staff).id,
        affected_staff_id=rng.choice(staff).id if bill_168 else None,
    )
