"""Who looked at whom: each way a person reads a client's data writes exactly the access rows expected."""

import csv
import html
import io
import re
from datetime import date

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import ClientAccess, StaffProgramAssignment
from app.services.clock import agency_today
from tests import factories
from tests.conftest import csrf_token

ORG = "/admin/reports/org-summary/"
PERIOD = {"date_from": "2024-03-01", "date_to": "2024-03-31"}


def logged(**where):
    """The reads (kind, client id, staff id, path) logged so far, one per client shown, matching ``where``."""
    from app.services import access_log

    db.session.expire_all()
    reads = access_log.client_reads()
    query = sa.select(reads)
    for key, value in where.items():
        query = query.where(reads.c[key] == value)
    return [(row.kind, row.client_id, row.staff_id, row.path) for row in db.session.execute(query)]


def test_a_record_page_logs_its_client_once(client, sign_in_as, db_session):
    reader = sign_in_as("Coordinator")
    someone = factories.create("clients")
    path = "/admin/clients/details/"
    assert client.get(f"{path}?id={someone.id}").status_code == 200
    assert logged() == [("details", someone.id, reader.id, path)]
    row = db.session.scalar(sa.select(ClientAccess))
    assert row.address == "127.0.0.1" and row.actor_name == reader.full_name


def test_the_address_is_the_one_the_trusted_proxy_gives(app, client, sign_in_as, db_session, monkeypatch):
    """Behind TRUSTED_PROXY_COUNT proxies, ProxyFix (app/security.py) sets the address the log keeps."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    monkeypatch.setattr(app, "wsgi_app", ProxyFix(app.wsgi_app, x_for=1))
    sign_in_as("Coordinator")
    someone = factories.create("clients")
    client.get(f"/admin/clients/details/?id={someone.id}", headers={"X-Forwarded-For": "203.0.113.7"})
    assert db.session.scalar(sa.select(ClientAccess.address)) == "203.0.113.7"


def test_a_child_record_and_a_duplicate_pair_log_their_clients(client, sign_in_as, db_session):
    reader = sign_in_as("Coordinator")
    enrollment = factories.create("client_program_enrollments")
    pair = factories.create("client_duplicates")
    client.get(f"/admin/client_program_enrollments/details/?id={enrollment.id}")
    client.get(f"/admin/client_duplicates/details/?id={pair.id}")
    assert sorted(logged(), key=str) == sorted([
        ("details", enrollment.client_id, reader.id, "/admin/client_program_enrollments/details/"),
        ("details", pair.primary_client_id, reader.id, "/admin/client_duplicates/details/"),
        ("details", pair.duplicate_client_id, reader.id, "/admin/client_duplicates/details/"),
    ], key=str)


def test_records_of_no_client_log_nothing(client, sign_in_as, db_session):
    sign_in_as("Administrator")
    program = factories.create("programs")
    assert client.get(f"/admin/programs/details/?id={program.id}").status_code == 200
    assert logged() == []


def test_the_edit_form_logs_its_client(client, sign_in_as, db_session):
    reader = sign_in_as("Coordinator")
    someone = factories.create("clients")
    assert client.get(f"/admin/clients/edit/?id={someone.id}").status_code == 200
    assert logged() == [("edit_form", someone.id, reader.id, "/admin/clients/edit/")]


def test_a_managers_edit_form_is_logged_too(client, sign_in_as, db_session):
    manager = sign_in_as("Manager")
    someone = factories.create("clients", visible_to=manager)
    assert client.get(f"/admin/clients/edit/?id={someone.id}").status_code == 200
    assert logged(staff_id=manager.id) == [("edit_form", someone.id, manager.id, "/admin/clients/edit/")]


def test_a_record_out_of_scope_is_not_shown_and_not_logged(client, sign_in_as, db_session):
    sign_in_as("Staff")
    stranger = factories.create("clients")
    assert client.get(f"/admin/clients/details/?id={stranger.id}").status_code == 404
    assert logged() == []


def test_the_as_of_view_logs_its_client(client, sign_in_as, db_session):
    reader = sign_in_as("Coordinator")
    someone = factories.create("clients")
    page = client.get(f"/admin/clients/as-of/?id={someone.id}")
    assert page.status_code == 200
    assert logged(kind="as_of") == [("as_of", someone.id, reader.id, "/admin/clients/as-of/")]


def test_an_as_of_view_with_a_bad_date_shows_nothing_and_logs_nothing(client, sign_in_as, db_session):
    sign_in_as("Coordinator")
    someone = factories.create("clients")
    client.get(f"/admin/clients/as-of/?id={someone.id}&date=not-a-date")
    assert logged(kind="as_of") == []


def test_a_drill_down_list_logs_the_clients_on_the_page(client, sign_in_as, db_session):
    reader = sign_in_as("Coordinator")
    program = factories.program(name="Drill program")
    served = [factories.enrollment(program=program, start_date=date(2024, 3, d)) for d in range(1, 13)]
    outside = factories.enrollment(start_date=date(2020, 1, 1), end_date=date(2020, 2, 1))
    db_session.add_all([*served, outside])
    db_session.commit()
    report = client.get(ORG, query_string=PERIOD).get_data(as_text=True)
    links = [html.unescape(href) for href in re.findall(r'href="(/admin/clients/\?[^"]+)"', report)]
    assert links, "the report links its counts to the client list"
    assert logged() == []
    client.get(links[0] + "&page_size=10")
    rows = logged(kind="drill_down")
    assert len(rows) == 10, "only the clients the page showed"
    assert {client_id for _, client_id, _, _ in rows} < {e.client_id for e in served}
    assert all(staff == reader.id and path == "/admin/clients/" for _, _, staff, path in rows)


def test_an_ordinary_list_page_is_not_a_drill_down(client, sign_in_as, db_session):
    sign_in_as("Coordinator")
    factories.create("clients")
    assert client.get("/admin/clients/").status_code == 200
    assert logged() == []


def test_an_export_logs_every_client_that_left_in_the_file(client, sign_in_as, db_session, monkeypatch):
    from app.services import access_log

    monkeypatch.setattr(access_log, "EXPORT_LOG_BATCH", 2)  # several batches, and a last part batch
    reader = sign_in_as("Coordinator")
    program = factories.program()
    enrollments = [factories.enrollment(program=program) for _ in range(5)]
    db_session.add_all(enrollments)
    db_session.commit()
    response = client.get("/admin/client_program_enrollments/export/csv/")
    body = response.get_data(as_text=True)
    filename = re.search(r"filename=(\S+)", response.headers["Content-Disposition"]).group(1)
    exported = list(csv.DictReader(io.StringIO(body)))
    assert len(exported) == 5
    rows = logged(kind="export")
    assert sorted(client_id for _, client_id, _, _ in rows) == sorted(e.client_id for e in enrollments)
    assert {(staff, path) for _, _, staff, path in rows} == {
        (reader.id, "/admin/client_program_enrollments/export/csv/")}
    assert set(db.session.scalars(sa.select(ClientAccess.detail))) == {filename}
    listing = db.session.scalars(sa.select(ClientAccess)).all()
    assert len(listing) == 3, "one row per batch of two, each listing its clients"
    assert all(row.client_id is None and row.client_ids for row in listing)


def test_a_client_list_export_logs_each_client(client, sign_in_as, db_session):
    sign_in_as("Analyst")
    people = [factories.create("clients") for _ in range(3)]
    client.get("/admin/clients/export/csv/").get_data()
    assert sorted(c for _, c, _, _ in logged(kind="export")) == sorted(p.id for p in people)


def test_the_restriction_check_logs_the_clients_whose_restrictions_it_showed(client, sign_in_as, db_session):
    reader = sign_in_as("Staff")
    mine = factories.program()
    person = factories.client(first_name="Jordan", last_name="Outsider", dob=date(1970, 7, 7))
    namesake = factories.client(first_name="Jordan", last_name="Outsider", dob=date(1971, 1, 1))
    db_session.add_all([mine, person, namesake, StaffProgramAssignment(staff=reader, program=mine),
                        factories.restriction(client=person, scope="org"),
                        factories.restriction(client=person, scope="org", is_bill_168=True),
                        factories.restriction(client=namesake, scope="org")])
    db_session.commit()
    token = csrf_token(client, "/admin/restriction-check/")
    page = client.post("/admin/restriction-check/", data={
        "first_name": "jordan", "last_name": "outsider", "dob": "1970-07-07", "csrf_token": token})
    assert "Restricted." in page.get_data(as_text=True)
    assert logged() == [("restriction_check", person.id, reader.id, "/admin/restriction-check/")]
    client.post("/admin/restriction-check/", data={
        "first_name": "nobody", "last_name": "outsider", "dob": "1970-07-07", "csrf_token": token})
    assert len(logged()) == 1, "a check that found nobody showed nobody"


def test_coordinators_see_who_has_looked_on_the_record(client, sign_in_as, db_session):
    from app.services import access_log

    someone = factories.create("clients")
    reader = factories.create("staff")
    access_log.record_reads("export", [someone.id], actor=(reader.id, reader.full_name), detail="ccd_clients.csv")
    db_session.commit()
    sign_in_as("Coordinator")
    page = client.get(f"/admin/clients/details/?id={someone.id}").get_data(as_text=True)
    assert "Who has looked" in page
    table = page.split('id="ccd-who-has-looked"', 1)[1].split("</table>", 1)[0]
    assert reader.full_name in table and "Export file" in table and "ccd_clients.csv" in table
    again = client.get(f"/admin/clients/details/?id={someone.id}").get_data(as_text=True)
    assert "Record page" in again.split('id="ccd-who-has-looked"', 1)[1], "opening the record was a read"


def test_the_tab_links_to_the_whole_log_when_it_shows_only_the_newest(client, sign_in_as, db_session, monkeypatch):
    from app.services import access_log

    monkeypatch.setattr(access_log.who_has_looked, "__defaults__", (1,))
    sign_in_as("Administrator")
    someone = factories.create("clients")
    client.get(f"/admin/clients/details/?id={someone.id}")
    page = client.get(f"/admin/clients/details/?id={someone.id}").get_data(as_text=True)
    link = html.unescape(re.search(r'href="([^"]*client_access_log[^"]*)"', page).group(1))
    listed = client.get(link).get_data(as_text=True)
    assert len(re.findall(r'col-kind">\s*Record page', listed)) == 2


def test_the_logs_client_filter_finds_the_exports_that_held_the_client(client, sign_in_as, db_session):
    from app.services import access_log

    someone, other = factories.create("clients"), factories.create("clients")
    reader = factories.create("staff")
    access_log.record_reads("export", [other.id, someone.id], actor=(reader.id, reader.full_name),
                            detail="ccd_both.csv")
    access_log.record_reads("export", [other.id], actor=(reader.id, reader.full_name), detail="ccd_other.csv")
    access_log.record_reads("details", [other.id], actor=(reader.id, reader.full_name))
    db_session.commit()
    sign_in_as("Coordinator")
    listed = client.get("/admin/client_access_log/", query_string={"flt0_client_equals": str(someone.id)})
    rows = listed.get_data(as_text=True).split("model-list", 1)[1].split("</table>", 1)[0]
    assert "ccd_both.csv" in rows and "2 clients" in rows
    assert "ccd_other.csv" not in rows and "Record page" not in rows


@pytest.mark.parametrize("role", ["Analyst", "Manager", "Leader", "Staff"])
def test_other_roles_do_not_see_who_has_looked(client, sign_in_as, db_session, role):
    reader = sign_in_as(role)
    someone = factories.create("clients", visible_to=reader)
    page = client.get(f"/admin/clients/details/?id={someone.id}").get_data(as_text=True)
    assert "Who has looked" not in page
    assert client.get("/admin/client_access_log/").status_code == 403


# -- Reports › Access ---------------------------------------------------------------------------
ACCESS = "/admin/reports/access/"


def _planted_reads(reader, someone, count=3):
    from app.services import access_log

    for _ in range(count):
        access_log.record_reads("details", [someone.id], actor=(reader.id, reader.full_name))
    db.session.commit()


@pytest.mark.parametrize("role, status", [("Administrator", 200), ("Coordinator", 200), ("Analyst", 403),
                                          ("Manager", 403), ("Staff", 403), ("Report viewer", 403)])
def test_the_access_report_is_for_coordinators_and_administrators(client, sign_in_as, db_session, role, status):
    sign_in_as(role)
    assert client.get(ACCESS).status_code == status
    assert client.get(ACCESS + "export/csv").status_code == status


def test_the_access_report_and_its_csv_show_one_persons_reads(client, sign_in_as, db_session):
    reader = factories.create("staff")
    someone = factories.create("clients")
    _planted_reads(reader, someone)
    sign_in_as("Coordinator")
    today = agency_today().isoformat()
    args = {"date_from": today, "date_to": today, "staff": str(reader.id)}
    page = client.get(ACCESS, query_string=args).get_data(as_text=True)
    assert reader.full_name in page and someone.last_name in page
    body = client.get(ACCESS + "export/csv", query_string=args).get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(body)))
    by_staff = rows[[r[:1] for r in rows].index(["By staff member"]) + 2]
    assert by_staff[:3] == [reader.full_name, "3", "1"]
    reads = rows[[r[:1] for r in rows].index(["Reads one by one"]) + 2:]
    assert sum(1 for r in reads if r and r[1] == "Record page") == 3


def test_a_bad_period_on_the_access_report_says_what_to_change(client, sign_in_as, db_session):
    sign_in_as("Coordinator")
    page = client.get(ACCESS, query_string={"date_from": "2026-03-10", "date_to": "2026-03-01"})
    assert page.status_code == 400 and "ends before it starts" in page.get_data(as_text=True)
    assert client.get(ACCESS, query_string={"staff": "nope"}).status_code == 400


def test_ccd_report_access_writes_the_same_sections(app, db_session):
    reader = factories.create("staff")
    someone = factories.create("clients")
    _planted_reads(reader, someone, count=2)
    today = agency_today().isoformat()
    result = app.test_cli_runner().invoke(args=["ccd", "report", "access", "--from", today, "--to", today,
                                                "--staff", reader.email.upper()])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output)))
    assert [reader.full_name, "2", "1"] == rows[[r[:1] for r in rows].index(["By staff member"]) + 2][:3]
    unknown = app.test_cli_runner().invoke(args=["ccd", "report", "access", "--from", today, "--to", today,
                                                 "--staff", "nobody@nowhere.example"])
    assert unknown.exit_code != 0 and "no staff member has the email" in unknown.output


def test_a_drill_down_narrowed_by_a_search_still_logs_its_page(client, sign_in_as, db_session):
    sign_in_as("Coordinator")
    program = factories.program()
    found = factories.enrollment(client=factories.client(last_name="Searchable"), program=program,
                                 start_date=date(2024, 3, 5))
    db_session.add_all([found, factories.enrollment(program=program, start_date=date(2024, 3, 6))])
    db_session.commit()
    report = client.get(ORG, query_string=PERIOD).get_data(as_text=True)
    link = html.unescape(re.search(r'href="(/admin/clients/\?[^"]+)"', report).group(1))
    page = client.get(link + "&search=Searchable").get_data(as_text=True)
    assert "Searchable" in page
    assert [c for _, c, _, _ in logged(kind="drill_down")] == [found.client_id]
