"""The words every CCD report counts by, defined once: as the sentences in DEFINITIONS that pages
and exports print, and as the SQL conditions the reports and the client list's drill-down filters
use, so opening a number lists exactly the clients it counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from app.choices import AGE_BANDS, NOT_STATED
from app.labels import NOT_STATED_LABEL, label
from app.models import Client, Enrollment, Program, ProgramCapacity
from app.models.base import json_list_contains, json_list_is_empty, json_list_item, json_list_items

DEFINITIONS: dict[str, str] = {
    "served": (
        "A client is served in a period when any of their enrollments overlaps it: the enrollment started on "
        "or before the last day, and has no end date or ended on or after the first day. Archived enrollments, "
        "archived clients and clients merged into another record are not counted. A client served in several "
        "programs counts once in every total, once per department and once per program."
    ),
    "new": (
        "A served client is new when their first intake or first enrollment in the programs the report covers "
        "falls within the period (nothing earlier); every other served client is continuing."
    ),
    "active_on": (
        "An enrollment is active on a day when it started on or before that day and has no end date or "
        "ended on or after it (archived enrollments never are)."
    ),
    "capacity_on": (
        "A program's capacity on a day is the capacity-history entry with the latest effective date on or "
        "before that day; without one, the program's current capacity."
    ),
    "occupied": (
        "Occupied: the clients with an active enrollment in the program on the day (archived and merged-away "
        "clients excluded). Vacant = capacity − occupied; a program with more clients than capacity is flagged "
        "over capacity. Programs with no capacity limit are shown as such and left out of the capacity, "
        "vacancy and occupancy totals; archived and inactive programs are left out."
    ),
    "vacant_total": (
        "A total's vacant places add up the free places of the programs with a capacity limit; an over-capacity "
        "program adds none and takes none away from the others."
    ),
    "not_stated": (
        f"“{NOT_STATED_LABEL}” counts clients with no value, a blank value or the value “Unknown” "
        "(for a list such as languages: no item other than those)."
    ),
    "multi_valued": (
        "Languages and ethnicity can hold several values: a client counts once under each value, so the rows "
        "of those breakdowns add up to more than the distinct clients served."
    ),
    "age_band": "Age band: the client's age on the last day of the period, from the date of birth.",
}

# Values that mean "no answer" besides an empty one; compared lower-cased and trimmed.
NOT_STATED_WORDS = ("unknown",)


class ReportError(ValueError):
    """A report was asked for with input it cannot use; the message says what to change."""


@dataclass(frozen=True)
class Dimension:
    """One demographic breakdown: the Client field, its option list, and whether it holds a list."""

    key: str
    list_key: str | None
    multi_valued: bool = False

    @property
    def label(self) -> str:
        return label(self.key)


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("gender", "gender"),
    Dimension("sexual_orientation", "sexual_orientation"),
    Dimension("citizenship_status", "citizenship_status"),
    Dimension("indigenous_status", "indigenous_status"),
    Dimension("race", "race"),
    Dimension("ethnicity", "ethnicity", multi_valued=True),
    Dimension("languages_spoken", "language", multi_valued=True),
    Dimension("age_band", None),
)
DIMENSION_BY_KEY = {d.key: d for d in DIMENSIONS}


# --- The definitions, as SQL ------------------------------------------------------------

def enrollment_overlaps(date_from: date, date_to: date):
    """The enrollment counts as service somewhere in [date_from, date_to] (DEFINITIONS["served"])."""
    return sa.and_(
        Enrollment.start_date <= date_to,
        sa.or_(Enrollment.end_date.is_(None), Enrollment.end_date >= date_from),
        Enrollment.is_archived.is_(False),
    )


def enrollment_active_on(day: date):
    """The enrollment is active on ``day`` (DEFINITIONS["active_on"])."""
    return enrollment_overlaps(day, day)


def enrollment_active_on_parts(day: date):
    """``enrollment_active_on(day)`` as two conditions that never both hold and together say the same:
    open-ended enrollments (the open-enrollments index holds them, by program) and enrollments
    ending on or after ``day``. Read one part at a time, each is an index range; read as one OR,
    the table is read whole."""
    started = sa.and_(Enrollment.start_date <= day, Enrollment.is_archived.is_(False))
    return sa.and_(started, Enrollment.end_date.is_(None)), sa.and_(started, Enrollment.end_date >= day)


def client_counted():
    """The client is a live record: not archived, not merged into another client."""
    return sa.and_(Client.is_archived.is_(False), Client.merged_into_id.is_(None))


def client_not_counted(client=Client):
    """The complement of ``client_counted()``: archived or merged away (few, and indexed both ways)."""
    return sa.or_(client.is_archived.is_(True), client.merged_into_id.is_not(None))


def capacity_on(day: date):
    """A program's capacity on ``day`` (DEFINITIONS["capacity_on"]), correlated to Program."""
    latest = (
        sa.select(ProgramCapacity.capacity)
        .where(ProgramCapacity.program_id == Program.id, ProgramCapacity.effective_date <= day)
        .order_by(ProgramCapacity.effective_date.desc())
        .limit(1)
        .scalar_subquery()
    )
    return sa.func.coalesce(latest, Program.capacity_current)


def program_open():
    """Programs that take clients today: not archived, not inactive."""
    return sa.and_(Program.is_archived.is_(False), Program.status != "inactive")


def not_stated(column):
    """The single-valued field holds no answer (DEFINITIONS["not_stated"])."""
    return sa.or_(column.is_(None), sa.func.lower(sa.func.trim(column)).in_(("", *NOT_STATED_WORDS)))


def stated_value(column):
    """The field's value, or NULL when it holds no answer (what breakdowns group by)."""
    return sa.case((not_stated(column), sa.null()), else_=column)


def no_stated_item(column):
    """The JSON list field holds no answer: no item that is stated (DEFINITIONS["not_stated"]).

    Most lists are empty or begin with a stated item, which settles it without listing the items: the
    Data quality report asks this of half a million clients, and listing every list took three times as long.
    """
    items = json_list_items(column)
    none_stated = ~sa.exists(sa.select(1).select_from(items).where(~not_stated(items.c.value)))
    return sa.case((json_list_is_empty(column), sa.true()), (~not_stated(json_list_item(column, 0)), sa.false()),
                   else_=none_stated)


def years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def age_band_condition(band: str, day: date, dob=Client.dob):
    """The client's age on ``day`` falls in ``band`` (a key of AGE_BANDS, or NOT_STATED for no birth date)."""
    if band == NOT_STATED:
        return dob.is_(None)
    for key, lowest, highest in AGE_BANDS:
        if key == band:
            conditions = [dob <= years_before(day, lowest)]
            if highest is not None:
                conditions.append(dob > years_before(day, highest + 1))
            return sa.and_(*conditions)
    raise ReportError(f"Unknown age band {band!r}. Age bands: {', '.join(key for key, _, _ in AGE_BANDS)}.")


def age_band_value(day: date, dob=Client.dob):
    """The age band key of the client on ``day``, NULL without a birth date."""
    return sa.case(*[(age_band_condition(key, day, dob), key) for key, _, _ in AGE_BANDS], else_=sa.null())


def demographic_condition(key: str, value: str, day: date):
    """The client has ``value`` (or NOT_STATED) for breakdown ``key``; age bands are taken on ``day``."""
    dimension = DIMENSION_BY_KEY.get(key)
    if dimension is None:
        raise ReportError(f"Unknown filter {key!r}. Filters: {', '.join(DIMENSION_BY_KEY)}.")
    if not isinstance(value, str) or not value.strip():
        raise ReportError(f"The {dimension.label.lower()} filter needs a value.")
    if key == "age_band":
        return age_band_condition(value, day)
    column = getattr(Client, key)
    if dimension.multi_valued:
        return no_stated_item(column) if value == NOT_STATED else json_list_contains(column, value)
    return not_stated(column) if value == NOT_STATED else column == value


def percent(part: int, whole: int | None) -> float | None:
    """``part`` as a percentage of ``whole`` to one decimal; None without a whole (every report rounds alike)."""
    return round(100 * part / whole, 1) if whole else None
