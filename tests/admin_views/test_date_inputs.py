"""Every date a person types is one format, YYYY-MM-DD, with the same date picker: record forms, filters, reports,
the restriction check."""

import re

import pytest

from tests.conftest import csrf_token

INPUT = re.compile(r"<input[^>]*>")


def _date_inputs(html: str, names: set[str]) -> dict[str, str]:
    found = {}
    for tag in INPUT.findall(html):
        name = re.search(r'name="([^"]+)"', tag)
        if name and name.group(1) in names:
            found[name.group(1)] = tag
    return found


@pytest.mark.parametrize("path, names", [
    ("/admin/reports/org-summary/", {"date_from", "date_to"}),
    ("/admin/reports/vacancy/", {"as_of"}),
    ("/admin/reports/data-quality/", {"date_from", "date_to"}),
    ("/admin/restriction-check/", {"dob"}),
])
def test_page_date_inputs_are_iso_text_with_the_picker(client, sign_in_as, path, names):
    sign_in_as("Analyst")
    html = client.get(path).get_data(as_text=True)
    inputs = _date_inputs(html, names)
    assert set(inputs) == names
    for tag in inputs.values():
        assert 'type="text"' in tag and "data-ccd-date" in tag and 'placeholder="YYYY-MM-DD"' in tag, tag
        value = re.search(r'value="([^"]*)"', tag)
        assert value is None or re.fullmatch(r"(\d{4}-\d{2}-\d{2})?", value.group(1)), tag
    assert 'type="date"' not in html
    assert "daterangepicker.js" in html and "/static/js/ccd-dates.js" in html


def test_record_forms_use_the_same_iso_picker(client, sign_in_as):
    sign_in_as("Coordinator")
    html = client.get("/admin/client_program_enrollments/new/").get_data(as_text=True)
    start = _date_inputs(html, {"start_date"})["start_date"]
    assert 'data-role="datepicker"' in start and 'data-date-format="YYYY-MM-DD"' in start


def test_a_birth_date_in_another_format_is_a_field_error(client, sign_in_as):
    sign_in_as("Staff")
    response = client.post("/admin/restriction-check/", data={
        "last_name": "Nobody", "dob": "12/31/1990", "csrf_token": csrf_token(client, "/admin/restriction-check/")})
    assert response.status_code == 200
    assert "Type the date as YYYY-MM-DD, for example 1990-12-31." in response.get_data(as_text=True)
