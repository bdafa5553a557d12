"""The main flows as the people who use CCD go through them, in a real browser."""

from pathlib import Path

import pytest
import sqlalchemy as sa

from admin_views.registry import SCREENS
from app.extensions import db
from app.labels import entity_label
from app.models import Client, Enrollment, Program, StaffClientAssignment
from app.permissions import Action, may
from app.services.demo import DEMO_LOGINS, MANAGER_PROGRAMS, STAFF_PROGRAMS


def sidebar_links(page) -> set[str]:
    """Every link the sidebar offers, in folded categories too (their text is in the page, not shown)."""
    return {text.strip() for text in page.locator("nav[aria-label=Sidebar] a.nav-link").all_text_contents()}


@pytest.mark.parametrize("email,role", DEMO_LOGINS, ids=[role.value for _, role in DEMO_LOGINS])
def test_each_role_sees_the_sidebar_its_rules_allow(sign_in, email, role):
    page = sign_in(email)
    page.shot("home")
    expected = {entity_label(model.__tablename__) for _, _, model in SCREENS
                if may({role.value}, model.__tablename__, Action.LIST)}
    shown = sidebar_links(page) - {"Home"}
    assert expected <= shown
    hidden = {entity_label(model.__tablename__) for _, _, model in SCREENS} - expected
    assert not (hidden & shown), f"{role} sees screens the rules deny: {hidden & shown}"


def test_coordinator_creates_a_client(sign_in, live_server):
    page = sign_in("coordinator@ccd.demo")
    page.goto(f"{live_server}/admin/clients/new/")
    page.shot("empty-form")
    page.fill("input[name=first_name]", "Browser")
    page.fill("input[name=last_name]", "Created-Client")
    page.fill("input[name=dob]", "1990-04-12")
    page.shot("filled-form")
    page.click("input[type=submit][value=Save]")
    page.wait_for_load_state()
    page.shot("saved")
    assert "Record was successfully created" in page.content()
    page.goto(f"{live_server}/admin/clients/?search=Created-Client")
    page.shot("found-in-list")
    assert page.locator("table.model-list").get_by_text("Created-Client").count() == 1


def test_analyst_opens_the_org_summary_and_downloads_the_csv(sign_in, live_server):
    page = sign_in("analyst@ccd.demo")
    page.goto(f"{live_server}/admin/reports/org-summary/")
    page.fill("#date_from", "2021-01-01")
    page.fill("#date_to", "2026-06-30")
    page.click("#ccd-report-form button[type=submit]")
    page.wait_for_load_state()
    page.shot("report")
    assert page.locator("canvas").count() >= 1, "the charts are drawn from the app's own Chart.js"
    with page.expect_download() as download_info:
        page.click("#ccd-report-exports >> text=Export CSV")
    download = download_info.value
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    page.shot("after-download")
    assert download.suggested_filename.endswith(".csv")
    served_row = next(line for line in text.splitlines() if line.lower().startswith("distinct clients served"))
    served = int(served_row.split(",")[1])
    assert served > 0 and str(served) in page.inner_text("main")


def _client_in_program(live_app, program_name: str):
    with live_app.app_context():
        row = db.session.execute(
            sa.select(Client.id, Client.first_name).join(Enrollment, Enrollment.client_id == Client.id)
            .join(Program, Program.id == Enrollment.program_id)
            .where(Program.name == program_name, Enrollment.end_date.is_(None), ~Client.is_archived)
            .order_by(Client.last_name).limit(1)
        ).one()
        db.session.remove()
    return row


def test_manager_proposes_and_coordinator_approves(sign_in, page, live_server, live_app):
    client_id, first_name = _client_in_program(live_app, MANAGER_PROGRAMS[0])
    page = sign_in("manager@ccd.demo")
    page.goto(f"{live_server}/admin/clients/edit/?id={client_id}")
    page.fill("input[name=preferred_name]", "Proposed-In-Browser")
    page.shot("manager-edits")
    page.click("input[type=submit][value=Save]")
    page.wait_for_load_state()
    page.shot("manager-submitted")
    assert "Submitted for approval" in page.content()
    page.goto(f"{live_server}/admin/clients/details/?id={client_id}")
    assert "Proposed-In-Browser" not in page.content(), "the record is unchanged until a Coordinator approves"

    page.context.clear_cookies()
    sign_in("coordinator@ccd.demo")
    page.goto(f"{live_server}/admin/pending_changes/")
    page.shot("inbox")
    page.locator("a[href*='/admin/pending_changes/details/']").first.click()
    page.wait_for_load_state()
    page.shot("comparison")
    assert "Proposed-In-Browser" in page.content()
    page.click("#approve-form button[type=submit]")
    page.wait_for_load_state()
    page.shot("approved")
    page.goto(f"{live_server}/admin/clients/details/?id={client_id}")
    page.shot("client-after")
    assert "Proposed-In-Browser" in page.content()


def test_coordinator_imports_a_file_watches_it_finish_and_opens_the_rejects(sign_in, live_server, tmp_path):
    program = MANAGER_PROGRAMS[0]
    export = tmp_path / "emhware-export.csv"
    export.write_text(
        "ID,Last Name,First Name,Program,DOB,Admission Date\n"
        f"BRW-1,Browserton,Imogen,{program},1984-02-03,2026-01-05\n"
        f"BRW-2,Browserton,Felix,{program},1979-13-45,2026-01-06\n", encoding="utf-8")
    page = sign_in("coordinator@ccd.demo")
    page.goto(f"{live_server}/admin/imports/")
    page.set_input_files("input[name=file]", str(export))
    page.select_option("select[name=source]", "EMHware")
    page.shot("upload-form")
    page.click("#ccd-import-form button[type=submit]")
    page.wait_for_selector("#ccd-import-summary")
    page.shot("finished")
    bar = page.locator("#ccd-import-progress progress")
    assert bar.get_attribute("value") == bar.get_attribute("max"), "the progress bar reached the end"
    summary = page.inner_text("#ccd-import-summary")
    assert "Rows read\t2" in summary and "New clients\t1 (" in summary
    with page.expect_download() as download_info:
        page.click("text=Download the rejects file")
    rejects = Path(download_info.value.path()).read_text(encoding="utf-8-sig")
    assert "Felix" in rejects and "Imogen" not in rejects


def _client_outside_programs(live_app, program_names):
    with live_app.app_context():
        inside = sa.select(Enrollment.client_id).join(Program).where(Program.name.in_(program_names))
        assigned = sa.select(StaffClientAssignment.client_id)
        row = db.session.execute(sa.select(Client.id).where(Client.id.not_in(inside), Client.id.not_in(assigned))
                                 .limit(1)).one()
        db.session.remove()
    return row[0]


def test_staff_cannot_reach_another_programs_client_by_url(sign_in, live_server, live_app):
    outside = _client_outside_programs(live_app, STAFF_PROGRAMS)
    inside, _ = _client_in_program(live_app, STAFF_PROGRAMS[0])
    page = sign_in("staff@ccd.demo")
    response = page.goto(f"{live_server}/admin/clients/details/?id={inside}")
    assert response.status == 200
    response = page.goto(f"{live_server}/admin/clients/details/?id={outside}")
    page.shot("out-of-scope")
    assert response.status == 404
    assert str(outside) not in page.content()


def _held_row_in(live_app):
    """A held EMHware row with two candidates, committed in the served app's database."""
    from tests import factories

    evidence = [{"field": "dob", "text": "same birth date", "weight": 6.1},
                {"field": "gender", "text": "different gender", "weight": -4.3}]
    with live_app.app_context():
        row, pairs, _ = factories.held_row(source_id="BRW-HELD", first_name="Jonn", last_name="Browserfield",
                                           evidence=evidence)
        ids = [(candidate.id, item.id) for candidate, item in pairs]
        db.session.remove()
    return ids


def test_coordinator_answers_a_held_row_from_the_review_page(sign_in, live_server, live_app):
    (first_id, first_item), (second_id, _) = _held_row_in(live_app)
    page = sign_in("coordinator@ccd.demo")
    page.goto(f"{live_server}/admin/client_duplicates/")
    page.shot("queue")
    assert "Waiting for a reviewer" in page.content()
    page.goto(f"{live_server}/admin/client_duplicates/review/?id={first_item}")
    page.shot("review-page")
    table = page.inner_text("#ccd-side-by-side")
    assert "Date of birth" in table and "same birth date +6.1" in table and "different gender \u22124.3" in table
    page.locator(f"form:has(input[name=client_id][value='{second_id}']) button[type=submit]").click()
    page.wait_for_load_state()
    page.shot("written-onto-the-client")
    assert f"id={second_id}" in page.url and "was written onto the chosen client" in page.content()
    with live_app.app_context():
        from app.models import ClientSourceId

        owner = db.session.scalar(sa.select(ClientSourceId.client_id).where(
            ClientSourceId.source_client_id == "BRW-HELD"))
        db.session.remove()
    assert owner == second_id


def test_the_front_desk_is_asked_same_person_before_adding_a_lookalike(sign_in, live_server, live_app):
    _held_row_in(live_app)
    page = sign_in("coordinator@ccd.demo")
    page.goto(f"{live_server}/admin/clients/new/")
    page.fill("input[name=first_name]", "Jon")
    page.fill("input[name=last_name]", "Browserfield")
    page.fill("input[name=dob]", "1992-03-03")
    page.click("input[type=submit][value=Save]")
    page.wait_for_load_state()
    page.shot("same-person")
    asked = page.inner_text("#ccd-front-desk")
    assert "Same person?" in asked and "Jon Browserfield" in asked and "%" in asked
    page.check("#ccd-none-is-the-same")
    page.click("input[type=submit][value=Save]")
    page.wait_for_load_state()
    page.shot("saved")
    assert "Record was successfully created" in page.content()
