"""What a program's record page shows: its staff, capacity and who is enrolled now."""

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import Enrollment, Program, ProgramStaff
from app.services.clock import agency_today
from app.services.reports import enrollment_active_on, enrollment_active_on_parts
from app.services.scope import restrict

RECENT_ENROLLMENTS_LIMIT = 100

# "Active on a day" has one definition, the reports' (app/services/reports/definitions.py).
active_enrollment_condition = enrollment_active_on
# Statuses that close an enrollment: one that ended today with one of them is over, not current.
FINISHED_STATUSES = ("completed", "discharged", "cancelled")


def enrollment_current_parts(today: date):
    """Enrolled now, as the two index-friendly parts of "active today" (reports.enrollment_active_on_parts),
    less the enrollments that ended today as completed, discharged or cancelled.

    Active on a day counts a service given that day, so a report for today still counts the client
    discharged this morning; the program's page says who is enrolled now, and they are not.
    """
    open_ended, ending_later = enrollment_active_on_parts(today)
    ended_today = sa.and_(Enrollment.end_date == today, Enrollment.status.in_(FINISHED_STATUSES))
    return open_ended, sa.and_(ending_later, sa.not_(ended_today))


def program_record_summary(program: Program, viewer, today: date | None = None) -> dict:
    """Staff, occupancy and current enrollments (enrollment_current_parts) of a program; the list only shows
    clients ``viewer`` may see (occupancy counts every current enrollment, seen or not).

    Both are read one part of "active" at a time (open-ended, or ending later), so each is
    an index range of this program's current enrollments, not of its whole history.
    """
    today = today or agency_today()
    staff = db.session.scalars(
        sa.select(ProgramStaff).where(ProgramStaff.program_id == program.id)
        .options(selectinload(ProgramStaff.staff))
        .order_by(ProgramStaff.is_manager.desc())
    ).all()
    parts = [sa.and_(Enrollment.program_id == program.id, part) for part in enrollment_current_parts(today)]
    open_ended, ending_later = (sa.select(sa.func.count()).select_from(Enrollment).where(part).scalar_subquery()
                                for part in parts)
    occupied = db.session.scalar(sa.select(open_ended + ending_later))
    newest = [
        restrict(sa.select(Enrollment.id).where(part), Enrollment, viewer)
        .order_by(Enrollment.start_date.desc(), Enrollment.id).limit(RECENT_ENROLLMENTS_LIMIT).subquery()
        for part in parts
    ]
    current = db.session.scalars(
        sa.select(Enrollment)
        .where(Enrollment.id.in_(sa.union_all(*(sa.select(ids.c.id) for ids in newest))))
        .options(selectinload(Enrollment.client))
        .order_by(Enrollment.start_date.desc(), Enrollment.id).limit(RECENT_ENROLLMENTS_LIMIT)
    ).all()
    return {
        "staff": staff,
        "managers": [link.staff for link in staff if link.is_manager],
        "occupied": occupied,
        "vacant": None if program.no_capacity_limit else program.capacity_current - occupied,
        "current_enrollments": current,
    }
