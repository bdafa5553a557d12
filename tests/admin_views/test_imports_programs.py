"""The Imports page's sample files and its programs upload: preview first, save on confirmation."""

import io
import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Program
from app.services.import_samples import SAMPLE_SOURCES
from tests import factories
from tests.conftest import csrf_token

TOKEN = re.compile(r'name="checked" value="([^"]+)"')


def _upload(client, text):
    return client.post("/admin/imports/programs/", data={
        "csrf_token": csrf_token(client, "/admin/imports/programs/"),
        "file": (io.BytesIO(text.encode("utf-8")), "programs.csv")}, content_type="multipart/form-data")


def test_the_imports_page_offers_a_sample_of_each_source(client, sign_in_as):
    sign_in_as("Coordinator")
    page = client.get("/admin/imports/").get_data(as_text=True)
    for source in SAMPLE_SOURCES:
        assert f"/admin/imports/sample/{source}.csv" in page
        sample = client.get(f"/admin/imports/sample/{source}.csv")
        assert sample.status_code == 200 and sample.mimetype == "text/csv"
        assert f"ccd_sample_{source.lower()}.csv" in sample.headers["Content-Disposition"]
    assert client.get("/admin/imports/sample/Other.csv").status_code == 404


def test_a_programs_file_is_previewed_then_saved_on_confirmation(client, sign_in_as):
    department = factories.create("departments")
    sign_in_as("Coordinator")
    page = _upload(client, f"Program,Department,Capacity\nNight Shelter,{department.name},30\n"
                           f"Outreach,Nowhere,5\n")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "1 of 2 row(s) can be saved" in text
    assert "No department called &#39;Nowhere&#39;" in text
    assert db.session.scalar(sa.select(Program).where(Program.name == "Night Shelter")) is None
    token = TOKEN.search(text).group(1)
    done = client.post("/admin/imports/programs/", data={
        "csrf_token": csrf_token(client, "/admin/imports/programs/"), "checked": token})
    assert "1 program(s) saved; 1 row(s) not saved." in done.get_data(as_text=True)
    saved = db.session.scalar(sa.select(Program).where(Program.name == "Night Shelter"))
    assert saved.department_id == department.id and saved.capacity_current == 30


def test_an_altered_preview_token_saves_nothing(client, sign_in_as):
    sign_in_as("Coordinator")
    done = client.post("/admin/imports/programs/", data={
        "csrf_token": csrf_token(client, "/admin/imports/programs/"), "checked": "forged.token"})
    assert "upload the file again" in done.get_data(as_text=True)


def test_a_file_without_the_columns_is_refused_with_the_reason(client, sign_in_as):
    sign_in_as("Coordinator")
    text = _upload(client, "Title,Where\nA,B\n").get_data(as_text=True)
    assert "missing required columns" in text and 'name="checked"' not in text


@pytest.mark.parametrize("role", ["Manager", "Analyst"])
def test_roles_that_do_not_import_cannot_open_it(client, sign_in_as, role):
    sign_in_as(role)
    assert client.get("/admin/imports/programs/").status_code == 403
    assert client.get("/admin/imports/sample/SMIS.csv").status_code == 403
