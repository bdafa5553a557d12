"""The Audit Log screen, a client's History tab and the "as of" page: readable, filterable, and read-only for all."""

import csv
import io
import re
import uuid
from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa

from app import audit
from app.extensions import db
from app.models import AuditLog, Client, ProgramManagerAssignment, StaffProgramAssignment
from app.permissions import WRITE_ACTIONS, Action, Grant, Role, grant, may
from tests import factories
from tests.conftest import csrf_token, make_staff

XSS = '<script>alert("x")</script>'


def saved(row):
    db.session.add(row)
    db.session.commit()
    return row


def rows_of(record_id):
    return db.session.scalars(sa.select(AuditLog).where(AuditLog.entity_id == record_id)
                              .order_by(AuditLog.changed_at)).all()


def audit_count():
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog))


def listed(client, **query) -> str:
    response = client.get("/admin/audit_logs/", query_string=query)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def history_tab(page: str) -> str:
    return page[page.index('id="tab-history"'):]


# -- append-only in the admin, for every role -----------------------------------------------
def test_the_rule_table_gives_no_role_a_write_on_the_trail():
    for role in Role:
        for action in WRITE_ACTIONS:
            assert grant([role.value], "audit_logs", action) is Grant.DENY, (role, action)


@pytest.mark.parametrize("role", [r.value for r in Role if may({r.value}, "audit_logs", Action.LIST)])
def test_no_role_can_create_edit_or_delete_audit_rows_from_the_admin(client, sign_in_as, role):
    sign_in_as(role)
    target = saved(factories.client(first_name="Untouched"))
    row = rows_of(target.id)[0]
    snapshot = (row.action, row.entity, row.diff_json)
    token = csrf_token(client, "/admin/")
    before = audit_count()

    assert client.get("/admin/audit_logs/new/").status_code == 403
    assert client.get(f"/admin/audit_logs/edit/?id={row.id}").status_code == 403
    attempts = [
        ("/admin/audit_logs/new/", {"entity": "clients", "action": "update", "csrf_token": token}),
        (f"/admin/audit_logs/edit/?id={row.id}", {"action": "delete", "actor_name": "forged", "csrf_token": token}),
        ("/admin/audit_logs/delete/", {"id": str(row.id), "csrf_token": token}),
        ("/admin/audit_logs/ajax/update/", {"list_form_pk": str(row.id), "action": "delete", "csrf_token": token}),
        ("/admin/audit_logs/action/", {"action": "delete", "rowid": [str(row.id)], "csrf_token": token}),
    ]
    for path, data in attempts:
        assert client.post(path, data=data).status_code == 403, path

    db.session.expire_all()
    assert audit_count() == before
    fresh = db.session.get(AuditLog, row.id)
    assert (fresh.action, fresh.entity, fresh.diff_json) == snapshot
    page = listed(client)
    assert "/admin/audit_logs/new/" not in page and "/admin/audit_logs/edit/" not in page


# -- the list and its filters -----------------------------------------------------------------
@pytest.fixture
def trail(app, db_session):
    """A small trail: a coordinator edits a client, an import creates an enrollment, an old row from 2020."""
    from flask_login import login_user, logout_user

    coordinator = make_staff("Coordinator")
    with app.test_request_context():
        login_user(coordinator.user)
        person = saved(factories.client(first_name="Genevieve", last_name="Tremblay"))
        person.phone = "416-555-0142"
        db.session.commit()
        logout_user()  # the app context (and its signed-in user) outlives this request
    with audit.acting_as("import SMIS"), audit.audit_action("import"):
        enrollment = saved(factories.enrollment())
    other = saved(factories.client(last_name="Okafor"))
    # 03:00 UTC on 15 January is still 14 January in Toronto.
    audit.record(db.session, "clients", other.id, "update", {"city": {"before": "Ottawa", "after": "Kingston"}},
                 client_id=other.id, at=datetime(2020, 1, 15, 3, 0, tzinfo=timezone.utc))
    db.session.commit()
    return {"coordinator": coordinator, "person": person, "enrollment": enrollment, "other": other}


def shown_name(record) -> str:
    """How the trail's Record column names a record (written out here, not taken from the code)."""
    if isinstance(record, Client):
        return f"Client {record.last_name}, {record.first_name} (born {record.dob:%Y-%m-%d})"
    return f"Enrollment {record.client.last_name}, {record.client.first_name}, born {record.client.dob:%Y-%m-%d} " \
           f"in {record.program.name} from {record.start_date:%Y-%m-%d}"


def ids_in(page: str, *records) -> list[bool]:
    return [shown_name(r) in page for r in records]


def test_filter_by_record_type_record_action_and_person(client, sign_in_as, trail):
    sign_in_as("Coordinator")
    person, enrollment, other = trail["person"], trail["enrollment"], trail["other"]

    page = listed(client, flt0_record_type_equals="client_program_enrollments")
    assert ids_in(page, enrollment, person, other) == [True, False, False]
    page = listed(client, flt0_record_equals=str(person.id))
    assert ids_in(page, enrollment, person, other) == [False, True, False]
    assert page.count("Phone") == 1, "one update row, summarised by its field label"
    page = listed(client, flt0_action_equals="import")
    assert ids_in(page, enrollment, person) == [True, False]
    page = listed(client, flt0_changed_by_equals=str(trail["coordinator"].id))
    assert ids_in(page, enrollment, person, other) == [False, True, False]
    page = listed(client, flt0_person_or_system_job_contains="SMIS")
    assert ids_in(page, enrollment, person) == [True, False]
    assert "import SMIS" in page
    page = listed(client, flt0_client_equals=str(enrollment.client_id))
    assert ids_in(page, enrollment, person) == [True, False]


def test_filter_by_days_in_the_agency_time_zone(client, sign_in_as, trail):
    sign_in_as("Analyst")
    other = trail["other"]
    page = listed(client, flt0_when_between="2020-01-14 to 2020-01-14")
    assert ids_in(page, other) == [True]
    assert "2020-01-14 22:00" in page, "when is shown to the minute, in the agency's time zone"
    assert ids_in(listed(client, flt0_when_between="2020-01-15 to 2020-01-16"), other) == [False]
    page = listed(client, flt0_when_on_or_before="2020-01-14")
    assert ids_in(page, other, trail["person"]) == [True, False]
    page = listed(client, flt0_when_on_or_after="2020-01-15")
    assert "Kingston" not in page and shown_name(trail["person"]) in page


@pytest.mark.parametrize("name, value", [("flt0_record_equals", "not-an-id"), ("flt0_when_between", "yesterday"),
                                         ("flt0_when_on_or_after", "14/01/2020")])
def test_a_bad_filter_value_is_explained_not_a_crash(client, sign_in_as, trail, name, value):
    sign_in_as("Coordinator")
    page = listed(client, **{name: value})
    assert "is not a valid" in page and "give" in page


def test_search_finds_a_client_by_name_a_changed_value_or_an_id(client, sign_in_as, trail):
    sign_in_as("Coordinator")
    person, enrollment = trail["person"], trail["enrollment"]
    assert ids_in(listed(client, search="Tremblay"), person, enrollment) == [True, False]
    assert ids_in(listed(client, search="416-555-0142"), person, enrollment) == [True, False]
    assert ids_in(listed(client, search=str(enrollment.id)), person, enrollment) == [False, True]
    assert ids_in(listed(client, search="Enrollments"), person, enrollment) == [False, True]


def test_restricted_roles_list_only_the_trail_of_their_clients(client, sign_in_as, trail):
    manager = sign_in_as("Manager")
    saved(ProgramManagerAssignment(staff=manager, program=trail["enrollment"].program))
    page = listed(client)
    assert ids_in(page, trail["enrollment"], trail["person"]) == [True, False]
    assert ids_in(listed(client, flt0_record_equals=str(trail["enrollment"].id)), trail["enrollment"]) == [True]
    assert "Phone" not in listed(client, flt0_record_equals=str(trail["person"].id)), "their update row stays hidden"
    hidden = rows_of(trail["person"].id)[0]
    response = client.get(f"/admin/audit_logs/details/?id={hidden.id}")
    assert response.status_code == 404  # as for any id that does not exist
    assert "Tremblay" not in response.get_data(as_text=True)


# -- the details page --------------------------------------------------------------------------
def test_details_show_a_labelled_before_after_table_with_values_escaped(client, sign_in_as, db_session):
    sign_in_as("Coordinator")
    person = saved(factories.client(first_name="Robin"))
    person.first_name = XSS
    person.permission_to_phone = True
    db.session.commit()
    change = rows_of(person.id)[-1]
    page = client.get(f"/admin/audit_logs/details/?id={change.id}").get_data(as_text=True)

    table = page[page.index("ccd-changes"):]
    assert re.search(r"<th scope=\"row\">First name</th><td>Robin</td><td>&lt;script&gt;alert\(&#34;x&#34;\)"
                     r"&lt;/script&gt;</td>", table)
    assert re.search(r"<th scope=\"row\">May phone</th><td>No</td><td>Yes</td>", table)
    assert XSS not in page
    assert '"before"' not in page and "first_name" not in table, "a table of labels, not raw JSON"
    assert f"/admin/clients/details/?id={person.id}" in page
    assert "/admin/clients/as-of/?id=" in page


def test_details_show_hidden_values_as_hidden(client, sign_in_as, db_session):
    sign_in_as("Administrator")
    other = make_staff("Staff")  # a new password ends the account's sessions: not the administrator's own
    other.user.set_password("a-new-password-42")
    db.session.commit()
    change = rows_of(other.user.id)[-1]
    page = client.get(f"/admin/audit_logs/details/?id={change.id}").get_data(as_text=True)
    assert "Password" in page and "hidden" in page and "(changed)" not in page


def test_export_keeps_the_readable_changes_and_neutralises_formulas(client, sign_in_as, db_session):
    sign_in_as("Analyst")
    with audit.acting_as("=HYPERLINK(\"http://evil.example\")"):
        person = saved(factories.client(first_name="Sasha"))
        person.city = "Sudbury"
        db.session.commit()
    response = client.get("/admin/audit_logs/export/csv/", query_string={"flt0_record_equals": str(person.id)})
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 2
    update = next(r for r in rows if r["Action"] == "Edited")
    assert update["Who"].startswith("'=HYPERLINK")
    assert update["Changes"] == "City:  → Sudbury" and update["What changed"] == "City"


# -- a client's History tab ----------------------------------------------------------------------
def test_history_tab_lists_the_client_and_its_records_newest_first_and_only_theirs(client, sign_in_as, db_session):
    worker = sign_in_as("Staff")
    enrollment = factories.create("client_program_enrollments")
    saved(StaffProgramAssignment(staff=worker, program=enrollment.program))
    person = enrollment.client
    restriction = saved(factories.restriction(client=person, reason="Threats to staff"))
    restriction.is_archived = True
    db.session.commit()
    stranger = saved(factories.client(first_name="Stranger"))
    stranger.city = "Windsor"
    db.session.commit()

    page = client.get(f"/admin/clients/details/?id={person.id}").get_data(as_text=True)
    tab = history_tab(page)
    headings = re.findall(r"<h6 class=\"mb-1\"><strong>[^<]+</strong> · [^·]+ · (\w+) · ([^\n<]+)", tab)
    assert headings == [("Archived", "Restrictions"), ("Created", "Restrictions"), ("Created", "Enrollments"),
                        ("Created", "Clients")]
    assert "Windsor" not in tab and "Stranger" not in tab
    assert "Threats to staff" in tab and "Start date" in tab
    assert 'History <span class="badge badge-secondary">4</span>' in page


def test_history_tab_pages_and_opens_on_the_history_tab(client, sign_in_as, db_session, monkeypatch):
    from admin_views.clients import ClientView

    sign_in_as("Coordinator")
    monkeypatch.setattr(ClientView, "history_page_size", 2)
    person = saved(factories.client())
    for city in ("Barrie", "Guelph", "Oshawa"):
        person.city = city
        db.session.commit()

    first = client.get(f"/admin/clients/details/?id={person.id}").get_data(as_text=True)
    assert 'class="tab-pane active" id="tab-demographics"' in first
    assert "Oshawa" in history_tab(first) and "New record" not in history_tab(first) and "Page 1 of 2" in first
    second = client.get(f"/admin/clients/details/?id={person.id}&history_page=2").get_data(as_text=True)
    assert 'class="tab-pane active" id="tab-history"' in second
    assert "New record" in history_tab(second) and "Oshawa" not in history_tab(second)


# -- the "as of" page ---------------------------------------------------------------------------
def test_as_of_page_shows_the_record_of_that_date_and_marks_what_changed(client, sign_in_as, db_session):
    sign_in_as("Analyst")  # sees every client; scoping has its own tests
    client_id = uuid.uuid4()
    with audit.bulk_write():  # on file before auditing began
        db.session.execute(sa.insert(Client), [{"id": client_id, "first_name": "Noor", "last_name": "Haddad",
                                                "city": "Hamilton", "dob": date(1990, 7, 1)}])
    audit.record(db.session, "clients", client_id, "update", {"city": {"before": "Toronto", "after": "Hamilton"}},
                 client_id=client_id, at=datetime(2023, 5, 1, 16, 0, tzinfo=timezone.utc))
    db.session.commit()

    page = client.get("/admin/clients/as-of/", query_string={"id": str(client_id), "date": "2023-04-30"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<h5>Haddad, Noor</h5>" in text
    assert re.search(r'<tr class="table-warning"><th scope="row">City <span class="badge badge-warning">'
                     r'changed since</span></th><td>Toronto</td><td>Hamilton</td></tr>', text)
    assert re.search(r'<tr><th scope="row">First name</th><td>Noor</td><td>Noor</td></tr>', text)
    later = client.get("/admin/clients/as-of/", query_string={"id": str(client_id), "date": "2023-05-01",
                                                               "time": "12:00"}).get_data(as_text=True)
    assert re.search(r"<th scope=\"row\">City</th><td>Hamilton</td>", later)
    details = client.get(f"/admin/clients/details/?id={client_id}").get_data(as_text=True)
    assert f"/admin/clients/as-of/?id={client_id}" in details


def test_as_of_page_explains_a_bad_date_and_a_client_not_yet_on_file(client, sign_in_as, db_session):
    sign_in_as("Coordinator")
    person = saved(factories.client())
    bad = client.get("/admin/clients/as-of/", query_string={"id": str(person.id), "date": "31/12/2020"})
    assert "Give the date as YYYY-MM-DD." in bad.get_data(as_text=True)
    before = client.get("/admin/clients/as-of/", query_string={"id": str(person.id), "date": "2001-01-01"})
    assert "It had not been created yet" in before.get_data(as_text=True)


def test_as_of_page_of_a_removed_client_is_for_those_who_see_every_client(client, sign_in_as, db_session):
    person = saved(factories.client(first_name="Removed"))
    client_id = person.id
    db.session.delete(person)
    db.session.commit()
    sign_in_as("Manager")
    assert client.get("/admin/clients/as-of/", query_string={"id": str(client_id)}).status_code == 404
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    sign_in_as("Coordinator")
    page = client.get("/admin/clients/as-of/", query_string={"id": str(client_id)}).get_data(as_text=True)
    assert "It had been removed" in page
    assert client.get("/admin/clients/as-of/", query_string={"id": "nonsense"}).status_code == 404


def test_as_of_page_needs_a_signed_in_person_with_a_role(client, db_session, sign_in_as):
    person = saved(factories.client())
    response = client.get("/admin/clients/as-of/", query_string={"id": str(person.id)})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    sign_in_as()
    assert client.get("/admin/clients/as-of/", query_string={"id": str(person.id)}).status_code == 403


# -- records and people by name -------------------------------------------------------------------
def test_record_column_and_details_name_the_client_never_one_out_of_scope(client, sign_in_as):
    manager = sign_in_as("Manager")
    lori = saved(factories.client(first_name="Lori", last_name="Alexander", dob=date(1971, 5, 5)))
    factories.make_visible(manager, lori)
    db.session.commit()
    stranger = saved(factories.client(first_name="Unseen", last_name="Stranger"))
    # a row about the stranger that carries no client link, so the trail's own rule lets it through
    audit.record(db.session, "clients", stranger.id, "update", {"city": {"before": "A", "after": "B"}})
    db.session.commit()
    cells = lambda page: [re.sub(r"\s+", " ", cell).strip()
                          for cell in re.findall(r'<td class="col-record">(.*?)</td>', page, re.S)]
    assert cells(listed(client, flt0_record_equals=str(lori.id))) == ["Client Alexander, Lori (born 1971-05-05)"]
    page = listed(client, flt0_record_equals=str(stranger.id))
    assert "Unseen" not in page and set(cells(page)) <= {"Client (not in your scope)"}
    (row,) = [r for r in rows_of(lori.id) if r.action == "create"]
    details = client.get(f"/admin/audit_logs/details/?id={row.id}").get_data(as_text=True)
    assert details.count("Client Alexander, Lori (born 1971-05-05)") == 2, "the Record and the Client rows"
    assert "<td>Created</td>" in details


def test_an_approved_edit_shows_requester_and_approver(client, sign_in_as, app):
    from flask_login import login_user, logout_user

    from app.services import approvals

    manager, coordinator = make_staff("Manager"), make_staff("Coordinator")
    record = saved(factories.client(first_name="Before"))
    factories.make_visible_to(manager)
    with app.test_request_context():
        login_user(manager.user)
        change = approvals.propose(manager, "clients", "update", entity_id=record.id, values={"first_name": "After"})
        db.session.commit()
        logout_user()
        login_user(coordinator.user)
        approvals.approve(change.id, coordinator)
        db.session.commit()
        logout_user()
    from tests.conftest import sign_in
    sign_in(client, coordinator)
    page = listed(client, flt0_record_equals=str(record.id), flt1_action_equals="approve")
    assert f"{coordinator.full_name}, approving the proposal of {manager.full_name}" in page
    assert re.search(r"<td class=\"col-action\">\s*Approved\s*</td>", page)
