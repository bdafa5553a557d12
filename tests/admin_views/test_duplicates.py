"""The duplicates screen: only Coordinators and Administrators review, merge and undo; pages escape names."""

import re
from datetime import date

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditLog, Client, ClientDuplicate, ClientSourceId, Enrollment, ImportRow, Intake
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


# -- the review loop: held import rows and pairs answered from the screen ------------------------
EVIDENCE = [{"field": "dob", "text": "same birth date", "weight": 6.1},
            {"field": "gender", "text": "different gender", "weight": -4.3},
            {"field": "source_id", "text": "different EMHware ID", "weight": -5.0}]
INTERNALS = ("block_", "Match key", "Upload log id", "upload_log_id", "First name 0.", "Dob 1.0")


def review_decisions(item_id):
    return [entry for entry in db.session.scalars(sa.select(AuditLog).where(
        AuditLog.entity == "client_duplicates", AuditLog.entity_id == item_id, AuditLog.action == "review"))]


def test_a_held_row_page_shows_labelled_fields_side_by_side_and_the_waterfall(client, sign_in_as, db_session):
    sign_in_as("Coordinator")
    row, pairs, _ = factories.held_row(evidence=EVIDENCE)
    page = client.get(f"/admin/client_duplicates/review/?id={pairs[0][1].id}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    for label in ("First name", "Last name", "Date of birth", "Gender", "EMHware id", "Admission date",
                  "file column &ldquo;First Name&rdquo;"):
        assert label in text, label
    assert "Jonn" in text and all(str(candidate.id) in text for candidate, _ in pairs)
    assert "91%" in text and "88%" in text, "each candidate's match probability"
    for words in ("same birth date", "+6.1", "different gender", "\u22124.3", "different EMHware ID", "\u22125.0"):
        assert words in text, words
    assert "ccd-w-100" in text and "ccd-w-70" in text, "bars drawn to scale by CSS class"
    assert not any(internal in text for internal in INTERNALS)
    assert str(row.upload_log_id) not in text
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", text) == [], "inline script on the review page"
    assert re.findall(r"\sstyle=", text) == [], "style attributes break the CSP"
    for answer in ("Same person as this client", "A new person", "Not sure, leave it"):
        assert answer in text


def test_a_row_stored_without_evidence_shows_no_waterfall(client, sign_in_as, db_session):
    sign_in_as("Coordinator")
    _, pairs, _ = factories.held_row()
    text = client.get(f"/admin/client_duplicates/review/?id={pairs[0][1].id}").get_data(as_text=True)
    assert "ccd-waterfall\"" not in text and "No field-by-field evidence" in text


def test_same_person_from_the_page_writes_the_row_onto_the_chosen_client(client, sign_in_as, db_session):
    reviewer = sign_in_as("Coordinator")
    row, [(jon, jon_item), (john, john_item)], program = factories.held_row()
    response = client.post("/admin/client_duplicates/review/same-person/", data={
        "id": str(jon_item.id), "client_id": str(john.id), "notes": "same case worker",
        "csrf_token": csrf_token(client, "/admin/")})
    assert response.status_code == 302 and str(john.id) in response.headers["Location"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Enrollment).where(
        Enrollment.client_id == john.id, Enrollment.program_id == program.id)) == 1
    assert [s.source_client_id for s in fresh(Client, john.id).source_ids] == ["CLI8"]
    assert (fresh(ClientDuplicate, john_item.id).status, fresh(ClientDuplicate, jon_item.id).status) == (
        "merged", "not_duplicate")
    [decision] = review_decisions(jon_item.id)
    assert decision.changed_by_id == reviewer.id and decision.diff_json["answer"] == "same_person"


def test_a_new_person_and_leave_from_the_page(client, sign_in_as, db_session):
    sign_in_as("Administrator")
    token = csrf_token(client, "/admin/")
    waiting_row, waiting, _ = factories.held_row(source_id="CLI1")
    response = client.post("/admin/client_duplicates/review/leave/", data={
        "id": str(waiting[0][1].id), "notes": "phone the shelter", "csrf_token": token})
    assert response.status_code == 302
    assert fresh(ClientDuplicate, waiting[0][1].id).status == "pending"
    assert fresh(ClientDuplicate, waiting[1][1].id).review_notes == "phone the shelter"
    assert "phone the shelter" in client.get(f"/admin/client_duplicates/review/?id={waiting[0][1].id}").get_data(
        as_text=True)

    row, pairs, _ = factories.held_row(source_id="CLI2", first_name="Ada", last_name="Mensah")
    response = client.post("/admin/client_duplicates/review/new-person/", data={
        "id": str(pairs[0][1].id), "csrf_token": token})
    assert response.status_code == 302
    created = db.session.scalar(sa.select(Client).join(ClientSourceId).where(
        ClientSourceId.source_client_id == "CLI2"))
    assert (created.first_name, created.last_name) == ("Ada", "Mensah")
    assert {fresh(ClientDuplicate, item.id).status for _, item in pairs} == {"not_duplicate"}
    again = client.post("/admin/client_duplicates/review/new-person/", data={
        "id": str(pairs[0][1].id), "csrf_token": token})
    assert "already decided" in client.get(again.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize("role", ["Manager", "Staff"])
def test_other_roles_cannot_answer_a_held_row_one_by_one_or_in_bulk(client, sign_in_as, role):
    person = sign_in_as(role)
    row, pairs, _ = factories.held_row()
    factories.make_visible_to(person)
    token = csrf_token(client, "/admin/")
    item, candidate = pairs[0][1], pairs[0][0]
    for path, extra in (("same-person/", {"client_id": str(candidate.id)}), ("new-person/", {}), ("leave/", {})):
        response = client.post(f"/admin/client_duplicates/review/{path}", data={
            "id": str(item.id), "csrf_token": token, **extra})
        assert response.status_code == 403, path
    for action_name in ("new_person", "not_duplicate"):
        response = client.post("/admin/client_duplicates/action/", data={
            "action": action_name, "rowid": [str(item.id)], "csrf_token": token})
        assert response.status_code == 403, action_name
    assert {fresh(ClientDuplicate, each.id).status for _, each in pairs} == {"pending"}
    assert fresh(ImportRow, row.id).status == "review" and review_decisions(item.id) == []


def test_bulk_answers_for_a_page_of_items(client, sign_in_as, flagged):
    sign_in_as("Coordinator")
    token = csrf_token(client, "/admin/")
    first_row, first, _ = factories.held_row(source_id="CLI3")
    second_row, second, _ = factories.held_row(source_id="CLI4", first_name="Ada", last_name="Mensah",
                                               candidates=(("Adah", 0.8),))
    response = client.post("/admin/client_duplicates/action/", data={
        "action": "new_person", "rowid": [str(first[0][1].id), str(second[0][1].id), str(flagged.id)],
        "csrf_token": token})
    assert response.status_code == 302
    message = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "2 item(s) answered" in message and "pairs two clients" in message
    assert fresh(ImportRow, first_row.id).status != "review" and fresh(ImportRow, second_row.id).status != "review"
    assert fresh(ClientDuplicate, flagged.id).status == "pending"

    response = client.post("/admin/client_duplicates/action/", data={
        "action": "not_duplicate", "rowid": [str(flagged.id)], "csrf_token": token})
    assert response.status_code == 302 and fresh(ClientDuplicate, flagged.id).status == "not_duplicate"
    assert review_decisions(flagged.id)[0].diff_json["answer"] == "not_duplicate"


def test_the_queue_shows_per_import_what_waits_and_the_imports_page_links_there(client, sign_in_as, db_session):
    sign_in_as("Coordinator")
    row, pairs, _ = factories.held_row()
    other_row, other, _ = factories.held_row(source_id="CLI5", first_name="Ada", last_name="Mensah")
    listing = client.get("/admin/client_duplicates/").get_data(as_text=True)
    assert "Waiting for a reviewer" in listing and "receiving-services.csv" in listing
    imports = client.get("/admin/imports/").get_data(as_text=True)
    link = re.search(r'href="([^"]+)">1 waiting</a>', imports)
    assert link, "the Imports page links each import to its waiting items"
    filtered = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    shown = {str(item.id) for _, item in pairs + other if str(item.id) in filtered}
    assert shown and shown <= {str(item.id) for _, item in (pairs if str(row.upload_log_id) in link.group(1)
                                                            else other)}
    upload = client.get(f"/admin/imports/{row.upload_log_id}/").get_data(as_text=True)
    assert "Review the 2 waiting item(s)" in upload


def test_the_pair_page_tells_both_records_apart_and_hides_match_keys(client, sign_in_as, db_session):
    sign_in_as("Coordinator")
    first = factories.client(first_name="Jordan", last_name="Smith", source_system="SMIS")
    second = factories.client(first_name="Jordan", last_name="Smyth", source_system="EMHware")
    db.session.add_all([first, second])
    db.session.flush()
    db.session.add_all([ClientSourceId(client=first, source_system="SMIS", source_client_id="S-1"),
                        ClientSourceId(client=second, source_system="EMHware", source_client_id="E-9")])
    db.session.commit()
    item = flag_possible_duplicate(db.session, first.id, second.id, 0.93, "name_dob",
                                   {"probability": 0.93, "evidence": EVIDENCE, "match_weight": 3.2})
    db.session.commit()
    text = client.get(f"/admin/client_duplicates/review/?id={item.id}").get_data(as_text=True)
    for shown in (str(first.id), str(second.id), "SMIS S-1", "EMHware E-9", "CCD id", "Source ids", "93%",
                  "different EMHware ID", "+3.2", "Not the same person", "Not sure, leave it"):
        assert shown in text, shown
    assert not any(internal in text for internal in INTERNALS)


def test_a_pair_added_by_hand_is_scored_by_the_matcher_not_typed(client, sign_in_as, db_session):
    sign_in_as("Coordinator")
    form = client.get("/admin/client_duplicates/new/").get_data(as_text=True)
    assert "similarity_score" not in form and "Similarity" not in form
    first = factories.client(first_name="Robert", last_name="Nguyen", dob=date(1970, 7, 7))
    second = factories.client(first_name="Rob", last_name="Nguyen", dob=date(1970, 7, 7))
    db.session.add_all([first, second])
    db.session.commit()
    response = client.post("/admin/client_duplicates/new/", data={
        "primary_client": str(first.id), "duplicate_client": str(second.id), "review_notes": "seen at intake",
        "csrf_token": csrf_token(client, "/admin/client_duplicates/new/")})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    item = db.session.scalar(sa.select(ClientDuplicate))
    assert 0 < item.similarity_score <= 1 and item.detection_source == "manual" and item.status == "pending"
    assert item.match_type and item.confidence_level


def test_the_merge_message_says_what_moved(client, sign_in_as, flagged):
    sign_in_as("Coordinator")
    first, second, side_of = sides(flagged)
    token = csrf_token(client, "/admin/")
    response = client.post("/admin/client_duplicates/review/merge/", data={
        "id": str(flagged.id), "survivor": side_of(first), "csrf_token": token})
    text = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Moved to the kept record: 0 enrollments, 1 intake, 0 discharges, 0 restrictions, 0 source ids" in text
    assert review_decisions(flagged.id)[0].diff_json["answer"] == "merge"
