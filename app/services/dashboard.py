"""The few figures on the home page, each one cheap to count."""

from datetime import date

import sqlalchemy as sa

from app.extensions import db
from app.models import Client, Enrollment, Program, ServiceRestriction
from app.services.programs import active_enrollment_condition


def _count(model, *conditions) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*conditions))


def dashboard_figures(today: date | None = None) -> dict[str, int]:
    today = today or date.today()
    restriction = ServiceRestriction
    return {
        "clients": _count(Client, Client.is_archived.is_(False)),
        "programs": _count(Program, Program.is_archived.is_(False)),
        "active_enrollments": _count(Enrollment, active_enrollment_condition(today)),
        "active_restrictions": _count(
            restriction, restriction.is_archived.is_(False), restriction.start_date <= today,
            sa.or_(restriction.end_date.is_(None), restriction.end_date >= today),
        ),
    }
