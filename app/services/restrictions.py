"""Service restrictions at work: they stop enrollments, and anyone at the door can check them.

Enrollments are checked by the session itself (``before_flush``), so the admin form, an
approved proposal, an import, a CLI command or any future path is refused the same way:
an enrollment whose start date falls while an org-wide restriction, or a restriction for
that program, is in force is not written, and the message names the restriction. A
Coordinator or Administrator may enroll anyway by giving a reason inside
``allow_restricted_enrollment(reason)``; the reason is kept on the enrollment and an
"override" row goes into the audit trail. Imports record what a source system already
did and flag each such enrollment for a Coordinator to look at: ORM writes with
``flag_for_review=True``, the importer's bulk inserts (which no session event sees) by
checking each batch with ``restrictions_for_enrollments`` and auditing with ``override_diff``.

The door check (``check_at_the_door``) answers "is this person restricted here?" with only
the fields needed at the door, and records every question asked in the audit trail.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from typing import Iterator

import sqlalchemy as sa
from flask import has_request_context
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.orm import Session, joinedload

from app import audit
from app.guard import WriteNotPermitted
from app.models import Client, Enrollment, Program, ServiceRestriction
from app.permissions import may_override_restriction
from app.services import access_log
from app.services.client_search import identifying_condition
from app.services.scope import visible_program_ids

# Fields whose change makes an existing enrollment a new admission, checked like a new one.
ADMISSION_FIELDS = ("client_id", "program_id", "start_date", "client", "program")
OVERRIDE_HINT = "A Coordinator or Administrator may enroll them anyway by giving a reason."


class EnrollmentRestricted(WriteNotPermitted):
    """An enrollment refused because a service restriction is in force."""

    def __init__(self, message: str, restrictions: list[ServiceRestriction]):
        super().__init__(message)
        self.restrictions = restrictions


@dataclass(frozen=True)
class _Override:
    reason: str
    flag_for_review: bool


_override: ContextVar[_Override | None] = ContextVar("ccd_restriction_override", default=None)


@contextmanager
def allow_restricted_enrollment(reason: str, *, flag_for_review: bool = False) -> Iterator[None]:
    """Enrollments written inside are saved even when a restriction is in force.

    Each one so saved keeps ``reason`` in ``override_reason``, gets an "override" audit
    row naming the restrictions, and with ``flag_for_review`` is marked for a Coordinator
    to look at. In a request only a Coordinator or Administrator may override; outside one
    (imports, CLI, tasks) the system acts on the source system's record.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("Give the reason for enrolling despite the restriction.")
    token = _override.set(_Override(reason, flag_for_review))
    try:
        yield
    finally:
        _override.reset(token)


# -- which restrictions apply -----------------------------------------------------------------
def in_force_on(day: date):
    """A restriction is in force on ``day`` when it is not archived, has started and has not ended."""
    r = ServiceRestriction
    return sa.and_(r.is_archived.is_(False), r.start_date <= day, sa.or_(r.end_date.is_(None), r.end_date >= day))


RESTRICTION_STATUSES = ("in_force", "upcoming", "ended", "archived")


def status_condition(status: str, day: date):
    """The restrictions in ``status`` on ``day``: in force (``in_force_on``), not started yet, ended, archived."""
    r = ServiceRestriction
    live = r.is_archived.is_(False)
    return {
        "in_force": in_force_on(day),
        "upcoming": sa.and_(live, r.start_date > day),
        "ended": sa.and_(live, r.end_date < day),
        "archived": r.is_archived.is_(True),
    }[status]


def status_on(restriction: ServiceRestriction, day: date) -> str:
    """One restriction's status on ``day``, by the same rules as ``status_condition``."""
    if restriction.is_archived:
        return "archived"
    if restriction.start_date > day:
        return "upcoming"
    if restriction.end_date is not None and restriction.end_date < day:
        return "ended"
    return "in_force"


def _current(enrollment: Enrollment, column: str, relation: str):
    """(related object or None, its id) as the flush will write them.

    A relationship set in this flush wins over its foreign key column, which SQLAlchemy
    only copies across during the flush; otherwise the column, then a loaded relationship.
    """
    state = sa.inspect(enrollment)
    related = state.dict.get(relation)
    if related is not None and state.attrs[relation].history.has_changes():
        return related, related.id
    value = getattr(enrollment, column)
    if value is None and related is not None:
        return related, related.id
    return (related if related is not None and related.id == value else None), value


def _covers(restriction: ServiceRestriction, client, client_id, program, program_id, day: date) -> bool:
    """The query's test, for a restriction added in the same flush (not in the database yet)."""
    same_client = (client is not None and restriction.client is client) or \
        (client_id is not None and restriction.client_id == client_id)
    same_program = restriction.scope == "org" or \
        (program is not None and restriction.program is program) or \
        (program_id is not None and restriction.program_id == program_id)
    in_force = not restriction.is_archived and restriction.start_date is not None \
        and restriction.start_date <= day and (restriction.end_date is None or restriction.end_date >= day)
    return same_client and same_program and in_force


def blocking_restrictions(session: Session, enrollment: Enrollment) -> list[ServiceRestriction]:
    """Restrictions in force on the enrollment's start date, org-wide or for its program."""
    with session.no_autoflush:
        client, client_id = _current(enrollment, "client_id", "client")
        program, program_id = _current(enrollment, "program_id", "program")
        day = enrollment.start_date
        if day is None or (client is None and client_id is None):
            return []
        found: list[ServiceRestriction] = []
        if client_id is not None:
            r = ServiceRestriction
            applies = r.scope == "org" if program_id is None else sa.or_(r.scope == "org", r.program_id == program_id)
            found = list(session.scalars(
                sa.select(r).where(r.client_id == client_id, applies, in_force_on(day)).order_by(r.start_date)))
    found += [obj for obj in session.new if isinstance(obj, ServiceRestriction) and obj not in found
              and _covers(obj, client, client_id, program, program_id, day)]
    return found


def describe(restriction: ServiceRestriction) -> str:
    """One line naming a restriction: where, from when to when, and its flags."""
    where = "an organisation-wide restriction" if restriction.scope == "org" else \
        f"a restriction at {restriction.program.name if restriction.program is not None else 'the program'}"
    until = f"to {restriction.end_date:%Y-%m-%d}" if restriction.end_date else "with no end date"
    flags = [name for name, on in (("Bill 168", restriction.is_bill_168), ("no trespass", restriction.is_no_trespass))
             if on]
    return f"{where} from {restriction.start_date:%Y-%m-%d} {until}" + (f" ({', '.join(flags)})" if flags else "")


def _name_of(session: Session, enrollment: Enrollment) -> tuple[str, str]:
    with session.no_autoflush:
        person, client_id = _current(enrollment, "client_id", "client")
        program, program_id = _current(enrollment, "program_id", "program")
        person = person or (session.get(Client, client_id) if client_id else None)
        program = program or (session.get(Program, program_id) if program_id else None)
    return (person.full_name if person is not None else "This client",
            program.name if program is not None else "this program")


def refusal_message(session: Session, enrollment: Enrollment, restrictions: list[ServiceRestriction]) -> str:
    person, program = _name_of(session, enrollment)
    reasons = "; ".join(describe(r) for r in restrictions)
    return (f"Not enrolled: {person} cannot be enrolled in {program} from {enrollment.start_date:%Y-%m-%d} "
            f"because of {reasons}. {OVERRIDE_HINT}")


# -- the session check ------------------------------------------------------------------------
def _acting_roles() -> frozenset[str] | None:
    """The signed-in person's roles, or None when the system acts (no request)."""
    if not has_request_context():
        return None
    user = current_user._get_current_object() if current_user else None
    if user is None or not user.is_authenticated:
        return frozenset()
    return user.role_names


def _is_new_admission(enrollment: Enrollment) -> bool:
    state = sa.inspect(enrollment)
    if any(state.attrs[key].history.has_changes() for key in ADMISSION_FIELDS):
        return True
    archived = state.attrs.is_archived.history
    return bool(archived.deleted) and bool(archived.deleted[0]) and not enrollment.is_archived


def _enrollments_to_check(session: Session) -> list[Enrollment]:
    new = [obj for obj in session.new if isinstance(obj, Enrollment) and not obj.is_archived]
    changed = [obj for obj in session.dirty if isinstance(obj, Enrollment) and not obj.is_archived
               and session.is_modified(obj) and _is_new_admission(obj)]
    return new + changed


def _check_enrollments(session: Session, flush_context, instances) -> None:
    override = _override.get()
    for enrollment in _enrollments_to_check(session):
        restrictions = blocking_restrictions(session, enrollment)
        if not restrictions:
            continue
        if override is None:
            raise EnrollmentRestricted(refusal_message(session, enrollment, restrictions), restrictions)
        roles = _acting_roles()
        if roles is not None and not may_override_restriction(roles):
            person, program = _name_of(session, enrollment)
            raise EnrollmentRestricted(
                f"Not enrolled: only a Coordinator or Administrator may enroll {person} in {program} despite "
                f"{'; '.join(describe(r) for r in restrictions)}.", restrictions)
        _record_override(session, enrollment, restrictions, override)


def override_diff(reason: str, restrictions, flagged_for_review: bool) -> dict:
    """What an "override" audit row says: the reason and the restrictions enrolled despite."""
    return {"reason": reason, "restrictions": [{"id": r.id, "summary": describe(r)} for r in restrictions],
            "flagged_for_review": flagged_for_review}


def restrictions_for_enrollments(session: Session, enrollments: list[dict], client_filter=None) -> dict:
    """{enrollment id: [restrictions in force on its start date, org-wide or for its program]} for rows
    written without the ORM (an import's bulk insert), which the session check cannot see.

    One query for the whole batch; ``client_filter(column, ids)`` may replace ``column IN ids``.
    Enrollments no restriction covers are left out.
    """
    client_ids = sorted({row["client_id"] for row in enrollments if row.get("start_date")}, key=str)
    if not client_ids:
        return {}
    r = ServiceRestriction
    restricts = client_filter(r.client_id, client_ids) if client_filter else r.client_id.in_(client_ids)
    by_client: dict = {}
    for restriction in session.scalars(sa.select(r).where(restricts, r.is_archived.is_(False))
                                       .options(joinedload(r.program)).order_by(r.start_date, r.id)):
        by_client.setdefault(restriction.client_id, []).append(restriction)
    found = {}
    for row in enrollments:
        day = row.get("start_date")
        covering = [x for x in by_client.get(row["client_id"], ())
                    if (x.scope == "org" or x.program_id == row["program_id"]) and x.start_date <= day
                    and (x.end_date is None or x.end_date >= day)] if day else []
        if covering:
            found[row["id"]] = covering
    return found


def _record_override(session: Session, enrollment: Enrollment, restrictions, override: _Override) -> None:
    if enrollment.id is None:
        enrollment.id = uuid.uuid4()
    enrollment.override_reason = override.reason
    if override.flag_for_review:
        enrollment.flagged_for_review = True
    client, client_id = _current(enrollment, "client_id", "client")
    if client is not None and client_id is None:
        client.id = client_id = uuid.uuid4()
    audit.record(session, Enrollment.__tablename__, enrollment.id, "override",
                 override_diff(override.reason, restrictions, override.flag_for_review), client_id=client_id)


def install() -> None:
    """Attach the enrollment check to every SQLAlchemy session (idempotent)."""
    if not event.contains(Session, "before_flush", _check_enrollments):
        event.listen(Session, "before_flush", _check_enrollments)


# -- the door check ---------------------------------------------------------------------------
@dataclass(frozen=True)
class DoorAnswer:
    """All that the door check tells about one restriction: nothing else of the record leaves."""

    first_name: str
    last_name: str
    scope: str
    program: str | None
    start_date: date
    end_date: date | None
    is_indefinite: bool
    is_bill_168: bool
    is_no_trespass: bool

    @property
    def scope_label(self) -> str:
        return "Organisation-wide" if self.scope == "org" else "Program"


def check_at_the_door(session: Session, staff, *, last_name: str | None = None, dob: date | None = None,
                      first_name: str | None = None, search: str | None = None,
                      today: date | None = None) -> list[DoorAnswer]:
    """Restrictions in force today on the person asked about: by name and birth date, or by anything else
    the client search reads (a birth date in any form, phone, email, postal code, source id), typos forgiven.

    The question must name one person (client_search.identifying_condition); otherwise
    ValueError. Shown: org-wide restrictions, and program restrictions for the programs
    ``staff`` may see. Nobody's record is opened, and a person with no such restriction is
    not mentioned at all, so the answer says nothing about who else is in CCD. The question
    and what was shown are recorded in the audit trail, and the clients shown in the access
    log (the caller commits).
    """
    last = (last_name or "").strip()
    first = (first_name or "").strip()
    other = (search or "").strip()
    text = " ".join(part for part in (first, last, dob.isoformat() if dob else "", other) if part)
    today = today or date.today()
    r, c = ServiceRestriction, Client
    conditions = [identifying_condition(session, session.query(c), text), in_force_on(today)]
    programs = visible_program_ids(staff)
    if programs is not None:
        conditions.append(sa.or_(r.scope == "org", r.program_id.in_(programs)))
    rows = session.execute(
        sa.select(r.id, c.first_name, c.last_name, r.scope, Program.name, r.start_date, r.end_date,
                  r.is_indefinite, r.is_bill_168, r.is_no_trespass, r.client_id)
        .join(c, r.client_id == c.id).outerjoin(Program, r.program_id == Program.id)
        .where(*conditions).order_by(c.last_name, c.first_name, r.start_date)
    ).all()
    question = {"first_name": first or None, "last_name": last or None, "dob": dob}
    if other:
        question["search"] = other
    audit.record(session, ServiceRestriction.__tablename__, None, "check", {
        "query": question, "restrictions_shown": [row[0] for row in rows],
    })
    access_log.record_reads("restriction_check", [row[-1] for row in rows], session=session)
    return [DoorAnswer(*row[1:-1]) for row in rows]
