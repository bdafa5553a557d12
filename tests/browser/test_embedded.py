"""The embedded default in a browser: an export that leaves sign-in working, error pages with a way back."""

import re
import uuid

from app.services.demo import DEMO_PASSWORD


def _sign_in_elsewhere(chromium, live_server, email):
    """Another person, in a browser of their own, signs in; returns their page on Home."""
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    other = context.new_page()
    other.goto(f"{live_server}/login")
    other.fill("input[name=email]", email)
    other.fill("input[name=password]", DEMO_PASSWORD)
    other.click("button[type=submit]")
    other.wait_for_url(re.compile(r".*/admin/?$"))
    return context, other


def test_after_a_client_export_the_others_still_sign_in(sign_in, live_server, chromium):
    page = sign_in("admin@ccd.demo")
    page.goto(f"{live_server}/admin/clients/")
    page.shot("client-list")
    with page.expect_download() as download_info:
        page.locator("a[href*='/admin/clients/export/csv/']").first.click()
    assert download_info.value.path().read_text(encoding="utf-8-sig").startswith("Last name")
    for email in ("coordinator@ccd.demo", "staff@ccd.demo", "manager@ccd.demo"):
        context, other = _sign_in_elsewhere(chromium, live_server, email)
        assert "Sign out" in other.content(), email
        context.close()
    page.goto(f"{live_server}/admin/clients/")
    page.shot("list-after-export")
    assert page.locator("table.model-list").count() == 1


def test_refused_and_missing_pages_are_in_the_layout_with_a_way_back(sign_in, live_server):
    page = sign_in("staff@ccd.demo")
    page.goto(f"{live_server}/admin/staff/")
    page.shot("refused")
    assert page.locator("#ccd-error[data-status='403']").count() == 1
    assert page.locator("nav[aria-label=Sidebar]").count() == 1
    page.click("text=Home")
    page.wait_for_url(re.compile(r".*/admin/?$"))

    page.goto(f"{live_server}/admin/clients/details/?id={uuid.uuid4()}", referer=f"{live_server}/admin/clients/")
    page.shot("missing")
    assert page.locator("#ccd-error[data-status='404']").count() == 1
    page.click("text=Back to the previous page")
    page.wait_for_url(re.compile(r".*/admin/clients/$"))
    page.shot("back")


def test_a_nul_or_an_odd_page_in_the_address_shows_the_list(sign_in, live_server):
    page = sign_in("coordinator@ccd.demo")
    for query in ("search=%00", "search=a%00b", "page=-1", "page=99999999999999999999"):
        response = page.goto(f"{live_server}/admin/clients/?{query}")
        assert response.status == 200, query
    page.shot("odd-page")
