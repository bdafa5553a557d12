"""The few figures on the home page, each one cheap to count, each within the person's scope."""

from datetime import date

import sqlalchemy as sa

from app.extensions import db
from app.models import Client, Enrollment, Program, ServiceRestriction
from app.services.programs import active_enrollment_condition
from app.services.scope import restrict


def _count(model, staff, *conditions) -> int:
    query = restrict(sa.select(sa.func.count()).select_from(model).where(*conditions), model, staff, whole_scope=True)
    return db.session.scalar(query)


def dashboard_figures(staff, today: date | None = None) -> dict[str, int]:
    """Clients, programs, active enrollments and active restrictions that ``staff`` may see."""
    today = today or date.today()
    restriction = ServiceRestriction
    return {
        "clients": _count(Client, staff, Client.is_archived.is_(False)),
        "programs": _count(Program, staff, Program.is_archived.is_(False)),
        "active_enrollments": _count(Enrollment, staff, active_enrollment_condition(today)),
        "active_restrictions": _count(
            restriction, staff, restriction.is_archived.is_(False), restriction.start_date <= today,
            sa.or_(restriction.end_date.is_(None), restriction.end_date >= today),
        ),
    }
