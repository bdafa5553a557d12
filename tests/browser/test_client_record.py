"""The client record built for the door, the history that speaks in names, and the Restrictions list, in a browser.

Every number the page shows is checked against a count the test makes itself in the served database.
"""

import re
from datetime import timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditLog, Client, Enrollment, PendingChange, Program, ServiceRestriction, Staff
from app.services.clock import agency_today
from app.services.demo import MANAGER_PROGRAMS, STAFF_PROGRAMS


def _in_program(live_app, program_name: str, skip: int = 0):
    with live_app.app_context():
        row = db.session.execute(
            sa.select(Client.id, Client.first_name, Client.last_name, Client.dob)
            .join(Enrollment, Enrollment.client_id == Client.id).join(Program, Program.id == Enrollment.program_id)
            .where(Program.name == program_name, Enrollment.end_date.is_(None), ~Client.is_archived,
                   Client.merged_into_id.is_(None), Client.dob.is_not(None))
            .order_by(Client.last_name, Client.id).offset(skip).limit(1)).one()
        db.session.remove()
    return row


def _today(live_app):
    with live_app.app_context():
        return agency_today()


def _in_force(live_app, client_id) -> tuple[int, int]:
    """(restrictions in force today, of which ending within the setting's window), counted here."""
    with live_app.app_context():
        today, window = agency_today(), live_app.config["CCD_RESTRICTION_ENDING_SOON_DAYS"]
        r = ServiceRestriction
        rows = db.session.execute(sa.select(r.start_date, r.end_date).where(
            r.client_id == client_id, r.is_archived.is_(False))).all()
        db.session.remove()
    live = [(start, end) for start, end in rows if start <= today and (end is None or end >= today)]
    return len(live), sum(1 for _, end in live if end is not None and end <= today + timedelta(days=window))


def test_coordinator_adds_a_restriction_from_the_record_and_staff_see_its_banner(sign_in, page, live_server,
                                                                                   live_app):
    person = _in_program(live_app, STAFF_PROGRAMS[0])
    ending = _today(live_app) + timedelta(days=3)
    page = sign_in("coordinator@ccd.demo")
    page.goto(f"{live_server}/admin/clients/details/?id={person.id}")
    page.shot("record")
    page.click("a[href='#tab-restrictions']")
    page.click("a[href*='/admin/service_restrictions/new/']")
    page.wait_for_load_state()
    page.shot("restriction-form-prefilled")
    with live_app.app_context():
        me = db.session.scalar(sa.select(Staff.id).where(Staff.email == "coordinator@ccd.demo"))
        db.session.remove()
    assert page.input_value("#client") == str(person.id), "the client is filled in"
    assert page.input_value("#entered_by") == str(me), "entered by the person signed in"
    page.fill("input[name=start_date]", (_today(live_app) - timedelta(days=1)).isoformat())
    page.fill("input[name=end_date]", ending.isoformat())
    page.fill("textarea[name=reason]", "Browser: threats at the front desk")
    page.click("input[type=submit][value=Save]")
    page.wait_for_load_state()
    page.shot("back-on-the-record")
    assert f"id={person.id}" in page.url

    page.context.clear_cookies()
    page = sign_in("staff@ccd.demo")
    page.goto(f"{live_server}/admin/clients/details/?id={person.id}")
    page.shot("staff-sees-the-banner")
    in_force, ending_soon = _in_force(live_app, person.id)
    banners = page.locator(".ccd-restriction-banner")
    assert banners.count() == in_force >= 1
    assert page.locator(".ccd-restriction-banner.alert-warning").count() == ending_soon >= 1
    assert "Browser: threats at the front desk" in page.inner_text("#ccd-client-header ~ div.alert-warning") or \
        any("Browser: threats" in text for text in banners.all_inner_texts())
    header = page.inner_text("#ccd-client-header")
    assert f"{person.last_name}, {person.first_name}" in header and f"Born {person.dob.isoformat()}" in header


def test_manager_is_told_the_save_goes_to_approval_and_the_record_counts_what_waits(sign_in, page, live_server,
                                                                                     live_app):
    person = _in_program(live_app, MANAGER_PROGRAMS[0], skip=3)
    page = sign_in("manager@ccd.demo")
    page.goto(f"{live_server}/admin/clients/edit/?id={person.id}")
    page.shot("edit-form-in-sections")
    assert page.locator("#ccd-goes-to-approval").is_visible()
    legends = [text.strip() for text in page.locator("form h3").all_inner_texts()]
    assert legends[:6] == ["Identity", "Demographics", "Contact", "Health card", "Emergency contact",
                           "Source system ids"]
    page.fill("input[name=phone]", "416-555-0199")
    page.fill("input[name=extended__household_size]", "4")
    page.click("input[type=submit][value=Save]")
    page.wait_for_load_state()
    assert "Submitted for approval" in page.content()
    page.goto(f"{live_server}/admin/clients/details/?id={person.id}")
    page.shot("record-counts-the-proposal")
    with live_app.app_context():
        waiting = db.session.scalar(sa.select(sa.func.count()).select_from(PendingChange).where(
            PendingChange.entity == "clients", PendingChange.entity_id == person.id,
            PendingChange.status == "pending"))
        db.session.remove()
    assert waiting >= 1
    noun = "change" if waiting == 1 else "changes"
    assert f"{waiting} proposed {noun} waiting for approval" in page.inner_text("#ccd-pending-changes")
    # The proposal is withdrawn again, so the inbox other flows read holds only their own.
    with live_app.app_context():
        mine = db.session.scalars(sa.select(PendingChange.id).where(
            PendingChange.entity_id == person.id, PendingChange.status == "pending")).all()
        db.session.remove()
    for change_id in mine:
        page.goto(f"{live_server}/admin/my-requests/details/?id={change_id}")
        page.click("text=Withdraw this request")
        page.wait_for_load_state()
    page.goto(f"{live_server}/admin/clients/details/?id={person.id}")
    assert page.locator("#ccd-pending-changes").count() == 0


def test_the_audit_log_names_the_client_and_the_approval_names_both_people(sign_in, page, live_server, live_app):
    person = _in_program(live_app, MANAGER_PROGRAMS[0], skip=5)
    page = sign_in("manager@ccd.demo")
    page.goto(f"{live_server}/admin/clients/edit/?id={person.id}")
    page.fill("input[name=city]", "Browserville")
    page.click("input[type=submit][value=Save]")
    page.wait_for_load_state()
    page.context.clear_cookies()
    page = sign_in("coordinator@ccd.demo")
    with live_app.app_context():
        change_id = db.session.scalar(sa.select(PendingChange.id).where(
            PendingChange.entity_id == person.id, PendingChange.status == "pending")
            .order_by(PendingChange.created_at.desc()).limit(1))
        db.session.remove()
    page.goto(f"{live_server}/admin/pending_changes/details/?id={change_id}")
    page.click("#approve-form button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{live_server}/admin/audit_logs/?flt0_record_equals={person.id}")
    page.shot("audit-log-in-names")
    name = f"Client {person.last_name}, {person.first_name} (born {person.dob.isoformat()})"
    records = page.locator("td.col-record").all_inner_texts()
    with live_app.app_context():
        rows = db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog).where(AuditLog.entity_id == person.id))
        db.session.remove()
    assert len(records) == min(rows, 25) and {text.strip() for text in records} == {name}
    approved = page.locator("tr:has(td.col-action:has-text('Approved')) td.col-who").first.inner_text()
    assert approved.strip() == "Marc Tremblay, approving the proposal of Amina Hassan"


def test_the_restrictions_list_shows_those_in_force_and_filters_by_status(sign_in, page, live_server, live_app):
    page = sign_in("coordinator@ccd.demo")
    page.goto(f"{live_server}/admin/service_restrictions/?page_size=100")
    page.shot("in-force-by-default")
    today = _today(live_app)
    r = ServiceRestriction
    with live_app.app_context():
        def count(*where):
            return db.session.scalar(sa.select(sa.func.count()).select_from(r).where(*where))
        in_force = count(r.is_archived.is_(False), r.start_date <= today,
                         sa.or_(r.end_date.is_(None), r.end_date >= today))
        ended = count(r.is_archived.is_(False), r.end_date < today)
        db.session.remove()
    statuses = [text.strip() for text in page.locator("td.col-restriction_status").all_inner_texts()]
    assert statuses == ["In force"] * min(in_force, 100)
    assert re.search(rf"List \({in_force}\)", page.content())
    page.goto(f"{live_server}/admin/service_restrictions/?page_size=100&flt0_0=ended")
    page.shot("ended")
    statuses = [text.strip() for text in page.locator("td.col-restriction_status").all_inner_texts()]
    assert statuses == ["Ended"] * min(ended, 100)
    page.goto(f"{live_server}/admin/service_restrictions/new/")
    assert "__None" not in page.inner_text("form")
