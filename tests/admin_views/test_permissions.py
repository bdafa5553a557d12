"""Every screen × every role × every action does exactly what the role-rule table says, on the server.

The requests are the ones a browser (or anyone with a session cookie) can send, buttons
or not: list, details, create, edit, delete, export, inline edit and bulk actions.
"""

import re

import pytest
import sqlalchemy as sa
from flask_admin.contrib.sqla import tools as sqla_tools

from admin_views.registry import NO_SCREEN, SCREENS
from app.extensions import db
from app.models import PendingChange
from app.permissions import Action, Grant, Role, grant
from tests import factories
from tests.admin_views.forms import form_data, inline_edit_key, inline_edit_value
from tests.conftest import csrf_token

TABLES = [model.__tablename__ for _, _, model in SCREENS]
PROPOSAL_MESSAGE = "Submitted for approval"


def _view(app, table):
    return next(v for v in app.extensions["ccd_admin"]._views if getattr(v, "rule_key", None) == table)


def _url_id(view, row):
    pk = view.get_pk_value(row)
    return sqla_tools.iterencode(pk) if isinstance(pk, tuple) else str(pk)


def _snapshot(row):
    db.session.expire_all()
    state = sa.inspect(row)
    fresh = db.session.get(type(row), state.identity if len(state.identity) > 1 else state.identity[0])
    if fresh is None:
        return None
    return {c.key: getattr(fresh, c.key) for c in sa.inspect(type(row)).column_attrs if c.key != "updated_at"}


def _count(model):
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _proposals(table, operation):
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(PendingChange).where(
        PendingChange.entity == table, PendingChange.operation == operation, PendingChange.status == "pending"))


def _followed_text(client, response):
    """The page after a redirect, where flashed messages appear."""
    if response.status_code in (301, 302, 303):
        return client.get(response.headers["Location"]).get_data(as_text=True)
    return response.get_data(as_text=True)


def _problems(client, response) -> str:
    """The flashed messages and field errors of a page, for a readable failure."""
    text = _followed_text(client, response)
    found = re.findall(r'<div class="alert[^"]*"[^>]*>(.*?)</div>|class="(?:invalid-feedback|help-block)[^"]*"[^>]*>(.*?)</',
                       text, re.S)
    messages = [re.sub(r"<[^>]+>|&times;", " ", a or b) for a, b in found]
    return " | ".join(" ".join(m.split()) for m in messages if m.strip()) or text[:500]


def test_every_table_has_exactly_one_screen(app):
    """Or is declared as having none, with the reason (a table derived from others, never edited)."""
    tables = {t.name for t in db.metadata.sorted_tables}
    assert sorted(TABLES + list(NO_SCREEN)) == sorted(tables)
    assert not set(TABLES) & set(NO_SCREEN)


@pytest.mark.parametrize("table", TABLES)
def test_anonymous_visitor_is_sent_to_sign_in_from_every_url(client, app, table):
    view = _view(app, table)
    row = factories.create(table)
    base = f"/admin/{view.endpoint}"
    row_id = _url_id(view, row)
    for method, path in [
        ("get", "/"), ("get", f"/details/?id={row_id}"), ("get", "/new/"), ("post", "/new/"),
        ("get", f"/edit/?id={row_id}"), ("post", f"/edit/?id={row_id}"), ("post", "/delete/"),
        ("get", "/export/csv/"), ("post", "/ajax/update/"), ("post", "/action/"), ("get", "/ajax/lookup/"),
    ]:
        response = getattr(client, method)(base + path, data={"id": row_id} if method == "post" else None)
        assert response.status_code == 302, f"{method.upper()} {base}{path} gave {response.status_code}"
        assert "/login" in response.headers["Location"]
    assert _snapshot(row) is not None


ROLE_SETS = [(role.value,) for role in Role] + [()]


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("roles", ROLE_SETS, ids=lambda r: "+".join(r) or "no-role")
def test_role_matrix(client, app, sign_in_as, table, roles):
    """Allowed writes happen, denied ones are refused with 403, and proposed ones leave the record as it
    was and exactly one pending change (the proposer is given every record's program in scope)."""
    person = sign_in_as(*roles)
    view = _view(app, table)
    model = view.model
    base = f"/admin/{view.endpoint}"
    decide = {action: grant(roles, table, action) for action in Action}
    row = factories.create(table, visible_to=person)
    row_id = _url_id(view, row)
    token = csrf_token(client, "/admin/")

    def expect_status(response, action, allowed_status=200):
        expected = allowed_status if decide[action] is not Grant.DENY else 403
        assert response.status_code == expected, (
            f"{roles} {action} on {table}: {response.status_code}, expected {expected}")

    expect_status(client.get(base + "/"), Action.LIST)
    expect_status(client.get(f"{base}/details/?id={row_id}"), Action.DETAILS)
    expect_status(client.get(base + "/export/csv/"), Action.EXPORT)
    expect_status(client.get(base + "/new/"), Action.CREATE)
    expect_status(client.get(f"{base}/edit/?id={row_id}"), Action.EDIT)

    # Create
    payload = form_data(view, token, person) if decide[Action.CREATE] is not Grant.DENY else {"csrf_token": token}
    if Grant.PROPOSE in decide.values():
        factories.make_visible_to(person)
    before, proposed = _count(model), _proposals(table, "create")
    response = client.post(base + "/new/", data=payload)
    if decide[Action.CREATE] is Grant.ALLOW:
        assert response.status_code == 302, _problems(client, response)
        assert _count(model) == before + 1
    else:
        assert _count(model) == before
        if decide[Action.CREATE] is Grant.PROPOSE:
            assert PROPOSAL_MESSAGE in _followed_text(client, response), _problems(client, response)
            assert _proposals(table, "create") == proposed + 1
        else:
            assert response.status_code == 403

    # Edit
    payload = form_data(view, token, person) if decide[Action.EDIT] is not Grant.DENY else {"csrf_token": token}
    if Grant.PROPOSE in decide.values():
        factories.make_visible_to(person)
    before_row, proposed = _snapshot(row), _proposals(table, "update")
    response = client.post(f"{base}/edit/?id={row_id}", data=payload)
    if decide[Action.EDIT] is Grant.ALLOW:
        assert response.status_code == 302, _problems(client, response)
        row_id = _url_id(view, row) if _snapshot(row) is not None else row_id
    else:
        assert _snapshot(row) == before_row
        if decide[Action.EDIT] is Grant.PROPOSE:
            assert PROPOSAL_MESSAGE in _followed_text(client, response), _problems(client, response)
            assert _proposals(table, "update") == proposed + 1
        else:
            assert response.status_code == 403

    # Inline edit (x-editable posts one field of one row)
    editable = list(view.column_editable_list or [])
    field = editable[0] if editable else "id"
    before_row, proposed = _snapshot(row), _proposals(table, "update")
    response = client.post(base + "/ajax/update/", data={
        "list_form_pk": inline_edit_key(row, row_id), field: inline_edit_value(view, field) if editable else "x",
        "csrf_token": token})
    if decide[Action.EDIT] is Grant.DENY:
        assert response.status_code == 403
        assert _snapshot(row) == before_row
    elif not editable:
        assert response.status_code == 404
    elif decide[Action.EDIT] is Grant.PROPOSE:
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.get_json()["proposal"] is True
        assert _snapshot(row) == before_row
        assert _proposals(table, "update") == proposed + 1
    else:
        assert response.status_code == 200, response.get_data(as_text=True)

    # Bulk action: archive where the table archives, delete otherwise
    action_name = "archive" if "archive" in view._actions_data else "delete"
    needed = view.action_permissions[action_name]
    operation = "update" if action_name == "archive" else "delete"
    before_row, proposed = _snapshot(row), _proposals(table, operation)
    response = client.post(base + "/action/", data={"action": action_name, "rowid": [row_id], "csrf_token": token})
    if decide[needed] is Grant.DENY:
        assert response.status_code == 403
        assert _snapshot(row) == before_row
    elif decide[needed] is Grant.PROPOSE:
        assert _snapshot(row) == before_row
        assert PROPOSAL_MESSAGE in _followed_text(client, response), _problems(client, response)
        assert _proposals(table, operation) == proposed + 1
    else:
        assert response.status_code == 302
        after = _snapshot(row)
        assert (after is None) if action_name == "delete" else after["is_archived"]

    # Delete
    victim = factories.create(table, visible_to=person)
    victim_id = _url_id(view, victim)
    if Grant.PROPOSE in decide.values():
        factories.make_visible_to(person)
    proposed = _proposals(table, "delete")
    response = client.post(base + "/delete/", data={"id": victim_id, "csrf_token": token})
    if decide[Action.DELETE] is Grant.ALLOW:
        assert response.status_code == 302
        assert _snapshot(victim) is None, _problems(client, response)
    else:
        assert _snapshot(victim) is not None
        if decide[Action.DELETE] is Grant.DENY:
            assert response.status_code == 403
        else:
            assert PROPOSAL_MESSAGE in _followed_text(client, response), _problems(client, response)
            assert _proposals(table, "delete") == proposed + 1


@pytest.mark.parametrize("roles", ROLE_SETS, ids=lambda r: "+".join(r) or "no-role")
def test_look_ups_answer_only_what_the_role_could_list(client, app, sign_in_as, roles):
    """Every form's type-ahead picker (inline forms' too), for every role: a person who may open the
    form finds rows of the picked table only when the rule table lets them list that table."""
    person = sign_in_as(*roles)
    factories.create("staff")
    factories.create("clients", visible_to=person)
    problems = []
    for view in app.extensions["ccd_admin"]._views:
        refs = getattr(view, "_form_ajax_refs", None) or {}
        if not refs or grant(roles, view.rule_key, Action.LIST) is Grant.DENY:
            continue
        for name, loader in refs.items():
            response = client.get(f"/admin/{view.endpoint}/ajax/lookup/", query_string={"name": name, "query": ""})
            assert response.status_code == 200, f"{view.endpoint}.{name}: {response.status_code}"
            found = response.get_json()
            listable = grant(roles, loader.model.__tablename__, Action.LIST) is not Grant.DENY
            if found and not listable:
                problems.append(f"{view.endpoint}?name={name} shows {loader.model.__tablename__} to {roles}")
            if listable and not found:
                problems.append(f"{view.endpoint}?name={name} finds nothing {roles} could list")
    assert not problems


def test_a_coordinator_cannot_make_someone_a_program_manager_on_any_screen(client, app, sign_in_as, db_session):
    """Adding a Program staff row (is_manager) shows that person the program's clients: the same rule as the
    staff program assignments screen, on the Program staff screen and the program form's staff list."""
    from app.models import ProgramStaff

    coordinator = sign_in_as("Coordinator")
    program, worker = factories.create("programs"), factories.create("staff")
    token = csrf_token(client, "/admin/")
    assert client.get("/admin/staff_program_assignments/new/").status_code == 403
    assert client.get("/admin/program_staff/new/").status_code == 403
    posted = client.post("/admin/program_staff/new/", data={
        "program": str(program.id), "staff": str(worker.id), "is_manager": "y", "csrf_token": token})
    assert posted.status_code == 403
    form = client.get(f"/admin/programs/edit/?id={program.id}").get_data(as_text=True)
    assert "staff_links" not in form, "the program form offers no staff list to someone who may not grant it"
    data = form_data(_view(app, "programs"), token, coordinator)
    data.update({"staff_links-0-staff": str(worker.id), "staff_links-0-is_manager": "y"})
    saved = client.post(f"/admin/programs/edit/?id={program.id}", data=data)
    assert saved.status_code == 302, _problems(client, saved)
    db_session.expire_all()
    assert db_session.scalar(sa.select(sa.func.count()).select_from(ProgramStaff)
                             .where(ProgramStaff.staff_id == worker.id)) == 0
