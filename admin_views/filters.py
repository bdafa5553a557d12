"""List filters the generic ones cannot express: option-list drop-downs, JSON lists, program membership."""

import json
import uuid
from datetime import date

import sqlalchemy as sa
from flask import has_app_context
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, FilterEqual
from sqlalchemy.dialects.postgresql import JSONB

from app.extensions import db
from app.labels import label
from app.models import Enrollment, Program
from app.services.options import active_options
from app.services.scope import acting_staff, restrict


def _options_of(list_key: str):
    """Drop-down entries read when the list page is shown (the admin refreshes them per request)."""
    def options():
        return [(v, v) for v in active_options(list_key)] if has_app_context() else []
    return options


def option_filter(column, list_key: str) -> FilterEqual:
    """An equals filter whose drop-down lists the option list's current values."""
    return FilterEqual(column, label(column.key), options=_options_of(list_key))


def _program_options():
    """The programs the person may see: a drop-down never names a program out of scope."""
    if not has_app_context():
        return []
    query = restrict(sa.select(Program.id, Program.name), Program, acting_staff()).order_by(Program.name)
    return [(str(pid), name) for pid, name in db.session.execute(query)]


class JsonListContainsFilter(BaseSQLAFilter):
    """Rows whose JSON list column holds the chosen value (languages, restriction types…)."""

    def __init__(self, column, list_key: str):
        super().__init__(column, label(column.key), options=_options_of(list_key))

    def apply(self, query, value, alias=None):
        column = self.get_column(alias)
        if db.session.get_bind().dialect.name == "postgresql":
            return query.filter(column.op("@>")(sa.cast(json.dumps([value]), JSONB)))
        items = sa.func.json_each(column).table_valued("value")
        return query.filter(sa.exists(sa.select(1).select_from(items).where(items.c.value == value)))

    def operation(self):
        return "includes"


class EnrolledInProgramFilter(BaseSQLAFilter):
    """Clients with an enrollment (current or past, not archived) in the chosen program."""

    def __init__(self, client_id_column):
        super().__init__(client_id_column, "Program", options=_program_options)

    def apply(self, query, value, alias=None):
        try:
            program_id = uuid.UUID(value)
        except ValueError:
            return query.filter(sa.false())
        return query.filter(sa.exists().where(
            Enrollment.client_id == self.get_column(alias), Enrollment.program_id == program_id,
            Enrollment.is_archived.is_(False),
        ))

    def operation(self):
        return "enrolled in"


class RestrictionStateFilter(BaseSQLAFilter):
    """Active, upcoming, expired or archived, as of today."""

    STATES = (("active", "Active"), ("upcoming", "Not started yet"), ("expired", "Expired"), ("archived", "Archived"))

    def __init__(self, model):
        super().__init__(model.id, "State", options=self.STATES)
        self.model = model

    def apply(self, query, value, alias=None):
        m, today = self.model, date.today()
        live = m.is_archived.is_(False)
        conditions = {
            "active": sa.and_(live, m.start_date <= today, sa.or_(m.end_date.is_(None), m.end_date >= today)),
            "upcoming": sa.and_(live, m.start_date > today),
            "expired": sa.and_(live, m.end_date < today),
            "archived": m.is_archived.is_(True),
        }
        return query.filter(conditions.get(value, sa.false()))

    def operation(self):
        return "is"
