"""The Data quality report: what funders (HMIS-style data standards) ask an agency to keep complete.

For the clients served in a period (the Organizational Summary's definition of "served",
app/services/reports/served.py) it counts the records to fix: no birth date or a placeholder one,
gender and the other demographics not stated, clients waiting in possible-duplicate review;
and, for their enrollments in the period, those without an intake and open ones with no
activity for a long time. Per program, per source system and overall, with the share of the
records checked.

Each check is one SQL condition defined here, used both to count and by the list filters
behind every number (admin_views/filters.py), so a count and the list it opens are one
definition. ``staff=None`` is the system (CLI): no visibility limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from app.choices import SOURCE_SYSTEMS
from app.extensions import db
from app.models import Client, ClientDuplicate, Department, Discharge, Enrollment, Intake, Program
from app.services.matching.model import settings as matching_settings
from app.services.reports.definitions import (
    DIMENSIONS, ReportError, client_counted, enrollment_overlaps, no_stated_item, not_stated,
)
from app.services.reports.inputs import (
    as_uuid, check_period, covered_program_ids, id_and_name, in_programs, record_in_scope,
)
from app.services.reports.tuning import tune_for_report

DEFAULT_STALE_DAYS = 180
ENTERED_IN_CCD = "CCD"  # clients typed in by hand (source_system "CCD" or empty)


@dataclass(frozen=True)
class Check:
    key: str
    title: str
    level: str  # "client": counted over served clients; "enrollment": over their enrollments in the period
    definition: str


def _demographic_checks() -> list[Check]:
    checks = []
    for dimension in DIMENSIONS:
        if dimension.key == "age_band":
            continue
        checks.append(Check(f"{dimension.key}_not_stated", f"{dimension.label} not stated", "client",
                            f"The client's {dimension.label.lower()} is empty, blank or “Unknown”"
                            + (" (no item other than those)." if dimension.multi_valued else ".")))
    return checks


CHECKS: tuple[Check, ...] = (
    Check("dob_missing", "No birth date", "client", "The client has no date of birth."),
    Check("dob_placeholder", "Placeholder birth date", "client",
          "The date of birth is one of the configured placeholder dates (MATCH_PLACEHOLDER_DOBS, 1900-01-01 by "
          "default) that source systems write when the real date is unknown."),
    *_demographic_checks(),
    Check("in_duplicate_review", "In possible-duplicate review", "client",
          "The client is one side of a possible duplicate waiting for review."),
    Check("enrollment_without_intake", "Enrollments without an intake", "enrollment",
          "An enrollment in the period whose client has no intake in the same program."),
    Check("stale_open_enrollment", "Open enrollments with no activity", "enrollment",
          "An enrollment in the period with no end date that started more than N days before the period's last "
          "day, whose client has no intake or discharge in that program in those N days."),
)
CHECK_BY_KEY = {check.key: check for check in CHECKS}
CLIENT_CHECKS = tuple(check for check in CHECKS if check.level == "client")
ENROLLMENT_CHECKS = tuple(check for check in CHECKS if check.level == "enrollment")
# What a served (client, program) pair carries: its enrollments in the period and how many each enrollment check flags.
_SUMS = ("enrollments", *(check.key for check in ENROLLMENT_CHECKS))
# The temporary table of those pairs the report counts from (dropped before it returns).
SERVED_PAIRS_TABLE = "data_quality_served"


def placeholder_dobs() -> tuple[date, ...]:
    """The birth dates that mean "unknown" in source exports: the matcher's own setting, one list for the app."""
    return tuple(sorted(matching_settings().placeholder_dobs))


def source_label(source: str) -> str:
    return "Entered in CCD" if source == ENTERED_IN_CCD else source


# --- The checks, as SQL ---------------------------------------------------------------------

def client_check(key: str, client=Client):
    """The client-level check ``key`` holds for ``client``."""
    if key == "dob_missing":
        return client.dob.is_(None)
    if key == "dob_placeholder":
        return client.dob.in_(placeholder_dobs())
    if key == "in_duplicate_review":
        # Either side of a pending pair, as IN over both sides' ids: PostgreSQL hashes that set once
        # per query, where an EXISTS with OR is asked again for every client.
        pending = ClientDuplicate.status == "pending"
        return client.id.in_(sa.union_all(sa.select(ClientDuplicate.primary_client_id).where(pending),
                                          sa.select(ClientDuplicate.duplicate_client_id).where(pending)))
    for dimension in DIMENSIONS:
        if key == f"{dimension.key}_not_stated" and dimension.key != "age_band":
            column = getattr(client, dimension.key)
            return no_stated_item(column) if dimension.multi_valued else not_stated(column)
    raise ReportError(f"Unknown data quality check {key!r}.")


def enrollment_check(key: str, as_of: date, stale_days: int, enrollment=Enrollment):
    """The enrollment-level check ``key`` holds for ``enrollment``, judged on ``as_of``."""
    same_program = sa.and_(Intake.client_id == enrollment.client_id, Intake.program_id == enrollment.program_id)
    if key == "enrollment_without_intake":
        return ~sa.exists().where(same_program)
    if key == "stale_open_enrollment":
        since = as_of - timedelta(days=stale_days)
        return sa.and_(
            enrollment.end_date.is_(None), enrollment.start_date < since,
            ~sa.exists().where(same_program, Intake.intake_date.between(since, as_of)),
            ~sa.exists().where(Discharge.client_id == enrollment.client_id,
                               Discharge.program_id == enrollment.program_id,
                               Discharge.discharge_date.between(since, as_of)),
        )
    raise ReportError(f"Unknown data quality check {key!r}.")


def _source_value(client=Client):
    return sa.func.coalesce(client.source_system, ENTERED_IN_CCD)


def _served_enrollments(date_from: date, date_to: date, covered) -> sa.Select:
    """Enrollments that are service in the period, of counted clients, in covered programs."""
    query = (sa.select(Enrollment.id).join(Client, Client.id == Enrollment.client_id)
             .where(enrollment_overlaps(date_from, date_to), client_counted()))
    return query if covered is None else query.where(Enrollment.program_id.in_(covered))


def flagged_client_ids(key: str, date_from: date, date_to: date, *, staff=None, department_id=None,
                       program_id=None, source: str | None = None) -> sa.Select:
    """Ids of the served clients the client-level check ``key`` flags: what a count's drill-down lists."""
    covered = covered_program_ids(staff, department_id, program_id)
    served = (_served_enrollments(date_from, date_to, covered).with_only_columns(Enrollment.client_id)
              .where(client_check(key)))
    if source is not None:
        served = served.where(_source_value() == source)
    return served.correlate(None)


def flagged_enrollment_ids(key: str, date_from: date, date_to: date, stale_days: int, *, staff=None,
                           department_id=None, program_id=None, source: str | None = None) -> sa.Select:
    """Ids of the enrollments in the period the enrollment-level check ``key`` flags."""
    covered = covered_program_ids(staff, department_id, program_id)
    served = _served_enrollments(date_from, date_to, covered).where(enrollment_check(key, date_to, stale_days))
    if source is not None:
        served = served.where(_source_value() == source)
    return served.correlate(None)


# --- The report -------------------------------------------------------------------------------

def data_quality_report(date_from: date, date_to: date, *, department_id=None, program_id=None,
                        stale_days: int = DEFAULT_STALE_DAYS, staff=None) -> dict:
    """Counts of records to fix among the clients served in [date_from, date_to] and their enrollments."""
    check_period(date_from, date_to)
    if not isinstance(stale_days, int) or not 1 <= stale_days <= 3650:
        raise ReportError("Days without activity: give a whole number from 1 to 3650.")
    department = record_in_scope(Department, as_uuid(department_id, "department"), "department", staff)
    program = record_in_scope(Program, as_uuid(program_id, "program"), "program", staff)
    if department is not None and program is not None and program.department_id != department.id:
        raise ReportError(f"The program {program.name} is not in the department {department.name}.")
    covered = covered_program_ids(staff, department and department.id, program and program.id)

    tune_for_report()
    names = {}
    for row in db.session.execute(sa.select(Program.id, Program.name, Department.name.label("department"))
                                  .join(Department, Department.id == Program.department_id)):
        names[row.id] = row
    program_totals, source_totals = _group_counts(date_from, date_to, covered, stale_days)
    by_program = [{"program_id": str(key), "program": names[key].name, "department": names[key].department,
                   **_counts(values)} for key, values in program_totals.items()]
    by_program.sort(key=lambda row: (row["program"], row["program_id"]))
    by_source = [{"source": key, "source_label": source_label(key), **_counts(values)}
                 for key, values in sorted(source_totals.items())]
    # Every client has exactly one source, so the sources' counts add up to the whole.
    overall = _counts({"clients": sum(r["clients"] for r in by_source),
                       "enrollments": sum(r["enrollments"] for r in by_source),
                       **{c.key: sum(r["counts"][c.key] for r in by_source) for c in CHECKS}})
    return {
        "report": "data_quality",
        "date_from": date_from.isoformat(),
        "date_to": date_to.isoformat(),
        "department": id_and_name(department),
        "program": id_and_name(program),
        "stale_days": stale_days,
        "scope": "all programs" if covered is None else "limited",
        "checks": [{"key": c.key, "title": c.title, "level": c.level} for c in CHECKS],
        "overall": overall,
        "by_program": by_program,
        "by_source": by_source,
        "definitions": {
            "served": "The clients served in the period, as the Organizational Summary counts them; a client "
                      "served in several programs counts once overall and once in each program.",
            **{c.key: c.definition.replace("N days", f"{stale_days} days") for c in CHECKS},
        },
    }


def _materialise_pairs(date_from: date, date_to: date, covered, stale_days: int) -> sa.Table:
    """The served (client, program) pairs of the period with their enrollments and the enrollment checks
    summed, found once and written to a temporary table that the counts then read.

    A temporary table rather than a CTE because, once analysed, the planner knows how many clients the
    pairs hold: over a CTE it guesses 200 and fetches half a million clients one index probe at a time
    (a third of the report at a million clients). The caller drops the table; on an error the
    transaction's rollback takes it away.
    """
    table = sa.Table(
        SERVED_PAIRS_TABLE, sa.MetaData(),
        sa.Column("client_id", sa.Uuid, nullable=False),
        sa.Column("program_id", sa.Uuid, nullable=False),
        *[sa.Column(key, sa.Integer, nullable=False) for key in _SUMS],
        prefixes=["TEMPORARY"], postgresql_on_commit="DROP",
    )
    table.create(db.session.connection())
    pairs = (
        sa.select(Enrollment.client_id, Enrollment.program_id, sa.func.count(),
                  *[sa.func.sum(sa.case((enrollment_check(c.key, date_to, stale_days), 1), else_=0))
                    for c in ENROLLMENT_CHECKS])
        .where(enrollment_overlaps(date_from, date_to), in_programs(Enrollment.program_id, covered))
        .group_by(Enrollment.client_id, Enrollment.program_id)
    )
    db.session.execute(table.insert().from_select(["client_id", "program_id", *_SUMS], pairs))
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text(f"ANALYZE {SERVED_PAIRS_TABLE}"))
    return table


def _group_counts(date_from: date, date_to: date, covered, stale_days: int) -> tuple[dict, dict]:
    """{program id: counts} and {source: counts}.

    Each served (client, program) pair is found once with its enrollments' checks summed, each served
    client once with its checks asked once and its enrollments' sums; a program's counts add up its
    pairs, a source's its clients (every client has one source). Asking the checks once per group
    instead (a pass per program and source, the client checks again per source) took twice as long.
    """
    pairs = _materialise_pairs(date_from, date_to, covered, stale_days)
    client_keys = [c.key for c in CLIENT_CHECKS]
    per_client = (sa.select(pairs.c.client_id, *[sa.func.sum(pairs.c[key]).label(key) for key in _SUMS])
                  .group_by(pairs.c.client_id).subquery("served_clients"))
    people = (
        sa.select(Client.id, _source_value().label("source"), *[per_client.c[key] for key in _SUMS],
                  *[sa.case((client_check(key), 1), else_=0).label(key) for key in client_keys])
        .join(per_client, per_client.c.client_id == Client.id)
        .where(client_counted())
        .cte("served_people")
    )
    per_program = (
        sa.select(pairs.c.program_id, sa.cast(sa.null(), sa.String).label("source"), sa.func.count().label("clients"),
                  *[sa.func.sum(pairs.c[key]).label(key) for key in _SUMS],
                  *[sa.func.sum(people.c[key]).label(key) for key in client_keys])
        .join(people, people.c.id == pairs.c.client_id)
        .group_by(pairs.c.program_id)
    )
    per_source = (
        sa.select(sa.cast(sa.null(), sa.Uuid).label("program_id"), people.c.source, sa.func.count().label("clients"),
                  *[sa.func.sum(people.c[key]).label(key) for key in (*_SUMS, *client_keys)])
        .group_by(people.c.source)
    )
    keys = ("clients", *_SUMS, *client_keys)
    programs, sources = {}, {}
    for row in db.session.execute(sa.union_all(per_program, per_source)).mappings():
        counts = {key: int(row[key] or 0) for key in keys}
        if row["source"] is None:
            programs[row["program_id"]] = counts
        else:
            sources[row["source"]] = counts
    pairs.drop(db.session.connection())
    return programs, sources


def _counts(mapping) -> dict:
    counts = {c.key: int(mapping[c.key] or 0) for c in CHECKS}
    clients, enrollments = int(mapping["clients"]), int(mapping["enrollments"])
    shares = {c.key: share(counts[c.key], clients if c.level == "client" else enrollments) for c in CHECKS}
    return {"clients": clients, "enrollments": enrollments, "counts": counts, "shares": shares}


def share(part: int, whole: int) -> float | None:
    """Percent with one decimal, None when nothing was checked."""
    return round(100 * part / whole, 1) if whole else None


def known_sources() -> tuple[str, ...]:
    return (ENTERED_IN_CCD, *SOURCE_SYSTEMS)


def stale_days_from(text, default: int = DEFAULT_STALE_DAYS) -> int:
    """The report form's and CLI's "days without activity", with a clear error for anything else."""
    if text is None or str(text).strip() == "":
        return default
    try:
        return int(str(text).strip())
    except ValueError:
        raise ReportError(f"Days without activity: {text!r} is not a whole number.") from None


def title_of(key: str) -> str:
    check = CHECK_BY_KEY.get(key)
    if check is None:
        raise ReportError(f"Unknown data quality check {key!r}.")
    return check.title
