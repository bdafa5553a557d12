"""What people see on the screens: the spec's sidebar per role, finding clients, the client record, exports."""

import csv
import io
from datetime import date
from html import escape

import pytest

from admin_views.registry import SIDEBAR
from app.permissions import Role
from tests import factories

SPEC_SIDEBAR = ["Clients", "Programs & Services", "Departments", "Enrollments", "Restrictions", "Approvals",
                "Reports", "Audit Log"]


def _sidebar(client):
    page = client.get("/admin/").get_data(as_text=True)
    return [name for name in SIDEBAR if f'<summary class="ccd-category">{escape(name)}</summary>' in page]


@pytest.mark.parametrize("role", list(Role))
def test_each_role_sees_the_spec_sidebar_and_admins_also_staff_and_settings(client, sign_in_as, role):
    """Approvals is for those who review or read the queue (the inbox) or propose (My requests); Staff do neither.
    Coordinators read the staff directory, whose people they pick on restrictions, departments and programs."""
    sign_in_as(role.value)
    expected = SPEC_SIDEBAR + (["Staff", "Settings"] if role is Role.ADMINISTRATOR else [])
    if role is Role.COORDINATOR:
        expected.append("Staff")
    if role is Role.REPORT_VIEWER:
        expected = ["Restrictions", "Reports"]  # an add-on role: the report pages, and the restriction check everyone has
    if role is Role.STAFF:
        expected.remove("Approvals")
        expected.remove("Reports")  # no report page, nor who receives reports and what was sent
    assert _sidebar(client) == expected


def test_a_person_with_no_role_sees_no_screens(client, sign_in_as):
    sign_in_as()
    assert _sidebar(client) == []
    assert client.get("/admin/clients/").status_code == 403


def test_every_form_column_is_really_on_the_form(app, db_session):
    """As an Administrator sees them (a form drops child rows its person may not write)."""
    from flask_login import login_user

    from tests.conftest import make_staff

    administrator = make_staff("Administrator")
    with app.test_request_context():
        login_user(administrator.user)
        for view in app.extensions["ccd_admin"]._views:
            if getattr(view, "form_columns", None):
                fields = view.create_form()._fields
                assert [c for c in view.form_columns if c not in fields] == [], view.rule_key


@pytest.mark.parametrize("query", ["Tremblay", "trem", "Geneviève", "Ginny", "Ginette", "1984-02-29",
                                   "ginny 1984-02-29", "EMH-77"])
def test_client_found_by_name_preferred_name_alias_birth_date_or_uid(client, sign_in_as, query):
    staff = sign_in_as("Staff")
    factories.create("clients", visible_to=staff)
    wanted = factories.client(first_name="Geneviève", last_name="Tremblay", preferred_name="Ginny",
                              alias="Ginette", dob=date(1984, 2, 29), uid_external="EMH-77")
    from app.extensions import db
    db.session.add(wanted)
    factories.make_visible(staff, wanted)
    db.session.commit()
    page = client.get("/admin/clients/", query_string={"search": query}).get_data(as_text=True)
    assert "Tremblay" in page
    assert "1984-02-29" in page, "dates are shown as YYYY-MM-DD"


def test_client_search_by_birth_date_is_exact(client, sign_in_as):
    staff = sign_in_as("Staff")
    factories.create("clients", visible_to=staff)  # born 1980-05-17
    assert "/admin/clients/details/?id=" in client.get("/admin/clients/?search=1980-05-17").get_data(as_text=True)
    assert "/admin/clients/details/?id=" not in client.get("/admin/clients/?search=1980-05-18").get_data(as_text=True)


def test_client_record_has_tabs_with_its_history(client, sign_in_as, db_session):
    sign_in_as("Analyst")
    enrollment = factories.create("client_program_enrollments")
    db_session.add(factories.restriction(client=enrollment.client))
    db_session.commit()
    page = client.get(f"/admin/clients/details/?id={enrollment.client_id}").get_data(as_text=True)
    for tab in ("Demographics", "Enrollments", "Intakes", "Discharges", "Restrictions"):
        assert f">{tab} " in page or f">{tab}<" in page
    assert enrollment.program.name in page
    assert "Organisation-wide" in page


def test_program_record_shows_managers_and_occupancy(client, sign_in_as, db_session):
    staff = sign_in_as("Staff")
    link = factories.create("program_staff", visible_to=staff)
    db_session.add(factories.enrollment(program=link.program, start_date=date(2024, 1, 1)))
    db_session.commit()
    page = client.get(f"/admin/programs/details/?id={link.program_id}").get_data(as_text=True)
    assert link.staff.email in page
    assert "Occupied today</th><td>1</td>" in page


def test_export_neutralises_spreadsheet_formulas(client, sign_in_as, db_session):
    sign_in_as("Analyst")
    db_session.add(factories.client(first_name="=HYPERLINK(\"http://x\")", last_name="Formula"))
    db_session.commit()
    response = client.get("/admin/clients/export/csv/", query_string={"search": "Formula"})
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][0] == "Last name"
    assert rows[1][1].startswith("'=")


def test_list_pages_page_through_results(client, sign_in_as, db_session):
    staff = sign_in_as("Staff")
    for _ in range(12):
        factories.create("clients", visible_to=staff)
    page = client.get("/admin/clients/", query_string={"page_size": 10}).get_data(as_text=True)
    assert page.count("/admin/clients/details/?id=") == 10


def test_option_lists_feed_the_forms(client, sign_in_as, db_session):
    sign_in_as("Administrator")
    from app.models import ChoiceOption
    db_session.add(ChoiceOption(list_key="gender", value="Agender", sort_order=1))
    db_session.commit()
    page = client.get("/admin/clients/new/").get_data(as_text=True)
    assert ">Agender</option>" in page


def test_a_right_to_left_override_in_a_name_turns_nothing_around_on_a_page(client, sign_in_as, db_session):
    """Stored as entered, shown as its code on the list and record; the edit form keeps the stored value."""
    sign_in_as("Coordinator")
    someone = factories.client(last_name="Smith\u202etxt.exe")
    db_session.add(someone)
    db_session.commit()
    for url in ("/admin/clients/?search=Smith", f"/admin/clients/details/?id={someone.id}"):
        page = client.get(url).get_data(as_text=True)
        assert "\u202e" not in page and "Smith[U+202E]txt.exe" in page, url
    form = client.get(f"/admin/clients/edit/?id={someone.id}").get_data(as_text=True)
    assert 'value="Smith\u202etxt.exe"' in form
