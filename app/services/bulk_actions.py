"""Bulk actions on selected rows: enroll clients, end enrollments, move programs, assign a manager.

Each selected row goes through the same rules as a single save of it: the rule table
decides whether the person writes (Coordinators, Administrators) or proposes (Managers,
Leaders: app/services/approvals.py), the row must be in the person's scope
(app/services/scope.py), and every write is audited by the session (app/audit.py) and
checked by the session guard and the restriction check. A row whose writes are refused
(out of scope, a broken database rule, a service restriction, already done) is rolled
back to its own savepoint and reported with the reason; the other rows go ahead. Nothing
of a refused row is written, and a row that needs two writes (an enrollment ended and its
discharge recorded) gets both or neither.

Ids arrive as text (Flask-Admin's action ids); they are read here, so every caller gets
the same answer for an id that is not one. The caller commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Callable, Iterable

import sqlalchemy as sa
from sqlalchemy.exc import DataError, IntegrityError

from app import audit
from app.constraints import explain
from app.extensions import db
from app.guard import WriteNotPermitted
from app.labels import entity_label
from app.models import Client, Department, Enrollment, Program, ProgramStaff, Staff
from app.permissions import Grant, Role, grant
from app.services import approvals, scope

NOT_FOUND = "{count} selected row(s) were not found, or are not in the programs you work with."
ENDED_STATUS = "discharged"


class BulkActionRefused(ValueError):
    """The whole action cannot go ahead (no right to it, or a parameter is wrong); nothing was done."""


@dataclass(frozen=True)
class Write:
    """One row change a bulk action makes: written directly, or proposed."""

    entity: str
    operation: str  # "create" or "update"
    values: dict
    entity_id: uuid.UUID | None = None


@dataclass
class BulkOutcome:
    """What became of each selected row: written, proposed for approval, or refused with the reason.

    Rows not found (or out of scope, or not an id at all) are only counted: naming them would
    tell the person something about a record they may not see.
    """

    applied: list[str] = field(default_factory=list)
    proposed: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    missing: int = 0

    @property
    def done(self) -> int:
        return len(self.applied) + len(self.proposed)


def _mode(actor, writes: Iterable[Write]) -> Grant:
    """ALLOW when the person writes every change directly, PROPOSE when they propose every one."""
    roles = actor.role_names if actor is not None else frozenset()
    grants = {grant(roles, w.entity, approvals.OPERATION_ACTIONS[w.operation]) for w in writes}
    if grants == {Grant.ALLOW}:
        return Grant.ALLOW
    if grants == {Grant.PROPOSE}:
        return Grant.PROPOSE
    return Grant.DENY


def require(actor, writes: Iterable[Write]) -> Grant:
    """The person's way of making these changes; refused outright when their role makes neither."""
    mode = _mode(actor, list(writes))
    if mode is Grant.DENY:
        raise BulkActionRefused("Your role cannot make this change, so nothing was done.")
    return mode


def _apply(write: Write) -> None:
    model = approvals.model_for(write.entity)
    if write.operation == "create":
        db.session.add(model(**write.values))
        return
    record = db.session.get(model, write.entity_id)
    for name, value in write.values.items():
        setattr(record, name, value)


def _run_row(actor, mode: Grant, writes: list[Write]) -> None:
    """Make one row's writes inside a savepoint: all of them, or (raising ApprovalError) none."""
    try:
        with db.session.begin_nested():
            for write in writes:
                if mode is Grant.ALLOW:
                    _apply(write)
                else:
                    approvals.propose(actor, write.entity, write.operation, entity_id=write.entity_id,
                                      values=audit.jsonable(write.values))
            db.session.flush()
    except IntegrityError as exc:
        raise approvals.ApprovalError(explain(exc)) from None
    except DataError:
        raise approvals.ApprovalError("The database could not store a value (too long, or an unusual "
                                      "character); nothing was changed for this row.") from None
    except WriteNotPermitted as exc:
        raise approvals.ApprovalError(str(exc)) from None


def parse_ids(raw_ids: Iterable[str]) -> tuple[list[uuid.UUID], int]:
    """The selected ids as UUIDs (each once, in order), and how many were not ids at all."""
    ids, not_ids = [], 0
    for raw in raw_ids:
        key = as_key(raw)
        if key is None:
            not_ids += 1
        elif key not in ids:
            ids.append(key)
    return ids, not_ids


def _in_scope(actor, model, ids: list[uuid.UUID]) -> dict[uuid.UUID, object]:
    """The selected rows this person may see, by id (through the one scope rule)."""
    if not ids:
        return {}
    statement = scope.restrict(sa.select(model).where(model.id.in_(ids)), model, actor)
    return {row.id: row for row in db.session.scalars(statement)}


def as_key(value) -> uuid.UUID | None:
    """A parameter's id (a form's text or a UUID) as a UUID; None when it is not one."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, TypeError):
        return None


def _visible_one(actor, model, value, what: str):
    """A parameter record (the program to enroll in, the new department) the person may see, or refused."""
    key = as_key(value)
    row = _in_scope(actor, model, [key]).get(key) if key is not None else None
    if row is None:
        raise BulkActionRefused(f"Choose {what} you work with; nothing was done.")
    return row


def _each(actor, model, raw_ids, plan: Callable[[object], list[Write] | str]) -> BulkOutcome:
    """Run ``plan`` for every selected row in scope: it returns the row's writes, or why it is refused."""
    ids, not_ids = parse_ids(raw_ids)
    outcome = BulkOutcome(missing=not_ids)
    rows = _in_scope(actor, model, ids)
    for key in ids:
        row = rows.get(key)
        if row is None:
            outcome.missing += 1
            continue
        about = str(row)
        writes = plan(row)
        if isinstance(writes, str):
            outcome.refused.append((about, writes))
            continue
        mode = require(actor, writes)
        try:
            _run_row(actor, mode, writes)
        except approvals.ApprovalError as exc:
            outcome.refused.append((about, str(exc)))
            continue
        (outcome.applied if mode is Grant.ALLOW else outcome.proposed).append(about)
    return outcome


# -- the four actions ---------------------------------------------------------------------------
def enroll_clients(actor, client_ids: Iterable[str], program_id, start_date: date) -> BulkOutcome:
    """Enroll each selected client in ``program_id`` from ``start_date`` (a restriction in force refuses one)."""
    if start_date is None:
        raise BulkActionRefused("Give the start date of the enrollments; nothing was done.")
    program = _visible_one(actor, Program, program_id, "a program")
    if program.is_archived:
        raise BulkActionRefused(f"{program} is archived: restore it before enrolling clients; nothing was done.")
    require(actor, [Write("client_program_enrollments", "create", {})])
    already = set(db.session.scalars(sa.select(Enrollment.client_id).where(
        Enrollment.program_id == program.id, Enrollment.end_date.is_(None), Enrollment.is_archived.is_(False))))

    def plan(client: Client):
        if client.merged_into_id is not None:
            return "This record was merged into another; enroll the record it was merged into."
        if client.is_archived:
            return "This client is archived; restore the record first."
        if client.id in already:
            return f"Already enrolled in {program} with no end date."
        return [Write("client_program_enrollments", "create",
                      {"client_id": client.id, "program_id": program.id, "start_date": start_date,
                       "status": "active"})]

    return _each(actor, Client, client_ids, plan)


def end_enrollments(actor, enrollment_ids: Iterable[str], end_date: date, reason: str) -> BulkOutcome:
    """End each selected enrollment on ``end_date`` and record its discharge with ``reason``."""
    reason = (reason or "").strip()
    if end_date is None or not reason:
        raise BulkActionRefused("Give the end date and the discharge reason; nothing was done.")
    require(actor, [Write("client_program_enrollments", "update", {}), Write("discharges", "create", {})])

    def plan(enrollment: Enrollment):
        if enrollment.end_date is not None:
            return f"Already ended on {enrollment.end_date:%Y-%m-%d}."
        if end_date < enrollment.start_date:
            return f"The end date is before the enrollment's start ({enrollment.start_date:%Y-%m-%d})."
        return [
            Write("client_program_enrollments", "update", {"end_date": end_date, "status": ENDED_STATUS},
                  entity_id=enrollment.id),
            Write("discharges", "create", {"client_id": enrollment.client_id, "program_id": enrollment.program_id,
                                           "discharge_date": end_date, "reason": reason}),
        ]

    return _each(actor, Enrollment, enrollment_ids, plan)


def move_programs(actor, program_ids: Iterable[str], department_id) -> BulkOutcome:
    """Move each selected program to ``department_id`` (a department the person may see)."""
    department = _visible_one(actor, Department, department_id, "a department")
    if department.is_archived:
        raise BulkActionRefused(f"{department} is archived: restore it before moving programs into it; "
                                "nothing was done.")
    require(actor, [Write("programs", "update", {})])

    def plan(program: Program):
        if program.department_id == department.id:
            return f"Already in {department}."
        return [Write("programs", "update", {"department_id": department.id}, entity_id=program.id)]

    return _each(actor, Program, program_ids, plan)


def manager_candidates():
    """Active staff holding the Manager role: whom a program may be given as manager."""
    return db.session.scalars(
        sa.select(Staff).where(Staff.active.is_(True), Staff.roles.any(name=Role.MANAGER.value))
        .order_by(Staff.last_name, Staff.first_name)).all()


def assign_manager(actor, program_ids: Iterable[str], staff_id) -> BulkOutcome:
    """Make ``staff_id`` a manager of each selected program (on its staff list, marked manager)."""
    key = as_key(staff_id)
    manager = db.session.get(Staff, key) if key is not None else None
    if manager is None or not manager.active or Role.MANAGER not in manager.role_names:
        raise BulkActionRefused("Choose an active staff member with the Manager role; nothing was done.")
    require(actor, [Write("program_staff", "create", {})])
    links = {link.program_id: link for link in db.session.scalars(
        sa.select(ProgramStaff).where(ProgramStaff.staff_id == manager.id))}

    def plan(program: Program):
        link = links.get(program.id)
        if link is not None and link.is_manager:
            return f"{manager.full_name} already manages it."
        if link is not None:
            return [Write("program_staff", "update", {"is_manager": True}, entity_id=link.id)]
        return [Write("program_staff", "create", {"program_id": program.id, "staff_id": manager.id,
                                                  "is_manager": True})]

    return _each(actor, Program, program_ids, plan)


def summary(outcome: BulkOutcome, entity: str) -> str:
    """One sentence for the person: how many rows were written, proposed and refused."""
    parts = []
    if outcome.applied:
        parts.append(f"{len(outcome.applied)} done")
    if outcome.proposed:
        parts.append(f"{len(outcome.proposed)} submitted for approval (Approvals › My requests)")
    if outcome.refused:
        parts.append(f"{len(outcome.refused)} not done (reasons below)")
    text = f"{entity_label(entity)}: " + ("; ".join(parts) if parts else "nothing was done") + "."
    return text + (" " + NOT_FOUND.format(count=outcome.missing) if outcome.missing else "")
