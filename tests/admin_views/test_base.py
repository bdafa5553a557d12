"""What every screen inherits from CCDModelView: exports and user input that cannot break a page."""

import csv
import html
import io
import uuid
from itertools import cycle
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from admin_views.base import CCDModelView
from app.exports import FORMULA_PREFIXES
from app.models import Client, Department, Program, Staff
from app.permissions import Action, Grant, grant
from tests import factories
from tests.conftest import csrf_token

# Every way a cell starts a formula in Excel or LibreOffice (issue 16, leak 2).
FORMULAS = ('=HYPERLINK("http://x","y")', "=1+2", "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3", "\t=1+2", "\r=1+2")
NAME_FIELDS = {Client: ("first_name", "last_name", "preferred_name"), Program: ("name",),
               Staff: ("first_name", "last_name"), Department: ("name",)}


def exportable_views(app):
    """Every admin screen an Administrator may export (the role that may export the most)."""
    return [view for view in app.extensions["admin"][0]._views
            if isinstance(view, CCDModelView)
            and grant(frozenset({"Administrator"}), view.rule_key, Action.EXPORT) is not Grant.DENY]


def _rename(record, formulas) -> None:
    for field in NAME_FIELDS[type(record)]:
        # A unique tail keeps names unique; the cell still starts like a formula.
        setattr(record, field, f"{next(formulas)} {factories.unique('x')[2:]}")


def _plant_formula_names(view, row, formulas) -> bool:
    """Give the row, and every client, program, staff member or department its export shows, a
    formula for a name; True when at least one of them is in the export's columns."""
    columns = [name for name, _ in view._export_columns]
    shown = False
    if type(row) in NAME_FIELDS:
        _rename(row, formulas)
        shown = any(field in columns for field in NAME_FIELDS[type(row)])
    relationships = sa.inspect(view.model).relationships
    for name in columns:
        related = getattr(row, name) if name in relationships else None
        if type(related) in NAME_FIELDS:
            _rename(related, formulas)
            shown = True
    return shown


def test_no_export_lets_a_formula_through_and_related_records_are_neutralised(app, client, db_session, sign_in_as):
    views = exportable_views(app)
    assert len(views) > 20
    sign_in_as("Administrator")
    formulas = cycle(FORMULAS)
    problems = []
    for view in views:
        row = factories.BUILDERS[view.rule_key]()
        shown = _plant_formula_names(view, row, formulas)
        db_session.add(row)
        db_session.commit()
        response = client.get(f"/admin/{view.endpoint}/export/csv/")
        if response.status_code != 200:
            problems.append(f"{view.endpoint}: export answered {response.status_code}")
            continue
        cells = [cell for line in csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")))
                 for cell in line]
        raw = [cell for cell in cells if cell.startswith(FORMULA_PREFIXES)]
        if raw:
            problems.append(f"{view.endpoint}: formula cells {raw[:3]}")
        if shown and not any(cell.startswith("'") and cell[1:].startswith(FORMULA_PREFIXES)
                                            for cell in cells):
            problems.append(f"{view.endpoint}: the formula-named record is missing from the export")
    assert not problems, "\n".join(problems)


def test_a_client_with_a_formula_name_is_text_in_the_enrollments_export(client, db_session, sign_in_as):
    enrollment = factories.enrollment(client=factories.client(last_name='=HYPERLINK("http://x","y")',
                                                              first_name="Mia"),
                                      program=factories.program(name="@SUM(1) Shelter"))
    db_session.add(enrollment)
    db_session.commit()
    sign_in_as("Administrator")
    rows = list(csv.reader(io.StringIO(client.get("/admin/client_program_enrollments/export/csv/")
                                       .get_data(as_text=True).lstrip("\ufeff"))))
    header = rows[0]
    mine = next(row for row in rows[1:] if "HYPERLINK" in row[header.index("Client")])
    assert mine[header.index("Client")].startswith("'=HYPERLINK")
    assert mine[header.index("Program")] == "'@SUM(1) Shelter"


# -- user input that must not break a page (issue 16 leak 6) --------------------------------
LIST_PROBES = (
    "/admin/clients/?search=%00", "/admin/clients/?search=a%00b", "/admin/audit_logs/?search=%00x",
    "/admin/audit_logs/?flt0_record_type_equals=%00", "/admin/clients/?page=-1",
    "/admin/clients/?page=99999999999999999999", "/admin/programs/?search=%01%7f", "/admin/staff/?search=%00",
    "/admin/client_program_enrollments/?search=%00&page=-3",
)


@pytest.mark.parametrize("url", LIST_PROBES)
def test_control_characters_and_odd_pages_in_a_list_address_answer_the_list(client, sign_in_as, url):
    sign_in_as("Administrator")
    response = client.get(url)
    assert response.status_code == 200
    assert "list-checkbox-column" in response.get_data(as_text=True) or "table" in response.get_data(as_text=True)


def test_a_nul_in_a_search_is_dropped_and_the_search_still_finds(client, db_session, sign_in_as):
    sign_in_as("Administrator")
    wanted = factories.client(first_name="Zelda", last_name=factories.unique("Quarrington"))
    db_session.add(wanted)
    db_session.commit()
    page = client.get("/admin/clients/?search=" + quote(wanted.last_name[:5] + "\x00" + wanted.last_name[5:]))
    assert page.status_code == 200
    assert wanted.last_name in page.get_data(as_text=True)


def test_a_page_past_the_end_or_below_zero_shows_a_page(client, db_session, sign_in_as):
    sign_in_as("Administrator")
    db_session.add(factories.client(last_name="Firstpageperson"))
    db_session.commit()
    assert "Firstpageperson" in client.get("/admin/clients/?page=-1&search=Firstpageperson").get_data(as_text=True)
    assert client.get("/admin/clients/?page=99999999999999999999").status_code == 200


def _post_new_client(client, **values):
    data = {"csrf_token": csrf_token(client, "/admin/clients/new/"), "first_name": "Ann", "last_name": "Lee",
            "dob": "1980-01-01", **values}
    return client.post("/admin/clients/new/", data=data)


def _clients_named(db_session, **where) -> int:
    return db_session.scalar(sa.select(sa.func.count()).select_from(Client).filter_by(**where))


@pytest.mark.parametrize("bad, shown", [("\x00", "U+0000"), ("\x07", "U+0007"), ("\x1b", "U+001B"),
                                        ("\x9b", "U+009B")])
def test_a_control_character_in_a_form_field_is_a_field_error(client, db_session, sign_in_as, bad, shown):
    sign_in_as("Administrator")
    response = _post_new_client(client, last_name=f"Ro{bad}se", first_name="Controlled")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert shown in page and "plain text only" in page
    assert "psycopg" not in page and "[SQL" not in page and "INSERT" not in page
    assert _clients_named(db_session, first_name="Controlled") == 0


def test_a_control_character_in_an_inline_row_is_a_field_error(client, db_session, sign_in_as):
    sign_in_as("Administrator")
    response = _post_new_client(client, first_name="Inlined", **{
        "source_ids-0-source_system": "SMIS", "source_ids-0-source_client_id": "A\x00B"})
    assert "U+0000" in response.get_data(as_text=True)
    assert _clients_named(db_session, first_name="Inlined") == 0


def test_tabs_and_line_breaks_are_ordinary_text(client, db_session, sign_in_as):
    sign_in_as("Administrator")
    response = _post_new_client(client, first_name="Tabbed", last_name="Lee\tSmith")
    assert response.status_code == 302
    assert _clients_named(db_session, first_name="Tabbed") == 1


def test_a_ten_thousand_character_name_gets_a_field_error_naming_the_limit(client, db_session, sign_in_as):
    sign_in_as("Administrator")
    limit = Client.__table__.c.last_name.type.length
    response = _post_new_client(client, first_name="Lengthy", last_name="x" * 10_000)
    assert f"longer than {limit} characters" in response.get_data(as_text=True)
    assert _clients_named(db_session, first_name="Lengthy") == 0


@pytest.mark.parametrize("error, message", [(sa.exc.DataError, "DATABASE_REFUSED"),
                                            (sa.exc.OperationalError, "DATABASE_FAILED")])
def test_a_database_refusal_never_shows_its_message(app, client, db_session, sign_in_as, monkeypatch, error,
                                                    message):
    from admin_views import base
    from admin_views.clients import ClientView

    def refuse(view, form, model, is_created):
        raise error("INSERT INTO clients (last_name) VALUES (%(secret)s)", {"secret": "Lee"},
                    Exception("value secret-value-9 refused"))

    monkeypatch.setattr(ClientView, "on_model_change", refuse)
    monkeypatch.setitem(app.config, "FLASK_ADMIN_RAISE_ON_VIEW_EXCEPTION", False)
    sign_in_as("Administrator")
    response = _post_new_client(client, first_name="Refused")
    page = html.unescape(response.get_data(as_text=True))
    assert getattr(base, message) in page
    assert "secret-value-9" not in page and "INSERT" not in page


# -- error pages ----------------------------------------------------------------------------
def _in_layout(page: str) -> bool:
    return 'aria-label="Sidebar"' in page and "Sign out" in page


def test_a_missing_record_is_a_404_page_in_the_layout_with_a_way_back(client, sign_in_as):
    sign_in_as("Administrator")
    response = client.get(f"/admin/clients/details/?id={uuid.uuid4()}",
                          headers={"Referer": "http://localhost/admin/clients/"})
    page = response.get_data(as_text=True)
    assert response.status_code == 404
    assert _in_layout(page) and "Page not found" in page
    assert 'href="http://localhost/admin/clients/"' in page and "Back to the previous page" in page


def test_a_refused_page_is_a_403_page_in_the_layout(client, sign_in_as):
    sign_in_as("Staff")
    response = client.get("/admin/staff/")
    page = response.get_data(as_text=True)
    assert response.status_code == 403
    assert _in_layout(page) and "You do not have access to this page" in page
    assert 'href="/admin/"' in page


def test_an_unknown_address_signed_out_offers_sign_in(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)
    assert 'href="/login"' in response.get_data(as_text=True)


def test_a_crash_is_a_500_page_in_the_layout_without_the_error(app, client, sign_in_as, monkeypatch):
    def crash():
        raise RuntimeError("internal detail 42")

    monkeypatch.setitem(app.view_functions, "admin.index", crash)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    sign_in_as("Coordinator")
    response = client.get("/admin/")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong" in page and "internal detail 42" not in page
    assert 'aria-label="Sidebar"' in page


@pytest.mark.parametrize("path", ["/admin/inbox/", "/admin/my-requests/"])
@pytest.mark.parametrize("page", ["-1", "99999999999999999999", "x"])
def test_the_personal_pages_take_any_page_number(client, sign_in_as, path, page):
    sign_in_as("Manager")
    assert client.get(f"{path}?page={page}").status_code == 200
