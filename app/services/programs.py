"""What a program's record page shows: its staff, capacity and who is enrolled now."""

from datetime import date

import sqlalchemy as sa

from app.extensions import db
from app.models import Enrollment, Program, ProgramStaff
from app.services.reports import enrollment_active_on
from app.services.scope import restrict

RECENT_ENROLLMENTS_LIMIT = 100

# "Active on a day" has one definition, the reports' (app/services/reports.py).
active_enrollment_condition = enrollment_active_on


def program_record_summary(program: Program, viewer, today: date | None = None) -> dict:
    """Staff, occupancy and current enrollments of a program; the enrollment list only shows
    clients ``viewer`` may see (occupancy counts every bed, as the vacancy report does)."""
    today = today or date.today()
    staff = db.session.scalars(
        sa.select(ProgramStaff).where(ProgramStaff.program_id == program.id)
        .order_by(ProgramStaff.is_manager.desc())
    ).all()
    active = sa.and_(Enrollment.program_id == program.id, active_enrollment_condition(today))
    occupied = db.session.scalar(sa.select(sa.func.count()).select_from(Enrollment).where(active))
    current = db.session.scalars(restrict(
        sa.select(Enrollment).where(active).order_by(Enrollment.start_date.desc()).limit(RECENT_ENROLLMENTS_LIMIT),
        Enrollment, viewer,
    )).all()
    return {
        "staff": staff,
        "managers": [link.staff for link in staff if link.is_manager],
        "occupied": occupied,
        "vacant": None if program.no_capacity_limit else program.capacity_current - occupied,
        "current_enrollments": current,
    }
