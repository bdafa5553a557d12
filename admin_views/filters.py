"""List filters the generic ones cannot express: option-list drop-downs, JSON lists, program membership,
record ids, staff by name, days in the agency's time zone, and the filters behind the reports'
drill-down links (served in a period, age band, not stated).

The report filters call the same conditions as app/services/reports/definitions.py, so a report count
and the client list it links to are one definition, not two that could drift apart.
"""

import re
import uuid
from datetime import date

import sqlalchemy as sa
from flask import has_app_context
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, FilterEqual
from flask_admin.model.filters import BaseDateBetweenFilter
from flask_login import current_user

from app.choices import AGE_BANDS, NOT_STATED
from app.extensions import db
from app.labels import AGE_BAND_LABELS, NOT_STATED_LABEL, code_label, label
from app.models import Client, Enrollment, Program, Staff
from app.models.base import json_list_contains
from app.services import data_quality, report_enrollment_history
from app.services.clock import agency_today
from app.services.history import about_record, end_of_day, start_of_day
from app.services.options import active_options
from app.services.reports import (
    ReportError, age_band_condition, find_department, find_program, no_stated_item, not_stated, served_client_ids,
)
from app.services.restrictions import RESTRICTION_STATUSES, status_condition
from app.services.scope import acting_staff, restrict


def _options_of(list_key: str, with_not_stated: bool = False):
    """Drop-down entries read when the list page is shown (the admin refreshes them per request)."""
    def options():
        if not has_app_context():
            return []
        entries = [(v, v) for v in active_options(list_key)]
        return entries + [(NOT_STATED, NOT_STATED_LABEL)] if with_not_stated else entries
    return options


class OptionEqualFilter(FilterEqual):
    """Equal to one value of an option list or, with the not-stated entry, holding no answer."""

    def __init__(self, column, list_key: str, with_not_stated: bool = False):
        super().__init__(column, label(column.key), options=_options_of(list_key, with_not_stated))

    def apply(self, query, value, alias=None):
        column = self.get_column(alias)
        return query.filter(not_stated(column) if value == NOT_STATED else column == value)


def option_filter(column, list_key: str, with_not_stated: bool = False) -> FilterEqual:
    """An equals filter whose drop-down lists the option list's current values."""
    return OptionEqualFilter(column, list_key, with_not_stated)


def _program_options():
    """The programs the person may see: a drop-down never names a program out of scope."""
    if not has_app_context():
        return []
    query = restrict(sa.select(Program.id, Program.name), Program, acting_staff()).order_by(Program.name)
    return [(str(pid), name) for pid, name in db.session.execute(query)]


class JsonListContainsFilter(BaseSQLAFilter):
    """Rows whose JSON list column holds the chosen value (languages, restriction types…)."""

    def __init__(self, column, list_key: str, with_not_stated: bool = False):
        super().__init__(column, label(column.key), options=_options_of(list_key, with_not_stated))

    def apply(self, query, value, alias=None):
        column = self.get_column(alias)
        return query.filter(no_stated_item(column) if value == NOT_STATED else json_list_contains(column, value))

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
    """In force, upcoming, ended or archived on the agency's today (app/services/restrictions.py), or any."""

    ANY = "any"

    def __init__(self, model):
        options = [(status, self.caption(status)) for status in (*RESTRICTION_STATUSES, self.ANY)]
        super().__init__(model.id, "Status", options=options)
        self.model = model

    @classmethod
    def caption(cls, value: str) -> str:
        return "Any status" if value == cls.ANY else code_label("restriction_status", value)

    def apply(self, query, value, alias=None):
        if value == self.ANY:
            return query
        if value not in RESTRICTION_STATUSES:
            return query.filter(sa.false())
        return query.filter(status_condition(value, agency_today()))

    def operation(self):
        return "is"


class UUIDEqualFilter(FilterEqual):
    """A record id typed or pasted in: compared as a UUID (psycopg refuses text), a bad id says so."""

    hint = "a record id such as 0b7c8e5e-2f4a-4c1e-9d7b-6a1f0c2d3e4f"

    def __init__(self, column, name: str):
        super().__init__(column, name)

    def clean(self, value):
        return uuid.UUID(str(value).strip())


class TrailRecordFilter(UUIDEqualFilter):
    """The audit trail's rows about one record, found through its (entity, entity_id) index."""

    def apply(self, query, value, alias=None):
        return query.filter(about_record(value))


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


PERIOD = re.compile(r"^(?:(?P<name>.+), )?(?P<start>\d{4}-\d{2}-\d{2}) to (?P<end>\d{4}-\d{2}-\d{2})$")


def _parse_period(start: str, end: str) -> tuple[date, date]:
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        raise ValueError("not a date") from None
    if first > last:
        raise ValueError("period ends before it starts")
    return first, last


class ServedFilter(BaseSQLAFilter):
    """Clients served (or new, or continuing) in a period, as the Organizational Summary counts them.

    Value: ``2024-03-01 to 2024-03-31``, or ``Program name, 2024-03-01 to 2024-03-31`` for one
    program or department. Counted over the programs the signed-in person sees, as the report is.
    """

    KINDS = {"served": "Served", "new": "New client", "continuing": "Continuing client"}
    COVERAGES = {None: "in the period", "program": "in the period, in program",
                 "department": "in the period, in department"}

    def __init__(self, kind: str, coverage: str | None):
        super().__init__(Client.id, self.KINDS[kind])
        self.kind, self.coverage = kind, coverage

    def operation(self):
        return self.COVERAGES[self.coverage]

    def clean(self, value):
        match = PERIOD.match(value.strip())
        if match is None or bool(match["name"]) != bool(self.coverage):
            raise ValueError("expected " + ("Name, " if self.coverage else "") + "YYYY-MM-DD to YYYY-MM-DD")
        first, last = _parse_period(match["start"], match["end"])
        where = {}
        if self.coverage == "program":
            where["program_id"] = find_program(match["name"]).id
        elif self.coverage == "department":
            where["department_id"] = find_department(match["name"]).id
        return first, last, where

    def apply(self, query, value, alias=None):
        first, last, where = value
        staff = current_user.staff if current_user.is_authenticated else None
        if staff is None:
            return query.filter(sa.false())
        return query.filter(self.get_column(alias).in_(served_client_ids(first, last, staff=staff, kind=self.kind,
                                                                         **where)))


class DataQualityFilter(BaseSQLAFilter):
    """The records a Data quality count flags, as the report counts them (app/services/data_quality.py).

    Value: ``CHECK, 2024-01-01 to 2024-03-31``, with ``/DAYS`` after the check for the stale-enrollment
    one, and optionally `` in program NAME`` / `` in department NAME`` / `` in source SYSTEM`` after it:
    ``dob_missing in program Somali Program, 2024-01-01 to 2024-03-31``. Counted over the programs the
    signed-in person sees, as the report is. ``level`` says whose ids the list holds.
    """

    VALUE = re.compile(r"^(?P<check>[a-z_]+)(?:/(?P<days>\d+))?(?: in (?P<kind>program|department|source) "
                       r"(?P<name>.+?))?, (?P<start>\d{4}-\d{2}-\d{2}) to (?P<end>\d{4}-\d{2}-\d{2})$")

    def __init__(self, column, level: str):
        super().__init__(column, "Data quality")
        self.level = level

    def operation(self):
        return "flags (check, period)"

    def clean(self, value):
        match = self.VALUE.match(value.strip())
        if match is None:
            raise ValueError("expected CHECK[ in program|department|source NAME], YYYY-MM-DD to YYYY-MM-DD")
        check = data_quality.CHECK_BY_KEY.get(match["check"])
        if check is None or check.level != self.level:
            raise ValueError(f"unknown check {match['check']!r}")
        first, last = _parse_period(match["start"], match["end"])
        where = {}
        if match["kind"] == "program":
            where["program_id"] = find_program(match["name"]).id
        elif match["kind"] == "department":
            where["department_id"] = find_department(match["name"]).id
        elif match["kind"] == "source":
            if match["name"] not in data_quality.known_sources():
                raise ValueError(f"unknown source system {match['name']!r}")
            where["source"] = match["name"]
        days = int(match["days"]) if match["days"] else data_quality.DEFAULT_STALE_DAYS
        return check.key, first, last, days, where

    def apply(self, query, value, alias=None):
        key, first, last, days, where = value
        staff = current_user.staff if current_user.is_authenticated else None
        if staff is None:
            return query.filter(sa.false())
        if self.level == "client":
            flagged = data_quality.flagged_client_ids(key, first, last, staff=staff, **where)
        else:
            flagged = data_quality.flagged_enrollment_ids(key, first, last, days, staff=staff, **where)
        return query.filter(self.get_column(alias).in_(flagged))


def data_quality_filter_value(drill: dict) -> str:
    """The DataQualityFilter value naming exactly the records a report cell counted."""
    check = drill["check"] + (f"/{drill['stale_days']}" if drill["check"] == "stale_open_enrollment" else "")
    where = f" in {drill['coverage'][0]} {drill['coverage'][1]}" if drill["coverage"] else ""
    return f"{check}{where}, {drill['date_from']} to {drill['date_to']}"


class EnrollmentReportFilter(BaseSQLAFilter):
    """The enrollments an Enrollment history or Outcomes count counted (app/services/report_enrollment_history.py).

    Value: ``KIND[ (REASON)][ in program|department NAME], YYYY-MM-DD to YYYY-MM-DD`` where KIND is
    started, ended, successful (ended with a successful reason), active (service in the period) or open
    (open at the end of the second day): ``ended (Lost contact) in program Somali Program, 2024-01-01 to
    2024-01-31``; REASON ``not-stated`` is an end with no discharge recorded.
    Counted over the programs the signed-in person sees, as the reports are.
    """

    VALUE = re.compile(r"^(?P<kind>started|ended|open|successful|active)(?: \((?P<reason>.+?)\))?"
                       r"(?: in (?P<where>program|department) (?P<name>.+?))?, "
                       r"(?P<start>\d{4}-\d{2}-\d{2}) to (?P<end>\d{4}-\d{2}-\d{2})$")

    def __init__(self):
        super().__init__(Enrollment.id, "Report")

    def operation(self):
        return "counted (started|ended|open, period)"

    def clean(self, value):
        match = self.VALUE.match(value.strip())
        if match is None or (match["reason"] and match["kind"] != "ended"):
            raise ValueError("expected started|ended (REASON)|successful|active|open[ in program|department NAME], "
                             "YYYY-MM-DD to YYYY-MM-DD")
        first, last = _parse_period(match["start"], match["end"])
        where = {}
        if match["where"] == "program":
            where["program_id"] = find_program(match["name"]).id
        elif match["where"] == "department":
            where["department_id"] = find_department(match["name"]).id
        return match["kind"], first, last, match["reason"], where

    def apply(self, query, value, alias=None):
        kind, first, last, reason, where = value
        staff = current_user.staff if current_user.is_authenticated else None
        if staff is None:
            return query.filter(sa.false())
        counted = report_enrollment_history.enrollment_ids(kind, first, last, staff=staff, reason=reason, **where)
        return query.filter(self.get_column(alias).in_(counted))


def enrollment_report_filter_value(drill: dict) -> str:
    """The EnrollmentReportFilter value naming exactly the enrollments a report cell counted."""
    reason = f" ({drill['reason']})" if drill.get("reason") else ""
    where = f" in {drill['coverage'][0]} {drill['coverage'][1]}" if drill["coverage"] else ""
    return f"{drill['kind']}{reason}{where}, {drill['date_from']} to {drill['date_to']}"


class AgeBandFilter(BaseSQLAFilter):
    """Clients whose age on a day falls in a band: ``25-34 on 2024-03-31`` (or ``not-stated on …``)."""

    VALUE = re.compile(r"^(?P<band>[\w-]+) on (?P<day>\d{4}-\d{2}-\d{2})$")

    def __init__(self):
        super().__init__(Client.dob, label("age_band"))

    def operation(self):
        bands = ", ".join(AGE_BAND_LABELS[key] for key, _, _ in AGE_BANDS)
        return f"is (band on YYYY-MM-DD; bands {bands})"

    def clean(self, value):
        match = self.VALUE.match(value.strip())
        if match is None:
            raise ValueError("expected BAND on YYYY-MM-DD")
        day, _ = _parse_period(match["day"], match["day"])
        try:
            age_band_condition(match["band"], day)
        except ReportError as exc:
            raise ValueError(str(exc)) from None
        return match["band"], day

    def apply(self, query, value, alias=None):
        band, day = value
        return query.filter(age_band_condition(band, day))
