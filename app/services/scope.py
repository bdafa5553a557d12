"""Which programs and clients a person may see: the one rule lists, reports, look-ups and notifications share.

Administrators, Coordinators and Analysts see everything. Managers see the programs they
manage, Leaders the programs of the departments they lead, Staff the programs they are
assigned to plus the clients assigned to them directly. A person with no assignment sees
nothing, never everything. Each function returns a SELECT of ids (to use inside ``IN``),
or ``None`` meaning "no limit", so callers filter in the database, never in Python.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from app.models import (
    DepartmentLeaderAssignment,
    Enrollment,
    Program,
    ProgramManagerAssignment,
    ProgramStaff,
    StaffClientAssignment,
    StaffProgramAssignment,
)
from app.permissions import Role

SEES_EVERYTHING = frozenset({Role.ADMINISTRATOR, Role.COORDINATOR, Role.ANALYST})


def sees_everything(staff) -> bool:
    return staff is not None and bool(SEES_EVERYTHING & staff.role_names)


def visible_program_ids(staff) -> sa.Select | None:
    """Ids of the programs this staff member may see, or None when every program is visible."""
    if sees_everything(staff):
        return None
    if staff is None:
        return sa.select(Program.id).where(sa.false())
    roles = staff.role_names
    parts: list[sa.Select] = []
    if Role.MANAGER in roles:
        parts.append(sa.select(ProgramManagerAssignment.program_id).where(
            ProgramManagerAssignment.staff_id == staff.id, ProgramManagerAssignment.is_active))
        parts.append(sa.select(ProgramStaff.program_id).where(
            ProgramStaff.staff_id == staff.id, ProgramStaff.is_manager))
    if Role.LEADER in roles:
        parts.append(sa.select(Program.id).join(
            DepartmentLeaderAssignment, DepartmentLeaderAssignment.department_id == Program.department_id,
        ).where(DepartmentLeaderAssignment.staff_id == staff.id, DepartmentLeaderAssignment.is_active))
    if Role.STAFF in roles:
        parts.append(sa.select(StaffProgramAssignment.program_id).where(
            StaffProgramAssignment.staff_id == staff.id, StaffProgramAssignment.is_active))
        parts.append(sa.select(ProgramStaff.program_id).where(ProgramStaff.staff_id == staff.id))
    if not parts:
        return sa.select(Program.id).where(sa.false())
    return sa.union(*parts).subquery().select()


def visible_client_ids(staff) -> sa.Select | None:
    """Ids of the clients this staff member may see, or None when every client is visible.

    A client is visible through any enrollment (current or past, archived or not) in a
    visible program, or through a direct assignment to a Staff member.
    """
    programs = visible_program_ids(staff)
    if programs is None:
        return None
    parts: list[sa.Select] = [
        sa.select(Enrollment.client_id).where(Enrollment.program_id.in_(programs)),
    ]
    if staff is not None and Role.STAFF in staff.role_names:
        parts.append(sa.select(StaffClientAssignment.client_id).where(
            StaffClientAssignment.staff_id == staff.id, StaffClientAssignment.is_active))
    return sa.union(*parts).subquery().select()


def may_see_client(session, staff, client_id: uuid.UUID) -> bool:
    """True when ``client_id`` is within this staff member's scope (one indexed query)."""
    clients = visible_client_ids(staff)
    if clients is None:
        return True
    return session.scalar(sa.select(sa.literal(True)).where(sa.literal(client_id).in_(clients))) is True
