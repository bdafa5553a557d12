"""The Organizational Summary: distinct clients served in a period, new and continuing, demographic
breakdowns, and the clients by department and program. Counted in the database with GROUP BY
queries over the served pairs (app/services/reports/served.py), never by walking clients in Python.
"""

from __future__ import annotations

import uuid
from datetime import date

import sqlalchemy as sa

from app.choices import AGE_BANDS, NOT_STATED
from app.extensions import db
from app.labels import AGE_BAND_LABELS, NOT_STATED_LABEL
from app.models import Client, Department, Program
from app.models.base import json_list_items
from app.services.options import active_options
from app.services.reports.definitions import (
    DEFINITIONS, DIMENSIONS, NOT_STATED_WORDS, Dimension, ReportError, age_band_value, demographic_condition,
    not_stated, program_open, stated_value,
)
from app.services.reports.inputs import (
    as_uuid, check_period, clean_filters, covered_program_ids, id_and_name, in_programs, record_in_scope,
)
from app.services.reports.served import is_new, materialise_served
from app.services.reports.tuning import tune_for_report

ORG_SUMMARY_DEFINITIONS = ("served", "new", "not_stated", "multi_valued", "age_band")


def org_summary(date_from: date, date_to: date, *, department_id=None, program_id=None,
                filters: dict | None = None, staff=None) -> dict:
    """Distinct clients served in [date_from, date_to], new vs continuing, demographic breakdowns and
    drill-downs by department and program; see DEFINITIONS for what each number counts.

    ``filters`` maps breakdown keys (DIMENSIONS) to a value or NOT_STATED and narrows every count.
    """
    check_period(date_from, date_to)
    department = record_in_scope(Department, as_uuid(department_id, "department"), "department", staff)
    program = record_in_scope(Program, as_uuid(program_id, "program"), "program", staff)
    if department is not None and program is not None and program.department_id != department.id:
        raise ReportError(f"The program {program.name} is not in the department {department.name}.")
    filters = clean_filters(filters)
    client_conditions = [demographic_condition(key, value, date_to) for key, value in filters.items()]
    covered = covered_program_ids(staff, department and department.id, program and program.id)

    tune_for_report()
    served = materialise_served(date_from, date_to, covered, client_conditions)
    counts = served_counts(served, date_from, date_to, covered)
    programs = by_program(served, covered)
    departments = by_department(served, programs)
    served.drop(db.session.connection())
    distinct, new = counts[("_served", None)], counts[("_new", None)]
    return {
        "report": "org_summary",
        "date_from": date_from.isoformat(),
        "date_to": date_to.isoformat(),
        "department": id_and_name(department),
        "program": id_and_name(program),
        "filters": filters,
        "scope": "all programs" if covered is None else "limited",
        "distinct_clients_served": distinct,
        "new_clients": new,
        "continuing_clients": distinct - new,
        "breakdowns": {d.key: breakdown(d, counts) for d in DIMENSIONS},
        "by_department": departments,
        "by_program": programs,
        "definitions": {key: DEFINITIONS[key] for key in ORG_SUMMARY_DEFINITIONS},
    }


def served_counts(served: sa.Table, date_from: date, date_to: date, covered: sa.Select | None) -> dict:
    """Every per-client count of the summary in ONE query over the served pairs: a CTE with one row
    per served client and its raw field values, the totals, then one part per breakdown, glued
    with UNION ALL.

    The raw values are grouped first (_distinct_values) and the definitions (not stated, list
    items) applied to the few distinct values found, not to every client: half a million
    clients hold a few thousand distinct language lists. Age bands are taken per client
    (_people). Keys are
    (breakdown key, value); NULL values are the not-stated rows, ("_served", None) and
    ("_new", None) the totals.
    """
    clients = _served_clients(served)
    people = _people(clients, date_to)
    return _read(_count_parts(clients, people, date_from, date_to, covered, by_department=False))[None]


def served_counts_by_department(served: sa.Table, date_from: date, date_to: date,
                                covered: sa.Select | None) -> dict:
    """served_counts for each department alone and, under None, for all of them, in one query:
    {department id or None: counts}.

    ``served`` holds (client, department) pairs (materialise_served by_department): a client
    served in two programs of a department is one row of it, and is new when new to its
    covered programs (is_new by department), so each department's counts are what
    served_counts gives over its part with its programs covered. One query, because one per
    department read every client once per department, and the clients' fields are joined
    once for the departments and the whole. A department with nobody served is absent.
    """
    clients = _served_clients(served)
    people = _people(clients, date_to)
    department_people = (
        sa.select(served.c.client_id, served.c.department_id, *[people.c[d.key] for d in DIMENSIONS])
        .join(people, people.c.client_id == served.c.client_id)
        .cte("department_people")
    )
    return _read(_count_parts(clients, people, date_from, date_to, covered, by_department=False)
                 + _count_parts(served, department_people, date_from, date_to, covered, by_department=True))


def _served_clients(served: sa.Table):
    """One row per served client: (client_id, started_before). Narrow on purpose: the totals read it
    again, and the clients' fields are joined to it once (_people)."""
    return (
        sa.select(served.c.client_id, sa.func.max(served.c.started_before).label("started_before"))
        .group_by(served.c.client_id)
        .cte("served_clients")
    )


def _people(clients, date_to: date):
    """The served clients with the raw value of every breakdown's field, and their age band on
    ``date_to``: taken client by client, as birth dates are nearly as many as clients once
    counted per department, and a band is a few date comparisons."""
    return (
        sa.select(Client.id.label("client_id"),
                  *[(age_band_value(date_to) if d.key == "age_band" else getattr(Client, d.key)).label(d.key)
                    for d in DIMENSIONS])
        .join(clients, clients.c.client_id == Client.id)
        .cte("people")
    )


def _count_parts(pairs, people, date_from: date, date_to: date, covered: sa.Select | None,
                 by_department: bool) -> list[sa.Select]:
    """The SELECTs of served_counts, each row (department id or NULL, breakdown, value, clients):
    totals from ``pairs`` (client_id, started_before and, by department, department_id, one row
    per client and department), breakdowns from ``people`` (their field values)."""

    def group_of(selectable) -> list:
        """The columns every count is grouped by besides its value: the department's, or none."""
        return [selectable.c.department_id] if by_department else []

    def department_of(selectable):
        return selectable.c.department_id if by_department else sa.cast(sa.null(), sa.Uuid).label("department_id")

    def named(key: str):
        return sa.literal_column(f"'{key}'").label("breakdown")

    fields = [dimension.key for dimension in DIMENSIONS]
    group = group_of(pairs)
    values = _distinct_values(people, fields, group_of(people),
                              "department_field_values" if by_department else "field_values")
    parts = [
        sa.select(department_of(pairs), named("_served"), sa.null().label("value"), sa.func.count().label("clients"))
        .select_from(pairs).group_by(*group),
        sa.select(department_of(pairs), named("_new"), sa.null(), sa.func.count()).select_from(pairs)
        .where(pairs.c.started_before == 0, is_new(date_from, covered, pairs.c.client_id, *group))
        .group_by(*group),
    ]
    for position, dimension in enumerate(DIMENSIONS):
        grouped = (
            sa.select(*group_of(values), values.c[dimension.key].label("value"), values.c.clients)
            .where(values.c.field_set == _field_set(position, len(fields)))
            .subquery()
        )
        if dimension.multi_valued:
            items = json_list_items(grouped.c.value)
            # One row per distinct stated item of each distinct list, or one NULL row for a list with none.
            found = (
                sa.select(*group_of(grouped), grouped.c.value.label("list"), grouped.c.clients, items.c.value)
                .select_from(grouped).outerjoin(items, ~not_stated(items.c.value))
                .distinct().subquery()
            )
            parts.append(sa.select(department_of(found), named(dimension.key), found.c.value,
                                   sa.func.sum(found.c.clients))
                         .group_by(*group_of(found), found.c.value))
        else:
            value = grouped.c.value if dimension.key == "age_band" else stated_value(grouped.c.value)
            stated = sa.select(*group_of(grouped), value.label("value"), grouped.c.clients).subquery()
            parts.append(sa.select(department_of(stated), named(dimension.key), stated.c.value,
                                   sa.func.sum(stated.c.clients))
                         .group_by(*group_of(stated), stated.c.value))
    return parts


def _read(parts: list[sa.Select]) -> dict:
    """Run the parts as one UNION ALL: {department id or None: {(breakdown, value): clients}}."""
    counts: dict = {None: {}}
    for department_id, key, value, count in db.session.execute(sa.union_all(*parts)):
        into = counts.setdefault(department_id, {})
        into[(key, value)] = into.get((key, value), 0) + int(count)
    return counts


def _field_set(position: int, size: int) -> int:
    """GROUPING()'s answer for the grouping set of field ``position`` alone: a 1 bit for each other field."""
    return (1 << size) - 1 - (1 << (size - 1 - position))


def _distinct_values(people, fields: list[str], group: list, name: str):
    """Each field's distinct values with their client counts, as one CTE: (group…, field_set, fields…,
    clients), ``group`` being the columns every count is also grouped by (none, or the department).

    On PostgreSQL one pass with GROUPING SETS; elsewhere one GROUP BY per field, glued with
    UNION ALL, the other fields NULL and field_set written as GROUPING() would give it.
    """
    columns = [people.c[field] for field in fields]
    if db.session.get_bind().dialect.name == "postgresql":
        return (
            sa.select(*group, sa.func.grouping(*columns).label("field_set"), *columns,
                      sa.func.count().label("clients"))
            .group_by(sa.func.grouping_sets(*[sa.tuple_(*group, column) for column in columns]))
            .cte(name)
        )
    return sa.union_all(*[
        sa.select(*group, sa.literal(_field_set(position, len(fields))).label("field_set"),
                  *[column if other == position else sa.null().label(column.key)
                    for other, column in enumerate(columns)],
                  sa.func.count().label("clients"))
        .group_by(*group, columns[position])
        for position in range(len(fields))
    ]).cte(name)


def breakdown(dimension: Dimension, counts: dict, options: list[str] | None = None) -> dict:
    """Counts per value, in the option list's order, then other values found, then the not-stated row.

    ``options`` is the dimension's stated_options when the caller already read them (a report
    of many columns reads each list once, not once per column)."""
    if dimension.key == "age_band":
        order, labels = [key for key, _, _ in AGE_BANDS], AGE_BAND_LABELS
    else:
        order, labels = (stated_options(dimension.list_key) if options is None else options), {}
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


def by_program(served: sa.Table, covered: sa.Select | None) -> list[dict]:
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
        .where(in_programs(Program.id, covered), sa.or_(program_open(), counts.c.clients.is_not(None)))
        .order_by(Department.name, Program.name)
    )
    return [
        {"program_id": str(pid), "program": pname, "department_id": str(did), "department": dname, "clients": count}
        for pid, pname, did, dname, count in rows
    ]


def served_departments(served: sa.Table, covered: sa.Select | None) -> list[dict]:
    """The departments by_program's rows would list, by name, from (client, department) pairs
    (materialise_served by_department): those of the covered programs still open, and any of a
    covered program that served someone in the period."""
    open_program = sa.select(Program.id).where(Program.department_id == Department.id, program_open(),
                                               in_programs(Program.id, covered))
    rows = db.session.execute(
        sa.select(Department.id, Department.name)
        .where(sa.or_(open_program.exists(), Department.id.in_(sa.select(served.c.department_id))))
        .order_by(Department.name)
    )
    return [{"department_id": str(did), "department": dname} for did, dname in rows]


def _listed_departments(programs: list[dict]) -> list[dict]:
    """The departments of the listed programs (by_program's rows), once each, in their order (by department name)."""
    departments: dict[str, dict] = {}
    for row in programs:
        departments.setdefault(row["department_id"], {"department_id": row["department_id"],
                                                      "department": row["department"]})
    return list(departments.values())


def by_department(served: sa.Table, programs: list[dict]) -> list[dict]:
    """Distinct clients served per department, for the departments of the listed programs
    (_listed_departments); a client served in two programs of one department counts once there."""
    pairs = (
        sa.select(served.c.client_id, Program.department_id)
        .join(Program, Program.id == served.c.program_id)
        .distinct()
        .subquery("department_clients")
    )
    counts = dict(db.session.execute(
        sa.select(pairs.c.department_id, sa.func.count()).group_by(pairs.c.department_id)
    ).all())
    return [{**department, "clients": counts.get(uuid.UUID(department["department_id"]), 0)}
            for department in _listed_departments(programs)]
