"""The home page each role lands on, and the menu on a phone, in a real browser over the demo data."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Client, Enrollment, PendingChange, Program, ServiceRestriction
from app.services.clock import agency_today
from app.services.demo import DEMO_LOGINS, STAFF_PROGRAMS

# Which home sections each demo role gets (by element id).
SECTIONS = {"ccd-home-program-clients", "ccd-home-ending-soon", "ccd-home-imports", "ccd-figure-pending_approvals"}
EXPECTED = {
    "Administrator": {"ccd-home-ending-soon", "ccd-home-imports", "ccd-figure-pending_approvals"},
    "Coordinator": {"ccd-home-ending-soon", "ccd-home-imports", "ccd-figure-pending_approvals"},
    "Manager": {"ccd-home-ending-soon"},
    "Leader": {"ccd-home-ending-soon"},
    "Staff": {"ccd-home-program-clients", "ccd-home-ending-soon"},
    "Analyst": {"ccd-home-ending-soon"},
    "Report viewer": set(),
}


def _staff_current_clients(live_app) -> int:
    """Distinct unarchived clients enrolled today in the demo Staff member's programs, counted here from the tables."""
    with live_app.app_context():
        today = agency_today()
        still_open = sa.or_(Enrollment.end_date.is_(None), Enrollment.end_date > today,
                            sa.and_(Enrollment.end_date == today,
                                    Enrollment.status.not_in(("completed", "discharged", "cancelled"))))
        count = db.session.scalar(
            sa.select(sa.func.count(sa.distinct(Enrollment.client_id))).join(Program).join(Client)
            .where(Program.name.in_(STAFF_PROGRAMS), Enrollment.start_date <= today, still_open,
                   Client.is_archived.is_(False)))
        db.session.remove()
    return count


def _counts_for_approvers(live_app, days: int) -> tuple[int, int]:
    with live_app.app_context():
        today = agency_today()
        pending = db.session.scalar(sa.select(sa.func.count()).select_from(PendingChange)
                                    .where(PendingChange.status == "pending"))
        ending = db.session.scalar(sa.select(sa.func.count()).select_from(ServiceRestriction).where(
            ServiceRestriction.is_archived.is_(False), ServiceRestriction.start_date <= today,
            ServiceRestriction.end_date >= today, ServiceRestriction.end_date <= today + timedelta(days=days)))
        db.session.remove()
    return pending, ending


def _badge(page, section: str) -> int:
    return int(page.inner_text(f"#{section} h5 .ccd-figure"))


@pytest.mark.parametrize("email,role", DEMO_LOGINS, ids=[role.value for _, role in DEMO_LOGINS])
def test_each_role_lands_on_its_own_home(sign_in, live_app, email, role):
    page = sign_in(email)
    page.shot("home")
    shown = {section for section in SECTIONS if page.locator(f"#{section}").count()}
    assert shown == EXPECTED[role.value]
    for card in page.locator("#ccd-home-figures a.ccd-home-card").all():
        assert card.get_attribute("href").startswith("/admin/")
    days = live_app.config["CCD_RESTRICTION_ENDING_SOON_DAYS"]
    pending, ending = _counts_for_approvers(live_app, days)
    if role.value == "Staff":
        assert _badge(page, "ccd-home-program-clients") == _staff_current_clients(live_app) > 0
    if role.value in ("Administrator", "Coordinator"):
        assert int(page.inner_text("#ccd-figure-pending_approvals .ccd-figure")) == pending
        assert _badge(page, "ccd-home-ending-soon") == ending
        page.click("#ccd-figure-pending_approvals")
        page.wait_for_load_state()
        page.shot("approvals-inbox")
        assert "/admin/pending_changes/" in page.url


def test_staff_open_a_client_from_their_home(sign_in):
    page = sign_in("staff@ccd.demo")
    link = page.locator("#ccd-home-program-clients tbody a").first
    name = link.inner_text()
    link.click()
    page.wait_for_load_state()
    page.shot("client")
    assert "/admin/clients/details/" in page.url and name.split(",")[0] in page.inner_text("main")


def test_on_a_phone_the_menu_is_a_toggle(sign_in, page):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in("admin@ccd.demo")
    sidebar = page.locator("#ccd-sidebar")
    toggle = page.locator("#ccd-menu-toggle")
    page.shot("phone-home")
    assert toggle.is_visible() and not sidebar.is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "nothing is wider than the phone"
    toggle.click()
    page.wait_for_selector("#ccd-sidebar.collapse.show")  # shown, and the sliding-open transition is over
    page.shot("phone-menu-open")
    assert toggle.get_attribute("aria-expanded") == "true"
    staff_group = sidebar.locator("details", has=page.locator("summary", has_text=re.compile("^Staff$")))
    assert staff_group.get_attribute("open") is None, "an administrator's categories start folded"
    staff_group.locator("summary").click()
    page.shot("phone-staff-unfolded")
    staff_group.get_by_role("link", name="Sign-in accounts").click()
    page.wait_for_url(re.compile(r".*/admin/users/"))
    page.shot("phone-accounts")
    assert not page.locator("#ccd-sidebar").is_visible(), "the next page starts with the menu folded again"


def test_on_a_wide_screen_the_sidebar_is_always_shown(sign_in, page):
    sign_in("staff@ccd.demo")
    assert page.locator("#ccd-sidebar").is_visible() and not page.locator("#ccd-menu-toggle").is_visible()
    links = {text.strip() for text in page.locator("#ccd-sidebar a.nav-link").all_inner_texts()}
    assert "Clients" in links and "Report recipients" not in links and "Sent reports" not in links


def test_report_dates_are_typed_or_picked_as_iso(sign_in, live_server):
    page = sign_in("analyst@ccd.demo")
    page.goto(f"{live_server}/admin/reports/org-summary/")
    field = page.locator("#date_from")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", field.input_value())
    field.click()
    picker = page.locator(".daterangepicker").first
    picker.wait_for(state="visible")
    page.shot("date-picker-open")
    field.fill("2024-01-01")
    page.fill("#date_to", "2024-06-30")
    page.click("#ccd-report-form button[type=submit]")
    page.wait_for_load_state()
    page.shot("report-from-typed-date")
    assert "date_from=2024-01-01" in page.url and "date_to=2024-06-30" in page.url
    assert page.locator("#date_from").input_value() == "2024-01-01"
