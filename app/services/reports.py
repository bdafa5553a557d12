"""The two CCD reports: the Organizational Summary and the Vacancy Tracker.

Both are counted in the database with GROUP BY queries, never by walking clients in
Python, so they stay right and quick on ten years of history. The words they rest on
("served", "active on", "capacity on", "new", "not stated", age band) are defined once
here, as SQL conditions and as the sentences in DEFINITIONS that the pages and exports
print; the client-list filters behind every drill-down link use the same conditions, so
opening a number lists exactly the clients it counted.

``staff=None`` means the system (CLI, scheduled tasks): no visibility limit. Otherwise the
visibility rule of app/services/scope.py applies. Results are JSON-ready dicts (ids and
dates as strings) so pages, CSV/XLSX exports, ``ccd report … --format json`` and emailed
reports all share one shape.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.choices import AGE_BANDS, NOT_STATED
from app.extensions import db
from app.labels import AGE_BAND_LABELS, NOT_STATED_LABEL, label
from app.models import Client, Department, Enrollment, Intake, Program, ProgramCapacity
from app.models.base import json_list_contains, json_list_items
from app.services.options import active_options
from app.services.scope import restrict, visible_program_ids

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

ORG_SUMMARY_DEFINITIONS = ("served", "new", "not_stated", "multi_valued", "age_band")
VACANCY_DEFINITIONS = ("active_on", "capacity_on", "occupied", "vacant_total")

# The Organizational Summary's temporary table of served pairs, and the work_mem its transaction gets.
SERVED_TABLE = "org_summary_served"
REPORT_WORK_MEM = "256MB"

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
    cleaned = sa.func.lower(sa.func.trim(column))
    return sa.or_(column.is_(None), cleaned == "", cleaned.in_(NOT_STATED_WORDS))


def stated_value(column):
    """The field's value, or NULL when it holds no answer (what breakdowns group by)."""
    return sa.case((not_stated(column), sa.null()), else_=column)


def no_stated_item(column):
    """The JSON list field holds no answer: no item that is stated (DEFINITIONS["not_stated"])."""
    items = json_list_items(column)
    return ~sa.exists(sa.select(1).select_from(items).where(~not_stated(items.c.value)))


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


# --- Inputs -----------------------------------------------------------------------------

def _as_uuid(value, what: str) -> uuid.UUID | None:
    if value is None or value == "":
        return None
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise ReportError(f"{value!r} is not a {what} id.") from None


def _named(model, key: uuid.UUID | None, what: str, staff=None):
    """The department or program a report is narrowed to. One outside ``staff``'s scope is answered
    exactly like one that does not exist, so its name is never shown to them."""
    if key is None:
        return None
    query = sa.select(model).where(model.id == key)
    row = db.session.scalar(query if staff is None else restrict(query, model, staff))
    if row is None:
        raise ReportError(f"There is no {what} with id {key}.")
    return row


def find_department(name: str) -> Department:
    """The department called ``name`` (any case), for the CLI's ``--department NAME``."""
    row = db.session.scalar(sa.select(Department).where(sa.func.lower(Department.name) == name.strip().lower()))
    if row is None:
        raise ReportError(f"There is no department called {name!r}.")
    return row


def find_program(name: str) -> Program:
    row = db.session.scalar(sa.select(Program).where(sa.func.lower(Program.name) == name.strip().lower()))
    if row is None:
        raise ReportError(f"There is no program called {name!r}.")
    return row


def parse_day(text: str | None, what: str, default: date | None = None) -> date:
    """A YYYY-MM-DD date typed by a person; empty gives ``default``; anything else a clear error."""
    if text is None or not str(text).strip():
        if default is None:
            raise ReportError(f"{what}: give a date as YYYY-MM-DD.")
        return default
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise ReportError(f"{what}: {text!r} is not a date; use YYYY-MM-DD.") from None


def report_choices(staff=None) -> dict:
    """The departments and programs a person may pick on a report page (those they can see)."""
    covered = covered_program_ids(staff)
    programs = db.session.execute(
        sa.select(Program.id, Program.name, Program.is_archived, Department.id, Department.name)
        .join(Department, Department.id == Program.department_id)
        .where(_in_programs(Program.id, covered))
        .order_by(Program.name)
    ).all()
    departments = sorted({(str(did), dname) for _, _, _, did, dname in programs}, key=lambda d: d[1].lower())
    return {
        "departments": departments,
        "programs": [(str(pid), name + (" (archived)" if archived else "")) for pid, name, archived, _, _ in programs],
    }


def last_full_month(today: date) -> tuple[date, date]:
    """The default Organizational Summary period: the whole calendar month before ``today``."""
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def covered_program_ids(staff=None, department_id=None, program_id=None) -> sa.Select | None:
    """Ids of the programs a report covers (visible to ``staff``, within the department or program
    asked for), or None when it covers every program."""
    conditions = []
    if staff is not None:
        visible = visible_program_ids(staff)
        if visible is not None:
            conditions.append(Program.id.in_(visible))
    if department_id is not None:
        conditions.append(Program.department_id == department_id)
    if program_id is not None:
        conditions.append(Program.id == program_id)
    return sa.select(Program.id).where(*conditions) if conditions else None


def _in_programs(column, covered: sa.Select | None):
    return sa.true() if covered is None else column.in_(covered)


SERVED_KINDS = ("served", "new", "continuing")


def served_client_ids(date_from: date, date_to: date, *, staff=None, department_id=None, program_id=None,
                      kind: str = "served") -> sa.Select:
    """Ids of the clients served in the period within the covered programs: all of them (``kind``
    "served"), the new ones ("new") or the others ("continuing").

    The client list's drill-down filters call this, so a report count and the list it links
    to come from one query. Continuing clients are served clients with an earlier enrollment
    or intake, asked of each served client: as "served but not in the new ones", PostgreSQL
    rescanned the new clients for every client once they outgrew work_mem (minutes a list).
    """
    if kind not in SERVED_KINDS:
        raise ReportError(f"Unknown kind of served client {kind!r}: one of {', '.join(SERVED_KINDS)}.")
    covered = covered_program_ids(staff, department_id, program_id)
    served = (
        _served_enrollments(date_from, date_to, covered)
        .with_only_columns(Enrollment.client_id)
        .correlate(None)  # used inside queries on clients: its own clients table must stay its own
    )
    if kind == "new":
        served = served.where(_is_new(date_from, covered, Enrollment.client_id))
    elif kind == "continuing":
        served = served.where(~_is_new(date_from, covered, Enrollment.client_id))
    return served


def _served_enrollments(date_from: date, date_to: date, covered: sa.Select | None, *client_conditions) -> sa.Select:
    """(client, program) of every enrollment that is service in the period, of a counted client,
    in a covered program (DEFINITIONS["served"]).

    Without demographic conditions no client field is needed, so the clients that do not
    count are taken away by id (they are few, and indexed) instead of joining every client:
    a year at a million clients is a million enrollments, and hashing the million clients to
    check two flags took a second.
    """
    served = sa.select(Enrollment.client_id, Enrollment.program_id).where(
        enrollment_overlaps(date_from, date_to), _in_programs(Enrollment.program_id, covered),
    )
    if client_conditions:
        return served.join(Client, Client.id == Enrollment.client_id).where(client_counted(), *client_conditions)
    gone = aliased(Client)
    return served.where(~sa.exists().where(gone.id == Enrollment.client_id, client_not_counted(gone)))


def _is_new(date_from: date, covered: sa.Select | None, client_id):
    """The client ``client_id`` has no earlier enrollment or intake in the covered programs (DEFINITIONS["new"]).

    On PostgreSQL as NOT EXISTS, which it plans as an anti-join: a NOT IN whose set outgrows
    work_mem falls back to rescanning the set for every client (minutes at a million). On
    SQLite as NOT IN over two uncorrelated sets, found once per query: without statistics
    SQLite would answer each correlated lookup by scanning enrollments.
    """
    earlier = aliased(Enrollment)
    enrolled_before = sa.select(earlier.client_id).where(
        earlier.is_archived.is_(False), earlier.start_date < date_from, _in_programs(earlier.program_id, covered),
    )
    intake_before = sa.select(Intake.client_id).where(
        Intake.intake_date < date_from, _in_programs(Intake.program_id, covered),
    )
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.and_(~enrolled_before.where(earlier.client_id == client_id).exists(),
                       ~intake_before.where(Intake.client_id == client_id).exists())
    return sa.and_(client_id.not_in(enrolled_before.correlate(None)), client_id.not_in(intake_before.correlate(None)))


def _check_period(date_from: date, date_to: date) -> None:
    if not isinstance(date_from, date) or not isinstance(date_to, date):
        raise ReportError("Give the period as two dates.")
    if date_from > date_to:
        raise ReportError(f"The period starts ({date_from:%Y-%m-%d}) after it ends ({date_to:%Y-%m-%d}).")


def _clean_filters(filters: dict | None) -> dict[str, str]:
    cleaned = {}
    for key, value in (filters or {}).items():
        if value is None or value == "":
            continue
        if key not in DIMENSION_BY_KEY:
            raise ReportError(f"Unknown filter {key!r}. Filters: {', '.join(DIMENSION_BY_KEY)}.")
        cleaned[key] = str(value)
    return cleaned


def _ref(row) -> dict | None:
    return None if row is None else {"id": str(row.id), "name": row.name}


# --- Organizational Summary -------------------------------------------------------------

def org_summary(date_from: date, date_to: date, *, department_id=None, program_id=None,
                filters: dict | None = None, staff=None) -> dict:
    """Distinct clients served in [date_from, date_to], new vs continuing, demographic breakdowns and
    drill-downs by department and program; see DEFINITIONS for what each number counts.

    ``filters`` maps breakdown keys (DIMENSIONS) to a value or NOT_STATED and narrows every count.
    """
    _check_period(date_from, date_to)
    department = _named(Department, _as_uuid(department_id, "department"), "department", staff)
    program = _named(Program, _as_uuid(program_id, "program"), "program", staff)
    if department is not None and program is not None and program.department_id != department.id:
        raise ReportError(f"The program {program.name} is not in the department {department.name}.")
    filters = _clean_filters(filters)
    client_conditions = [demographic_condition(key, value, date_to) for key, value in filters.items()]
    covered = covered_program_ids(staff, department and department.id, program and program.id)

    _tune_for_report()
    served = _materialise_served(date_from, date_to, covered, client_conditions)
    counts = _served_counts(served, date_from, date_to, covered)
    by_program = _by_program(served, covered)
    by_department = _by_department(served, by_program)
    served.drop(db.session.connection())
    distinct, new = counts[("_served", None)], counts[("_new", None)]
    return {
        "report": "org_summary",
        "date_from": date_from.isoformat(),
        "date_to": date_to.isoformat(),
        "department": _ref(department),
        "program": _ref(program),
        "filters": filters,
        "scope": "all programs" if covered is None else "limited",
        "distinct_clients_served": distinct,
        "new_clients": new,
        "continuing_clients": distinct - new,
        "breakdowns": {d.key: _breakdown(d, counts) for d in DIMENSIONS},
        "by_department": by_department,
        "by_program": by_program,
        "definitions": {key: DEFINITIONS[key] for key in ORG_SUMMARY_DEFINITIONS},
    }


def _tune_for_report() -> None:
    """PostgreSQL settings for the rest of this transaction only (JIT is off for every connection:
    app/config.py): work_mem up, because the served set of a year at a million clients is hashed
    several times, and at the default 4MB each hash spills to disk in batches.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'"))


def _materialise_served(date_from: date, date_to: date, covered: sa.Select | None, client_conditions) -> sa.Table:
    """The served (client, program) pairs of the period, found once and written to a temporary table
    that every count of the report then reads.

    Finding them is most of the report's work (a year at a million clients: a million
    enrollments joined to their clients), and each breakdown used to find them again. A
    temporary table rather than a CTE because, once analysed, the planner knows its size:
    over a CTE it guesses 200 rows and fetches half a million clients one index probe at a
    time. ``started_before`` is 1 when a served enrollment began before the period, which
    already makes the client not new (DEFINITIONS["new"]), so only the others are looked up.
    The caller drops the table; on an error the transaction's rollback takes it away.
    """
    table = sa.Table(
        SERVED_TABLE, sa.MetaData(),
        sa.Column("client_id", sa.Uuid, nullable=False),
        sa.Column("program_id", sa.Uuid, nullable=False),
        sa.Column("started_before", sa.Integer, nullable=False),
        prefixes=["TEMPORARY"], postgresql_on_commit="DROP",
    )
    table.create(db.session.connection())
    pairs = (
        _served_enrollments(date_from, date_to, covered, *client_conditions)
        .add_columns(sa.func.max(sa.case((Enrollment.start_date < date_from, 1), else_=0)))
        .group_by(Enrollment.client_id, Enrollment.program_id)
    )
    db.session.execute(table.insert().from_select(["client_id", "program_id", "started_before"], pairs))
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text(f"ANALYZE {SERVED_TABLE}"))
    return table


def _served_counts(served: sa.Table, date_from: date, date_to: date, covered: sa.Select | None) -> dict:
    """Every per-client count of the summary in ONE query over the served pairs: a CTE with one row
    per served client and its raw field values, the totals, then one part per breakdown, glued
    with UNION ALL.

    The raw values are grouped first (_distinct_values) and the definitions (not stated, age
    band, list items) applied to the few distinct values found, not to every client: half a
    million clients hold a few thousand distinct language lists and birth dates. Keys are
    (breakdown key, value); NULL values are the not-stated rows, ("_served", None) and
    ("_new", None) the totals.
    """
    per_client = (
        sa.select(served.c.client_id, sa.func.max(served.c.started_before).label("started_before"))
        .group_by(served.c.client_id)
        .subquery("served_clients")
    )
    fields = [_field(dimension) for dimension in DIMENSIONS]
    people = (
        sa.select(Client.id.label("client_id"), per_client.c.started_before,
                  *[getattr(Client, field).label(field) for field in fields])
        .join(per_client, per_client.c.client_id == Client.id)
        .cte("people")
    )
    values = _distinct_values(people, fields)

    def named(key: str):
        return sa.literal_column(f"'{key}'").label("breakdown")

    parts = [
        sa.select(named("_served"), sa.null().label("value"), sa.func.count().label("clients")).select_from(people),
        sa.select(named("_new"), sa.null(), sa.func.count()).select_from(people)
        .where(people.c.started_before == 0, _is_new(date_from, covered, people.c.client_id)),
    ]
    for position, dimension in enumerate(DIMENSIONS):
        grouped = (
            sa.select(values.c[_field(dimension)].label("value"), values.c.clients)
            .where(values.c.field_set == _field_set(position, len(fields)))
            .subquery()
        )
        if dimension.multi_valued:
            items = json_list_items(grouped.c.value)
            # One row per distinct stated item of each distinct list, or one NULL row for a list with none.
            found = (
                sa.select(grouped.c.value.label("list"), grouped.c.clients, items.c.value)
                .select_from(grouped).outerjoin(items, ~not_stated(items.c.value))
                .distinct().subquery()
            )
            parts.append(sa.select(named(dimension.key), found.c.value, sa.func.sum(found.c.clients))
                         .group_by(found.c.value))
        else:
            value = age_band_value(date_to, grouped.c.value) if dimension.key == "age_band" \
                else stated_value(grouped.c.value)
            stated = sa.select(value.label("value"), grouped.c.clients).subquery()
            parts.append(sa.select(named(dimension.key), stated.c.value, sa.func.sum(stated.c.clients))
                         .group_by(stated.c.value))
    counts: dict = {}
    for key, value, count in db.session.execute(sa.union_all(*parts)):
        counts[(key, value)] = counts.get((key, value), 0) + int(count)
    return counts


def _field(dimension: Dimension) -> str:
    """The Client field a breakdown groups (age bands come from the birth date)."""
    return "dob" if dimension.key == "age_band" else dimension.key


def _field_set(position: int, size: int) -> int:
    """GROUPING()'s answer for the grouping set of field ``position`` alone: a 1 bit for each other field."""
    return (1 << size) - 1 - (1 << (size - 1 - position))


def _distinct_values(people, fields: list[str]):
    """Each field's distinct values with their client counts, as one CTE: (field_set, fields…, clients).

    On PostgreSQL one pass with GROUPING SETS; elsewhere one GROUP BY per field, glued with
    UNION ALL, the other fields NULL and field_set written as GROUPING() would give it.
    """
    columns = [people.c[field] for field in fields]
    if db.session.get_bind().dialect.name == "postgresql":
        return (
            sa.select(sa.func.grouping(*columns).label("field_set"), *columns, sa.func.count().label("clients"))
            .group_by(sa.func.grouping_sets(*[sa.tuple_(column) for column in columns]))
            .cte("field_values")
        )
    return sa.union_all(*[
        sa.select(sa.literal(_field_set(position, len(fields))).label("field_set"),
                  *[column if other == position else sa.null().label(column.key)
                    for other, column in enumerate(columns)],
                  sa.func.count().label("clients"))
        .group_by(columns[position])
        for position in range(len(fields))
    ]).cte("field_values")


def _breakdown(dimension: Dimension, counts: dict) -> dict:
    """Counts per value, in the option list's order, then other values found, then the not-stated row."""
    if dimension.key == "age_band":
        order, labels = [key for key, _, _ in AGE_BANDS], AGE_BAND_LABELS
    else:
        order, labels = stated_options(dimension.list_key), {}
    found = {value: count for (key, value), count in counts.items() if key == dimension.key}
    known = set(order)
    values = order + sorted((v for v in found if v is not None and v not in known), key=str.lower)
    rows = [{"value": value, "label": labels.get(value, value), "clients": found.get(value, 0)} for value in values]
    rows.append({"value": NOT_STATED, "label": NOT_STATED_LABEL, "clients": found.get(None, 0)})
    return {
        "label": dimension.label,
        "multi_valued": dimension.multi_valued,
        "rows": rows,
        "total": sum(row["clients"] for row in rows),
    }


def stated_options(list_key: str) -> list[str]:
    """An option list's values except those that mean "no answer" (they belong to the not-stated row)."""
    return [value for value in active_options(list_key) if value.strip().lower() not in NOT_STATED_WORDS]


def _by_program(served: sa.Table, covered: sa.Select | None) -> list[dict]:
    """Clients served per program. Listed: the covered programs still open, plus any that served
    someone in the period. The served pairs are distinct, so a row count is a client count."""
    counts = (
        sa.select(served.c.program_id, sa.func.count().label("clients"))
        .group_by(served.c.program_id)
        .subquery("program_counts")
    )
    rows = db.session.execute(
        sa.select(Program.id, Program.name, Department.id, Department.name, sa.func.coalesce(counts.c.clients, 0))
        .join(Department, Department.id == Program.department_id)
        .outerjoin(counts, counts.c.program_id == Program.id)
        .where(_in_programs(Program.id, covered), sa.or_(program_open(), counts.c.clients.is_not(None)))
        .order_by(Department.name, Program.name)
    )
    return [
        {"program_id": str(pid), "program": pname, "department_id": str(did), "department": dname, "clients": count}
        for pid, pname, did, dname, count in rows
    ]


def _by_department(served: sa.Table, by_program: list[dict]) -> list[dict]:
    """Distinct clients served per department, for the departments of the listed programs (in
    by_program's order, which is by department name); a client served in two programs of one
    department counts once there."""
    pairs = (
        sa.select(served.c.client_id, Program.department_id)
        .join(Program, Program.id == served.c.program_id)
        .distinct()
        .subquery("department_clients")
    )
    counts = dict(db.session.execute(
        sa.select(pairs.c.department_id, sa.func.count()).group_by(pairs.c.department_id)
    ).all())
    departments: dict[str, dict] = {}
    for row in by_program:
        departments.setdefault(row["department_id"], {
            "department_id": row["department_id"], "department": row["department"],
            "clients": counts.get(uuid.UUID(row["department_id"]), 0),
        })
    return list(departments.values())


# --- Vacancy Tracker ----------------------------------------------------------------------

def vacancy_report(as_of: date, *, department_id=None, staff=None) -> dict:
    """Capacity, occupied and vacant places per open program on ``as_of``, with totals per
    department and overall; one query for all programs (see DEFINITIONS)."""
    if not isinstance(as_of, date):
        raise ReportError("Give the day of the report as a date.")
    department = _named(Department, _as_uuid(department_id, "department"), "department", staff)
    covered = covered_program_ids(staff, department and department.id)

    result = db.session.execute(
        sa.select(
            Program.id, Program.name, Program.status, Program.no_capacity_limit, Department.id, Department.name,
            capacity_on(as_of).label("capacity"), occupied_on(as_of),
        )
        .join(Department, Department.id == Program.department_id)
        .where(program_open(), _in_programs(Program.id, covered))
        .order_by(Department.name, Program.name)
    )
    rows = [
        _vacancy_row(pid, pname, status, no_limit, did, dname, capacity, clients)
        for pid, pname, status, no_limit, did, dname, capacity, clients in result
    ]
    departments: dict[str, dict] = {}
    for row in rows:
        departments.setdefault(row["department_id"], {"department_id": row["department_id"],
                                                      "department": row["department"], "rows": []})["rows"].append(row)
    return {
        "report": "vacancy",
        "as_of": as_of.isoformat(),
        "department": _ref(department),
        "scope": "all programs" if covered is None else "limited",
        "rows": rows,
        "totals": {
            "overall": _totals(rows),
            "by_department": [
                {"department_id": d["department_id"], "department": d["department"], **_totals(d["rows"])}
                for d in departments.values()
            ],
        },
        "definitions": {key: DEFINITIONS[key] for key in VACANCY_DEFINITIONS},
    }


def occupied_on(day: date):
    """Distinct counted clients active in a program on ``day`` (DEFINITIONS["occupied"]), correlated to Program.

    Counted program by program from the open-enrollments index (and the few enrollments
    ending later), never by reading every enrollment and joining every client: clients that
    do not count are taken away by id, and they are few.
    """
    parts = [sa.select(Enrollment.client_id).where(Enrollment.program_id == Program.id, part).correlate(Program)
             for part in enrollment_active_on_parts(day)]
    active = sa.union_all(*parts).subquery("active")
    return (
        sa.select(sa.func.count(sa.distinct(active.c.client_id)))
        .where(active.c.client_id.not_in(sa.select(Client.id).where(client_not_counted())))
        .scalar_subquery()
    )


def _percent(part: int, whole: int | None) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _vacancy_row(pid, pname, status, no_limit, did, dname, capacity, occupied) -> dict:
    limited = not no_limit
    return {
        "program_id": str(pid), "program": pname, "department_id": str(did), "department": dname,
        "status": status,
        "no_capacity_limit": no_limit,
        "capacity": capacity if limited else None,
        "occupied": occupied,
        "vacant": capacity - occupied if limited else None,
        "occupancy_pct": _percent(occupied, capacity) if limited else None,
        "over_capacity": limited and occupied > capacity,
    }


def _totals(rows: list[dict]) -> dict:
    """Sums of a group of vacancy rows (a handful of programs, already counted by the database)."""
    limited = [row for row in rows if not row["no_capacity_limit"]]
    capacity = sum(row["capacity"] for row in limited)
    occupied = sum(row["occupied"] for row in limited)
    return {
        "programs": len(rows),
        "capacity": capacity,
        "occupied": occupied,
        "vacant": sum(max(row["vacant"], 0) for row in limited),
        "occupancy_pct": _percent(occupied, capacity),
        "over_capacity_programs": sum(1 for row in limited if row["over_capacity"]),
        "no_limit_programs": len(rows) - len(limited),
        "occupied_no_limit": sum(row["occupied"] for row in rows if row["no_capacity_limit"]),
    }
