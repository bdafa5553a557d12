"""Nobody sees a record outside their scope, on any admin URL.

A world with records inside and outside the signed-in person's scope (one or more rows of
every scoped table on each side), then a crawl of every URL pattern the admin registers,
built from the app's URL map so a new screen or endpoint is crawled without editing this
file (an endpoint with no recipe fails the test until one is written). Lists, counts,
search, filter drop-downs, details, edit and new forms, exports and look-ups must show no
id or name from outside; one-record URLs answer 404 for a record outside scope, like a
record that does not exist; posts about such records change nothing.
"""

import csv
import io
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from admin_views.registry import SCREENS
from app.extensions import db
from app.models import (
    AuditLog, Client, ClientAccess, ClientDuplicate, ClientSourceId, Department, DepartmentLeaderAssignment, Discharge,
    EmailLog, Enrollment, Intake, Notification, PendingChange, Program, ProgramAlias, ProgramCapacity,
    ProgramManagerAssignment, ProgramStaff, RestrictionNotificationSubscription, ServiceRestriction, StaffClientAssignment,
    StaffProgramAssignment, SubProgram,
)
from app.permissions import Action, Grant, grant
from app.services.scope import TABLE_SCOPES, Unscoped
from tests import factories
from tests.conftest import csrf_token

OUTSIDE_MARK = "Zoutside"
INSIDE_MARK = "Inside"
SCOPED_TABLES = sorted(table for table, rule in TABLE_SCOPES.items() if not isinstance(rule, Unscoped))


@dataclass
class World:
    rows: dict[str, dict[str, list]] = field(default_factory=lambda: {"inside": {}, "outside": {}})
    own_proposal: PendingChange | None = None

    def add(self, side: str, *rows):
        for row in rows:
            self.rows[side].setdefault(row.__tablename__, []).append(row)
        return rows[0] if len(rows) == 1 else rows

    def ids(self, side: str) -> set[str]:
        return {str(row.id) for rows in self.rows[side].values() for row in rows}

    def first(self, side: str, table: str):
        rows = self.rows[side].get(table) or []
        return rows[0] if rows else None


def _side(world: World, side: str, mark: str, person=None):
    """One department, program and two clients with every kind of row hanging off them."""
    tag = f"{mark} {uuid.uuid4().hex[:6]}"
    worker = factories.staff_member()
    department = world.add(side, Department(name=f"{tag} Department"))
    program = world.add(side, Program(name=f"{tag} Program", department=department, capacity_current=5))
    one, two = world.add(side, Client(first_name="Alex", last_name=f"{tag} One", dob=date(1990, 1, 1)),
                         Client(first_name="Sam", last_name=f"{tag} Two", dob=date(1991, 2, 2)))
    today = date.today()
    world.add(
        side,
        SubProgram(program=program, name=f"{tag} Sub"),
        ProgramCapacity(program=program, effective_date=date(2024, 1, 1), capacity=5),
        ProgramAlias(program=program, alias=f"{tag} alias"),
        ProgramStaff(program=program, staff=worker),
        ProgramManagerAssignment(program=program, staff=worker),
        StaffProgramAssignment(program=program, staff=worker),
        DepartmentLeaderAssignment(department=department, staff=worker),
        StaffClientAssignment(client=one, staff=worker),
        ClientSourceId(client=one, source_system="SMIS", source_client_id=f"{tag} SRC"),
        Enrollment(client=one, program=program, start_date=today - timedelta(days=30)),
        Enrollment(client=two, program=program, start_date=date(2020, 1, 1), end_date=date(2020, 6, 1)),
        Intake(client=one, program=program, intake_date=today - timedelta(days=30)),
        Discharge(client=two, program=program, discharge_date=date(2020, 6, 1), reason=f"{tag} reason"),
        ServiceRestriction(client=one, scope="program", program=program, start_date=today - timedelta(days=5)),
        ServiceRestriction(client=two, scope="org", start_date=today - timedelta(days=5), is_no_trespass=True),
        ClientDuplicate(primary_client=one, duplicate_client=two, similarity_score=0.9, match_type="name_dob",
                        confidence_level="high"),
        Notification(staff=person if person is not None and side == "inside" else worker,
                     title=f"{tag} notice", message="Restriction"),
        RestrictionNotificationSubscription(staff=person if person is not None and side == "inside" else worker),
    )
    db.session.add_all(row for rows in world.rows[side].values() for row in rows)
    db.session.flush()
    db.session.add(world.add(side, PendingChange(entity="clients", entity_id=one.id, operation="update",
                                                 diff_json={"first_name": "Changed"}, requested_by=worker)))
    # A restriction alert names its client in the subject and carries ids in its key.
    db.session.add(world.add(side, EmailLog(
        recipient_email="alerts@test.example", subject=f"New service restriction: {tag} One",
        email_type="restriction_new", client_id=one.id, status="sent",
        idempotency_key=f"restriction_new:{uuid.uuid4()}:{worker.id}")))
    db.session.add(world.add(side, ClientAccess(kind="details", client_id=one.id, staff=worker)))
    return program, one


def build_world(person, assigned: bool) -> World:
    """Records inside the person's scope (when ``assigned``) and outside it, all committed."""
    world = World()
    inside_program, inside_client = _side(world, "inside", INSIDE_MARK, person)
    outside_program, outside_client = _side(world, "outside", OUTSIDE_MARK)
    # A pair with one side out of scope shows that person: it counts as outside.
    db.session.add(world.add("outside", ClientDuplicate(
        primary_client=inside_client, duplicate_client=outside_client, similarity_score=0.7, match_type="name",
        confidence_level="medium")))
    if assigned:
        factories.give_program(person, inside_program)
    db.session.commit()
    for side in ("inside", "outside"):
        clients = [row.id for row in world.rows[side]["clients"]]
        ids = [uuid.UUID(i) for i in world.ids(side)]
        world.rows[side]["audit_logs"] = list(db.session.scalars(sa.select(AuditLog).where(
            sa.or_(AuditLog.client_id.in_(clients), AuditLog.entity_id.in_(ids)))))
    # The person's own proposals are theirs to see, even a new record that is in nobody's scope yet.
    own = PendingChange(entity="clients", entity_id=None, operation="create", diff_json={"last_name": "New"},
                        requested_by=person)
    db.session.add(own)
    db.session.commit()
    world.own_proposal = own
    return world


def _snapshot(world: World) -> dict:
    db.session.expire_all()
    state = {}
    for side in ("inside", "outside"):
        for rows in world.rows[side].values():
            for row in rows:
                fresh = db.session.get(type(row), row.id)
                state[str(row.id)] = None if fresh is None else {
                    c.key: getattr(fresh, c.key) for c in sa.inspect(type(row)).column_attrs if c.key != "updated_at"}
    return state


# -- the crawl ---------------------------------------------------------------------------------
def _views(app):
    return {view.endpoint: view for view in app.extensions["ccd_admin"]._views}


@dataclass
class Crawl:
    client: object
    app: object
    world: World
    roles: tuple
    assigned: bool
    token: str = ""
    problems: list = field(default_factory=list)
    visited: int = 0

    @property
    def hidden_ids(self) -> set[str]:
        hidden = self.world.ids("outside")
        return hidden if self.assigned else hidden | self.world.ids("inside")

    @property
    def hidden_marks(self) -> tuple[str, ...]:
        return (OUTSIDE_MARK,) if self.assigned else (OUTSIDE_MARK, INSIDE_MARK)

    def request(self, method, url, **kwargs):
        self.visited += 1
        return getattr(self.client, method)(url, **kwargs)

    def nothing_hidden_in(self, what: str, text: str, marks: bool = True):
        leaked = sorted(i for i in self.hidden_ids if i in text)
        if marks:
            leaked += [m for m in self.hidden_marks if m in text]
        if leaked:
            self.problems.append(f"{what} shows records out of scope: {leaked[:3]}")

    def expect(self, what: str, response, status: int):
        if response.status_code != status:
            self.problems.append(f"{what}: {response.status_code}, expected {status}")

    def decide(self, table: str, action: Action) -> Grant:
        return grant(self.roles, table, action)


def _visible_inside(crawl: Crawl, table: str):
    """An inside row the person should be able to open (their own proposal for proposals)."""
    if table == "pending_changes":
        return crawl.world.own_proposal
    if table == "audit_logs":
        return next((row for row in crawl.world.rows["inside"]["audit_logs"] if row.entity == "clients"), None)
    return crawl.world.first("inside", table)


def _crawl_list(crawl: Crawl, view, base):
    table = view.rule_key
    allowed = crawl.decide(table, Action.LIST) is not Grant.DENY
    response = crawl.request("get", f"{base}/?page_size=100")
    crawl.expect(f"list {table}", response, 200 if allowed else 403)
    if not allowed:
        return
    text = response.get_data(as_text=True)
    crawl.nothing_hidden_in(f"list {table}", text)
    if crawl.assigned and table in SCOPED_TABLES:
        shown = _visible_inside(crawl, table)
        if shown is not None and str(shown.id) not in text:
            crawl.problems.append(f"list {table} hides an in-scope record {shown}")
    if view.column_searchable_list:
        for term in (OUTSIDE_MARK, INSIDE_MARK):
            found = crawl.request("get", f"{base}/", query_string={"search": term}).get_data(as_text=True)
            crawl.nothing_hidden_in(f"search {table} for {term}", found, marks=False)


def _crawl_details(crawl: Crawl, view, base):
    _one_record(crawl, view, "get", f"{base}/details/", Action.DETAILS)


def _crawl_edit(crawl: Crawl, view, base):
    _one_record(crawl, view, "get", f"{base}/edit/", Action.EDIT)
    _one_record(crawl, view, "post", f"{base}/edit/", Action.EDIT, inside=False)


def _one_record(crawl: Crawl, view, method, url, action, inside=True):
    table = view.rule_key
    allowed = crawl.decide(table, action) is not Grant.DENY
    data = {"csrf_token": crawl.token} if method == "post" else None
    hidden = crawl.world.first("outside", table)
    if hidden is not None:
        response = crawl.request(method, url, query_string={"id": str(hidden.id)}, data=data)
        crawl.expect(f"{method.upper()} {url} of a record out of scope", response, 404 if allowed else 403)
    shown = _visible_inside(crawl, table)
    if inside and shown is not None and table in SCOPED_TABLES:
        response = crawl.request(method, url, query_string={"id": str(shown.id)}, data=data)
        visible = crawl.assigned or shown is crawl.world.own_proposal
        crawl.expect(f"{method.upper()} {url} of a record in scope", response,
                     (200 if visible else 404) if allowed else 403)
        crawl.nothing_hidden_in(f"{url} of {shown}", response.get_data(as_text=True))


def _crawl_create(crawl: Crawl, view, base):
    table = view.rule_key
    allowed = crawl.decide(table, Action.CREATE) is not Grant.DENY
    response = crawl.request("get", f"{base}/new/")
    crawl.expect(f"new {table}", response, 200 if allowed else 403)
    crawl.nothing_hidden_in(f"new {table} form", response.get_data(as_text=True))


def _crawl_delete(crawl: Crawl, view, base):
    table = view.rule_key
    hidden = crawl.world.first("outside", table)
    if hidden is None:
        return
    allowed = crawl.decide(table, Action.DELETE) is not Grant.DENY
    response = crawl.request("post", f"{base}/delete/", data={"id": str(hidden.id), "csrf_token": crawl.token})
    crawl.expect(f"delete {table} out of scope", response, 404 if allowed else 403)


def _crawl_export(crawl: Crawl, view, base):
    table = view.rule_key
    allowed = crawl.decide(table, Action.EXPORT) is not Grant.DENY
    for export_type in view.export_types:
        response = crawl.request("get", f"{base}/export/{export_type}/")
        crawl.expect(f"export {table}", response, 200 if allowed else 403)
        if allowed:
            text = response.get_data(as_text=True)
            crawl.nothing_hidden_in(f"export {table}", text)
            rows = list(csv.reader(io.StringIO(text)))
            if crawl.assigned and table in SCOPED_TABLES and len(rows) < 2:
                crawl.problems.append(f"export {table} has no in-scope rows")


def _crawl_ajax_lookup(crawl: Crawl, view, base):
    table = view.rule_key
    allowed = crawl.decide(table, Action.LIST) is not Grant.DENY
    for name in view._form_ajax_refs:
        for term in ("", OUTSIDE_MARK, INSIDE_MARK):
            response = crawl.request("get", f"{base}/ajax/lookup/", query_string={"name": name, "query": term})
            crawl.expect(f"look-up {table}.{name}", response, 200 if allowed else 403)
            if allowed:
                crawl.nothing_hidden_in(f"look-up {table}.{name} for {term!r}", response.get_data(as_text=True))


def _crawl_ajax_update(crawl: Crawl, view, base):
    table = view.rule_key
    hidden = crawl.world.first("outside", table)
    if hidden is None:
        return
    editable = list(view.column_editable_list or ["id"])
    response = crawl.request("post", f"{base}/ajax/update/", data={
        "list_form_pk": str(hidden.id), editable[0]: "1", "csrf_token": crawl.token})
    expected = 403 if crawl.decide(table, Action.EDIT) is Grant.DENY else 404  # proposers reach it, in scope only
    crawl.expect(f"inline edit {table} out of scope", response, expected)


def _crawl_action(crawl: Crawl, view, base):
    table = view.rule_key
    hidden = crawl.world.first("outside", table)
    if hidden is None:
        return
    for name in view._actions_data:
        crawl.request("post", f"{base}/action/", data={"action": name, "rowid": [str(hidden.id)],
                                                      "csrf_token": crawl.token})


def _crawl_bulk(crawl: Crawl, view, base):
    """A bulk action posted with its parameters (inside the person's scope) and a row outside it: refused
    for roles that may not run it, and the row outside stays as it was (the world's snapshot checks it)."""
    from admin_views.bulk_actions import BULK_ACTIONS

    hidden = crawl.world.first("outside", view.rule_key)
    program, department = crawl.world.first("inside", "programs"), crawl.world.first("inside", "departments")
    today = date.today().isoformat()
    params = {"program": str(program.id), "start_date": today, "end_date": today, "reason": "Other",
              "department": str(department.id), "manager": str(uuid.uuid4())}
    for name, bulk in BULK_ACTIONS.items():
        if hidden is None or name not in view._actions_data:
            continue
        response = crawl.request("post", f"{base}/bulk/{name}/", data={
            **params, "rowid": [str(hidden.id)], "csrf_token": crawl.token})
        allowed = all(crawl.decide(table, needed) is not Grant.DENY for table, needed in bulk.needs)
        if not allowed:
            crawl.expect(f"bulk {name} on {view.rule_key}", response, 403)
        elif response.status_code not in (200, 302):
            crawl.problems.append(f"bulk {name} on {view.rule_key}: {response.status_code}")


def _crawl_home(crawl: Crawl, view, base):
    response = crawl.request("get", "/admin/")
    crawl.expect("home", response, 200)
    crawl.nothing_hidden_in("home", response.get_data(as_text=True))


def _crawl_restriction_check(crawl: Crawl, view, base):
    """The door check answers about restrictions, never about the record: a person whose only
    restriction is at a program out of scope gets no answer at all."""
    response = crawl.request("get", f"{base}/")
    crawl.expect("restriction check", response, 200)
    restricted_elsewhere = crawl.world.first("outside", "clients")
    response = crawl.request("post", f"{base}/", data={
        "first_name": restricted_elsewhere.first_name, "last_name": restricted_elsewhere.last_name,
        "dob": restricted_elsewhere.dob.isoformat(), "csrf_token": crawl.token})
    text = response.get_data(as_text=True)
    crawl.expect("restriction check about a client out of scope", response, 200)
    crawl.nothing_hidden_in("restriction check", text, marks=False)
    if 'id="restriction-check-answers"' in text or 'id="restriction-check-none"' not in text:
        crawl.problems.append("restriction check shows a restriction at a program out of scope")


def _hidden_id(crawl: Crawl, table: str) -> str:
    hidden = crawl.world.first("outside", table)
    return str(hidden.id) if hidden is not None else str(uuid.uuid4())


def _crawl_as_of(crawl: Crawl, view, base):
    allowed = crawl.decide("clients", Action.DETAILS) is not Grant.DENY
    response = crawl.request("get", f"{base}/as-of/", query_string={"id": _hidden_id(crawl, "clients")})
    crawl.expect("as-of page of a client out of scope", response, 404 if allowed else 403)


def _crawl_photo(crawl: Crawl, view, base):
    allowed = crawl.decide("clients", Action.DETAILS) is not Grant.DENY
    response = crawl.request("get", f"{base}/photo/", query_string={"id": _hidden_id(crawl, "clients")})
    crawl.expect("photo of a client out of scope", response, 404 if allowed else 403)


def _crawl_photo_upload(crawl: Crawl, view, base):
    allowed = crawl.decide("clients", Action.EDIT) is not Grant.DENY
    response = crawl.request("post", f"{base}/photo/upload/", data={
        "id": _hidden_id(crawl, "clients"), "remove": "yes", "csrf_token": crawl.token})
    crawl.expect("photo upload for a client out of scope", response, 404 if allowed else 403)


def _refused(path: str, method: str = "get", table: str = "clients"):
    """Pages only Coordinators and Administrators open (duplicate review, imports, approving): refused here."""
    def recipe(crawl: Crawl, view, base):
        data = {"csrf_token": crawl.token, "id": _hidden_id(crawl, table)} if method == "post" else None
        query = {"id": _hidden_id(crawl, table)} if method == "get" else None
        response = crawl.request(method, path.replace("<upload_id>", str(uuid.uuid4())), data=data,
                                 query_string=query)
        crawl.expect(f"{method.upper()} {path}", response, 403)
    return recipe


def _personal(path: str, method: str = "get"):
    """The person's own pages (notifications, alert settings, their requests): open, and nothing out of scope."""
    def recipe(crawl: Crawl, view, base):
        data = {"csrf_token": crawl.token, "id": _hidden_id(crawl, "pending_changes")} if method == "post" else None
        response = crawl.request(method, path, data=data)
        if response.status_code not in (200, 302, 403, 404):  # 403: Staff propose nothing, so have no requests
            crawl.problems.append(f"{method.upper()} {path}: {response.status_code}")
        text = response.get_data(as_text=True)
        # The person's own rows are "inside" even without an assignment; other people's never show.
        leaked = sorted(i for i in crawl.world.ids("outside") if i in text)
        if leaked:
            crawl.problems.append(f"{path} shows records out of scope: {leaked[:3]}")
    return recipe


def _own_rows_only(crawl: Crawl, view, base):
    """Marks all the person's notifications read, ends their own alerts or changes their own password: it
    touches only their own rows (tests/admin_views/test_account.py), and running it here would change the
    world under the crawl."""


def _report(suffix: str):
    def recipe(crawl: Crawl, view, base):
        allowed = crawl.decide(view.rule_key, Action.LIST) is not Grant.DENY
        response = crawl.request("get", f"{base}{suffix}")
        if not allowed:
            crawl.expect(f"report {base}{suffix}", response, 403)
        elif response.status_code not in (200, 403):
            crawl.problems.append(f"report {base}{suffix}: {response.status_code}")
        crawl.nothing_hidden_in(f"report {base}{suffix}", response.get_data(as_text=True), marks=False)
    return recipe


def _my_request_details(crawl: Crawl, view, base):
    hidden = next((row for row in crawl.world.rows["outside"].get("pending_changes", [])
                   if row is not crawl.world.own_proposal), None)
    if hidden is not None:
        response = crawl.request("get", f"{base}/details/", query_string={"id": str(hidden.id)})
        if response.status_code not in (403, 404):  # 403 for those who propose nothing at all
            crawl.problems.append(f"someone else's request: {response.status_code}")


# Model screens: a recipe per Flask-Admin endpoint; other pages: a recipe per page.
RECIPES = {
    "index_view": _crawl_list,
    "details_view": _crawl_details,
    "edit_view": _crawl_edit,
    "create_view": _crawl_create,
    "delete_view": _crawl_delete,
    "export": _crawl_export,
    "ajax_lookup": _crawl_ajax_lookup,
    "ajax_update": _crawl_ajax_update,
    "action_view": _crawl_action,
    "bulk_view": _crawl_bulk,
}
PAGE_RECIPES = {
    "admin.index": _crawl_home,
    "restriction_check.index": _crawl_restriction_check,
    "clients.as_of_view": _crawl_as_of,
    "clients.photo_view": _crawl_photo,
    "clients.photo_upload_view": _crawl_photo_upload,
    "client_duplicates.review": _refused("/admin/client_duplicates/review/", "get", "client_duplicates"),
    "client_duplicates.merges": _refused("/admin/client_duplicates/merges/"),
    "client_duplicates.merge": _refused("/admin/client_duplicates/review/merge/", "post", "client_duplicates"),
    "client_duplicates.not_duplicate": _refused("/admin/client_duplicates/review/not-duplicate/", "post",
                                                "client_duplicates"),
    "client_duplicates.same_person": _refused("/admin/client_duplicates/review/same-person/", "post",
                                              "client_duplicates"),
    "client_duplicates.new_person": _refused("/admin/client_duplicates/review/new-person/", "post",
                                             "client_duplicates"),
    "client_duplicates.leave": _refused("/admin/client_duplicates/review/leave/", "post", "client_duplicates"),
    "client_duplicates.scan": _refused("/admin/client_duplicates/scan/", "post"),
    "client_duplicates.undo": _refused("/admin/client_duplicates/merges/undo/", "post"),
    "pending_changes.approve_view": _refused("/admin/pending_changes/approve/", "post", "pending_changes"),
    "pending_changes.decline_view": _refused("/admin/pending_changes/decline/", "post", "pending_changes"),
    "imports.index": _refused("/admin/imports/"),
    "imports.upload": _refused("/admin/imports/<upload_id>/"),
    "imports.progress": _refused("/admin/imports/<upload_id>/progress.json"),
    "imports.rejects": _refused("/admin/imports/<upload_id>/rejects.csv"),
    "imports.sample": _refused("/admin/imports/sample/SMIS.csv"),
    "imports.programs": _refused("/admin/imports/programs/"),
    "my_requests.index": _personal("/admin/my-requests/"),
    "my_requests.details_view": _my_request_details,
    "my_requests.withdraw_view": _personal("/admin/my-requests/withdraw/", "post"),
    "inbox.index": _personal("/admin/inbox/"),
    "inbox.mark_read": _personal("/admin/inbox/read", "post"),
    "inbox.mark_all_read": _own_rows_only,
    "my_alerts.index": _personal("/admin/my-alerts/"),
    "my_alerts.unsubscribe": _own_rows_only,
    "my_account.index": _personal("/admin/my-account/"),
    "my_account.change_password": _own_rows_only,
    "help.index": _personal("/admin/help/"),
    "org_summary_report.index": _report("/"),
    "org_summary_report.export": _report("/export/csv"),
    "vacancy_report.index": _report("/"),
    "vacancy_report.export": _report("/export/csv"),
    "data_quality_report.index": _report("/"),
    "data_quality_report.export": _report("/export/csv"),
    "access_report.index": _report("/"),
    "access_report.export": _report("/export/csv"),
    "enrollment_history_report.index": _report("/"),
    "enrollment_history_report.export": _report("/export/csv"),
    "outcomes_report.index": _report("/"),
    "outcomes_report.export": _report("/export/csv"),
    "program_performance_report.index": _report("/"),
    "program_performance_report.export": _report("/export/csv"),
    "department_summary_report.index": _report("/"),
    "department_summary_report.export": _report("/export/csv"),
}
NOT_CRAWLED = {"static"}  # Flask-Admin's own CSS and JavaScript


def crawl_everything(crawl: Crawl):
    views = _views(crawl.app)
    unknown = []
    for rule in crawl.app.url_map.iter_rules():
        if not rule.rule.startswith("/admin") or "." not in rule.endpoint:
            continue
        view_endpoint, function = rule.endpoint.rsplit(".", 1)
        if function in NOT_CRAWLED:
            continue
        view = views.get(view_endpoint)
        recipe = PAGE_RECIPES.get(rule.endpoint) or (RECIPES.get(function) if hasattr(view, "model") else None)
        if recipe is None or view is None:
            unknown.append(rule.endpoint)
            continue
        recipe(crawl, view, view.url)
    assert unknown == [], f"admin URLs with no crawl recipe (add one to RECIPES): {unknown}"


SCOPED_ROLES = ["Staff", "Manager", "Leader"]


@pytest.mark.parametrize("role", SCOPED_ROLES)
@pytest.mark.parametrize("assigned", [True, False], ids=["assigned", "no-assignment"])
def test_crawl_shows_nothing_out_of_scope(client, app, sign_in_as, role, assigned):
    person = sign_in_as(role)
    world = build_world(person, assigned)
    before = _snapshot(world)
    crawl = Crawl(client, app, world, (role,), assigned, token=csrf_token(client, "/admin/"))
    crawl_everything(crawl)
    assert crawl.problems == [], "\n".join(crawl.problems)
    assert _snapshot(world) == before, "a request about a record out of scope changed it"
    assert crawl.visited > 100


def test_crawl_sees_outside_records_for_an_all_seeing_role(client, app, sign_in_as):
    """The control: a Coordinator sees both sides, so the crawl's detection really finds leaks."""
    person = sign_in_as("Coordinator")
    world = build_world(person, assigned=False)
    crawl = Crawl(client, app, world, ("Coordinator",), assigned=True, token=csrf_token(client, "/admin/"))
    _crawl_list(crawl, _views(app)["clients"], "/admin/clients")
    assert any("list clients shows records out of scope" in p for p in crawl.problems)


def test_world_has_rows_on_both_sides_of_every_scoped_table(app, db_session):
    """A new scoped table must be added to the world, or the crawl would not test it."""
    person = factories.staff_member()
    db_session.add(person)
    world = build_world(person, assigned=False)
    tables = {model.__tablename__ for _, _, model in SCREENS}
    for table in SCOPED_TABLES:
        assert table in tables
        for side in ("inside", "outside"):
            assert world.rows[side].get(table), f"no {side} row of {table} in the crawl's world"
