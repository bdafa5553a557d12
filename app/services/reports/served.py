"""Who is served in a period and who of them is new (DEFINITIONS["served"], DEFINITIONS["new"]), as SQL:
the ids the client list's drill-downs filter by, and the served (client, program) pairs the
Organizational Summary and the Department summary count from.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models import Client, Enrollment, Intake, Program
from app.services.reports.definitions import ReportError, client_counted, client_not_counted, enrollment_overlaps
from app.services.reports.inputs import covered_program_ids, in_programs

# The temporary table of served pairs the Organizational Summary and the Department summary count from.
SERVED_TABLE = "org_summary_served"

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
        served = served.where(is_new(date_from, covered, Enrollment.client_id))
    elif kind == "continuing":
        served = served.where(~is_new(date_from, covered, Enrollment.client_id))
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
        enrollment_overlaps(date_from, date_to), in_programs(Enrollment.program_id, covered),
    )
    if client_conditions:
        return served.join(Client, Client.id == Enrollment.client_id).where(client_counted(), *client_conditions)
    gone = aliased(Client)
    return served.where(~sa.exists().where(gone.id == Enrollment.client_id, client_not_counted(gone)))


def is_new(date_from: date, covered: sa.Select | None, client_id, department_id=None):
    """The client ``client_id`` has no earlier enrollment or intake in the covered programs (DEFINITIONS["new"]).

    With ``department_id`` (a column beside ``client_id``), in the covered programs of that
    department: what is_new says with the department's covered programs, asked of every
    (client, department) at once.

    On PostgreSQL as NOT EXISTS, which it plans as an anti-join: a NOT IN whose set outgrows
    work_mem falls back to rescanning the set for every client (minutes at a million). On
    SQLite as NOT IN over two uncorrelated sets, found once per query: without statistics
    SQLite would answer each correlated lookup by scanning enrollments.
    """
    earlier = aliased(Enrollment)
    enrolled_before = sa.select(earlier.client_id).where(
        earlier.is_archived.is_(False), earlier.start_date < date_from, in_programs(earlier.program_id, covered),
    )
    intake_before = sa.select(Intake.client_id).where(
        Intake.intake_date < date_from, in_programs(Intake.program_id, covered),
    )
    enrolled_match, intake_match = [earlier.client_id == client_id], [Intake.client_id == client_id]
    if department_id is not None:
        enrolled_in, intake_in = aliased(Program), aliased(Program)
        enrolled_before = enrolled_before.join(enrolled_in, enrolled_in.id == earlier.program_id) \
            .add_columns(enrolled_in.department_id)
        intake_before = intake_before.join(intake_in, intake_in.id == Intake.program_id) \
            .add_columns(intake_in.department_id)
        enrolled_match.append(enrolled_in.department_id == department_id)
        intake_match.append(intake_in.department_id == department_id)
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.and_(~enrolled_before.where(*enrolled_match).exists(), ~intake_before.where(*intake_match).exists())
    key = client_id if department_id is None else sa.tuple_(client_id, department_id)
    return sa.and_(key.not_in(enrolled_before.correlate(None)), key.not_in(intake_before.correlate(None)))


def materialise_served(date_from: date, date_to: date, covered: sa.Select | None, client_conditions, *,
                       by_department: bool = False) -> sa.Table:
    """The served (client, program) pairs of the period, found once and written to a temporary table
    that every count of the report then reads; with ``by_department``, (client, department) pairs
    (a department_id column instead of program_id), for reports counted per department.

    Finding them is most of the report's work (a year at a million clients: a million
    enrollments joined to their clients), and each breakdown used to find them again. A
    temporary table rather than a CTE because, once analysed, the planner knows its size:
    over a CTE it guesses 200 rows and fetches half a million clients one index probe at a
    time. ``started_before`` is 1 when a served enrollment began before the period, which
    already makes the client not new (DEFINITIONS["new"]), so only the others are looked up.
    The caller drops the table; on an error the transaction's rollback takes it away.
    """
    unit = "department_id" if by_department else "program_id"
    table = sa.Table(
        SERVED_TABLE, sa.MetaData(),
        sa.Column("client_id", sa.Uuid, nullable=False),
        sa.Column(unit, sa.Uuid, nullable=False),
        sa.Column("started_before", sa.Integer, nullable=False),
        prefixes=["TEMPORARY"], postgresql_on_commit="DROP",
    )
    table.create(db.session.connection())
    pairs = _served_enrollments(date_from, date_to, covered, *client_conditions)
    if by_department:
        pairs = pairs.with_only_columns(Enrollment.client_id, Program.department_id) \
            .join_from(Enrollment, Program, Program.id == Enrollment.program_id)
    pairs = (
        pairs.add_columns(sa.func.max(sa.case((Enrollment.start_date < date_from, 1), else_=0)))
        .group_by(*pairs.selected_columns)
    )
    db.session.execute(table.insert().from_select(["client_id", unit, "started_before"], pairs))
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text(f"ANALYZE {SERVED_TABLE}"))
    return table
