"""The demo organisation: departments, programs, the sign-ins (one per role) and the staff tied to them.

Every row is added only when missing, so seeding again leaves the organisation as it is.
"""

from datetime import date
from typing import NamedTuple

import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Department, DepartmentLeaderAssignment, EmailRecipient, Program, ProgramCapacity, ProgramManagerAssignment,
    ProgramStaff, Staff, StaffProgramAssignment, SubProgram,
)
from app.permissions import Role
from app.services.accounts import create_or_update_user
from app.services.demo.drawing import ascii_word

DEMO_PASSWORD = "ccd-demo-2026"

DEMO_LOGINS: tuple[tuple[str, Role], ...] = (
    ("admin@ccd.demo", Role.ADMINISTRATOR),
    ("coordinator@ccd.demo", Role.COORDINATOR),
    ("manager@ccd.demo", Role.MANAGER),
    ("leader@ccd.demo", Role.LEADER),
    ("staff@ccd.demo", Role.STAFF),
    ("analyst@ccd.demo", Role.ANALYST),
    ("reports@ccd.demo", Role.REPORT_VIEWER),
)

_LOGIN_NAMES: dict[str, tuple[str, str]] = {
    "admin@ccd.demo": ("Priya", "Raman"),
    "coordinator@ccd.demo": ("Marc", "Tremblay"),
    "manager@ccd.demo": ("Amina", "Hassan"),
    "leader@ccd.demo": ("David", "Okafor"),
    "staff@ccd.demo": ("Sophie", "Nguyen"),
    "analyst@ccd.demo": ("Jordan", "Campbell"),
    "reports@ccd.demo": ("Maya", "Lindqvist"),
}

HOUSING = "Housing Services"
SHELTER = "Shelter Services"
MENTAL_HEALTH = "Mental Health & Addictions"
FAMILY = "Family Services"
NEWCOMER = "Newcomer Services"

_DEPARTMENTS: tuple[tuple[str, str], ...] = (
    (HOUSING, "Supportive and transitional housing, housing help and eviction prevention."),
    (SHELTER, "Emergency shelters for families, adults and youth, and seasonal respite."),
    (MENTAL_HEALTH, "Case management, concurrent disorders and harm reduction services."),
    (FAMILY, "Family counselling, parenting support, youth and community programs."),
    (NEWCOMER, "Settlement, refugee claimant and employment support for newcomers."),
)


class ProgramSpec(NamedTuple):
    name: str
    department: str
    location: str
    capacity: int
    effective: date
    no_limit: bool = False
    status: str = "active"
    # Who the program serves: "youth", "women", "men" or "newcomer"; empty means anyone.
    serves: str = ""
    subprograms: tuple[str, ...] = ()
    history: tuple[tuple[date, int], ...] = ()


PROGRAMS: tuple[ProgramSpec, ...] = (
    ProgramSpec("Support within Housing", HOUSING, "302 Sherbourne St, Toronto", 60, date(2025, 4, 1),
                subprograms=("Scattered Site", "Congregate Site"),
                history=((date(2023, 4, 1), 45), (date(2025, 4, 1), 60))),
    ProgramSpec("1Housing - 145 Queen", HOUSING, "145 Queen St E, Toronto", 48, date(2024, 9, 1),
                history=((date(2022, 9, 1), 40), (date(2024, 9, 1), 48))),
    ProgramSpec("Bridging Steps to Support", HOUSING, "1900 Eglinton Ave E, Scarborough", 30, date(2023, 1, 1)),
    ProgramSpec("Housing Help Centre", HOUSING, "2 Carlton St, Toronto", 120, date(2022, 4, 1)),
    ProgramSpec("Rent Bank - Scarborough", HOUSING, "3100 Kingston Rd, Scarborough", 25, date(2021, 4, 1),
                status="inactive"),
    ProgramSpec("Family Shelter - Dundas", SHELTER, "1220 Dundas St W, Toronto", 110, date(2025, 1, 15),
                subprograms=("Families with Infants", "Large Families", "Motel Overflow"),
                history=((date(2023, 11, 1), 90), (date(2025, 1, 15), 110))),
    ProgramSpec("Men's Shelter - Jarvis", SHELTER, "339 Jarvis St, Toronto", 96, date(2024, 11, 1), serves="men",
                history=((date(2022, 11, 1), 80), (date(2024, 11, 1), 96))),
    ProgramSpec("Women's Shelter - Parkdale", SHELTER, "1415 Queen St W, Toronto", 40, date(2024, 6, 1),
                serves="women", history=((date(2021, 6, 1), 32), (date(2024, 6, 1), 40))),
    ProgramSpec("Youth Shelter - Etobicoke", SHELTER, "3561 Lake Shore Blvd W, Etobicoke", 32, date(2023, 3, 1),
                serves="youth"),
    ProgramSpec("Winter Respite - Scarborough", SHELTER, "2671 Eglinton Ave E, Scarborough", 80,
                date(2024, 11, 15), status="inactive"),
    ProgramSpec("Case Management - Mental Health", MENTAL_HEALTH, "700 Lawrence Ave W, North York", 75,
                date(2025, 7, 1), subprograms=("Intensive Case Management", "Short-Term Case Management"),
                history=((date(2023, 7, 1), 60), (date(2025, 7, 1), 75))),
    ProgramSpec("Concurrent Disorders Program", MENTAL_HEALTH, "40 Wellesley St E, Toronto", 35, date(2024, 2, 1)),
    ProgramSpec("Harm Reduction Outreach", MENTAL_HEALTH, "260 Spadina Ave, Toronto", 50, date(2022, 5, 1),
                no_limit=True),
    ProgramSpec("Youth Drop-In", FAMILY, "1652 Keele St, York", 40, date(2023, 9, 1), no_limit=True,
                serves="youth"),
    ProgramSpec("Somali Program", FAMILY, "1770 Albion Rd, Etobicoke", 40, date(2024, 1, 8),
                subprograms=("Youth Mentoring", "Family Navigation")),
    ProgramSpec("Parenting Support Circle", FAMILY, "3030 Lawrence Ave E, Scarborough", 24, date(2025, 9, 1),
                history=((date(2022, 9, 1), 18), (date(2025, 9, 1), 24))),
    ProgramSpec("Family Counselling - Mississauga", FAMILY, "90 Burnhamthorpe Rd W, Mississauga", 50,
                date(2023, 5, 1)),
    ProgramSpec("Newcomer Settlement Services", NEWCOMER, "2100 Finch Ave W, North York", 120, date(2025, 4, 1),
                serves="newcomer", subprograms=("Arrival Support", "Housing Search"),
                history=((date(2022, 4, 1), 100), (date(2025, 4, 1), 120))),
    ProgramSpec("Refugee Claimant Support", NEWCOMER, "155 College St, Toronto", 45, date(2024, 3, 1),
                serves="newcomer"),
    ProgramSpec("Employment Bridge for Newcomers", NEWCOMER, "8 Nelson St W, Brampton", 60, date(2023, 10, 1),
                serves="newcomer"),
)

# Staff without sign-ins: (first, last, [(program, is_manager), ...]).
_OTHER_STAFF: tuple[tuple[str, str, tuple[tuple[str, bool], ...]], ...] = (
    ("Samuel", "Osei", (("Support within Housing", True), ("1Housing - 145 Queen", False),
                        ("Bridging Steps to Support", False))),
    ("Luc", "Gagnon", (("Family Shelter - Dundas", True),)),
    ("Grace", "Mensah", (("Family Shelter - Dundas", True), ("Parenting Support Circle", True))),
    ("Kevin", "O'Brien", (("Men's Shelter - Jarvis", True),)),
    ("Maria", "Santos", (("Women's Shelter - Parkdale", True), ("Family Shelter - Dundas", False))),
    ("Raj", "Patel", (("Case Management - Mental Health", True), ("Concurrent Disorders Program", False))),
    ("Chloé", "Bouchard", (("Harm Reduction Outreach", False), ("Youth Drop-In", True))),
    ("Tyler", "Whitehorse", (("Youth Shelter - Etobicoke", True), ("Youth Drop-In", False))),
    ("Mei", "Chen", (("Newcomer Settlement Services", True), ("Employment Bridge for Newcomers", True),
                     ("Refugee Claimant Support", False))),
    ("Fatima", "Abdi", (("Somali Program", True), ("Newcomer Settlement Services", False))),
)

MANAGER_PROGRAMS = ("Support within Housing", "1Housing - 145 Queen")
STAFF_PROGRAMS = ("Support within Housing", "Bridging Steps to Support")
_LEADER_DEPARTMENT = HOUSING
# Department owner by department: a demo login email or another staff member's email.
_DEPARTMENT_OWNERS = {
    HOUSING: "leader@ccd.demo",
    SHELTER: "luc.gagnon@agency.demo",
    MENTAL_HEALTH: "raj.patel@agency.demo",
    FAMILY: "grace.mensah@agency.demo",
    NEWCOMER: "mei.chen@agency.demo",
}

_RECIPIENT = ("Demo report recipient", "reports@ccd.demo", "daily")


def _by_name(model, name: str):
    return db.session.scalars(sa.select(model).where(sa.func.lower(model.name) == name.lower()).limit(1)).first()


def _staff_by_email(email: str) -> Staff | None:
    return db.session.scalars(sa.select(Staff).where(sa.func.lower(Staff.email) == email.lower()).limit(1)).first()


def _ensure_row(model, defaults: dict | None = None, **keys) -> None:
    """Add the link with these key values when it is missing; an existing one is left as it is."""
    exists = db.session.scalar(sa.select(sa.func.count()).select_from(model).filter_by(**keys))
    if not exists:
        db.session.add(model(**keys, **(defaults or {})))


def ensure_departments() -> dict[str, Department]:
    departments = {}
    for name, description in _DEPARTMENTS:
        department = _by_name(Department, name)
        if department is None:
            department = Department(name=name, description=description)
            db.session.add(department)
        departments[name] = department
    return departments


def ensure_programs(departments: dict[str, Department]) -> dict[str, Program]:
    """Programs by name; subprograms and capacity history only come with a new program."""
    programs = {}
    for spec in PROGRAMS:
        program = _by_name(Program, spec.name)
        if program is None:
            program = Program(
                name=spec.name, department=departments[spec.department], location=spec.location,
                capacity_current=spec.capacity, capacity_effective_date=spec.effective,
                no_capacity_limit=spec.no_limit, status=spec.status,
                subprograms=[SubProgram(name=name) for name in spec.subprograms],
                capacities=[ProgramCapacity(effective_date=day, capacity=capacity) for day, capacity in spec.history],
            )
            db.session.add(program)
        programs[spec.name] = program
    return programs


def _staff_email(first: str, last: str) -> str:
    local = ".".join(ascii_word(part) for part in (first, last))
    return f"{local}@agency.demo"


def ensure_staff() -> dict[str, Staff]:
    """Every demo staff member by email: the sign-ins (one per role), then the staff who only appear in records."""
    staff = {}
    for email, role in DEMO_LOGINS:
        first, last = _LOGIN_NAMES[email]
        staff[email] = create_or_update_user(email, [role.value], DEMO_PASSWORD, first, last)
    for index, (first, last, _) in enumerate(_OTHER_STAFF):
        email = _staff_email(first, last)
        member = _staff_by_email(email)
        if member is None:
            member = Staff(first_name=first, last_name=last, email=email, phone=f"416-555-{150 + index:04d}")
            db.session.add(member)
        staff[email] = member
    return staff


def ensure_links(staff: dict[str, Staff], programs: dict[str, Program],
                 departments: dict[str, Department]) -> None:
    """Tie staff to programs and departments, inserting only the links that are missing."""
    assigned = {"assigned_by_id": staff["admin@ccd.demo"].id}

    manager = staff["manager@ccd.demo"]
    for name in MANAGER_PROGRAMS:
        _ensure_row(ProgramStaff, {"is_manager": True}, program_id=programs[name].id, staff_id=manager.id)
        _ensure_row(ProgramManagerAssignment, assigned, staff_id=manager.id, program_id=programs[name].id)

    leader = staff["leader@ccd.demo"]
    _ensure_row(DepartmentLeaderAssignment, assigned, staff_id=leader.id,
                department_id=departments[_LEADER_DEPARTMENT].id)

    worker = staff["staff@ccd.demo"]
    for name in STAFF_PROGRAMS:
        _ensure_row(ProgramStaff, {"is_manager": False}, program_id=programs[name].id, staff_id=worker.id)
        _ensure_row(StaffProgramAssignment, assigned, staff_id=worker.id, program_id=programs[name].id)

    for first, last, links in _OTHER_STAFF:
        member = staff[_staff_email(first, last)]
        for name, is_manager in links:
            _ensure_row(ProgramStaff, {"is_manager": is_manager}, program_id=programs[name].id, staff_id=member.id)

    for name, email in _DEPARTMENT_OWNERS.items():
        if departments[name].owner_id is None:
            departments[name].owner_id = staff[email].id


def ensure_recipient() -> None:
    name, email, frequency = _RECIPIENT
    exists = db.session.scalar(
        sa.select(sa.func.count()).select_from(EmailRecipient).where(sa.func.lower(EmailRecipient.email) == email)
    )
    if not exists:
        db.session.add(EmailRecipient(name=name, email=email, frequency=frequency))

