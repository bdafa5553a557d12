"""The Imports page: who may use it, uploading a file, following its progress, the summary and the rejects file."""

import csv
import html
import io
import re
import uuid

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Client, ClientUploadLog
from tests import factories
from tests.conftest import csrf_token

HEADER = "ID,Last Name,First Name,Program,DOB,Admission Date"


@pytest.fixture
def uploads(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "INGEST_UPLOAD_DIR", str(tmp_path / "uploads"))
    return tmp_path / "uploads"


def _upload(client, text, source="EMHware", **extra):
    data = {"csrf_token": csrf_token(client, "/admin/imports/"), "source": source,
            "file": (io.BytesIO(text.encode("utf-8")), "emh export.csv"), **extra}
    return client.post("/admin/imports/", data=data, content_type="multipart/form-data")


@pytest.mark.parametrize("role", ["Manager", "Leader", "Staff", "Analyst"])
def test_roles_that_cannot_write_records_are_refused(client, sign_in_as, role):
    sign_in_as(role)
    log = factories.create("client_upload_logs")
    assert client.get("/admin/imports/").status_code == 403
    token = csrf_token(client, "/admin/")
    assert client.post("/admin/imports/", data={"csrf_token": token}).status_code == 403
    assert client.get(f"/admin/imports/{log.id}/progress.json").status_code == 403
    assert client.get(f"/admin/imports/{log.id}/rejects.csv").status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client):
    assert client.get("/admin/imports/").status_code == 302


@pytest.mark.parametrize("role", ["Coordinator", "Administrator"])
def test_upload_runs_the_import_and_shows_summary_rejects_and_history(client, sign_in_as, uploads, role):
    staff = sign_in_as(role)
    program = factories.create("programs")
    text = "\n".join([HEADER, f"CLI1,Tremblay,Marie,{program.name},1980-02-03,2024-01-15",
                      "CLI2,=HYPERLINK(\"x\"),Evil,No Such Program,1980-02-03,2024-01-15"])
    response = _upload(client, text)
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    log = db.session.scalar(sa.select(ClientUploadLog).where(ClientUploadLog.uploaded_by_id == staff.id))
    assert response.headers["Location"].endswith(f"/admin/imports/{log.id}/")
    assert (log.status, log.records_created, log.errors_count) == ("partial", 1, 1)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Client).where(Client.last_name == "Tremblay")) == 1

    page = client.get(f"/admin/imports/{log.id}/").get_data(as_text=True)
    assert 'id="ccd-import-summary"' in page and "Download the rejects file" in page
    assert "Matched to an existing client by EMHware id" in page and "Rejected for bad values" in page
    assert "Held for review (nothing written for them)" in page
    assert "js/import_progress.js" in page and "<script>" not in page

    progress = client.get(f"/admin/imports/{log.id}/progress.json").get_json()
    assert progress["finished"] and (progress["done"], progress["total"]) == (2, 2)

    rejects = client.get(f"/admin/imports/{log.id}/rejects.csv")
    rows = list(csv.reader(io.StringIO(rejects.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:4] == ["Row", "Reason", "Possible matches", "ID"]
    assert rows[1][0] == "3" and "Unknown program" in rows[1][1]
    assert "'=HYPERLINK" in rejects.get_data(as_text=True), "formulas are neutralised"

    history = client.get("/admin/imports/").get_data(as_text=True)
    assert "emh export.csv" in history and staff.full_name in history
    assert not list(uploads.iterdir()), "the uploaded copy is removed once read"


def test_dry_run_upload_writes_nothing(client, sign_in_as, uploads):
    sign_in_as("Coordinator")
    program = factories.create("programs")
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Client))
    _upload(client, "\n".join([HEADER, f"CLI1,Tremblay,Marie,{program.name},1980-02-03,2024-01-15"]), dry_run="y")
    log = db.session.scalar(sa.select(ClientUploadLog).order_by(ClientUploadLog.started_at.desc()).limit(1))
    assert log.records_created == 1 and log.upload_details["dry_run"] is True
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Client)) == before


def test_a_refused_file_is_explained_on_its_page(client, sign_in_as, uploads):
    sign_in_as("Coordinator")
    response = _upload(client, "Last Name,First Name\nDoe,Jane", source="SMIS")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "missing required columns" in page and "&#34;Last Name&#34;" in page


def test_an_upload_without_file_or_source_is_refused_with_a_message(client, sign_in_as, uploads):
    sign_in_as("Coordinator")
    page = client.post("/admin/imports/", data={"csrf_token": csrf_token(client, "/admin/imports/"),
                                                "source": "EMHware"}).get_data(as_text=True)
    assert "Choose a CSV or XLSX file" in page
    page = _upload(client, HEADER, source="").get_data(as_text=True)
    assert "Choose the system the file comes from" in page


def test_progress_of_a_running_import(client, sign_in_as):
    sign_in_as("Coordinator")
    log = ClientUploadLog(file_name="big.csv", file_size=1, file_type="csv", source="SMIS", status="running",
                          total_rows=1000, upload_details={"rows_done": 250})
    db.session.add(log)
    db.session.commit()
    progress = client.get(f"/admin/imports/{log.id}/progress.json").get_json()
    assert progress == {"status": "running", "done": 250, "total": 1000, "finished": False, "percent": 25,
                        "message": "250 of 1000 rows done"}
    assert client.get(f"/admin/imports/{uuid.uuid4()}/progress.json").status_code == 404
    assert client.get("/admin/imports/not-an-id/progress.json").status_code == 404


def test_summary_counts_flagged_enrollments_and_links_to_them_and_to_each_duplicate_review(client, sign_in_as, uploads):
    from datetime import date

    from app.models import ClientDuplicate, ClientSourceId, Enrollment

    sign_in_as("Coordinator")
    program = factories.create("programs")
    restricted = factories.client(first_name="Marie", last_name="Tremblay", dob=date(1980, 2, 3))
    restricted.source_ids = [ClientSourceId(source_system="EMHware", source_client_id="CLI1")]
    db.session.add_all([restricted, factories.restriction(client=restricted, start_date=date(2024, 1, 1)),
                        factories.client(first_name="Jon", last_name="Okafor", dob=date(1992, 3, 3)),
                        factories.client(first_name="John", last_name="Okafor", dob=date(1992, 3, 3))])
    db.session.commit()
    text = "\n".join([HEADER, f"CLI1,Tremblay,Marie,{program.name},1980-02-03,2024-01-15",
                      f"CLI2,Nguyen,Bao,{program.name},1975-06-30,2024-01-15",
                      f"CLI8,Okafor,Jonn,{program.name},1992-03-03,2024-01-15"])
    assert _upload(client, text).status_code == 302
    log = db.session.scalar(sa.select(ClientUploadLog).order_by(ClientUploadLog.created_at.desc()))

    page = client.get(f"/admin/imports/{log.id}/").get_data(as_text=True)
    assert "Enrollments flagged for review" in page
    flagged_link = re.search(r'<a href="(/admin/client_program_enrollments/\?[^"]+)">1</a>', page)
    assert flagged_link, "the flagged count links to the enrollments list"
    items = db.session.scalars(sa.select(ClientDuplicate).where(ClientDuplicate.incoming_key == "EMHware:CLI8")).all()
    assert len(items) == 2
    for item in items:
        review_url = f"/admin/client_duplicates/review/?id={item.id}"
        assert review_url in page and client.get(review_url).status_code == 200

    listed = client.get(html.unescape(flagged_link.group(1))).get_data(as_text=True)
    flagged = db.session.scalar(sa.select(Enrollment).where(Enrollment.client_id == restricted.id))
    other = db.session.scalar(sa.select(Enrollment).where(Enrollment.client_id != restricted.id))
    assert str(flagged.id) in listed and str(other.id) not in listed


def test_the_summary_lists_the_columns_the_import_did_not_read_and_why(client, sign_in_as, uploads):
    sign_in_as("Coordinator")
    program = factories.create("programs")
    text = "\n".join([HEADER + ",Age,Shoe Size", f"CLI1,Tremblay,Marie,{program.name},1980-02-03,2024-01-15,44,9"])
    response = _upload(client, text)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    table = page[page.index('id="ccd-import-columns-not-read"'):]
    assert "worked out from the birth date" in table and "Shoe Size" in table
    assert "not in the column map for this source" in table


def test_an_upload_with_a_nul_cell_imports_the_other_rows_and_the_page_shows_no_database_error(
        client, sign_in_as, uploads):
    staff = sign_in_as("Coordinator")
    program = factories.create("programs")
    text = "\n".join([HEADER, f"CLI1,Tremblay,Marie,{program.name},1980-02-03,2024-01-15",
                      f"CLI2,Cab\x00rera,Rebecca,{program.name},1975-06-30,2024-01-15"])
    response = _upload(client, text)
    assert response.status_code == 302
    log = db.session.scalar(sa.select(ClientUploadLog).where(ClientUploadLog.uploaded_by_id == staff.id))
    assert (log.status, log.records_created, log.error_message) == ("partial", 1, None)
    page = client.get(f"/admin/imports/{log.id}/", follow_redirects=True).get_data(as_text=True)
    assert "Cabrera" not in page and "1975-06-30" not in page and "SQL" not in page
    reasons = [row[1] for row in csv.reader(io.StringIO(client.get(f"/admin/imports/{log.id}/rejects.csv")
                                                        .get_data(as_text=True).lstrip("\ufeff")))]
    assert any("Last Name (column 2) holds control characters (U+0000)" in reason for reason in reasons)
