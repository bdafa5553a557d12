"""The enrollment form refuses restricted enrollments and takes an override; the door-side restriction check;
the Restrictions list in force unless asked otherwise, statuses in words, a clean form."""

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditLog, Enrollment, StaffProgramAssignment
from tests import factories
from app.services.clock import agency_today
from tests.admin_views.forms import browser_form
from tests.conftest import csrf_token

TODAY = date.today()


def _restricted_client(db_session, **kw):
    program = factories.program()
    restriction = factories.restriction(**kw)
    db_session.add_all([program, restriction])
    db_session.commit()
    return program, restriction


def _enrollment_form(client_row, program, token, **extra):
    return {"client": str(client_row.id), "program": str(program.id), "start_date": TODAY.isoformat(),
            "status": "active", "csrf_token": token, **extra}


def _enrollments_of(client_row):
    db.session.expire_all()
    return db.session.scalars(sa.select(Enrollment).where(Enrollment.client_id == client_row.id)).all()


def test_enrollment_form_refuses_a_restricted_client_with_the_reason(client, sign_in_as, db_session):
    sign_in_as("Coordinator")
    program, restriction = _restricted_client(db_session, is_no_trespass=True)
    token = csrf_token(client, "/admin/client_program_enrollments/new/")
    response = client.post("/admin/client_program_enrollments/new/",
                           data=_enrollment_form(restriction.client, program, token))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Not enrolled" in page and "organisation-wide restriction" in page and "no trespass" in page
    assert 'name="restriction_override_reason"' in page, "the form offers the override right there"
    assert _enrollments_of(restriction.client) == []


def test_coordinator_overrides_on_the_form_and_it_is_audited(client, sign_in_as, db_session):
    coordinator = sign_in_as("Coordinator")
    program, restriction = _restricted_client(db_session)
    token = csrf_token(client, "/admin/client_program_enrollments/new/")
    response = client.post("/admin/client_program_enrollments/new/", data=_enrollment_form(
        restriction.client, program, token, restriction_override_reason="Court-ordered placement"))
    assert response.status_code == 302
    [enrollment] = _enrollments_of(restriction.client)
    assert enrollment.override_reason == "Court-ordered placement"
    override = db_session.scalar(sa.select(AuditLog).where(AuditLog.action == "override",
                                                           AuditLog.entity_id == enrollment.id))
    assert override.changed_by_id == coordinator.id


def test_override_field_is_only_offered_to_those_who_may_override(client, sign_in_as, db_session):
    manager = sign_in_as("Manager")
    enrollment = factories.create("client_program_enrollments", visible_to=manager)
    page = client.get(f"/admin/client_program_enrollments/edit/?id={enrollment.id}").get_data(as_text=True)
    assert "restriction_override_reason" not in page


def test_restriction_check_page_answers_without_opening_the_record(client, sign_in_as, db_session):
    staff = sign_in_as("Staff")
    mine, elsewhere = factories.program(), factories.program()
    person = factories.client(first_name="Jordan", last_name="Outsider", dob=date(1970, 7, 7),
                              phone="416-555-0199", comments="Private note")
    db_session.add_all([mine, elsewhere, person, StaffProgramAssignment(staff=staff, program=mine),
                        factories.restriction(client=person, scope="org", is_bill_168=True, reason="Assault"),
                        factories.restriction(client=person, scope="program", program=elsewhere)])
    db_session.commit()
    token = csrf_token(client, "/admin/restriction-check/")
    page = client.post("/admin/restriction-check/", data={
        "first_name": "jordan", "last_name": "outsider", "dob": "1970-07-07", "csrf_token": token,
    }).get_data(as_text=True)
    assert "Restricted." in page and "Organisation-wide" in page
    for private in ("416-555-0199", "Private note", "Assault", elsewhere.name, str(person.id)):
        assert private not in page
    assert db_session.scalar(sa.select(sa.func.count()).select_from(AuditLog).where(
        AuditLog.action == "check", AuditLog.changed_by_id == staff.id)) == 1
    assert client.get(f"/admin/clients/details/?id={person.id}").status_code == 404


def test_restriction_check_needs_a_role(client, sign_in_as, db_session):
    sign_in_as()
    assert client.get("/admin/restriction-check/").status_code == 403


def test_restriction_check_with_nothing_in_force_says_so(client, sign_in_as, db_session):
    sign_in_as("Staff")
    person = factories.client(last_name="Clear", dob=date(1990, 1, 1))
    db_session.add_all([person, factories.restriction(client=person, start_date=TODAY - timedelta(days=90),
                                                      end_date=TODAY - timedelta(days=1))])
    db_session.commit()
    token = csrf_token(client, "/admin/restriction-check/")
    page = client.post("/admin/restriction-check/", data={
        "last_name": "Clear", "dob": "1990-01-01", "csrf_token": token}).get_data(as_text=True)
    assert 'id="restriction-check-none"' in page and "Restricted." not in page
    missing_token = client.post("/admin/restriction-check/", data={"last_name": "Clear", "dob": "1990-01-01"})
    assert 'id="restriction-check-none"' not in missing_token.get_data(as_text=True)


def test_restriction_check_reads_the_client_search(client, sign_in_as, db_session):
    sign_in_as("Staff")
    person = factories.client(first_name="Émile", last_name="Rousseau", dob=date(1971, 5, 5), phone="613-555-0199",
                              postal_code="K1A 0B1")
    db_session.add_all([person, factories.restriction(client=person, scope="org")])
    db_session.commit()
    for asked in ({"first_name": "emile", "last_name": "ROUSEAU", "dob": "1971-05-05"},
                  {"search": "Rousseau, Emile 5 May 1971"}, {"search": "(613) 555 0199"},
                  {"search": "emile k1a0b1"}):
        token = csrf_token(client, "/admin/restriction-check/")
        page = client.post("/admin/restriction-check/", data={**asked, "csrf_token": token}).get_data(as_text=True)
        assert "Restricted." in page and "Organisation-wide" in page, asked


def test_restriction_check_refuses_a_question_that_names_nobody_in_particular(client, sign_in_as, db_session):
    sign_in_as("Staff")
    person = factories.client(first_name="Émile", last_name="Rousseau", dob=date(1971, 5, 5))
    db_session.add_all([person, factories.restriction(client=person, scope="org")])
    db_session.commit()
    for vague in ({"last_name": "Rousseau"}, {"search": "r"}, {"search": "1971-05-05"}):
        token = csrf_token(client, "/admin/restriction-check/")
        response = client.post("/admin/restriction-check/", data={**vague, "csrf_token": token})
        page = response.get_data(as_text=True)
        assert response.status_code == 200 and "Restricted." not in page, vague
        assert "Give the person&#39;s name and date of birth" in page, vague
    assert db_session.scalar(sa.select(sa.func.count()).select_from(AuditLog).where(AuditLog.action == "check")) == 0


# -- the Restrictions list --------------------------------------------------------------------------
def _status_cells(page: str) -> list[str]:
    return [re.sub(r"\s+", " ", cell).strip()
            for cell in re.findall(r'<td class="col-restriction_status">(.*?)</td>', page, re.S)]


@pytest.fixture
def restrictions(db_session):
    """One restriction of each status for one client, and what each status should list (counted here)."""
    today = agency_today()
    person = factories.client(last_name="Listed")
    rows = {
        "in_force": [factories.restriction(client=person), factories.restriction(client=person, end_date=today)],
        "upcoming": [factories.restriction(client=person, start_date=today + timedelta(days=5))],
        "ended": [factories.restriction(client=person, start_date=today - timedelta(days=30),
                                        end_date=today - timedelta(days=1))],
        "archived": [factories.restriction(client=person, is_archived=True)],
    }
    db.session.add_all([row for group in rows.values() for row in group])
    db.session.commit()
    return rows


def test_the_list_shows_restrictions_in_force_unless_the_status_filter_asks(client, sign_in_as, restrictions):
    sign_in_as("Coordinator")
    page = client.get("/admin/service_restrictions/").get_data(as_text=True)
    assert _status_cells(page) == ["In force"] * len(restrictions["in_force"])
    assert "Showing restrictions in force today." in page
    for status, caption in (("upcoming", "Upcoming"), ("ended", "Ended"), ("archived", "Archived")):
        page = client.get("/admin/service_restrictions/", query_string={"flt0_0": status}).get_data(as_text=True)
        assert _status_cells(page) == [caption] * len(restrictions[status]), status
    page = client.get("/admin/service_restrictions/", query_string={"flt0_0": "any"}).get_data(as_text=True)
    assert len(_status_cells(page)) == sum(len(group) for group in restrictions.values())
    assert "Organisation-wide" in page and ">org<" not in page


def test_the_form_has_no_raw_blank_choice_and_is_entered_by_the_person_signed_in(client, sign_in_as):
    coordinator = sign_in_as("Coordinator")
    db.session.add(factories.program())
    db.session.commit()
    page = client.get("/admin/service_restrictions/new/").get_data(as_text=True)
    assert "__None</option>" not in page and "— none —</option>" in page
    assert browser_form(page)["entered_by"] == str(coordinator.id)


def _two_clients_in_programs():
    emile = factories.client(first_name="Émile", last_name="Rousseau", dob=date(1975, 4, 9))
    lori = factories.client(first_name="Lori", last_name="Alexander", dob=date(1971, 5, 5))
    shelter, somali = factories.program(name="Shelter North"), factories.program(name="Somali Program")
    db.session.add_all([factories.enrollment(client=emile, program=shelter),
                        factories.enrollment(client=lori, program=somali)])
    db.session.add_all([factories.restriction(client=emile), factories.restriction(client=lori)])
    db.session.commit()


@pytest.mark.parametrize("table", ["client_program_enrollments", "service_restrictions"])
@pytest.mark.parametrize("query,found,not_found", [
    ("emile rousseau", "Rousseau", "Alexander"), ("Rousseau, Emile", "Rousseau", "Alexander"),
    ("Rouseau", "Rousseau", "Alexander"), ("1971-05-05", "Alexander", "Rousseau"),
    ("Alexander Lori", "Alexander", "Rousseau"),
])
def test_lists_of_clients_records_find_the_client_as_the_client_list_does(client, sign_in_as, table, query, found,
                                                                          not_found):
    sign_in_as("Coordinator")
    _two_clients_in_programs()
    page = client.get(f"/admin/{table}/", query_string={"search": query}).get_data(as_text=True)
    assert found in page and not_found not in page


def test_an_enrollment_list_search_also_finds_the_program_by_name(client, sign_in_as):
    sign_in_as("Coordinator")
    _two_clients_in_programs()
    page = client.get("/admin/client_program_enrollments/", query_string={"search": "somali"}).get_data(as_text=True)
    assert "Alexander" in page and "Rousseau" not in page
    page = client.get("/admin/client_program_enrollments/", query_string={"search": "50%_off"}).get_data(as_text=True)
    assert "Alexander" not in page and "Rousseau" not in page
