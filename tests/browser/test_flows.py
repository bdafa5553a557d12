"""The main flows as the people who use CCD go through them, in a real browser."""

import re
from pathlib import Path

import pytest

from admin_views.registry import SCREENS
from app.labels import entity_label
from app.permissions import Action, may
from app.services.demo import DEMO_LOGINS


def sidebar_links(page) -> set[str]:
    return {text.strip() for text in page.locator("nav[aria-label=Sidebar] a.nav-link").all_inner_texts()}


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
