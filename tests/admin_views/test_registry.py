"""The home page and the sidebar (admin_views/registry.py): each role sees its own work, and every link opens."""

import re
from datetime import date, timedelta
from html import unescape

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Enrollment, PendingChange, ServiceRestriction
from app.permissions import Role
from app.services.clock import agency_today
from tests import factories


def _home(client) -> str:
    response = client.get("/admin/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _figure(page: str, key: str) -> int:
    match = re.search(rf'id="ccd-figure-{key}".*?<div class="h3 mb-0 ccd-figure">(\d+)</div>', page, re.S)
    assert match, f"no {key} card"
    return int(match.group(1))


def test_staff_home_lists_their_programs_current_clients_and_restrictions_ending_soon(client, sign_in_as):
    staff = sign_in_as("Staff")
    mine, theirs = factories.program(), factories.program()
    factories.give_program(staff, mine)
    today = agency_today()
    enrolled = [factories.enrollment(program=mine, start_date=date(2025, 1, 1)) for _ in range(3)]
    outsider = factories.enrollment(program=theirs, start_date=date(2025, 1, 1))
    ending = factories.restriction(client=enrolled[0].client, end_date=today + timedelta(days=5))
    db.session.add_all([*enrolled, outsider, ending])
    db.session.commit()

    page = _home(client)
    section = page.split('id="ccd-home-program-clients"', 1)[1].split("</section>", 1)[0]
    for enrollment in enrolled:
        assert f"/admin/clients/details/?id={enrollment.client_id}" in section
    assert str(outsider.client_id) not in page
    assert re.search(r'ccd-figure">3</span>', section)
    soon = page.split('id="ccd-home-ending-soon"', 1)[1].split("</section>", 1)[0]
    assert f"id={ending.id}" in soon and (today + timedelta(days=5)).isoformat() in soon
    assert 'id="ccd-home-imports"' not in page and 'id="ccd-figure-pending_approvals"' not in page
    expected_enrollments = db.session.scalar(sa.select(sa.func.count()).select_from(Enrollment).where(
        Enrollment.program_id == mine.id))
    assert _figure(page, "active_enrollments") == expected_enrollments == 3
    assert _figure(page, "clients") == 3


def test_coordinator_home_shows_approvals_waiting_and_recent_imports_with_their_review_items(client, sign_in_as):
    sign_in_as("Coordinator")
    row, pairs, _ = factories.held_row()
    db.session.add(PendingChange(entity="clients", entity_id=pairs[0][0].id, operation="update",
                                 diff_json={"first_name": "B"}, requested_by=factories.staff_member()))
    db.session.commit()

    page = _home(client)
    waiting = db.session.scalar(sa.select(sa.func.count()).select_from(PendingChange)
                                .where(PendingChange.status == "pending"))
    assert _figure(page, "pending_approvals") == waiting >= 1
    assert 'href="/admin/pending_changes/"' in page
    imports = page.split('id="ccd-home-imports"', 1)[1].split("</section>", 1)[0]
    assert f"/admin/imports/{row.upload_log_id}/" in imports
    assert re.search(r'class="ccd-waiting" href="[^"]+">2</a>', imports)
    restrictions = db.session.scalar(sa.select(sa.func.count()).select_from(ServiceRestriction).where(
        ServiceRestriction.is_archived.is_(False), ServiceRestriction.start_date <= date.today(),
        sa.or_(ServiceRestriction.end_date.is_(None), ServiceRestriction.end_date >= date.today())))
    assert _figure(page, "active_restrictions") == restrictions


@pytest.mark.parametrize("role", [role.value for role in Role])
def test_every_home_link_opens_for_the_person_who_sees_it(client, sign_in_as, role):
    staff = sign_in_as(role)
    _, pairs, where = factories.held_row()
    factories.give_program(staff, where)
    db.session.add_all([factories.enrollment(program=where, client=pairs[0][0], start_date=date(2025, 1, 1)),
                        factories.restriction(client=pairs[0][0], end_date=agency_today() + timedelta(days=2))])
    db.session.commit()
    main = _home(client).split("<main", 1)[1]
    links = set(re.findall(r'href="(/admin/[^"]*)"', main))
    assert links or role == "Report viewer"
    for href in links:
        assert client.get(href.replace("&amp;", "&")).status_code == 200, href


def _menu(client, path="/admin/") -> dict[str, list[tuple[str, str]]]:
    """The sidebar as {category: [(link text, url)]}, with each category's folded state left out."""
    page = client.get(path).get_data(as_text=True)
    side = page.split('id="ccd-sidebar"', 1)[1].split("</nav>", 1)[0]
    return {unescape(name): [(unescape(text), href) for href, text in re.findall(r'href="([^"]+)">([^<]+)', body)]
            for name, body in re.findall(r'<summary class="ccd-category">(.*?)</summary>(.*?)</details>', side, re.S)}


STAFF_MENU = {
    "Clients": ["Clients", "Source system ids", "Possible duplicates"],
    "Programs & Services": ["Programs & Services", "Subprograms", "Capacity history", "Program staff",
                            "Program aliases"],
    "Departments": ["Departments"],
    "Enrollments": ["Enrollments", "Intakes", "Discharges"],
    "Restrictions": ["Restrictions", "Restriction check"],
    "Audit Log": ["Audit log"],
}
REPORTS = ["Organizational Summary", "Vacancy Tracker", "Data quality", "Enrollment history", "Outcomes",
           "Program performance", "Department summary"]
MENUS = {
    "Staff": STAFF_MENU,
    "Report viewer": {"Restrictions": ["Restriction check"], "Reports": REPORTS},
    "Manager": {**STAFF_MENU, "Approvals": ["My requests"], "Reports": [*REPORTS, "Report recipients", "Sent reports"]},
    "Coordinator": {**STAFF_MENU, "Clients": [*STAFF_MENU["Clients"], "Import history", "Import rows", "Imports"],
                    "Approvals": ["Pending changes"], "Reports": [*REPORTS, "Access", "Report recipients", "Sent reports"],
                    "Audit Log": ["Audit log", "Access log"], "Staff": ["Staff"]},
}


@pytest.mark.parametrize("role", list(MENUS))
def test_each_role_sees_the_menu_entries_it_uses(client, sign_in_as, role):
    sign_in_as(role)
    shown = {category: [text for text, _ in links] for category, links in _menu(client).items()}
    assert shown == {category: MENUS[role][category] for category in shown}
    assert set(shown) == set(MENUS[role])


@pytest.mark.parametrize("role", [role.value for role in Role])
def test_every_menu_entry_answers_for_the_role_that_sees_it(client, sign_in_as, role):
    sign_in_as(role)
    links = [href for entries in _menu(client).values() for _, href in entries]
    assert links
    for href in links:
        assert client.get(href).status_code == 200, href


def test_an_administrators_categories_fold_and_the_open_pages_category_is_unfolded(client, sign_in_as):
    sign_in_as("Administrator")
    menu = _menu(client)
    assert sum(len(links) for links in menu.values()) >= 35
    page = client.get("/admin/staff/").get_data(as_text=True)
    opened = re.findall(r'<details class="ccd-category-group" open>\s*<summary class="ccd-category">(.*?)</summary>',
                        page)
    assert opened == ["Staff"]
    assert 'id="ccd-menu-toggle"' in page and 'data-target="#ccd-sidebar"' in page


def test_a_person_with_few_links_has_every_category_unfolded(client, sign_in_as):
    sign_in_as("Staff")
    page = client.get("/admin/").get_data(as_text=True)
    assert page.count('<details class="ccd-category-group" open>') == len(STAFF_MENU)


def test_the_home_search_box_says_what_the_client_list_search_reads(client, sign_in_as):
    from admin_views.clients import SEARCH_PLACEHOLDER

    sign_in_as("Staff")
    assert f'placeholder="{SEARCH_PLACEHOLDER}"' in client.get("/admin/").get_data(as_text=True)
