"""List filters the generic ones cannot express: option-list drop-downs, JSON lists, program membership,
record ids, staff by name and days in the agency's time zone."""

import uuid
from datetime import date

import sqlalchemy as sa
from flask import has_app_context
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, FilterEqual
from flask_admin.model.filters import BaseDateBetweenFilter

from app.extensions import db
from app.labels import label
from app.models import Enrollment, Program, Staff
from app.models.base import json_list_contains
from app.services.history import end_of_day, start_of_day
from app.services.options import active_options


def _options_of(list_key: str):
    """Drop-down entries read when the list page is shown (the admin refreshes them per request)."""
    def options():
        return [(v, v) for v in active_options(list_key)] if has_app_context() else []
    return options


def option_filter(column, list_key: str) -> FilterEqual:
    """An equals filter whose drop-down lists the option list's current values."""
    return FilterEqual(column, label(column.key), options=_options_of(list_key))


def _program_options():
    if not has_app_context():
        return []
    rows = db.session.execute(sa.select(Program.id, Program.name).order_by(Program.name))
    return [(str(pid), name) for pid, name in rows]


class JsonListContainsFilter(BaseSQLAFilter):
    """Rows whose JSON list column holds the chosen value (languages, restriction types…)."""

    def __init__(self, column, list_key: str):
        super().__init__(column, label(column.key), options=_options_of(list_key))

    def apply(self, query, value, alias=None):
        return query.filter(json_list_contains(self.get_column(alias), value))

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


class UUIDEqualFilter(FilterEqual):
    """A record id typed or pasted in: compared as a UUID (psycopg refuses text), a bad id says so."""

    hint = "a record id such as 0b7c8e5e-2f4a-4c1e-9d7b-6a1f0c2d3e4f"

    def __init__(self, column, name: str):
        super().__init__(column, name)

    def clean(self, value):
        return uuid.UUID(str(value).strip())


class StaffFilter(FilterEqual):
    """A drop-down of staff by name, for "changed by" and similar columns."""

    hint = "a staff member from the list"

    def __init__(self, column, name: str):
        super().__init__(column, name, options=self._staff_options)

    @staticmethod
    def _staff_options():
        if not has_app_context():
            return []
        rows = db.session.execute(
            sa.select(Staff.id, Staff.first_name, Staff.last_name).order_by(Staff.last_name, Staff.first_name))
        return [(str(sid), f"{last}, {first}") for sid, first, last in rows]

    def clean(self, value):
        return uuid.UUID(str(value).strip())


class _LocalDayFilter(BaseSQLAFilter):
    """Days as the agency lives them: a day runs midnight to midnight in its own time zone, not UTC."""

    hint = "a date as YYYY-MM-DD"

    def __init__(self, column, name: str):
        super().__init__(column, name, data_type="datepicker")

    def clean(self, value):
        return date.fromisoformat(str(value).strip())


class OnOrAfterDayFilter(_LocalDayFilter):
    def apply(self, query, value, alias=None):
        return query.filter(self.get_column(alias) >= start_of_day(value))

    def operation(self):
        return "on or after"


class OnOrBeforeDayFilter(_LocalDayFilter):
    def apply(self, query, value, alias=None):
        return query.filter(self.get_column(alias) <= end_of_day(value))

    def operation(self):
        return "on or before"


class BetweenDaysFilter(BaseSQLAFilter, BaseDateBetweenFilter):
    """From the start of the first day to the end of the last, in the agency's time zone."""

    hint = "two dates as YYYY-MM-DD to YYYY-MM-DD, the first not after the second"

    def __init__(self, column, name: str):
        super().__init__(column, name, data_type="daterangepicker")

    def apply(self, query, value, alias=None):
        first, last = value
        column = self.get_column(alias)
        return query.filter(column >= start_of_day(first), column <= end_of_day(last))
