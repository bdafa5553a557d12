"""Which programs and clients a person may see: the one rule lists, reports, look-ups and notifications share.

Administrators, Coordinators and Analysts see everything. Managers see the programs they
manage, Leaders the programs of the departments they lead, Staff the programs they are
assigned to plus the clients assigned to them directly. A person with no assignment sees
nothing, never everything. Each function returns a SELECT of ids (to use inside ``IN``),
or ``None`` meaning "no limit", so callers filter in the database, never in Python.

``TABLE_SCOPES`` says, for every table, how its rows belong to a client, a program or a
department; ``restrict()`` adds that condition to any query. Screens, look-ups, the
dashboard and record pages all go through it, so a new screen on an existing table is
scoped without a line of its own, and a new table must declare its rule here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from flask import has_request_context
from flask_login import current_user

from app.extensions import db
from app.models import (
    AuditLog,
    Client,
    DepartmentLeaderAssignment,
    Enrollment,
    PendingChange,
    Program,
    ProgramManagerAssignment,
    ProgramStaff,
    StaffClientAssignment,
    StaffProgramAssignment,
)
from app.permissions import Action, Role, may

SEES_EVERYTHING = frozenset({Role.ADMINISTRATOR, Role.COORDINATOR, Role.ANALYST})


def sees_everything(staff) -> bool:
    return staff is not None and bool(SEES_EVERYTHING & staff.role_names)


def acting_staff():
    """The signed-in person's staff record, or None (nobody signed in, or no request at all)."""
    if not has_request_context():
        return None
    user = current_user._get_current_object() if current_user else None
    if user is None or not user.is_authenticated:
        return None
    return user.staff


def _nothing(column) -> sa.Select:
    return sa.select(column).where(sa.false())


def visible_program_ids(staff) -> sa.Select | None:
    """Ids of the programs this staff member may see, or None when every program is visible."""
    if sees_everything(staff):
        return None
    if staff is None:
        return _nothing(Program.id)
    roles = staff.role_names
    parts: list[sa.Select] = []
    if Role.MANAGER in roles:
        parts.append(sa.select(ProgramManagerAssignment.program_id).where(
            ProgramManagerAssignment.staff_id == staff.id, ProgramManagerAssignment.is_active))
        parts.append(sa.select(ProgramStaff.program_id).where(
            ProgramStaff.staff_id == staff.id, ProgramStaff.is_manager))
    if Role.LEADER in roles:
        parts.append(sa.select(Program.id).join(
            DepartmentLeaderAssignment, DepartmentLeaderAssignment.department_id == Program.department_id,
        ).where(DepartmentLeaderAssignment.staff_id == staff.id, DepartmentLeaderAssignment.is_active))
    if Role.STAFF in roles:
        parts.append(sa.select(StaffProgramAssignment.program_id).where(
            StaffProgramAssignment.staff_id == staff.id, StaffProgramAssignment.is_active))
        parts.append(sa.select(ProgramStaff.program_id).where(ProgramStaff.staff_id == staff.id))
    if not parts:
        return _nothing(Program.id)
    return sa.union(*parts).subquery().select()


def _client_links(staff, programs: sa.Select) -> list[tuple[sa.ColumnElement, sa.ColumnElement]]:
    """The rule of client visibility, once: (client column, condition) for each way a client is reached.

    A client is visible through any enrollment (current or past, archived or not) in a
    visible program, or through a direct assignment to a Staff member.
    """
    links = [(Enrollment.client_id, Enrollment.program_id.in_(programs))]
    if staff is not None and Role.STAFF in staff.role_names:
        links.append((StaffClientAssignment.client_id,
                      sa.and_(StaffClientAssignment.staff_id == staff.id, StaffClientAssignment.is_active)))
    return links


def visible_client_ids(staff) -> sa.Select | None:
    """Ids of the clients this staff member may see, or None when every client is visible."""
    programs = visible_program_ids(staff)
    if programs is None:
        return None
    ways_in = [sa.select(column).where(condition) for column, condition in _client_links(staff, programs)]
    # Each client once: a UNION of one part is just that part, and a client enrolled in two
    # visible programs (or twice in one) has an enrollment row for each.
    ids = sa.union(*ways_in) if len(ways_in) > 1 else ways_in[0].distinct()
    return ids.subquery().select()


def visible_client_count(staff, *, not_counted=None) -> int | None:
    """How many clients this staff member may see (None when every client is visible), counted
    from the enrollment index without reading the clients table; ``not_counted`` is a condition
    on Client naming the few clients to leave out (merged-away records), taken away by id.

    A Staff member's unfiltered client list counted its scope by checking clients one by one
    until the cap: 60-220 ms for 10,000 of 50,000. From the index it is 30-40 ms, exactly.
    """
    clients = visible_client_ids(staff)
    if clients is None:
        return None
    visible = clients.subquery()
    query = sa.select(sa.func.count()).select_from(visible)
    if not_counted is not None:
        left_out = aliased(Client)
        query = query.where(~sa.exists().where(left_out.id == visible.c[0], not_counted(left_out)))
    return db.session.scalar(query)


def client_visible(client_column, staff, *, row_by_row: bool = True) -> sa.ColumnElement[bool] | None:
    """The same rule row by row: this row's client is visible (one index probe per way in), or None for all.

    For logs read newest first or one record at a time (the audit trail): the work follows
    the rows read, where a set of every visible client follows the scope. (OFFSET 0 keeps
    PostgreSQL from turning the probe into a hash of every visible client built up front.)
    Without ``row_by_row`` the planner may run the check either way: probe each row, or read
    the visible clients first when the scope is the smaller side.
    """
    programs = visible_program_ids(staff)
    if programs is None:
        return None

    def reached(column, condition):
        found = sa.select(sa.literal(1)).where(column == client_column, condition)
        return (found.offset(0) if row_by_row else found).exists()

    return sa.or_(*(reached(column, condition) for column, condition in _client_links(staff, programs)))


def visible_department_ids(staff) -> sa.Select | None:
    """Departments holding a visible program, plus the departments a Leader leads (even empty ones)."""
    programs = visible_program_ids(staff)
    if programs is None:
        return None
    parts: list[sa.Select] = [sa.select(Program.department_id).where(Program.id.in_(programs))]
    if staff is not None and Role.LEADER in staff.role_names:
        parts.append(sa.select(DepartmentLeaderAssignment.department_id).where(
            DepartmentLeaderAssignment.staff_id == staff.id, DepartmentLeaderAssignment.is_active))
    return sa.union(*parts).subquery().select()


def may_see_client(session, staff, client_id: uuid.UUID) -> bool:
    """True when ``client_id`` is within this staff member's scope (one indexed query)."""
    clients = visible_client_ids(staff)
    if clients is None:
        return True
    return session.scalar(sa.select(sa.literal(True)).where(sa.literal(client_id).in_(clients))) is True


# -- "this column is one of these ids", in the form each database plans best -----------------
class within(ColumnElement):
    """``column IN (ids)``; on PostgreSQL ``column IN (SELECT unnest(ARRAY(ids)))``.

    Given ``IN (subquery)``, PostgreSQL often hashes the scope and reads the whole table
    against it: a Staff member's list page on a million clients then reads a million rows
    to show 25 of a few thousand. Unnesting an array built once makes the planner expect
    a short list and look each id up through the column's index, so the work follows the
    size of the person's scope, not of the table (bench/scope_queries.py measures both).
    Where the planner does use it as a filter, it is a hashed lookup, never a scan of
    the array per row.
    """

    inherit_cache = True
    type = sa.Boolean()
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),
                           ("ids", InternalTraversal.dp_clauseelement)]

    def __init__(self, column, ids: sa.Select):
        self.column = column
        self.ids = ids

    @property
    def _from_objects(self):
        return self.column._from_objects


@compiles(within)
def _within_in(element, compiler, **kw):
    return compiler.process(element.column.in_(element.ids), **kw)


@compiles(within, "postgresql")
def _within_unnested_array(element, compiler, **kw):
    column, ids = compiler.process(element.column, **kw), compiler.process(element.ids, **kw)
    return f"{column} IN (SELECT unnest(ARRAY({ids})))"


# -- how each table's rows belong to clients, programs and departments -----------------------
class RowScope:
    """The condition that keeps a table's rows to those a person may see (None: no limit)."""

    def condition(self, model, staff) -> sa.ColumnElement | None:
        raise NotImplementedError

    def whole_scope_condition(self, model, staff) -> sa.ColumnElement | None:
        """The same rule for a query that reads every row in scope (a count of them all)."""
        return self.condition(model, staff)


@dataclass(frozen=True)
class Unscoped(RowScope):
    """Rows that belong to no client or program; who opens the screen at all is permissions.py's job.

    ``text_without_clients`` names the free-text columns of a table a restricted role can read,
    vouching that none of them is ever filled from a client's record (tests check every
    text column of such a table is named here).
    """

    reason: str
    text_without_clients: tuple[str, ...] = ()

    def condition(self, model, staff):
        return None


@dataclass(frozen=True)
class ClientScope(RowScope):
    """Rows of one client: visible when that client is."""

    column: str

    def condition(self, model, staff):
        clients = visible_client_ids(staff)
        return None if clients is None else within(getattr(model, self.column), clients)


@dataclass(frozen=True)
class ClientOrNone(RowScope):
    """A log of some rows about one client and some about none (the send log: alerts name a client, reports none).

    Rows of the kinds in ``no_client_kinds`` are visible to whoever opens the screen; every
    other row only when its client is, so a row whose client link was lost (the client
    deleted) stays with the all-seeing roles rather than showing a name to everyone.
    """

    column: str
    kind_column: str
    no_client_kinds: tuple[str, ...]

    def condition(self, model, staff):
        clients = visible_client_ids(staff)
        if clients is None:
            return None
        about_nobody = sa.and_(getattr(model, self.kind_column).in_(self.no_client_kinds),
                               getattr(model, self.column).is_(None))
        return sa.or_(about_nobody, within(getattr(model, self.column), clients))


@dataclass(frozen=True)
class ClientRecordScope(ClientScope):
    """The clients table itself, checked as EXISTS that the planner may run from either side.

    A list sorted by name walks the name index and probes each client until the page is
    full (a Manager's first page of 65,000 clients: 14 ms, where fetching and sorting the
    whole scope took 900 ms); a narrow scope or an unindexed sort reads the scope's clients
    from the enrollment index instead (bench/RESULTS.md).
    """

    column: str = "id"

    def condition(self, model, staff):
        return client_visible(getattr(model, self.column), staff, row_by_row=False)

    def whole_scope_condition(self, model, staff):
        """Counting every visible client reads the visible set once: a Staff member's two ways in,
        ORed row by row, would be checked against every client on file."""
        return super().condition(model, staff)


@dataclass(frozen=True)
class ProgramScope(RowScope):
    """Rows of one program: visible when that program is."""

    column: str

    def condition(self, model, staff):
        programs = visible_program_ids(staff)
        return None if programs is None else within(getattr(model, self.column), programs)


@dataclass(frozen=True)
class DepartmentScope(RowScope):
    column: str

    def condition(self, model, staff):
        departments = visible_department_ids(staff)
        return None if departments is None else within(getattr(model, self.column), departments)


@dataclass(frozen=True)
class AllOf(RowScope):
    """Rows tied to several clients (a duplicate pair): visible only when every one of them is.

    A pair shows both people's names and birth dates, so showing it when one side is out of
    scope would show that person too.
    """

    parts: tuple[RowScope, ...]

    def condition(self, model, staff):
        conditions = [c for c in (part.condition(model, staff) for part in self.parts) if c is not None]
        return sa.and_(*conditions) if conditions else None


@dataclass(frozen=True)
class OwnRows(RowScope):
    """Rows addressed to one staff member (notifications, alert settings): only their own, unless all-seeing."""

    column: str

    def condition(self, model, staff):
        if sees_everything(staff):
            return None
        if staff is None:
            return sa.false()
        return getattr(model, self.column) == staff.id


def _listable_tables(staff) -> list[str]:
    roles = staff.role_names if staff is not None else frozenset()
    return [table for table in TABLE_SCOPES if may(roles, table, Action.LIST)]


def _records_in_scope(entity_column, id_column, staff, skip_client_rows: bool = False) -> list[sa.ColumnElement]:
    """For a log of (entity, entity id) rows: one condition per table the person may list.

    Each holds for the log rows about records of that table within the person's scope,
    checked row by row through the record's primary key. ``skip_client_rows`` leaves out
    the tables whose rows belong to one client, for logs that reach those through their
    own client column instead.
    """
    listable = set(_listable_tables(staff))
    conditions = []
    for table, (model, scope) in _scoped_models().items():
        if table not in listable or (skip_client_rows and isinstance(scope, ClientScope)):
            continue
        condition = scope.condition(model, staff)
        about = entity_column == table
        if condition is not None:
            about = sa.and_(about, sa.exists().where(model.id == id_column, condition))
        conditions.append(about)
    return conditions


@dataclass(frozen=True)
class AuditScope(RowScope):
    """Audit rows about records the person may see: through the row's client, or the record itself.

    Only tables the person may list count, so a Staff member's view of the trail never
    shows changes to staff accounts, settings or import runs; rows about no record at all
    (sign-ins, import summaries, restriction checks) are for the all-seeing roles. The
    check is made row by row, so the newest page or one record's rows cost a few index
    probes however many clients the person may see.
    """

    def condition(self, model, staff):
        if sees_everything(staff):
            return None
        conditions = _records_in_scope(model.entity, model.entity_id, staff, skip_client_rows=True)
        visible = client_visible(model.client_id, staff)
        conditions.append(sa.and_(model.entity.in_(_listable_tables(staff)),
                                  model.client_id.is_not(None) if visible is None else visible))
        return sa.or_(*conditions)


@dataclass(frozen=True)
class ProposalScope(RowScope):
    """Proposals the person made, plus proposals about records within their scope."""

    def condition(self, model, staff):
        if sees_everything(staff):
            return None
        if staff is None:
            return sa.false()
        return sa.or_(model.requested_by_id == staff.id, *_records_in_scope(model.entity, model.entity_id, staff))


TABLE_SCOPES: dict[str, RowScope] = {
    "clients": ClientRecordScope(),
    "client_source_ids": ClientScope("client_id"),
    "client_search_keys": Unscoped("no screen lists them: the client search reads them only inside a query "
                                   "over clients, which carries the person's scope"),
    "client_duplicates": AllOf((ClientScope("primary_client_id"), ClientScope("duplicate_client_id"))),
    "client_program_enrollments": ClientScope("client_id"),
    "intakes": ClientScope("client_id"),
    "discharges": ClientScope("client_id"),
    "service_restrictions": ClientScope("client_id"),
    "staff_client_assignments": ClientScope("client_id"),
    "departments": DepartmentScope("id"),
    "programs": ProgramScope("id"),
    "subprograms": ProgramScope("program_id"),
    "program_capacities": ProgramScope("program_id"),
    "program_staff": ProgramScope("program_id"),
    "program_manager_assignments": ProgramScope("program_id"),
    "staff_program_assignments": ProgramScope("program_id"),
    "department_leader_assignments": DepartmentScope("department_id"),
    "audit_logs": AuditScope(),
    "client_access_log": ClientScope("client_id"),
    "pending_changes": ProposalScope(),
    "notifications": OwnRows("staff_id"),
    "restriction_notification_subscriptions": OwnRows("staff_id"),
    "staff": Unscoped("the staff directory: names and work emails, no client data"),
    "users": Unscoped("sign-in accounts: Administrators only"),
    "roles": Unscoped("role names"),
    "staff_roles": Unscoped("who holds which role: Administrators only"),
    "choice_options": Unscoped("the agency's option lists"),
    "email_recipients": Unscoped("report recipients: names and emails of report readers, no client data",
                                 text_without_clients=("name", "email", "frequency", "notes")),
    # A restriction alert's subject and key name its client; a report's subject names a period.
    "email_logs": ClientOrNone("client_id", "email_type", ("report",)),
    "client_upload_logs": Unscoped("import runs: file names and counts; only all-seeing roles open them"),
    "import_rows": Unscoped("staged import rows: only the roles that run imports (all-seeing) open them"),
    "import_source_settings": Unscoped("how each source system writes its files: no client data"),
    "import_column_titles": Unscoped("column titles of the source systems: no client data"),
    "linkage_models": Unscoped("trained matching models: figures and counts of the commonest names, no client's "
                               "record"),
    "program_aliases": ProgramScope("program_id"),
}


def _scoped_models() -> dict[str, tuple[type, RowScope]]:
    """Tables whose rows can be the subject of an audit row or a proposal, with their model."""
    models = {mapper.class_.__tablename__: mapper.class_ for mapper in db.Model.registry.mappers}
    return {table: (models[table], scope) for table, scope in TABLE_SCOPES.items()
            if models[table] not in (AuditLog, PendingChange) and "id" in models[table].__table__.c}


def scope_of(model) -> RowScope:
    """The declared rule of a model's table; a table without one is an error, never "everything"."""
    try:
        return TABLE_SCOPES[model.__tablename__]
    except KeyError:
        raise LookupError(f"No visibility rule for {model.__tablename__}: declare one in TABLE_SCOPES.") from None


def scope_condition(model, staff) -> sa.ColumnElement | None:
    return scope_of(model).condition(model, staff)


def may_look_up(model, staff) -> bool:
    """A look-up (a form's type-ahead picker) answers only what the person could list on the table's own
    screen, within their scope: a role the staff directory is closed to finds nobody in it through a form.

    This limits what a look-up *suggests*; a record already chosen on a form is checked by scope alone,
    so editing a record whose picker the person cannot search keeps its value.
    """
    roles = staff.role_names if staff is not None else frozenset()
    return may(roles, model.__tablename__, Action.LIST)


def restrict(statement, model, staff, *, whole_scope: bool = False):
    """``statement`` (a Select or ORM Query over ``model``) limited to the rows ``staff`` may see;
    ``whole_scope`` when it reads them all (a count), not a page."""
    scope = scope_of(model)
    condition = scope.whole_scope_condition(model, staff) if whole_scope else scope.condition(model, staff)
    return statement if condition is None else statement.where(condition)
