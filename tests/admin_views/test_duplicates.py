"""The duplicates screen: only Coordinators and Administrators review, merge and undo; pages escape names."""

import re
from datetime import date

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditLog, Client, ClientDuplicate, ImportRow, Intake
from app.services.merge import MERGE_ENTITY, flag_possible_duplicate
from tests import factories
from tests.conftest import csrf_token

XSS = '<script>alert("x")</script>'


@pytest.fixture
def flagged(db_session):
    program = factories.program()
    first = factories.client(first_name="Jordan", last_name="Smith", dob=date(1990, 1, 2), phone="416-555-0199")
    second = factories.client(first_name="Jordan", last_name="Smyth", dob=date(1990, 1, 2), email="j@example.org")
    db.session.add_all([first, second])
    db.session.flush()
    db.session.add(Intake(client=second, program=program, intake_date=date(2024, 4, 1)))
    db.session.commit()
    item = flag_possible_duplicate(db.session, first.id, second.id, 0.88, "name_dob", {"last_name": 0.8})
    db.session.commit()
    return item


def sides(item):
    """(Smith, Smyth) and a function giving the side ("first"/"second") the review page shows a record on."""
    first, second = (db.session.get(Client, item.primary_client_id), db.session.get(Client, item.duplicate_client_id))
    smith, smyth = sorted((first, second), key=lambda c: c.last_name)

    def side_of(record):
        return "first" if record.id == item.primary_client_id else "second"
    return smith, smyth, side_of


def fresh(model, key):
    db.session.expire_all()
    return db.session.get(model, key)


@pytest.mark.parametrize("role", ["Manager", "Leader", "Staff", "Analyst"])
def test_other_roles_cannot_review_merge_dismiss_or_undo(client, sign_in_as, flagged, role):
    sign_in_as(role)
    token = csrf_token(client, "/admin/")
    first, second, _ = sides(flagged)
    assert client.get(f"/admin/client_duplicates/review/?id={flagged.id}").status_code == 403
    assert client.get("/admin/client_duplicates/merges/").status_code == 403
    response = client.post("/admin/client_duplicates/review/merge/", data={
        "id": str(flagged.id), "survivor": "first", "csrf_token": token})
    assert response.status_code == 403
    response = client.post("/admin/client_duplicates/review/not-duplicate/", data={
        "id": str(flagged.id), "csrf_token": token})
    assert response.status_code == 403
    assert client.post("/admin/client_duplicates/merges/undo/", data={
        "merge_id": str(flagged.id), "csrf_token": token}).status_code == 403
    assert client.post("/admin/client_duplicates/scan/", data={"csrf_token": token}).status_code == 403
    assert fresh(ClientDuplicate, flagged.id).status == "pending"
    assert fresh(Client, second.id).merged_into_id is None


@pytest.mark.parametrize("role", ["Coordinator", "Administrator"])
def test_a_reviewer_merges_through_the_form_and_undoes_from_the_client_page(client, sign_in_as, flagged, role):
    sign_in_as(role)
    first, second, side_of = sides(flagged)
    page = client.get(f"/admin/client_duplicates/review/?id={flagged.id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Smith" in text and "Smyth" in text and "Last name" in text and "table-warning" in text
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", text) == [], "inline script on the review page"
    token = csrf_token(client, f"/admin/client_duplicates/review/?id={flagged.id}")

    response = client.post("/admin/client_duplicates/review/merge/", data={
        "id": str(flagged.id), "survivor": side_of(first), "field-last_name": side_of(second),
        "field-email": side_of(second), "field-phone": side_of(first), "notes": "same person", "csrf_token": token})
    assert response.status_code == 302 and str(first.id) in response.headers["Location"]
    survivor, gone = fresh(Client, first.id), fresh(Client, second.id)
    assert (survivor.last_name, survivor.email, survivor.phone) == ("Smyth", "j@example.org", "416-555-0199")
    assert gone.is_archived and gone.merged_into_id == survivor.id
    assert db.session.scalar(sa.select(Intake.client_id)) == survivor.id
    assert fresh(ClientDuplicate, flagged.id).status == "merged"

    listing = client.get("/admin/clients/?search=Jordan").get_data(as_text=True)
    assert str(survivor.id) in listing and str(gone.id) not in listing
    gone_page = client.get(f"/admin/clients/details/?id={gone.id}")
    assert gone_page.status_code == 200 and "Undo merge" in gone_page.get_data(as_text=True)
    assert "Undo merge" in client.get("/admin/client_duplicates/merges/").get_data(as_text=True)

    merge_id = db.session.scalar(sa.select(AuditLog.id).where(AuditLog.entity == MERGE_ENTITY))
    response = client.post("/admin/client_duplicates/merges/undo/", data={
        "merge_id": str(merge_id), "back": "client", "csrf_token": token})
    assert response.status_code == 302
    survivor, back = fresh(Client, first.id), fresh(Client, second.id)
    assert (survivor.last_name, survivor.email) == ("Smith", None)
    assert not back.is_archived and back.merged_into_id is None
    assert db.session.scalar(sa.select(Intake.client_id)) == back.id
    assert fresh(ClientDuplicate, flagged.id).status == "pending"


def test_a_merge_without_the_csrf_token_or_a_survivor_changes_nothing(client, sign_in_as, flagged):
    sign_in_as("Coordinator")
    token = csrf_token(client, "/admin/")
    first, second, _ = sides(flagged)
    client.post("/admin/client_duplicates/review/merge/", data={"id": str(flagged.id), "survivor": "first"})
    client.post("/admin/client_duplicates/review/merge/", data={"id": str(flagged.id), "csrf_token": token})
    assert fresh(Client, second.id).merged_into_id is None
    assert fresh(ClientDuplicate, flagged.id).status == "pending"


def test_not_a_duplicate_through_the_form(client, sign_in_as, flagged):
    reviewer = sign_in_as("Coordinator")
    token = csrf_token(client, "/admin/")
    response = client.post("/admin/client_duplicates/review/not-duplicate/", data={
        "id": str(flagged.id), "notes": "siblings", "csrf_token": token})
    assert response.status_code == 302
    item = fresh(ClientDuplicate, flagged.id)
    assert (item.status, item.review_notes, item.reviewed_by_id) == ("not_duplicate", "siblings", reviewer.id)


def test_names_are_escaped_on_the_side_by_side_page(client, sign_in_as, db_session):
    sign_in_as("Coordinator")
    evil = factories.client(first_name=XSS, last_name=XSS, comments=XSS)
    plain = factories.client(first_name="Plain", last_name="Name")
    db.session.add_all([evil, plain])
    db.session.commit()
    item = flag_possible_duplicate(db.session, evil.id, plain.id, 0.8, "name_dob", {XSS: XSS}, source=XSS)
    db.session.commit()

    for path in (f"/admin/client_duplicates/review/?id={item.id}", "/admin/client_duplicates/"):
        text = client.get(path).get_data(as_text=True)
        assert XSS not in text, path
        assert "&lt;script&gt;alert(" in text, path


def test_the_scan_button_queues_the_scan(client, sign_in_as, db_session):
    sign_in_as("Coordinator")
    db.session.add_all([factories.client(first_name="Robert", last_name="Nguyen", dob=date(1970, 7, 7)),
                        factories.client(first_name="Bob", last_name="Nguyen", dob=date(1970, 7, 7))])
    db.session.commit()
    listing = client.get("/admin/client_duplicates/").get_data(as_text=True)
    assert "Scan for duplicates" in listing
    response = client.post("/admin/client_duplicates/scan/", data={"csrf_token": csrf_token(client, "/admin/")})
    assert response.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ClientDuplicate)) == 1


def test_an_imported_row_held_for_review_is_neither_merged_nor_left_waiting_for_nobody(client, sign_in_as,
                                                                                       db_session):
    sign_in_as("Coordinator")
    known = factories.create("clients")
    log = factories.create("client_upload_logs")
    row = ImportRow(upload_log=log, row_number=7, cells=["12345", XSS, "1980-05-17"], status="review")
    db.session.add(row)
    db.session.flush()
    item = ClientDuplicate(primary_client_id=known.id, import_row_id=row.id, incoming_key="SMIS:12345",
                           similarity_score=0.85, match_type="name_dob", confidence_level="medium",
                           detection_source="import")
    db.session.add(item)
    db.session.commit()

    page = client.get(f"/admin/client_duplicates/review/?id={item.id}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Row 7" in text and XSS not in text and "&lt;script&gt;" in text
    token = csrf_token(client, "/admin/")
    client.post("/admin/client_duplicates/review/merge/", data={
        "id": str(item.id), "survivor": "first", "csrf_token": token})
    assert fresh(ClientDuplicate, item.id).status == "pending"
    response = client.post("/admin/client_duplicates/review/not-duplicate/", data={"id": str(item.id),
                                                                                    "csrf_token": token})
    assert fresh(ClientDuplicate, item.id).status == "pending", "its last candidate: the answer is 'a new person'"
    assert "last candidate" in client.get(response.headers["Location"]).get_data(as_text=True)
