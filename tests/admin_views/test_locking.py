"""Optimistic locking through the screens: a save from a form opened before someone else's change
is refused with the values now, never "successfully saved" over that change (issue 16)."""

import re
from datetime import date

import pytest
import sqlalchemy as sa
from flask import current_app

from admin_views.locking import OPENED_FIELD
from app.extensions import db
from app.models import AuditLog, Client, PendingChange, SubProgram
from tests import factories
from tests.admin_views.forms import browser_form
from tests.conftest import csrf_token, make_staff, sign_in

SAVED = "Record was successfully saved."
REFUSED = "someone changed this record after you opened it"


def _fresh(row):
    db.session.expire_all()
    return db.session.get(type(row), row.id)


def _browser(app, *roles):
    """A test client signed in as a new staff member with these roles (each person has their own cookies)."""
    browser = app.test_client()
    person = make_staff(*roles)
    sign_in(browser, person)
    return browser, person


def _page(browser, response) -> str:
    if response.status_code in (301, 302, 303):
        return browser.get(response.headers["Location"]).get_data(as_text=True)
    return response.get_data(as_text=True)


def _view(endpoint):
    return next(v for v in current_app.extensions["ccd_admin"]._views if v.endpoint == endpoint)


def _audit_rows(entity_id, action=None):
    query = sa.select(AuditLog).where(AuditLog.entity_id == entity_id)
    if action is not None:
        query = query.where(AuditLog.action == action)
    return db.session.scalars(query).all()


def _visible_client(proposer, **kw) -> Client:
    record = factories.client(**kw)
    db.session.add(record)
    db.session.commit()
    factories.make_visible_to(proposer)
    return record


def test_stale_form_does_not_undo_an_approved_change(app, client):
    """The issue's race: Coordinator A opens the edit form, Coordinator B approves a Manager's proposal
    on the same client, A saves. A is refused with the approved value shown, and it stays."""
    manager = make_staff("Manager")
    sign_in(client, manager)
    record = _visible_client(manager, phone="416-555-0100", comments="Prefers mornings")
    edit_url = f"/admin/clients/edit/?id={record.id}"

    first, _ = _browser(app, "Coordinator")
    opened = browser_form(first.get(edit_url).get_data(as_text=True))

    proposal = browser_form(client.get(edit_url).get_data(as_text=True))
    proposal["phone"] = "416-555-0199"
    assert "Submitted for approval" in _page(client, client.post(edit_url, data=proposal))
    change = db.session.scalars(sa.select(PendingChange).where(PendingChange.entity_id == record.id)).one()
    assert change.base_version == 1

    second, _ = _browser(app, "Coordinator")
    second.post(f"/admin/pending_changes/approve/?id={change.id}", data={"csrf_token": csrf_token(second, "/admin/")})
    assert _fresh(record).phone == "416-555-0199" and _fresh(record).version == 2

    opened["comments"] = "Prefers afternoons"
    response = first.post(edit_url, data=opened)
    page = _page(first, response)

    assert response.status_code == 200 and SAVED not in page
    assert REFUSED in page
    assert "Phone is now “416-555-0199” (was “416-555-0100”)" in page
    assert "Prefers afternoons" in page  # what A typed is still in the form
    kept = _fresh(record)
    assert (kept.phone, kept.comments, kept.version) == ("416-555-0199", "Prefers mornings", 2)
    assert len(_audit_rows(record.id, "approve")) == 1
    assert len(_audit_rows(record.id, "update")) == 0


def test_saving_the_refused_form_again_is_a_decision_made_knowing_the_values_now(app, client):
    coordinator = make_staff("Coordinator")
    sign_in(client, coordinator)
    record = factories.create("clients")
    edit_url = f"/admin/clients/edit/?id={record.id}"
    opened = browser_form(client.get(edit_url).get_data(as_text=True))
    record.phone = "416-555-0142"  # someone else's save while the form is open
    db.session.commit()

    opened["comments"] = "Mine"
    refused = client.post(edit_url, data=opened)
    again = browser_form(refused.get_data(as_text=True))
    assert again["comments"] == "Mine" and again[OPENED_FIELD] != opened[OPENED_FIELD]

    assert SAVED in _page(client, client.post(edit_url, data=again, follow_redirects=False))
    kept = _fresh(record)
    assert kept.comments == "Mine" and kept.version == 3
    (update,) = _audit_rows(record.id, "update")[-1:]
    assert update.changed_by_id == coordinator.id
    assert "comments" in update.diff_json and "version" not in update.diff_json


def test_a_save_with_nothing_changed_since_goes_through_with_one_audit_row(client, sign_in_as):
    coordinator = sign_in_as("Coordinator")
    record = factories.create("clients")
    edit_url = f"/admin/clients/edit/?id={record.id}"
    data = browser_form(client.get(edit_url).get_data(as_text=True))
    data["comments"] = "Called back"

    assert SAVED in _page(client, client.post(edit_url, data=data))
    assert (_fresh(record).comments, _fresh(record).version) == ("Called back", 2)
    (row,) = _audit_rows(record.id, "update")
    assert row.changed_by_id == coordinator.id and set(row.diff_json) == {"comments"}


def test_altered_opened_field_is_refused(client, sign_in_as):
    sign_in_as("Coordinator")
    record = factories.create("clients")
    edit_url = f"/admin/clients/edit/?id={record.id}"
    data = browser_form(client.get(edit_url).get_data(as_text=True))
    data[OPENED_FIELD] = data[OPENED_FIELD][:-3] + "abc"
    data["comments"] = "Forged"
    page = _page(client, client.post(edit_url, data=data))
    assert "could not be checked" in page and SAVED not in page
    assert _fresh(record).comments != "Forged"


def test_stale_save_of_a_restriction_is_refused(client, sign_in_as):
    sign_in_as("Coordinator")
    restriction = factories.create("service_restrictions")
    edit_url = f"/admin/service_restrictions/edit/?id={restriction.id}"
    opened = browser_form(client.get(edit_url).get_data(as_text=True))
    restriction.reason = "Threatened staff on 3 May"
    db.session.commit()

    opened["notes"] = "Reviewed"
    page = _page(client, client.post(edit_url, data=opened))
    assert REFUSED in page and "Threatened staff on 3 May" in page
    kept = _fresh(restriction)
    assert (kept.reason, kept.notes) == ("Threatened staff on 3 May", restriction.notes)


def test_stale_save_of_an_enrollment_is_refused(client, sign_in_as):
    sign_in_as("Coordinator")
    enrollment = factories.create("client_program_enrollments")
    edit_url = f"/admin/client_program_enrollments/edit/?id={enrollment.id}"
    opened = browser_form(client.get(edit_url).get_data(as_text=True))
    enrollment.end_date = date(2025, 6, 30)
    db.session.commit()

    opened["notes"] = "Moved"
    page = _page(client, client.post(edit_url, data=opened))
    assert REFUSED in page and "2025-06-30" in page
    assert _fresh(enrollment).end_date == date(2025, 6, 30) and _fresh(enrollment).notes != "Moved"


def test_a_change_committed_after_the_check_is_caught_by_the_version_in_the_update(client, sign_in_as, monkeypatch):
    """Between the form check and the UPDATE another transaction commits: the UPDATE's version no longer
    matches, and the save is refused, not reported as saved."""
    sign_in_as("Coordinator")
    record = factories.create("clients")
    edit_url = f"/admin/clients/edit/?id={record.id}"
    data = browser_form(client.get(edit_url).get_data(as_text=True))
    data["comments"] = "Late"
    view = _view("clients")
    original = type(view).on_model_change

    def meanwhile(self, form, model, is_created):
        original(self, form, model, is_created)
        db.session.connection().execute(sa.update(Client.__table__).where(Client.__table__.c.id == model.id)
                           .values(version=Client.__table__.c.version + 1))

    monkeypatch.setattr(type(view), "on_model_change", meanwhile)
    page = _page(client, client.post(edit_url, data=data))
    assert REFUSED in page and SAVED not in page
    assert _fresh(record).comments != "Late"


@pytest.mark.parametrize("table", ["clients", "client_program_enrollments", "service_restrictions", "programs",
                                   "staff", "users", "staff_roles", "choice_options"])
def test_every_edit_form_carries_what_it_was_opened_at_and_never_the_version(client, sign_in_as, table):
    sign_in_as("Administrator")
    row = factories.create(table)
    view = _view(table)
    with current_app.test_request_context():
        key = view.get_pk_value(row)
    page = client.get(f"/admin/{table}/edit/?id={key}").get_data(as_text=True)
    data = browser_form(page)
    assert data.get(OPENED_FIELD)
    assert "version" not in data


def test_the_approvals_page_says_when_the_record_moved_on_in_other_fields(app, client):
    manager = make_staff("Manager")
    sign_in(client, manager)
    record = _visible_client(manager, phone="416-555-0100")
    edit_url = f"/admin/clients/edit/?id={record.id}"
    proposal = browser_form(client.get(edit_url).get_data(as_text=True))
    proposal["phone"] = "416-555-0199"
    client.post(edit_url, data=proposal)
    change = db.session.scalars(sa.select(PendingChange).where(PendingChange.entity_id == record.id)).one()

    reviewer, _ = _browser(app, "Coordinator")
    review_url = f"/admin/pending_changes/details/?id={change.id}"
    assert "in fields this proposal does not change" not in reviewer.get(review_url).get_data(as_text=True)
    record.comments = "Moved to Hamilton"  # a direct edit of another field
    db.session.commit()
    page = reviewer.get(review_url).get_data(as_text=True)
    assert "in fields this proposal does not change" in page
    assert "Approving would overwrite" not in page


def test_the_opened_field_never_carries_a_password_hash(client, sign_in_as):
    from itsdangerous import URLSafeSerializer

    sign_in_as("Administrator")
    account = factories.create("users")
    data = browser_form(client.get(f"/admin/users/edit/?id={account.id}").get_data(as_text=True))
    payload = URLSafeSerializer("any").loads_unsafe(data[OPENED_FIELD])[1]
    assert payload["version"] == account.version and "password_hash" not in payload["values"]
    assert account.password_hash not in data[OPENED_FIELD]


# -- inline list edits and inline child rows --------------------------------------------------
def _list_key(page: str, record_id) -> str:
    """The row key the list's inline editor posts back for this record (what x-editable sends)."""
    keys = set(re.findall(r'data-pk="(' + re.escape(str(record_id)) + r'[^"]*)"', page))
    assert len(keys) == 1, keys
    return keys.pop()


def _inline_edit(browser, table, key, field, value):
    return browser.post(f"/admin/{table}/ajax/update/", data={
        "list_form_pk": key, field: value, "csrf_token": csrf_token(browser, "/admin/")})


def test_a_stale_inline_list_edit_is_refused_and_the_newer_value_survives(app, client):
    program = factories.create("programs")
    first, _ = _browser(app, "Administrator")
    second, _ = _browser(app, "Administrator")
    seen_by_first = _list_key(first.get("/admin/programs/").get_data(as_text=True), program.id)
    seen_by_second = _list_key(second.get("/admin/programs/").get_data(as_text=True), program.id)

    saved = _inline_edit(second, "programs", seen_by_second, "capacity_current", "30")
    assert saved.status_code == 200, saved.get_data(as_text=True)
    stale = _inline_edit(first, "programs", seen_by_first, "capacity_current", "99")
    assert stale.status_code != 200 and "changed this row after the list was shown" in stale.get_data(as_text=True)
    assert _fresh(program).capacity_current == 30

    reloaded = _list_key(first.get("/admin/programs/").get_data(as_text=True), program.id)
    assert _inline_edit(first, "programs", reloaded, "capacity_current", "99").status_code == 200
    assert _fresh(program).capacity_current == 99


def test_an_inline_list_edit_that_names_no_version_is_refused(client, sign_in_as):
    sign_in_as("Administrator")
    program = factories.create("programs")
    before = program.capacity_current
    response = _inline_edit(client, "programs", str(program.id), "capacity_current", "77")
    assert response.status_code != 200 and "this list is out of date" in response.get_data(as_text=True)
    assert _fresh(program).capacity_current == before


def test_a_proposers_stale_inline_list_edit_is_refused_and_proposes_nothing(app, client):
    enrollment = factories.create("client_program_enrollments")
    proposer, manager = _browser(app, "Manager")
    factories.make_visible_to(manager)
    editor, _ = _browser(app, "Administrator")
    table = "client_program_enrollments"
    seen_by_proposer = _list_key(proposer.get(f"/admin/{table}/").get_data(as_text=True), enrollment.id)
    seen_by_editor = _list_key(editor.get(f"/admin/{table}/").get_data(as_text=True), enrollment.id)
    assert _inline_edit(editor, table, seen_by_editor, "status", "completed").status_code == 200

    stale = _inline_edit(proposer, table, seen_by_proposer, "status", "cancelled")
    assert stale.status_code != 200 and "changed this row after the list was shown" in stale.get_data(as_text=True)
    assert _fresh(enrollment).status == "completed"
    assert db.session.scalars(sa.select(PendingChange)).all() == []


def test_a_proposers_inline_list_edit_naming_no_version_is_refused(app, client):
    enrollment = factories.create("client_program_enrollments")
    proposer, manager = _browser(app, "Manager")
    factories.make_visible_to(manager)
    response = _inline_edit(proposer, "client_program_enrollments", str(enrollment.id), "status", "cancelled")
    assert response.status_code != 200 and "this list is out of date" in response.get_data(as_text=True)
    assert db.session.scalars(sa.select(PendingChange)).all() == []


def test_a_proposal_from_the_list_keeps_the_version_the_list_showed(app, client):
    enrollment = factories.create("client_program_enrollments")
    proposer, manager = _browser(app, "Manager")
    factories.make_visible_to(manager)
    table = "client_program_enrollments"
    seen = _list_key(proposer.get(f"/admin/{table}/").get_data(as_text=True), enrollment.id)
    new_status = "cancelled" if enrollment.status != "cancelled" else "active"

    answer = _inline_edit(proposer, table, seen, "status", new_status)
    assert answer.status_code == 200 and answer.get_json()["proposal"] is True
    (change,) = db.session.scalars(sa.select(PendingChange)).all()
    assert change.base_version == int(seen.rsplit("@", 1)[1])
    assert change.diff_json == {"status": new_status}


def _program_with_a_child_row_opened(app):
    """A program with one inline child row, its edit form opened by an administrator: (browser, edit url,
    the form's fields, the child row's field prefix, the child)."""
    program = factories.create("programs")
    child = SubProgram(program=program, name="Evenings")
    db.session.add(child)
    db.session.commit()
    first, _ = _browser(app, "Administrator")
    edit_url = f"/admin/programs/edit/?id={program.id}"
    opened = browser_form(first.get(edit_url).get_data(as_text=True))
    row = next(key.rsplit("-", 1)[0] for key, value in opened.items() if key.endswith("-name") and value == "Evenings")
    return first, edit_url, opened, row, child


def test_a_stale_inline_child_row_is_refused_and_the_newer_value_survives(app, client):
    first, edit_url, opened, row, child = _program_with_a_child_row_opened(app)
    assert opened.get(f"{row}-version") == str(child.version)

    child.name = "Evenings and weekends"  # another person's save of the same child row
    db.session.commit()
    opened[f"{row}-name"] = "Mornings"
    page = _page(first, first.post(edit_url, data=opened))
    assert REFUSED in page and SAVED not in page
    assert _fresh(child).name == "Evenings and weekends"


def test_an_inline_child_row_shown_at_its_version_saves(app, client):
    first, edit_url, opened, row, child = _program_with_a_child_row_opened(app)
    opened[f"{row}-name"] = "Mornings"
    page = _page(first, first.post(edit_url, data=opened))
    assert SAVED in page, page[:2000]
    kept = _fresh(child)
    assert kept.name == "Mornings" and kept.version == 2
