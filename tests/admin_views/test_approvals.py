"""Proposals from every save path of the screens, the approvals inbox and "My requests", over HTTP.

What a Manager or Leader submits never touches the record; what a Coordinator does in the
inbox is applied, declined or refused exactly as the approvals service decides.
"""

import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditLog, Client, Enrollment, Notification, PendingChange
from app.services import approvals
from tests import factories
from tests.admin_views.forms import browser_form, inline_edit_key
from tests.conftest import csrf_token, make_staff, sign_in

BASE_TOKEN = re.compile(r'name="ccd_opened" type="hidden" value="([^"]+)"')


def _changes(**where):
    db.session.expire_all()
    query = sa.select(PendingChange).order_by(PendingChange.created_at)
    for key, value in where.items():
        query = query.where(getattr(PendingChange, key) == value)
    return db.session.scalars(query).all()


def _fresh(row):
    db.session.expire_all()
    return db.session.get(type(row), row.id)


def _page(client, response) -> str:
    if response.status_code in (301, 302, 303):
        return client.get(response.headers["Location"]).get_data(as_text=True)
    return response.get_data(as_text=True)


def _visible_client(proposer, **kw) -> Client:
    """A client within the proposer's programs."""
    record = factories.client(**kw)
    db.session.add(record)
    db.session.commit()
    factories.make_visible_to(proposer)
    return record


def _propose_first_name(client, record, new_name):
    edit_url = f"/admin/clients/edit/?id={record.id}"
    data = browser_form(client.get(edit_url).get_data(as_text=True))
    data["first_name"] = new_name
    return client.post(edit_url, data=data)


# -- proposals from every save path ---------------------------------------------------------------
def test_manager_edit_through_the_form_stores_one_proposal_with_its_diff_and_base(client, sign_in_as):
    manager = sign_in_as("Manager")
    record = _visible_client(manager)
    original = record.first_name

    response = _propose_first_name(client, record, "Alexandra")

    assert "Submitted for approval" in _page(client, response)
    assert _fresh(record).first_name == original
    (change,) = _changes(entity="clients")
    assert (change.operation, change.entity_id, change.status) == ("update", record.id, "pending")
    assert change.diff_json == {"first_name": "Alexandra"}
    assert change.base_json == {"first_name": original}
    assert change.requested_by_id == manager.id


def test_a_multi_select_sent_in_another_order_is_not_part_of_the_proposal_nor_its_audit_row(client, sign_in_as):
    manager = sign_in_as("Manager")
    stored = ["White – North American", "East Asian"]
    record = _visible_client(manager, ethnicity=list(stored), phone="416-555-0101", city="Toronto")
    edit_url = f"/admin/clients/edit/?id={record.id}"
    data = browser_form(client.get(edit_url).get_data(as_text=True))
    data["phone"], data["city"] = "416-555-0199", "Hamilton"
    data.setlist("ethnicity", list(reversed(stored)))
    assert "Submitted for approval" in _page(client, client.post(edit_url, data=data))
    (change,) = _changes(entity="clients")
    expected = {"phone": "416-555-0199", "city": "Hamilton"}
    assert change.diff_json == expected
    assert [row.field for row in approvals.comparison(change) if row.proposed_change] == \
        [f for f in approvals.proposable_fields(Client) if f in expected]

    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    sign_in_as("Coordinator")
    client.post(f"/admin/pending_changes/approve/?id={change.id}", data={"csrf_token": csrf_token(client, "/admin/")})
    (row,) = db.session.scalars(sa.select(AuditLog).where(AuditLog.entity_id == record.id,
                                                           AuditLog.action == "approve")).all()
    assert set(row.diff_json) == set(expected)
    assert _fresh(record).ethnicity == stored


def test_a_direct_edit_keeps_a_multi_select_in_its_stored_order(client, sign_in_as):
    sign_in_as("Coordinator")
    stored = ["White – North American", "East Asian"]
    record = factories.client(ethnicity=list(stored))
    db.session.add(record)
    db.session.commit()
    edit_url = f"/admin/clients/edit/?id={record.id}"
    data = browser_form(client.get(edit_url).get_data(as_text=True))
    data.setlist("ethnicity", list(reversed(stored)))
    data["city"] = "Kingston"
    assert client.post(edit_url, data=data).status_code == 302
    assert _fresh(record).ethnicity == stored
    (row,) = db.session.scalars(sa.select(AuditLog).where(AuditLog.entity_id == record.id,
                                                           AuditLog.action == "update")).all()
    assert set(row.diff_json) == {"city"}


def test_unchanged_form_submits_nothing(client, sign_in_as):
    manager = sign_in_as("Manager")
    record = _visible_client(manager)
    response = _propose_first_name(client, record, record.first_name)
    assert "nothing was submitted" in _page(client, response)
    assert _changes() == []


def test_base_is_what_the_proposer_saw_so_a_stale_form_does_not_undo_someone_elses_edit(client, sign_in_as):
    manager = sign_in_as("Manager")
    record = _visible_client(manager, first_name="Alex", last_name="Stale")
    edit_url = f"/admin/clients/edit/?id={record.id}"
    data = browser_form(client.get(edit_url).get_data(as_text=True))
    record.first_name = "Alexis"  # a coordinator's edit while the form is open
    db.session.commit()

    data["last_name"] = "Fresh"
    client.post(edit_url, data=data)

    (change,) = _changes(entity="clients")
    assert change.diff_json == {"last_name": "Fresh"}
    assert change.base_json == {"last_name": "Stale"}


def test_altered_base_is_refused_and_nothing_is_stored(client, sign_in_as):
    manager = sign_in_as("Manager")
    record = _visible_client(manager)
    edit_url = f"/admin/clients/edit/?id={record.id}"
    data = browser_form(client.get(edit_url).get_data(as_text=True))
    data["ccd_opened"] = data["ccd_opened"][:-3] + "abc"
    data["first_name"] = "Forged"
    response = client.post(edit_url, data=data)
    assert "could not be checked" in _page(client, response)
    assert _changes() == []


def test_manager_create_is_a_proposal_and_writes_no_record(client, sign_in_as):
    sign_in_as("Manager")
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Client))
    response = client.post("/admin/clients/new/", data={
        "first_name": "Nadia", "last_name": "Proposed", "dob": "1990-02-03",
        "csrf_token": csrf_token(client, "/admin/"),
    })
    assert "Submitted for approval" in _page(client, response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Client)) == before
    (change,) = _changes(entity="clients")
    assert (change.operation, change.entity_id) == ("create", None)
    assert {key: change.diff_json[key] for key in ("first_name", "last_name", "dob")} == {
        "first_name": "Nadia", "last_name": "Proposed", "dob": "1990-02-03"}
    assert change.base_json == {}


def test_manager_delete_is_a_proposal_and_the_record_stays(client, sign_in_as):
    manager = sign_in_as("Manager")
    record = _visible_client(manager)
    response = client.post("/admin/clients/delete/", data={"id": str(record.id),
                                                           "csrf_token": csrf_token(client, "/admin/")})
    assert "Submitted for approval" in _page(client, response)
    assert _fresh(record) is not None
    (change,) = _changes(entity="clients")
    assert (change.operation, change.entity_id, change.diff_json) == ("delete", record.id, {})
    assert change.base_json["last_name"] == record.last_name


def test_manager_inline_edit_is_a_proposal_and_the_list_keeps_the_old_value(client, sign_in_as):
    manager = sign_in_as("Manager")
    enrollment = factories.create("client_program_enrollments")
    factories.make_visible_to(manager)
    old_status = enrollment.status
    new_status = "completed" if old_status != "completed" else "active"
    script = re.search(r'src="([^"]*ccd-inline-proposals\.js)"',
                       client.get("/admin/client_program_enrollments/").get_data(as_text=True))
    assert script and client.get(script.group(1)).status_code == 200

    response = client.post("/admin/client_program_enrollments/ajax/update/", data={
        "list_form_pk": inline_edit_key(enrollment, str(enrollment.id)), "status": new_status,
        "csrf_token": csrf_token(client, "/admin/")})

    assert response.status_code == 200
    answer = response.get_json()
    assert answer["proposal"] is True and "Submitted for approval" in answer["message"]
    assert _fresh(enrollment).status == old_status
    (change,) = _changes(entity="client_program_enrollments")
    assert change.diff_json == {"status": new_status}
    assert change.base_json == {"status": old_status}


def test_manager_bulk_archive_proposes_one_change_per_record(client, sign_in_as):
    manager = sign_in_as("Manager")
    first, second = factories.create("clients"), factories.create("clients")
    factories.make_visible_to(manager)
    response = client.post("/admin/clients/action/", data={
        "action": "archive", "rowid": [str(first.id), str(second.id)], "csrf_token": csrf_token(client, "/admin/")})
    assert "2 changes submitted for approval" in _page(client, response)
    assert not _fresh(first).is_archived and not _fresh(second).is_archived
    changes = _changes(entity="clients")
    assert sorted(c.entity_id for c in changes) == sorted([first.id, second.id])
    assert all(c.diff_json == {"is_archived": True} and c.base_json == {"is_archived": False} for c in changes)


def test_proposal_outside_the_managers_programs_is_refused(client, sign_in_as):
    sign_in_as("Manager")  # manages no program
    enrollment = factories.create("client_program_enrollments")
    response = client.post("/admin/client_program_enrollments/ajax/update/", data={
        "list_form_pk": str(enrollment.id), "status": "completed", "csrf_token": csrf_token(client, "/admin/")})
    assert response.status_code == 404, "a record out of scope does not exist for this person"
    assert _changes() == []


def test_leader_proposes_too(client, sign_in_as):
    leader = sign_in_as("Leader")
    record = _visible_client(leader)
    _propose_first_name(client, record, "Led")
    (change,) = _changes(entity="clients")
    assert change.requested_by_id == leader.id and change.diff_json == {"first_name": "Led"}


# -- the inbox ----------------------------------------------------------------------------------------
@pytest.fixture
def proposal(client, db_session):
    """A Manager's pending edit of a client's first name (the Manager is signed out afterwards)."""
    manager = make_staff("Manager")
    record = _visible_client(manager, first_name="Alex", last_name="Inbox")
    sign_in(client, manager)
    _propose_first_name(client, record, "Alexandra")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    (change,) = _changes(entity="clients")
    return change, record, manager


@pytest.mark.parametrize("role", ["Staff", "Analyst", "Manager", "Leader"])
def test_only_coordinators_and_administrators_review(client, sign_in_as, proposal, role):
    """Analysts read the queue (they read everything) but, like the others, cannot approve or decline."""
    change, record, _ = proposal
    sign_in_as(role)
    token = csrf_token(client, "/admin/")
    expected_read = 200 if role == "Analyst" else 403
    assert client.get("/admin/pending_changes/").status_code == expected_read
    details = client.get(f"/admin/pending_changes/details/?id={change.id}")
    assert details.status_code == expected_read
    assert "Approve" not in details.get_data(as_text=True) or expected_read == 403
    assert client.post(f"/admin/pending_changes/approve/?id={change.id}", data={"csrf_token": token}).status_code == 403
    assert client.post(f"/admin/pending_changes/decline/?id={change.id}",
                       data={"csrf_token": token, "rationale": "no"}).status_code == 403
    assert _fresh(change).status == "pending" and _fresh(record).first_name == "Alex"


@pytest.mark.parametrize("role", ["Coordinator", "Administrator"])
def test_inbox_lists_pending_changes_with_a_sidebar_count(client, sign_in_as, proposal, role):
    change, record, manager = proposal
    sign_in_as(role)
    page = client.get("/admin/pending_changes/").get_data(as_text=True)
    assert f"/admin/pending_changes/details/?id={change.id}" in page
    assert "Inbox, Alex" in page or str(record) in page
    assert manager.full_name in page
    assert re.search(r'Pending changes <span class="badge[^"]*"[^>]*>1</span>', page)


def _filter(client, name: str, value: str) -> str:
    """The inbox page with one filter set, chosen by the filter's label."""
    view = next(v for v in client.application.extensions["ccd_admin"]._views if v.endpoint == "pending_changes")
    key = next(key for key, (_, flt) in view._filter_args.items() if flt.name == name)
    return client.get("/admin/pending_changes/", query_string={f"flt0_{key}": value}).get_data(as_text=True)


def test_inbox_filters_by_status_requester_and_record_type(client, sign_in_as, proposal):
    change, _, manager = proposal
    coordinator = sign_in_as("Coordinator")
    link = f"/admin/pending_changes/details/?id={change.id}"
    assert link in _filter(client, "Requested by", str(manager.id))
    assert link not in _filter(client, "Requested by", str(coordinator.id))
    assert link in _filter(client, "Record type", "clients")
    assert link not in _filter(client, "Record type", "programs")
    assert link not in _filter(client, "Status", "approved")
    assert link in _filter(client, "Status", "any")


def test_details_page_shows_base_proposal_and_record_with_labels_and_escapes_values(client, sign_in_as):
    manager = make_staff("Manager")
    record = _visible_client(manager, first_name="Alex", last_name="Escape")
    sign_in(client, manager)
    _propose_first_name(client, record, "<script>alert(1)</script>")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    (change,) = _changes(entity="clients")
    sign_in_as("Coordinator")
    page = client.get(f"/admin/pending_changes/details/?id={change.id}").get_data(as_text=True)
    assert "First name" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)</script>" not in page
    assert "When proposed" in page and "Proposed" in page and "Now" in page


def test_coordinator_approves_and_the_record_changes_with_one_audit_row(client, sign_in_as, proposal):
    change, record, manager = proposal
    coordinator = sign_in_as("Coordinator")
    response = client.post(f"/admin/pending_changes/approve/?id={change.id}",
                           data={"csrf_token": csrf_token(client, "/admin/")})
    assert "Approved and applied" in _page(client, response)
    assert _fresh(record).first_name == "Alexandra"
    rows = db.session.scalars(sa.select(AuditLog).where(AuditLog.entity_id == record.id,
                                                         AuditLog.action == "approve")).all()
    assert len(rows) == 1
    assert rows[0].diff_json == {"first_name": {"before": "Alex", "after": "Alexandra"}}
    assert rows[0].changed_by_id == coordinator.id
    done = _fresh(change)
    assert (done.status, done.reviewed_by_id) == ("approved", coordinator.id)
    assert db.session.scalars(sa.select(Notification).where(Notification.staff_id == manager.id)).one().category \
        == "approval"


def test_approve_needs_the_forms_csrf_token(client, sign_in_as, proposal):
    change, record, _ = proposal
    sign_in_as("Coordinator")
    client.post(f"/admin/pending_changes/approve/?id={change.id}", data={})
    assert _fresh(change).status == "pending" and _fresh(record).first_name == "Alex"


def test_decline_without_rationale_is_refused_and_with_one_leaves_the_record(client, sign_in_as, proposal):
    change, record, manager = proposal
    sign_in_as("Coordinator")
    token = csrf_token(client, "/admin/")
    response = client.post(f"/admin/pending_changes/decline/?id={change.id}",
                           data={"csrf_token": token, "rationale": "   "})
    assert "needs a rationale" in _page(client, response)
    assert _fresh(change).status == "pending"

    response = client.post(f"/admin/pending_changes/decline/?id={change.id}",
                           data={"csrf_token": token, "rationale": "Name is spelled as on the health card."})
    assert "Declined" in _page(client, response)
    assert _fresh(change).status == "declined"
    assert _fresh(record).first_name == "Alex"
    note = db.session.scalars(sa.select(Notification).where(Notification.staff_id == manager.id)).one()
    assert "health card" in note.message


def test_conflict_is_shown_and_refused_until_acknowledged_then_applied_field_by_field(client, sign_in_as):
    manager = make_staff("Manager")
    record = _visible_client(manager, first_name="Alex", last_name="Conflict")
    sign_in(client, manager)
    edit_url = f"/admin/clients/edit/?id={record.id}"
    data = browser_form(client.get(edit_url).get_data(as_text=True))
    data["first_name"], data["last_name"] = "Alexandra", "Conflicting"
    client.post(edit_url, data=data)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    record.first_name = "Alexis"  # a direct edit after the proposal
    db.session.commit()
    (change,) = _changes(entity="clients")

    sign_in_as("Coordinator")
    token = csrf_token(client, "/admin/")
    page = client.get(f"/admin/pending_changes/details/?id={change.id}").get_data(as_text=True)
    assert "changed after this was proposed" in page
    assert 'name="approved_fields" value="first_name"' in page

    response = client.post(f"/admin/pending_changes/approve/?id={change.id}", data={
        "csrf_token": token, "choosing_fields": "1", "approved_fields": ["first_name", "last_name"]})
    assert "changed after this was proposed" in _page(client, response)
    assert _fresh(change).status == "pending" and _fresh(record).last_name == "Conflict"

    client.post(f"/admin/pending_changes/approve/?id={change.id}", data={
        "csrf_token": token, "choosing_fields": "1", "approved_fields": ["last_name"]})
    assert (_fresh(record).first_name, _fresh(record).last_name) == ("Alexis", "Conflicting")
    assert _fresh(change).status == "approved"


# -- My requests -----------------------------------------------------------------------------------------
def test_my_requests_lists_only_ones_own_and_withdraws_only_ones_own(client, sign_in_as, proposal):
    change, record, manager = proposal
    other = sign_in_as("Manager")
    token = csrf_token(client, "/admin/")
    assert f"details/?id={change.id}" not in client.get("/admin/my-requests/").get_data(as_text=True)
    assert client.get(f"/admin/my-requests/details/?id={change.id}").status_code == 404
    assert client.post(f"/admin/my-requests/withdraw/?id={change.id}", data={"csrf_token": token}).status_code == 404
    assert _fresh(change).status == "pending"

    client.post("/logout", data={"csrf_token": token})
    sign_in(client, manager)
    token = csrf_token(client, "/admin/")
    page = client.get("/admin/my-requests/").get_data(as_text=True)
    assert f"details/?id={change.id}" in page and "Pending" in page
    response = client.post(f"/admin/my-requests/withdraw/?id={change.id}", data={"csrf_token": token})
    assert "Withdrawn" in _page(client, response)
    assert _fresh(change).status == "withdrawn"
    assert other.id != manager.id


@pytest.mark.parametrize("role", ["Staff", "Analyst"])
def test_people_who_never_propose_have_no_my_requests(client, sign_in_as, role):
    sign_in_as(role)
    assert client.get("/admin/my-requests/").status_code == 403


def test_coordinator_edits_directly_and_no_proposal_is_made(client, sign_in_as):
    sign_in_as("Coordinator")
    record = factories.create("clients")
    _propose_first_name(client, record, "Direct")
    assert _fresh(record).first_name == "Direct"
    assert _changes() == []
    assert db.session.scalars(sa.select(AuditLog).where(AuditLog.entity_id == record.id,
                                                         AuditLog.action == "update")).one()


@pytest.mark.parametrize("operation", ["create", "update", "delete"])
def test_each_kind_of_proposal_opens_for_the_reviewer_and_the_requester(client, sign_in_as, operation):
    manager = make_staff("Manager")
    department = factories.create("departments")
    change = approvals.propose(manager, "departments", operation,
                               entity_id=None if operation == "create" else department.id,
                               values={"name": "Proposed name"} if operation != "delete" else None)
    db.session.commit()
    sign_in(client, manager)
    page = client.get(f"/admin/my-requests/details/?id={change.id}").get_data(as_text=True)
    assert "Withdraw this request" in page and ("Proposed name" in page or operation == "delete")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    sign_in_as("Coordinator")
    page = client.get(f"/admin/pending_changes/details/?id={change.id}").get_data(as_text=True)
    assert "Approve and apply" in page and "Decline" in page
    assert ("Now" in page) is (operation != "create")


def test_proposal_on_a_deleted_record_offers_only_decline(client, sign_in_as, proposal):
    change, record, _ = proposal
    for enrollment in db.session.scalars(sa.select(Enrollment).where(Enrollment.client_id == record.id)):
        db.session.delete(enrollment)
    db.session.delete(record)
    db.session.commit()
    sign_in_as("Coordinator")
    page = client.get(f"/admin/pending_changes/details/?id={change.id}").get_data(as_text=True)
    assert "cannot be approved" in page and "Approve and apply" not in page
    response = client.post(f"/admin/pending_changes/approve/?id={change.id}",
                           data={"csrf_token": csrf_token(client, "/admin/")})
    assert "was deleted" in _page(client, response)
    assert _fresh(change).status == "pending"


def test_review_pages_show_times_in_the_agencys_time_zone(client, sign_in_as, proposal):
    change, _, manager = proposal
    change.created_at = datetime(2024, 7, 1, 16, 30, tzinfo=timezone.utc)
    db.session.commit()
    zone = client.application.config["TIMEZONE"]
    expected = datetime(2024, 7, 1, 16, 30, tzinfo=timezone.utc).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
    assert expected != "2024-07-01 16:30" or zone == "UTC"
    sign_in_as("Coordinator")
    assert expected in client.get(f"/admin/pending_changes/details/?id={change.id}").get_data(as_text=True)


def test_coordinator_approves_a_restricted_enrollment_only_with_an_override_reason(client, sign_in_as):
    from datetime import date

    manager = make_staff("Manager")
    record = _visible_client(manager)
    program = factories.create("programs")
    factories.make_visible_to(manager)
    db.session.add(factories.restriction(client=record, scope="org", start_date=date(2024, 2, 1)))
    change = approvals.propose(manager, "client_program_enrollments", "create", values={
        "client_id": str(record.id), "program_id": str(program.id), "start_date": "2024-03-01", "status": "active"})
    db.session.commit()
    sign_in_as("Coordinator")
    details = client.get(f"/admin/pending_changes/details/?id={change.id}").get_data(as_text=True)
    assert 'name="override_reason"' in details

    refused = _page(client, client.post(f"/admin/pending_changes/approve/?id={change.id}",
                                        data={"csrf_token": csrf_token(client, "/admin/")}))
    assert "an organisation-wide restriction from 2024-02-01" in refused and "stays pending" in refused
    assert _fresh(change).status == "pending"

    approved = _page(client, client.post(f"/admin/pending_changes/approve/?id={change.id}", data={
        "csrf_token": csrf_token(client, "/admin/"), "override_reason": "Safety plan agreed with the team"}))
    assert "Approved and applied" in approved
    enrollment = db.session.scalar(sa.select(Enrollment).where(Enrollment.client_id == record.id,
                                                               Enrollment.program_id == program.id))
    assert enrollment.override_reason == "Safety plan agreed with the team"
    assert db.session.scalar(sa.select(AuditLog).where(AuditLog.entity_id == enrollment.id,
                                                       AuditLog.action == "override")) is not None


def test_the_override_reason_is_not_offered_on_other_proposals(client, sign_in_as, proposal):
    change, _, _ = proposal
    sign_in_as("Coordinator")
    assert 'name="override_reason"' not in client.get(f"/admin/pending_changes/details/?id={change.id}").get_data(
        as_text=True)
