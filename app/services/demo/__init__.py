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
import uuid
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from faker import Faker

from app.extensions import db
from app.models import (
    Client, ClientSourceId, Department, Discharge, Enrollment, Intake, Program, ServiceRestriction, Staff,
)
from app.services.accounts import ensure_roles
from app.services.demo import organisation
from app.services.demo.clients import UID_PREFIX, make_client
from app.services.demo.histories import make_history, make_restriction
from app.services.demo.organisation import DEMO_LOGINS, DEMO_PASSWORD, MANAGER_PROGRAMS, PROGRAMS, STAFF_PROGRAMS
from app.services.options import ensure_default_options
from app.services.restrictions import allow_restricted_enrollment

__all__ = ["CLIENT_COUNT", "DEMO_LOGINS", "DEMO_PASSWORD", "MANAGER_PROGRAMS", "STAFF_PROGRAMS", "DemoRefused",
           "DemoSummary", "seed_demo"]

SEED = 2026
CLIENT_COUNT = 500
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
        departments = organisation.ensure_departments()
        programs = organisation.ensure_programs(departments)
        staff = organisation.ensure_staff()
        db.session.flush()
        organisation.ensure_links(staff, programs, departments)
        # Demo histories are made up like an import's: where a made-up enrollment starts while
        # a made-up restriction is in force, it is kept and flagged, as an import would do.
        with allow_restricted_enrollment(DEMO_OVERRIDE_REASON, flag_for_review=True):
            created = _seed_clients(programs, staff, today)
            organisation.ensure_recipient()
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
    open_programs = [(spec, programs[spec.name]) for spec in PROGRAMS
                     if programs[spec.name].status == "active" and not programs[spec.name].is_archived]
    people = [make_client(rng, fake, number, today, used) for number in range(1, CLIENT_COUNT + 1)]
    db.session.add_all(person.client for person in people)

    rows = []
    enrolled: dict[uuid.UUID, list[Program]] = {}
    by_id = {program.id: program for _, program in open_programs}
    for person in people:
        history = make_history(rng, person, open_programs, today)
        rows += history
        enrolled[person.client.id] = list({row.program_id: by_id[row.program_id]
                                           for row in history if isinstance(row, Enrollment)}.values())

    entering = sorted((member for email, member in staff.items() if not email.startswith(("admin@", "analyst@"))),
                      key=lambda member: member.email)
    restricted = rng.sample(people, max(1, CLIENT_COUNT // 20))
    rows += [make_restriction(rng, index % 5, person, enrolled[person.client.id], entering, today)
             for index, person in enumerate(restricted)]
    db.session.add_all(rows)
    return True
