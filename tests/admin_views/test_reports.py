"""The report pages: who may open and export them, drill-down links that list exactly the counted
clients, exports that hold what the page shows, and charts served without inline script."""

import csv
import io
import re
from datetime import date
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from app.choices import NOT_STATED
from app.extensions import db
from app.models import DepartmentLeaderAssignment, ProgramManagerAssignment
from tests import factories

ORG = "/admin/reports/org-summary/"
VACANCY = "/admin/reports/vacancy/"
DATA_QUALITY = "/admin/reports/data-quality/"
ENROLLMENT_HISTORY = "/admin/reports/enrollment-history/"
OUTCOMES = "/admin/reports/outcomes/"
PROGRAM_PERFORMANCE = "/admin/reports/program-performance/"
DEPARTMENT_SUMMARY = "/admin/reports/department-summary/"
REPORT_PAGES = (ORG, VACANCY, DATA_QUALITY, ENROLLMENT_HISTORY, OUTCOMES, PROGRAM_PERFORMANCE, DEPARTMENT_SUMMARY)
PERIOD = {"date_from": "2024-03-01", "date_to": "2024-03-31"}
DETAILS_ID = re.compile(r"/admin/clients/details/\?id=([0-9a-f-]{36})")


class SectionTables(HTMLParser):
    """The report tables of a page: {section key: [[cell text, …], …]} and each count's link."""

    def __init__(self):
        super().__init__()
        self.sections, self.links = {}, []
        self._section = self._row = self._cell = None
        self._href = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and "data-section" in attrs:
            self._section = self.sections.setdefault(attrs["data-section"], [])
        elif self._section is not None and tag == "tr":
            self._row = []
        elif self._row is not None and tag in ("td", "th"):
            self._cell = ""
        elif self._cell is not None and tag == "a":
            self._href = attrs["href"]

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            text = " ".join(self._cell.split())
            self._row.append(text)
            if self._href:
                self.links.append((float(text) if "." in text else int(text), self._href))
            self._cell = self._href = None
        elif tag == "tr" and self._row is not None:
            self._section.append(self._row)
            self._row = None
        elif tag == "table":
            self._section = None


def tables(response) -> SectionTables:
    parser = SectionTables()
    parser.feed(response.get_data(as_text=True))
    return parser


def csv_blocks(text: str) -> list[list[list[str]]]:
    """The CSV split at blank lines: each block is a section title, an optional note, headings and rows."""
    blocks, current = [], []
    for row in csv.reader(io.StringIO(text)):
        if row:
            current.append(row)
        elif current:
            blocks.append(current)
            current = []
    return blocks


def csv_sections(text: str) -> dict[str, list[list[str]]]:
    return {block[0][0]: block[1:] for block in csv_blocks(text)}


def listed_client_ids(client, url) -> set[str]:
    page = client.get(url + "&page_size=100")
    assert page.status_code == 200
    return set(DETAILS_ID.findall(page.get_data(as_text=True)))


@pytest.fixture
def agency(db_session):
    """Two departments, three programs, and clients whose report answers are known."""
    dept_a, dept_b = factories.department(name="Alpha services"), factories.department(name="Beta services")
    a1 = factories.program(name="Alpha one", department=dept_a, capacity_current=2)
    a2 = factories.program(name="Alpha two", department=dept_a, capacity_current=1)
    b1 = factories.program(name="Beta one", department=dept_b, no_capacity_limit=True)
    people = {
        "everywhere": factories.client(gender="Woman", languages_spoken=["English", "French"], dob=date(1990, 1, 1)),
        "woman_a1": factories.client(gender="Woman", languages_spoken=["French"], dob=date(2010, 6, 1)),
        "unknown_b1": factories.client(gender=None, languages_spoken=[], dob=None),
        "ended_before": factories.client(gender="Man"),
        "archived": factories.client(gender="Man", is_archived=True),
    }
    rows = [
        factories.enrollment(client=people["everywhere"], program=a1, start_date=date(2023, 1, 1)),
        factories.enrollment(client=people["everywhere"], program=a2, start_date=date(2024, 3, 31)),
        factories.enrollment(client=people["everywhere"], program=b1, start_date=date(2024, 3, 10),
                             end_date=date(2024, 3, 12)),
        factories.enrollment(client=people["woman_a1"], program=a1, start_date=date(2024, 3, 5)),
        factories.enrollment(client=people["unknown_b1"], program=b1, start_date=date(2024, 2, 1)),
        factories.enrollment(client=people["ended_before"], program=a1, start_date=date(2024, 1, 1),
                             end_date=date(2024, 2, 29)),
        factories.enrollment(client=people["archived"], program=a1, start_date=date(2024, 1, 1)),
    ]
    db.session.add_all(rows)
    db.session.commit()
    return {"A": dept_a, "B": dept_b, "A1": a1, "A2": a2, "B1": b1,
            **{key: str(person.id) for key, person in people.items()}}


@pytest.mark.parametrize("roles, opens, exports", [
    (("Administrator",), True, True), (("Coordinator",), True, True), (("Analyst",), True, True),
    (("Leader",), True, False), (("Manager",), True, False),
    (("Staff",), False, False), (("Staff", "Report viewer"), True, False), ((), False, False),
])
def test_who_may_open_and_export_the_reports(client, sign_in_as, roles, opens, exports):
    sign_in_as(*roles)
    for page in REPORT_PAGES:
        assert client.get(page).status_code == (200 if opens else 403), page
        for kind in ("csv", "xlsx"):
            assert client.get(f"{page}export/{kind}").status_code == (200 if exports else 403), (page, kind)
    sidebar = client.get("/admin/").get_data(as_text=True)
    assert (f'href="{ORG}"' in sidebar) is opens


def test_signed_out_visitor_is_sent_to_sign_in(client):
    response = client.get(ORG)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_every_count_links_to_exactly_the_clients_it_counts(client, sign_in_as, agency):
    sign_in_as("Analyst")
    page = tables(client.get(ORG, query_string=PERIOD))

    assert page.sections["summary"][1] == ["Distinct clients served", "3"]
    assert len(page.links) > 30
    for count, url in page.links:
        assert len(listed_client_ids(client, url)) == count, url

    assert {row[0]: row[-1] for row in page.sections["by_program"][1:]} == {
        "Alpha one": "2", "Alpha two": "1", "Beta one": "2"}
    served_count, served_link = page.links[0]
    assert listed_client_ids(client, served_link) == {agency["everywhere"], agency["woman_a1"],
                                                      agency["unknown_b1"]}


def test_links_carry_the_report_filters_and_the_row(client, sign_in_as, agency):
    sign_in_as("Coordinator")
    page = tables(client.get(ORG, query_string=PERIOD | {"gender": "Woman", "department": str(agency["A"].id)}))

    assert page.sections["summary"][1][1] == "2"
    french = next(url for count, url in page.links if ["French"] in parse_qs(urlsplit(url).query).values())
    assert listed_client_ids(client, french) == {agency["everywhere"], agency["woman_a1"]}
    for count, url in page.links:
        assert len(listed_client_ids(client, url)) == count, url


def test_unknown_row_link_lists_the_clients_with_no_answer(client, sign_in_as, agency):
    sign_in_as("Analyst")
    page = tables(client.get(ORG, query_string=PERIOD | {"gender": NOT_STATED}))
    assert page.sections["summary"][1][1] == "1"
    served_link = page.links[0][1]
    assert listed_client_ids(client, served_link) == {agency["unknown_b1"]}


def test_csv_export_holds_what_the_page_shows(client, sign_in_as, agency):
    sign_in_as("Analyst")
    for path, args in ((ORG, PERIOD), (VACANCY, {"as_of": "2024-03-31"})):
        page = list(tables(client.get(path, query_string=args)).sections.values())
        response = client.get(f"{path}export/csv", query_string=args)
        assert response.headers["Content-Disposition"].startswith("attachment;")
        exported = csv_blocks(response.get_data().decode("utf-8-sig"))
        assert len(exported) == len(page) >= 4
        for shown, block in zip(page, exported):
            assert block[-len(shown):] == shown, block[0]
            assert len(block) - len(shown) in (1, 2), "only the title and a note come before the table"


def test_export_neutralises_formulas_in_csv_and_xlsx(client, sign_in_as, db_session):
    sign_in_as("Analyst")
    program = factories.program(name='=HYPERLINK("http://evil.example","x")')
    db_session.add(factories.enrollment(program=program, start_date=date(2024, 3, 1)))
    db_session.commit()

    text = client.get(f"{ORG}export/csv", query_string=PERIOD).get_data().decode("utf-8-sig")
    by_program = csv_sections(text)["By program"]
    assert any(row[0] == "'" + program.name for row in by_program)
    assert not any(row[0] == program.name for row in by_program)

    book = load_workbook(io.BytesIO(client.get(f"{ORG}export/xlsx", query_string=PERIOD).get_data()))
    cells = [cell for row in book.active.iter_rows() for cell in row if cell.value]
    assert any(cell.value == "'" + program.name and cell.data_type == "s" for cell in cells)
    assert not any(str(cell.value).startswith("=") for cell in cells)


def test_bad_dates_get_a_clear_error(client, sign_in_as):
    sign_in_as("Analyst")
    response = client.get(ORG, query_string={"date_from": "2024-13-01", "date_to": "2024-03-31"})
    assert response.status_code == 400
    assert "not a date; use YYYY-MM-DD" in response.get_data(as_text=True)
    response = client.get(ORG, query_string={"date_from": "2024-04-01", "date_to": "2024-03-31"})
    assert response.status_code == 400 and "starts (2024-04-01) after it ends" in response.get_data(as_text=True)


def test_leader_page_shows_only_their_departments(client, sign_in_as, agency):
    leader = sign_in_as("Leader")
    db.session.add(DepartmentLeaderAssignment(staff=leader, department=agency["B"]))
    db.session.commit()
    page = tables(client.get(ORG, query_string=PERIOD)).sections
    assert [row[0] for row in page["by_program"][1:]] == ["Beta one"]
    assert page["summary"][1][1] == "2"
    assert "Alpha one" not in client.get(ORG, query_string=PERIOD).get_data(as_text=True)


def test_manager_page_shows_only_their_programs(client, sign_in_as, agency):
    manager = sign_in_as("Manager")
    db.session.add(ProgramManagerAssignment(staff=manager, program=agency["A2"]))
    db.session.commit()
    vacancy = tables(client.get(VACANCY, query_string={"as_of": "2024-03-31"})).sections
    assert [row[0] for row in vacancy["programs"][1:]] == ["Alpha two"]


def test_a_program_or_department_out_of_scope_is_named_nowhere(client, sign_in_as, agency):
    """Narrowing a report to a program or department one may not see answers as if it did not exist."""
    manager = sign_in_as("Manager")
    db.session.add(ProgramManagerAssignment(staff=manager, program=agency["A2"]))
    db.session.commit()
    for query in ({"program": str(agency["B1"].id)}, {"department": str(agency["B"].id)}):
        response = client.get(ORG, query_string=PERIOD | query)
        text = response.get_data(as_text=True)
        assert response.status_code in (200, 400)
        assert "Beta one" not in text and "Beta services" not in text
        assert "There is no" in text
    assert "Alpha two" in client.get(ORG, query_string=PERIOD | {"program": str(agency["A2"].id)}).get_data(
        as_text=True)


def test_vacancy_page_rows_and_occupied_links(client, sign_in_as, agency):
    sign_in_as("Analyst")
    page = tables(client.get(VACANCY, query_string={"as_of": "2024-03-31"}))
    rows = {row[0]: row for row in page.sections["programs"][1:]}
    assert rows["Alpha one"][3:8] == ["2", "2", "0", "100.0", ""]
    assert rows["Alpha two"][3:8] == ["1", "1", "0", "100.0", ""]
    assert rows["Beta one"][3:6] == ["No capacity limit", "1", ""]
    for count, url in page.links:
        assert len(listed_client_ids(client, url)) == count, url
    totals = {row[0]: row for row in page.sections["totals"][1:]}
    assert totals["All departments"][2:5] == ["3", "3", "0"]


def test_charts_come_from_the_apps_own_static_files_without_inline_script(client, sign_in_as, agency):
    sign_in_as("Analyst")
    html = client.get(ORG, query_string=PERIOD).get_data(as_text=True)
    assert re.search(r'<script type="application/json" id="ccd-report-charts"[^>]*>\[\{', html)
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert "cdn" not in html.lower()
    for path in ("/static/vendor/chartjs/chart.umd.min.js", "/static/js/ccd-reports.js"):
        assert path in html
        response = client.get(path)
        assert response.status_code == 200
        response.close()


def test_definitions_are_stated_on_the_page(client, sign_in_as):
    sign_in_as("Analyst")
    definitions = tables(client.get(ORG, query_string=PERIOD)).sections["definitions"]
    assert any(row[0] == "Served" and "overlaps" in row[1] for row in definitions)


def test_over_capacity_rows_are_flagged(client, sign_in_as, agency):
    sign_in_as("Coordinator")
    agency["A2"].capacity_current = 0
    db.session.commit()
    html = client.get(VACANCY, query_string={"as_of": "2024-03-31"}).get_data(as_text=True)
    flagged = re.findall(r'<tr class="table-warning">\s*<td>([^<]+)</td>', html)
    assert flagged == ["Alpha two"]
    rows = {row[0]: row for row in tables(client.get(VACANCY, query_string={"as_of": "2024-03-31"}))
            .sections["programs"][1:]}
    assert rows["Alpha two"][5:8] == ["-1", "", "Yes"]


def test_drill_down_works_for_names_with_commas(client, sign_in_as, db_session):
    sign_in_as("Analyst")
    department = factories.department(name="Shelter, north and east")
    program = factories.program(name="Youth, family and adult beds", department=department)
    enrolled = factories.enrollment(program=program, start_date=date(2024, 3, 1))
    db_session.add_all([enrolled, factories.enrollment(start_date=date(2024, 3, 1))])
    db_session.commit()
    page = tables(client.get(ORG, query_string=PERIOD | {"department": str(department.id)}))
    assert page.sections["summary"][1][1] == "1"
    for count, url in page.links:
        assert len(listed_client_ids(client, url)) == count, url
    by_program_link = page.links[-1][1]
    assert listed_client_ids(client, by_program_link) == {str(enrolled.client_id)}


LISTED_RECORD = re.compile(r"/admin/(clients|client_program_enrollments)/details/\?id=([0-9a-f-]{36})")


def test_data_quality_counts_open_exactly_the_records_to_fix(client, sign_in_as, agency):
    sign_in_as("Coordinator")
    page = tables(client.get(DATA_QUALITY, query_string=PERIOD | {"stale_days": "30"}))
    overall = {row[0]: row[2] for row in page.sections["summary"][1:]}
    # unknown_b1 has no birth date, no gender, no language; the three served clients' enrollments have no intake.
    assert overall["No birth date"] == "1" and overall["Gender not stated"] == "1"
    assert overall["Enrollments without an intake"] == "5"
    assert len(page.links) > 10
    for count, url in page.links:
        listed = client.get(url + "&page_size=100")
        assert listed.status_code == 200, url
        assert len(set(LISTED_RECORD.findall(listed.get_data(as_text=True)))) == count, url
    missing_dob = next(url for count, url in page.links if "dob_missing" in url)
    assert listed_client_ids(client, missing_dob) == {agency["unknown_b1"]}


def test_data_quality_export_and_scope(client, sign_in_as, agency):
    manager = sign_in_as("Manager")
    db.session.add(ProgramManagerAssignment(staff=manager, program=agency["B1"]))
    db.session.commit()
    page = tables(client.get(DATA_QUALITY, query_string=PERIOD))
    assert [row[0] for row in page.sections["by_program"][1:]] == ["Beta one"]
    assert client.get(f"{DATA_QUALITY}export/csv", query_string=PERIOD).status_code == 403


def test_data_quality_bad_input_is_a_clear_error(client, sign_in_as):
    sign_in_as("Analyst")
    response = client.get(DATA_QUALITY, query_string=PERIOD | {"stale_days": "soon"})
    assert response.status_code == 400 and "is not a whole number" in response.get_data(as_text=True)
    export = client.get(f"{DATA_QUALITY}export/csv", query_string=PERIOD).get_data().decode("utf-8-sig")
    assert "Overall" in csv_sections(export)


def _listed_records(client, url) -> int:
    listed = client.get(url + "&page_size=100")
    assert listed.status_code == 200, url
    return len(set(LISTED_RECORD.findall(listed.get_data(as_text=True))))


def test_enrollment_history_counts_open_exactly_the_enrollments_counted(client, sign_in_as, agency):
    sign_in_as("Coordinator")
    page = tables(client.get(ENROLLMENT_HISTORY, query_string={"date_from": "2024-02-01", "date_to": "2024-03-31"}))
    summary = {row[0]: row[1] for row in page.sections["summary"][1:]}
    # Open on 31 January: everywhere in A1 and ended_before; archived clients never count.
    assert summary["Open the day before the period"] == "2"
    assert (summary["Started"], summary["Ended"], summary["Open at the end"]) == ("4", "2", "4")
    assert page.sections["ended_by_reason"][1][0] == "No discharge recorded"
    assert len(page.links) > 8
    for count, url in page.links:
        assert _listed_records(client, url) == count, url


def test_enrollment_history_scope(client, sign_in_as, agency):
    manager = sign_in_as("Manager")
    db.session.add(ProgramManagerAssignment(staff=manager, program=agency["B1"]))
    db.session.commit()
    page = tables(client.get(ENROLLMENT_HISTORY, query_string=PERIOD))
    assert {row[0]: row[1] for row in page.sections["summary"][1:]}["Started"] == "1"
    assert client.get(f"{ENROLLMENT_HISTORY}export/csv", query_string=PERIOD).status_code == 403


def test_enrollment_history_export_and_bad_input(client, sign_in_as, agency):
    sign_in_as("Analyst")
    export = client.get(f"{ENROLLMENT_HISTORY}export/csv", query_string=PERIOD).get_data().decode("utf-8-sig")
    assert "Month by month" in csv_sections(export)
    book = load_workbook(io.BytesIO(client.get(f"{ENROLLMENT_HISTORY}export/xlsx", query_string=PERIOD).data))
    assert book.active["A1"].value == "Report"
    refused = client.get(ENROLLMENT_HISTORY, query_string={"date_from": "2024-04-01", "date_to": "2024-03-01"})
    assert refused.status_code == 400 and "after it ends" in refused.get_data(as_text=True)


def test_outcomes_counts_open_exactly_the_discharges_counted(client, sign_in_as, agency):
    from app.models import Discharge, Enrollment

    ended = db.session.scalars(sa.select(Enrollment).where(Enrollment.end_date.is_not(None))).all()
    db.session.add_all([Discharge(client_id=e.client_id, program_id=e.program_id, discharge_date=e.end_date,
                                  reason=reason) for e, reason in zip(ended, ["Completed program", "Lost contact"])])
    db.session.commit()
    sign_in_as("Coordinator")
    page = tables(client.get(OUTCOMES, query_string={"date_from": "2024-01-01", "date_to": "2024-03-31"}))
    overall = page.sections["overall"]
    assert overall[1][:4] == ["All programs counted", "2", "1", "50.0"]
    assert "Completed program (successful)" in overall[0]
    assert len(page.links) >= 6
    for count, url in page.links:
        assert _listed_records(client, url) == count, url


def test_program_performance_counts_open_exactly_the_clients_and_enrollments_counted(client, sign_in_as, agency):
    sign_in_as("Coordinator")
    page = tables(client.get(PROGRAM_PERFORMANCE, query_string=PERIOD))
    rows = {row[0]: row[2:] for row in page.sections["by_program"][1:]}
    # Alpha one in March (31 days): everywhere and woman_a1 (from the 5th); capacity 2.
    assert rows["Alpha one"][:3] == ["2", "1", "0"]
    assert rows["Alpha one"][3:6] == [str(round((31 + 27) / 31, 1)), "2.0", str(round(100 * 58 / 62, 1))]
    assert rows["Beta one"][4:6] == ["No capacity limit", ""]
    assert page.sections["total"][1][1:3] == ["3", "1"]
    assert len(page.links) >= 8
    for count, url in page.links:
        if "active" in url:  # an average: the enrollments it was averaged over
            assert _listed_records(client, url) > 0, url
        else:
            assert _listed_records(client, url) == count, url


def test_department_summary_counts_a_client_once_per_department_and_links_to_them(client, sign_in_as, agency):
    sign_in_as("Analyst")
    page = tables(client.get(DEPARTMENT_SUMMARY, query_string=PERIOD))
    assert page.sections["summary"][0] == ["Measure", "Alpha services", "Beta services", "All departments"]
    # everywhere is served in both Alpha programs and in Beta one: once in each column.
    assert page.sections["summary"][1] == ["Distinct clients served", "2", "2", "3"]
    assert len(page.links) > 10
    for count, url in page.links:
        assert len(listed_client_ids(client, url)) == count, url


def _charts(html: str) -> dict[str, dict]:
    import json

    source = re.search(r'<script type="application/json" id="ccd-report-charts"[^>]*>(.*?)</script>', html, re.S)
    return {chart["id"]: chart for chart in json.loads(source.group(1))}


def test_each_chart_category_has_its_own_colour(client, sign_in_as, agency):
    """Woman and "Prefer not to answer" once shared Chart.js's first blue; every slice and bar differs now."""
    extra = [factories.client(gender=gender) for gender in ("Prefer not to answer", "Non-binary", "Two-Spirit",
                                                             "Transgender woman", "Transgender man", "Gender diverse")]
    db.session.add_all([factories.enrollment(client=person, program=agency["A1"], start_date=date(2024, 3, 2))
                        for person in extra])
    db.session.commit()
    sign_in_as("Analyst")
    charts = _charts(client.get(ORG, query_string=PERIOD).get_data(as_text=True))
    for chart in charts.values():
        for dataset in chart["datasets"]:
            assert len(dataset["backgroundColor"]) == len(chart["labels"]), chart["id"]
            assert len(set(dataset["backgroundColor"])) == len(chart["labels"]), chart["id"]
    gender = charts["chart-gender"]
    colour = dict(zip(gender["labels"], gender["datasets"][0]["backgroundColor"]))
    assert {"Woman", "Prefer not to answer"} <= set(colour) and len(colour) >= 8
    assert colour["Woman"] != colour["Prefer not to answer"]

    alpha_two = _charts(client.get(ORG, query_string={**PERIOD, "program": str(agency["A2"].id)})
                        .get_data(as_text=True))["chart-gender"]
    assert dict(zip(alpha_two["labels"], alpha_two["datasets"][0]["backgroundColor"]))["Woman"] == colour["Woman"]
