"""Invented data for trying CCD out, training staff and reviewing screens.

A newcomer, a trainer or a reviewer needs a database that looks like the agency's own:
departments, programs, staff tied to them, and a few hundred clients with enrollment,
intake, discharge and restriction histories. No real record may be used for that, so
everything here is made up, drawn from seeded generators so every installation shows
the same people, and written in one transaction so a failure leaves nothing half-done.

The seed is safe to run again: it adds only what is missing, and the clients (with
their histories) only when no demo client exists yet. It refuses to run in production
because it creates sign-ins with a published password.
"""

import random
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from faker import Faker

from app.choices import DEFAULT_OPTIONS, SOURCE_SYSTEMS
from app.extensions import db
from app.models import (
    EXTENDED_FIELDS, Client, ClientSourceId, Department, DepartmentLeaderAssignment, Discharge, EmailRecipient,
    Enrollment, Intake, Program, ProgramCapacity, ProgramManagerAssignment, ProgramStaff, ServiceRestriction,
    Staff, StaffProgramAssignment, SubProgram,
)
from app.permissions import Role
from app.services.accounts import create_or_update_user, ensure_roles
from app.services.options import ensure_default_options
from app.services.restrictions import allow_restricted_enrollment

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

SEED = 2026
CLIENT_COUNT = 500
UID_PREFIX = "DEMO-"
HISTORY_YEARS = 6
DEMO_OVERRIDE_REASON = "Demo data: enrolled in the source system while a restriction was in force."

_REFUSAL = "The demo seed adds known passwords and fake clients; it refuses to run with CCD_ENV=production."


class DemoRefused(RuntimeError):
    """The demo seed was asked to run where it must not (production)."""


@dataclass
class DemoSummary:
    departments: int
    programs: int
    staff: int
    clients: int
    enrollments: int
    intakes: int
    discharges: int
    restrictions: int
    created: bool

    def describe(self) -> str:
        """What the operator needs after seeding: what is there, and how to sign in."""
        headline = ("Demo data created." if self.created
                    else "Demo clients were already there; only missing setup rows were added.")
        rows = [
            ("Departments", self.departments), ("Programs", self.programs), ("Staff", self.staff),
            ("Clients", self.clients), ("Enrollments", self.enrollments), ("Intakes", self.intakes),
            ("Discharges", self.discharges), ("Restrictions", self.restrictions),
        ]
        lines = [headline]
        lines += [f"  {label + ':':<14}{count:>6}" for label, count in rows]
        lines.append(f"Demo sign-ins (password: {DEMO_PASSWORD})")
        width = max(len(email) for email, _ in DEMO_LOGINS)
        lines += [f"  {email:<{width}}  {role.value}" for email, role in DEMO_LOGINS]
        return "\n".join(lines)


# --- Organisation -------------------------------------------------------------------

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


class _ProgramSpec(NamedTuple):
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


_PROGRAMS: tuple[_ProgramSpec, ...] = (
    _ProgramSpec("Support within Housing", HOUSING, "302 Sherbourne St, Toronto", 60, date(2025, 4, 1),
                 subprograms=("Scattered Site", "Congregate Site"),
                 history=((date(2023, 4, 1), 45), (date(2025, 4, 1), 60))),
    _ProgramSpec("1Housing - 145 Queen", HOUSING, "145 Queen St E, Toronto", 48, date(2024, 9, 1),
                 history=((date(2022, 9, 1), 40), (date(2024, 9, 1), 48))),
    _ProgramSpec("Bridging Steps to Support", HOUSING, "1900 Eglinton Ave E, Scarborough", 30, date(2023, 1, 1)),
    _ProgramSpec("Housing Help Centre", HOUSING, "2 Carlton St, Toronto", 120, date(2022, 4, 1)),
    _ProgramSpec("Rent Bank - Scarborough", HOUSING, "3100 Kingston Rd, Scarborough", 25, date(2021, 4, 1),
                 status="inactive"),
    _ProgramSpec("Family Shelter - Dundas", SHELTER, "1220 Dundas St W, Toronto", 110, date(2025, 1, 15),
                 subprograms=("Families with Infants", "Large Families", "Motel Overflow"),
                 history=((date(2023, 11, 1), 90), (date(2025, 1, 15), 110))),
    _ProgramSpec("Men's Shelter - Jarvis", SHELTER, "339 Jarvis St, Toronto", 96, date(2024, 11, 1), serves="men",
                 history=((date(2022, 11, 1), 80), (date(2024, 11, 1), 96))),
    _ProgramSpec("Women's Shelter - Parkdale", SHELTER, "1415 Queen St W, Toronto", 40, date(2024, 6, 1),
                 serves="women", history=((date(2021, 6, 1), 32), (date(2024, 6, 1), 40))),
    _ProgramSpec("Youth Shelter - Etobicoke", SHELTER, "3561 Lake Shore Blvd W, Etobicoke", 32, date(2023, 3, 1),
                 serves="youth"),
    _ProgramSpec("Winter Respite - Scarborough", SHELTER, "2671 Eglinton Ave E, Scarborough", 80,
                 date(2024, 11, 15), status="inactive"),
    _ProgramSpec("Case Management - Mental Health", MENTAL_HEALTH, "700 Lawrence Ave W, North York", 75,
                 date(2025, 7, 1), subprograms=("Intensive Case Management", "Short-Term Case Management"),
                 history=((date(2023, 7, 1), 60), (date(2025, 7, 1), 75))),
    _ProgramSpec("Concurrent Disorders Program", MENTAL_HEALTH, "40 Wellesley St E, Toronto", 35, date(2024, 2, 1)),
    _ProgramSpec("Harm Reduction Outreach", MENTAL_HEALTH, "260 Spadina Ave, Toronto", 50, date(2022, 5, 1),
                 no_limit=True),
    _ProgramSpec("Youth Drop-In", FAMILY, "1652 Keele St, York", 40, date(2023, 9, 1), no_limit=True,
                 serves="youth"),
    _ProgramSpec("Somali Program", FAMILY, "1770 Albion Rd, Etobicoke", 40, date(2024, 1, 8),
                 subprograms=("Youth Mentoring", "Family Navigation")),
    _ProgramSpec("Parenting Support Circle", FAMILY, "3030 Lawrence Ave E, Scarborough", 24, date(2025, 9, 1),
                 history=((date(2022, 9, 1), 18), (date(2025, 9, 1), 24))),
    _ProgramSpec("Family Counselling - Mississauga", FAMILY, "90 Burnhamthorpe Rd W, Mississauga", 50,
                 date(2023, 5, 1)),
    _ProgramSpec("Newcomer Settlement Services", NEWCOMER, "2100 Finch Ave W, North York", 120, date(2025, 4, 1),
                 serves="newcomer", subprograms=("Arrival Support", "Housing Search"),
                 history=((date(2022, 4, 1), 100), (date(2025, 4, 1), 120))),
    _ProgramSpec("Refugee Claimant Support", NEWCOMER, "155 College St, Toronto", 45, date(2024, 3, 1),
                 serves="newcomer"),
    _ProgramSpec("Employment Bridge for Newcomers", NEWCOMER, "8 Nelson St W, Brampton", 60, date(2023, 10, 1),
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


def seed_demo(config, today: date | None = None) -> DemoSummary:
    """Fill the database with the demo organisation and clients, all or nothing.

    Safe to run again: a second run adds no rows. ``today`` anchors the client
    histories (the last six years up to it); it defaults to the current date.
    """
    if str(config.get("CCD_ENV", "")).strip().lower() == "production":
        raise DemoRefused(_REFUSAL)
    today = today or date.today()
    try:
        ensure_roles()
        ensure_default_options()
        departments = _ensure_departments()
        programs = _ensure_programs(departments)
        staff = _ensure_staff()
        db.session.flush()
        _ensure_links(staff, programs, departments)
        # Demo histories are made up like an import's: where a made-up enrollment starts while
        # a made-up restriction is in force, it is kept and flagged, as an import would do.
        with allow_restricted_enrollment(DEMO_OVERRIDE_REASON, flag_for_review=True):
            created = _seed_clients(programs, staff, today)
            _ensure_recipient()
            db.session.flush()
        summary = _summary(created)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return summary


def _summary(created: bool) -> DemoSummary:
    def count(model) -> int:
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))

    return DemoSummary(
        departments=count(Department), programs=count(Program), staff=count(Staff), clients=count(Client),
        enrollments=count(Enrollment), intakes=count(Intake), discharges=count(Discharge),
        restrictions=count(ServiceRestriction), created=created,
    )


def _by_name(model, name: str):
    return db.session.scalars(sa.select(model).where(sa.func.lower(model.name) == name.lower()).limit(1)).first()


def _staff_by_email(email: str) -> Staff | None:
    return db.session.scalars(sa.select(Staff).where(sa.func.lower(Staff.email) == email.lower()).limit(1)).first()


def _ensure_row(model, defaults: dict | None = None, **keys) -> None:
    """Add the link with these key values when it is missing; an existing one is left as it is."""
    exists = db.session.scalar(sa.select(sa.func.count()).select_from(model).filter_by(**keys))
    if not exists:
        db.session.add(model(**keys, **(defaults or {})))


def _ensure_departments() -> dict[str, Department]:
    departments = {}
    for name, description in _DEPARTMENTS:
        department = _by_name(Department, name)
        if department is None:
            department = Department(name=name, description=description)
            db.session.add(department)
        departments[name] = department
    return departments


def _ensure_programs(departments: dict[str, Department]) -> dict[str, Program]:
    """Programs by name; subprograms and capacity history only come with a new program."""
    programs = {}
    for spec in _PROGRAMS:
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
    local = ".".join(_ascii_word(part) for part in (first, last))
    return f"{local}@agency.demo"


def _ensure_staff() -> dict[str, Staff]:
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


def _ensure_links(staff: dict[str, Staff], programs: dict[str, Program],
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


def _ensure_recipient() -> None:
    name, email, frequency = _RECIPIENT
    exists = db.session.scalar(
        sa.select(sa.func.count()).select_from(EmailRecipient).where(sa.func.lower(EmailRecipient.email) == email)
    )
    if not exists:
        db.session.add(EmailRecipient(name=name, email=email, frequency=frequency))


# --- Clients ------------------------------------------------------------------------

_CITIES: dict[str, tuple[str, int, tuple[str, ...]]] = {
    # city: (postal code first letter, weight, streets)
    "Toronto": ("M", 45, ("Queen St E", "Dundas St W", "Jarvis St", "Sherbourne St", "Parliament St",
                          "Bloor St W", "Danforth Ave", "Gerrard St E", "Bathurst St", "Spadina Ave",
                          "Dufferin St", "Pape Ave", "College St", "King St W")),
    "Scarborough": ("M", 10, ("Kingston Rd", "Eglinton Ave E", "Markham Rd", "Lawrence Ave E",
                              "Victoria Park Ave", "Sheppard Ave E")),
    "North York": ("M", 9, ("Finch Ave W", "Jane St", "Keele St", "Wilson Ave", "Lawrence Ave W")),
    "Etobicoke": ("M", 6, ("Lake Shore Blvd W", "Islington Ave", "Albion Rd", "Kipling Ave")),
    "York": ("M", 3, ("Weston Rd", "Eglinton Ave W", "Rogers Rd")),
    "Mississauga": ("L", 9, ("Hurontario St", "Dundas St E", "Burnhamthorpe Rd W", "Eglinton Ave W")),
    "Brampton": ("L", 7, ("Main St N", "Queen St E", "Steeles Ave W", "Bovaird Dr E")),
    "Hamilton": ("L", 4, ("King St E", "Barton St E", "James St N", "Main St W")),
    "Oshawa": ("L", 3, ("Simcoe St N", "King St W", "Ritson Rd S")),
    "Markham": ("L", 2, ("Highway 7", "Steeles Ave E", "Kennedy Rd")),
    "Ottawa": ("K", 2, ("Rideau St", "Bank St", "Somerset St W")),
}
_AREA_CODES = ("416", "647", "437", "905", "289", "365")
_POSTAL_LETTERS = "ABCEGHJKLMNPRSTVWXYZ"

_COUNTRIES_BY_LANGUAGE: dict[str, tuple[str, ...]] = {
    "English": ("Jamaica", "United Kingdom", "Nigeria", "Ghana", "Guyana", "Trinidad and Tobago", "India"),
    "French": ("Haiti", "Democratic Republic of the Congo", "Cameroon", "France", "Côte d'Ivoire"),
    "Arabic": ("Syria", "Iraq", "Sudan", "Lebanon", "Egypt"),
    "Somali": ("Somalia",),
    "Spanish": ("Mexico", "Colombia", "Venezuela", "El Salvador"),
    "Tamil": ("Sri Lanka", "India"),
    "Mandarin": ("China", "Taiwan"),
    "Cantonese": ("Hong Kong", "China"),
    "Punjabi": ("India", "Pakistan"),
    "Urdu": ("Pakistan",),
    "Tagalog": ("Philippines",),
    "Portuguese": ("Portugal", "Brazil", "Angola"),
    "Farsi": ("Iran", "Afghanistan"),
    "Tigrinya": ("Eritrea",),
    "Amharic": ("Ethiopia",),
    "Other": ("Ukraine", "Vietnam", "Nepal", "Turkey", "Poland"),
}
_INDIGENOUS_LANGUAGES = ("Ojibwe", "Cree")

_RELATIONSHIPS = ("Mother", "Father", "Sister", "Brother", "Friend", "Partner", "Spouse", "Daughter", "Son",
                  "Aunt", "Cousin", "Case worker")
_NICKNAMES = ("Red", "Shorty", "Bear", "Lucky", "Slim", "Doc", "Sunny", "Mack", "Smokey", "Ace", "Tiny", "Junior")
_NO_CARD_REASONS = ("Lost", "Stolen", "Never had one", "Expired, renewal pending", "Out of province")
_COMMENTS = ("Prefers morning appointments.", "Uses a walker; ground floor only.",
             "Best reached through drop-in staff.", "Has a service dog.", "Works evenings.",
             "Asked that mail go to the program office.")
_RESTRICTION_REASONS = ("Repeated incidents on site.", "Assault on another client.", "Threats made to staff.",
                        "Drug dealing on the premises.", "Damage to a bedroom and common area.",
                        "Harassment of staff after warnings.")

_SOURCE_WEIGHTS = {"SMIS": 40, "EMHware": 25, "FFAI": 15, "CCD": 20}

# Extended fields a demo client may have: key -> generator of a value of the declared type.
_EXTENDED = {
    "household_size": lambda rng: rng.choices([1, 2, 3, 4, 5, 6], [45, 20, 15, 10, 6, 4])[0],
    "chronically_homeless": lambda rng: rng.random() < 0.35,
    "income_source": lambda rng: rng.choice(["Ontario Works", "ODSP", "Employment", "CPP/OAS", "EI", "None"]),
    "veteran_status": lambda rng: rng.choices(["No", "Yes – Canadian Armed Forces", "Prefer not to answer"],
                                              [90, 5, 5])[0],
    "num_bednights_current_stay": lambda rng: rng.randint(1, 400),
    "length_homeless_3yrs": lambda rng: rng.randint(0, 36),
    "pet_owner": lambda rng: rng.random() < 0.15,
    "allergies": lambda rng: rng.choice(["Peanuts", "Penicillin", "Shellfish", "Latex", "None known"]),
    "highest_level_education": lambda rng: rng.choice(["Some high school", "High school", "College",
                                                       "University", "Unknown"]),
    "lhin": lambda rng: rng.choice(["Toronto Central", "Central", "Central East", "Central West",
                                    "Mississauga Halton"]),
    "mental_health_support": lambda rng: rng.random() < 0.4,
    "limited_mobility": lambda rng: rng.random() < 0.1,
}
_EXTENDED_TYPES = {"int": int, "bool": bool, "text": str}


def _pick(rng: random.Random, key: str, weights: dict[str, float] | None = None, none: float = 0.0):
    """One value of option list ``key`` (unlisted values weigh 1), or None with probability ``none``."""
    if none and rng.random() < none:
        return None
    values = DEFAULT_OPTIONS[key]
    weights = weights or {}
    unknown = set(weights) - set(values)
    if unknown:
        raise ValueError(f"{sorted(unknown)} are not in the {key!r} option list.")
    return rng.choices(values, [weights.get(value, 1) for value in values])[0]


def _pick_many(rng: random.Random, key: str, count: int, weights: dict[str, float] | None = None) -> list[str]:
    chosen: list[str] = []
    while len(chosen) < count:
        value = _pick(rng, key, weights)
        if value not in chosen:
            chosen.append(value)
    return chosen


def _ascii_word(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def _phone(rng: random.Random) -> str:
    return f"{rng.choice(_AREA_CODES)}-555-{rng.randint(100, 199):04d}"


def _postal_code(rng: random.Random, first_letter: str) -> str:
    letters = _POSTAL_LETTERS
    return (f"{first_letter}{rng.randint(0, 9)}{rng.choice(letters)} "
            f"{rng.randint(0, 9)}{rng.choice(letters)}{rng.randint(0, 9)}")


def _shift_years(day: date, years: int) -> date:
    """The same calendar day ``years`` later (earlier when negative); 29 February becomes the 28th."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


class _Person(NamedTuple):
    client: Client
    gender: str | None
    newcomer: bool


def _languages(rng: random.Random, locale: str) -> tuple[list[str], str, str | None, bool]:
    """Spoken languages, the preferred one, the official language and whether an interpreter is needed."""
    if locale == "fr_CA":
        primary = rng.choices(["French", "English"], [80, 20])[0]
    else:
        primary = _pick(rng, "language", {"English": 160, "French": 6, "Arabic": 4, "Somali": 4, "Spanish": 4,
                                          "Tamil": 3, "Mandarin": 3, "Cantonese": 2, "Punjabi": 3, "Urdu": 2,
                                          "Tagalog": 2, "Portuguese": 2, "Farsi": 2, "Tigrinya": 2,
                                          "Amharic": 2, "Ojibwe": 1, "Cree": 1, "Other": 2})
    spoken = [primary]
    count = rng.choices([1, 2, 3], [60, 30, 10])[0]
    if count > 1 and primary != "English" and rng.random() < 0.7:
        spoken.append("English")
    while len(spoken) < count:
        extra = _pick(rng, "language", {"English": 20, "French": 12})
        if extra not in spoken:
            spoken.append(extra)
    preferred = primary if rng.random() < 0.85 else rng.choice(spoken)
    if preferred == "French" or (preferred != "English" and "French" in spoken and "English" not in spoken):
        official = "French"
    elif "English" in spoken:
        official = "English"
    elif "French" in spoken:
        official = "French"
    else:
        official = "Neither"
    if rng.random() < 0.05:
        official = None
    interpreter = official == "Neither" or (preferred not in ("English", "French") and rng.random() < 0.4)
    return spoken, preferred, official, interpreter


def _gender_and_pronoun(rng: random.Random) -> tuple[str | None, str | None]:
    gender = _pick(rng, "gender", {"Man": 48, "Woman": 40, "Non-binary": 2.5, "Two-Spirit": 1,
                                   "Transgender woman": 1, "Transgender man": 1, "Gender diverse": 1,
                                   "Prefer not to answer": 2, "Unknown": 2}, none=0.04)
    if rng.random() < 0.25:
        return gender, None
    if gender in ("Woman", "Transgender woman"):
        return gender, "she/her"
    if gender in ("Man", "Transgender man"):
        return gender, "he/him"
    if gender in ("Non-binary", "Gender diverse", "Two-Spirit"):
        return gender, "ze/zir" if rng.random() < 0.1 else "they/them"
    return gender, "Prefer not to answer" if rng.random() < 0.5 else None


def _make_client(rng: random.Random, fake: Faker, number: int, today: date,
                 used_source_ids: set[tuple[str, str]]) -> _Person:
    locale = "fr_CA" if rng.random() < 0.3 else "en_CA"
    names = fake[locale]
    gender, pronoun = _gender_and_pronoun(rng)
    if gender in ("Woman", "Transgender woman"):
        first_name = names.first_name_female()
    elif gender in ("Man", "Transgender man"):
        first_name = names.first_name_male()
    else:
        first_name = names.first_name()
    last_name = names.last_name()

    dob = None
    if rng.random() >= 0.03:
        age = rng.uniform(16, 25) if rng.random() < 0.15 else rng.triangular(18, 85.9, 38)
        age_days = int(age * 365.25)
        dob = today - timedelta(days=age_days)

    spoken, preferred, official, interpreter = _languages(rng, locale)
    primary = spoken[0]
    if primary in _INDIGENOUS_LANGUAGES:
        country = "Canada"
    elif primary == "English":
        country = "Canada" if rng.random() < 0.85 else rng.choice(_COUNTRIES_BY_LANGUAGE["English"])
    elif primary == "French":
        country = "Canada" if rng.random() < 0.7 else rng.choice(_COUNTRIES_BY_LANGUAGE["French"])
    else:
        country = rng.choice(_COUNTRIES_BY_LANGUAGE[primary])
    newcomer = country != "Canada"
    if newcomer:
        citizenship = _pick(rng, "citizenship_status", {
            "Canadian citizen": 30, "Permanent resident": 30, "Refugee": 10, "Refugee claimant": 12,
            "Temporary resident": 3, "Work permit": 5, "Study permit": 3, "Undocumented": 2,
            "Prefer not to answer": 2, "Unknown": 3}, none=0.05)
    else:
        citizenship = ("Canadian citizen" if rng.random() < 0.9
                       else rng.choice(["Prefer not to answer", "Unknown", None]))
    if primary in _INDIGENOUS_LANGUAGES:
        indigenous = "First Nations"
    else:
        indigenous = _pick(rng, "indigenous_status", {"First Nations": 5, "Métis": 2, "Inuit": 0.5,
                                                      "Non-Indigenous": 75, "Prefer not to answer": 3,
                                                      "Unknown": 5}, none=0.1)
    if newcomer:
        indigenous = None if indigenous in ("First Nations", "Métis", "Inuit") else indigenous

    city = rng.choices(list(_CITIES), [weight for _, weight, _ in _CITIES.values()])[0]
    postal_letter, _, streets = _CITIES[city]
    has_address = rng.random() < 0.85
    has_phone = rng.random() < 0.85
    has_email = rng.random() < 0.4
    has_card = rng.random() < 0.6
    has_contact = rng.random() < 0.5

    client = Client(
        id=uuid.uuid4(),
        first_name=first_name,
        middle_name=names.first_name() if rng.random() < 0.2 else None,
        last_name=last_name,
        preferred_name=(names.first_name_female() if gender in ("Woman", "Transgender woman")
                        else names.first_name_male() if gender in ("Man", "Transgender man")
                        else names.first_name()) if rng.random() < 0.15 else None,
        alias=rng.choice(_NICKNAMES) if rng.random() < 0.1 else None,
        dob=dob,
        gender=gender,
        pronoun=pronoun,
        sexual_orientation=_pick(rng, "sexual_orientation", {
            "Heterosexual": 70, "Gay": 4, "Lesbian": 3, "Bisexual": 5, "Pansexual": 1, "Asexual": 1,
            "Queer": 2, "Two-Spirit": 0.5, "Questioning": 1, "Prefer not to answer": 6, "Unknown": 6}, none=0.1),
        citizenship_status=citizenship,
        indigenous_status=indigenous,
        country_of_birth=country if rng.random() < 0.9 else None,
        marital_status=_pick(rng, "marital_status", {"Single": 55, "Married": 12, "Common-law": 8,
                                                     "Separated": 9, "Divorced": 9, "Widowed": 3,
                                                     "Unknown": 4}, none=0.08),
        languages_spoken=spoken,
        preferred_language=preferred,
        official_language=official,
        interpreter_needed=interpreter,
        ethnicity=_pick_many(rng, "ethnicity", rng.choices([0, 1, 2], [25, 60, 15])[0]),
        race=_pick(rng, "race", {"Black": 14, "East Asian": 8, "Indigenous": 5, "Latino": 4, "Middle Eastern": 5,
                                 "South Asian": 12, "Southeast Asian": 5, "White": 35,
                                 "Another race category": 3, "Prefer not to answer": 4, "Unknown": 5}, none=0.1),
        phone=_phone(rng) if has_phone else None,
        phone_alt=_phone(rng) if has_phone and rng.random() < 0.1 else None,
        email=(f"{_ascii_word(first_name)}.{_ascii_word(last_name)}{rng.randint(1, 99)}@"
               f"{rng.choice(('example.com', 'example.net', 'example.org'))}") if has_email else None,
        address_line1=f"{rng.randint(1, 2999)} {rng.choice(streets)}" if has_address else None,
        address_line2=f"Unit {rng.randint(1, 1800)}" if has_address and rng.random() < 0.3 else None,
        city=city if has_address else None,
        province="ON" if has_address else None,
        postal_code=_postal_code(rng, postal_letter) if has_address else None,
        permission_to_phone=has_phone and rng.random() < 0.7,
        permission_to_email=has_email and rng.random() < 0.5,
        emergency_contact_name=f"{names.first_name()} {names.last_name()}" if has_contact else None,
        emergency_contact_relationship=rng.choice(_RELATIONSHIPS) if has_contact else None,
        emergency_contact_phone=_phone(rng) if has_contact else None,
        health_card_number=str(rng.randint(1_000_000_000, 9_999_999_999)) if has_card else None,
        health_card_version=(rng.choice("ABCDEFGHJKLMNPRSTVWXYZ") + rng.choice("ABCDEFGHJKLMNPRSTVWXYZ")
                             if has_card else None),
        health_card_exp_date=today + timedelta(days=rng.randint(-180, 5 * 365)) if has_card else None,
        health_card_issuing_province="ON" if has_card else None,
        no_health_card_reason=rng.choice(_NO_CARD_REASONS) if not has_card and rng.random() < 0.5 else None,
        source_system=rng.choices(list(_SOURCE_WEIGHTS), list(_SOURCE_WEIGHTS.values()))[0],
        uid_external=f"{UID_PREFIX}{number:05d}",
        is_inactive=rng.random() < 0.05,
        comments=rng.choice(_COMMENTS) if rng.random() < 0.05 else None,
        extended=_extended(rng) if rng.random() < 0.2 else {},
    )
    if client.source_system in SOURCE_SYSTEMS:
        client.source_ids = [ClientSourceId(source_system=client.source_system,
                                            source_client_id=_source_id(rng, client.source_system, used_source_ids))]
    return _Person(client, gender, newcomer)


def _extended(rng: random.Random) -> dict:
    values = {}
    for key in rng.sample(sorted(_EXTENDED), rng.randint(2, 4)):
        value = _EXTENDED[key](rng)
        if not isinstance(value, _EXTENDED_TYPES[EXTENDED_FIELDS[key]]):
            raise TypeError(f"Demo value for {key!r} is not a {EXTENDED_FIELDS[key]}.")
        values[key] = value
    return values


def _source_id(rng: random.Random, source: str, used: set[tuple[str, str]]) -> str:
    """An id in the shape the source system uses, unique within that source (existing rows included)."""
    while True:
        if source == "SMIS":
            value = str(rng.randint(100000, 999999))
        elif source == "EMHware":
            value = f"CLI{rng.randint(1, 999999):06d}"
        else:
            value = f"FF-{rng.randint(10000, 99999)}"
        if (source, value) not in used:
            used.add((source, value))
            return value


def _serves(program_spec: _ProgramSpec, person: _Person, start: date) -> bool:
    dob = person.client.dob
    if program_spec.serves == "youth":
        return dob is not None and _shift_years(start, -25) < dob
    if program_spec.serves == "women":
        return person.gender in ("Woman", "Transgender woman")
    if program_spec.serves == "men":
        return person.gender in ("Man", "Transgender man")
    if program_spec.serves == "newcomer":
        return person.newcomer
    return True


def _program_weight(spec: _ProgramSpec) -> int:
    """Bigger programs see more clients; a program for a particular group is where that group goes first."""
    return (60 if spec.no_limit else spec.capacity) * (3 if spec.serves else 1)


def _make_history(rng: random.Random, person: _Person, programs: list[tuple[_ProgramSpec, Program]],
                  today: date) -> list:
    """Enrollments with their intakes and discharges; never two overlapping stays in one program."""
    client = person.client
    earliest = _shift_years(today, -HISTORY_YEARS)
    if client.dob is not None:
        earliest = max(earliest, _shift_years(client.dob, 16))
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
                referral_source=_pick(rng, "referral_source", {"Self": 20, "Self, Family or Friend": 10,
                                                               "Hospital": 10, "Shelter": 12,
                                                               "Community agency": 15, "Central Intake": 20}),
                housing_status=_pick(rng, "housing_status", {"Homeless – sheltered": 30,
                                                             "Homeless – unsheltered": 15,
                                                             "Precariously housed": 20, "Housed": 15,
                                                             "Transitional housing": 10, "Unknown": 10}),
            ))
            if end is not None:
                if status == "completed":
                    reason = rng.choice(["Completed program", "Moved to permanent housing", "Moved to another program"])
                else:
                    reason = _pick(rng, "discharge_reason", {
                        "Completed program": 0, "Moved to permanent housing": 0, "Moved to another program": 0,
                        "Left voluntarily": 30, "Service restriction": 10, "Lost contact": 30,
                        "Hospitalised": 10, "Incarcerated": 8, "Deceased": 0, "Other": 12})
                rows.append(Discharge(client_id=client.id, program_id=program.id, discharge_date=end,
                                      reason=reason))
            break
    return rows


def _make_restriction(rng: random.Random, kind: int, person: _Person, enrolled: list[Program],
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
    behaviours = _pick_many(rng, "behaviour", rng.choices([0, 1, 2], [20, 50, 30])[0])
    bill_168 = rng.random() < 0.25
    if bill_168 and "Threatening staff" not in behaviours:
        behaviours.append("Threatening staff")
    return ServiceRestriction(
        client_id=person.client.id, scope="program" if program else "org",
        program_id=program.id if program else None,
        restriction_types=_pick_many(rng, "restriction_type", rng.choices([1, 2], [60, 40])[0]),
        behaviours=behaviours, is_bill_168=bill_168, is_no_trespass=rng.random() < 0.25,
        start_date=start, end_date=end, is_indefinite=indefinite,
        reason=rng.choice(_RESTRICTION_REASONS),
        entered_by_id=rng.choice(staff).id,
        affected_staff_id=rng.choice(staff).id if bill_168 else None,
    )


def _seed_clients(programs: dict[str, Program], staff: dict[str, Staff], today: date) -> bool:
    """The demo clients and their histories, once: False when demo clients already exist."""
    exists = db.session.scalar(
        sa.select(sa.func.count()).select_from(Client).where(Client.uid_external.like(f"{UID_PREFIX}%"))
    )
    if exists:
        return False
    rng = random.Random(SEED)
    fake = Faker(["en_CA", "fr_CA"])
    fake.seed_instance(SEED)
    used = {(source, value) for source, value in db.session.execute(
        sa.select(ClientSourceId.source_system, ClientSourceId.source_client_id))}
    open_programs = [(spec, programs[spec.name]) for spec in _PROGRAMS
                     if programs[spec.name].status == "active" and not programs[spec.name].is_archived]
    people = [_make_client(rng, fake, number, today, used) for number in range(1, CLIENT_COUNT + 1)]
    db.session.add_all(person.client for person in people)

    rows = []
    enrolled: dict[uuid.UUID, list[Program]] = {}
    by_id = {program.id: program for _, program in open_programs}
    for person in people:
        history = _make_history(rng, person, open_programs, today)
        rows += history
        enrolled[person.client.id] = list({row.program_id: by_id[row.program_id]
                                           for row in history if isinstance(row, Enrollment)}.values())

    entering = sorted((member for email, member in staff.items() if not email.startswith(("admin@", "analyst@"))),
                      key=lambda member: member.email)
    restricted = rng.sample(people, max(1, CLIENT_COUNT // 20))
    rows += [_make_restriction(rng, index % 5, person, enrolled[person.client.id], entering, today)
             for index, person in enumerate(restricted)]
    db.session.add_all(rows)
    return True
