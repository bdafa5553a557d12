"""The client record as the person at the door reads it: who this is, what restricts them, what is waiting,
and the related rows a click away."""

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Client, ClientSourceId, PendingChange, ServiceRestriction
from app.services.clients import age_on
from app.services.clock import agency_today
from tests import factories
from tests.admin_views.forms import browser_form

BANNER = re.compile(r'<div class="alert (alert-danger|alert-warning) mb-2 ccd-restriction-banner"[^>]*>(.*?)</div>', re.S)


def _record(client, record) -> str:
    return client.get(f"/admin/clients/details/?id={record.id}").get_data(as_text=True)


def _banners(page: str) -> list[tuple[str, str]]:
    return [(kind, re.sub(r"\s+", " ", text)) for kind, text in BANNER.findall(page)]


def _visible(staff, **kw) -> Client:
    record = factories.client(**kw)
    db.session.add(record)
    factories.make_visible(staff, record)
    db.session.commit()
    return record


def test_header_names_the_person_their_pronouns_age_and_source_ids(client, sign_in_as):
    staff = sign_in_as("Staff")
    born = date(1971, 5, 5)
    record = _visible(staff, first_name="Lori", last_name="Alexander", preferred_name="Lo", pronoun="she/her",
                      dob=born, uid_external="EXT-9", source_system="SMIS")
    db.session.add(ClientSourceId(client=record, source_system="EMHware", source_client_id="E-41"))
    db.session.commit()
    page = _record(client, record)
    header = page[page.index('id="ccd-client-header"'):page.index("</section>")]
    today = agency_today()
    years = today.year - 1971 - (1 if (today.month, today.day) < (5, 5) else 0)
    assert "Alexander, Lori" in header and ">Lo<" in header and ">she/her<" in header
    assert f"Born 1971-05-05 · age {years}" in header
    assert "SMIS UID EXT-9" in header and "EMHware E-41" in header


def test_age_counts_whole_years_and_knows_nothing_without_a_birth_date():
    assert age_on(date(2000, 3, 1), date(2026, 2, 28)) == 25
    assert age_on(date(2000, 3, 1), date(2026, 3, 1)) == 26
    assert age_on(None, date(2026, 3, 1)) is None


@pytest.mark.parametrize("role", ["Staff", "Manager", "Leader", "Coordinator", "Analyst", "Administrator"])
def test_every_role_that_opens_the_record_sees_a_banner_per_restriction_in_force(client, sign_in_as, role, app):
    staff = sign_in_as(role)
    record = _visible(staff)
    today = agency_today()
    soon = app.config["CCD_RESTRICTION_ENDING_SOON_DAYS"]
    place = factories.program()
    db.session.add(place)
    factories.make_visible(staff, place)
    rows = [
        factories.restriction(client=record, reason="Threats to staff", is_indefinite=True),
        factories.restriction(client=record, scope="program", program=place, end_date=today + timedelta(days=soon)),
        factories.restriction(client=record, end_date=today + timedelta(days=soon + 30)),
        # not in force: ended, not started, archived
        factories.restriction(client=record, start_date=today - timedelta(days=40), end_date=today - timedelta(days=1)),
        factories.restriction(client=record, start_date=today + timedelta(days=3)),
        factories.restriction(client=record, is_archived=True),
    ]
    db.session.add_all(rows)
    db.session.commit()
    in_force = [r for r in rows if not r.is_archived and r.start_date <= today
                and (r.end_date is None or r.end_date >= today)]
    ending_soon = [r for r in in_force if r.end_date is not None and r.end_date <= today + timedelta(days=soon)]
    banners = _banners(_record(client, record))
    assert len(banners) == len(in_force)
    assert sum(1 for kind, _ in banners if kind == "alert-warning") == len(ending_soon)
    texts = " | ".join(text for _, text in banners)
    assert "Organisation-wide" in texts and f"One program — {place.name}" in texts
    assert "Reason: Threats to staff" in texts and "indefinitely" in texts
    assert f"until {(today + timedelta(days=soon)).isoformat()}" in texts


def test_the_ending_soon_window_is_a_setting(client, sign_in_as, app, monkeypatch):
    staff = sign_in_as("Staff")
    record = _visible(staff)
    db.session.add(factories.restriction(client=record, end_date=agency_today() + timedelta(days=20)))
    db.session.commit()
    assert [kind for kind, _ in _banners(_record(client, record))] == ["alert-danger"]
    monkeypatch.setitem(app.config, "CCD_RESTRICTION_ENDING_SOON_DAYS", 30)
    assert [kind for kind, _ in _banners(_record(client, record))] == ["alert-warning"]


def _pending(record, count: int, requester) -> None:
    for n in range(count):
        db.session.add(PendingChange(entity="clients", entity_id=record.id, operation="update",
                                     diff_json={"first_name": f"N{n}"}, requested_by=requester))
    db.session.add(PendingChange(entity="clients", entity_id=record.id, operation="update", status="withdrawn",
                                 diff_json={"first_name": "W"}, requested_by=requester))
    db.session.commit()


def _waiting(record) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(PendingChange).where(
        PendingChange.entity == "clients", PendingChange.entity_id == record.id, PendingChange.status == "pending"))


def test_record_and_edit_form_say_how_many_proposals_wait_and_a_manager_is_told_before_saving(client, sign_in_as):
    manager = sign_in_as("Manager")
    record = _visible(manager)
    _pending(record, 2, manager)
    expected = f"{_waiting(record)} proposed changes waiting for approval"
    assert expected in _record(client, record)
    form = client.get(f"/admin/clients/edit/?id={record.id}").get_data(as_text=True)
    assert expected in form
    assert 'id="ccd-goes-to-approval"' in form


def test_a_coordinator_sees_what_waits_but_is_not_told_their_save_goes_to_approval(client, sign_in_as):
    coordinator = sign_in_as("Coordinator")
    record = _visible(coordinator)
    _pending(record, 1, factories.create("staff"))
    form = client.get(f"/admin/clients/edit/?id={record.id}").get_data(as_text=True)
    assert f"{_waiting(record)} proposed change waiting for approval" in form
    assert 'id="ccd-goes-to-approval"' not in form
    assert 'id="ccd-pending-changes"' not in _record(client, _visible(coordinator))


def test_tab_rows_link_to_their_records_and_add_buttons_carry_the_client(client, sign_in_as):
    sign_in_as("Coordinator")
    enrollment = factories.create("client_program_enrollments")
    record = enrollment.client
    restriction = factories.restriction(client=record)
    db.session.add(restriction)
    db.session.commit()
    page = _record(client, record)
    assert f"/admin/client_program_enrollments/details/?id={enrollment.id}" in page
    assert f"/admin/service_restrictions/details/?id={restriction.id}" in page
    for table, caption in (("client_program_enrollments", "Add enrollment"), ("intakes", "Add intake"),
                           ("discharges", "Add discharge"), ("service_restrictions", "Add restriction")):
        assert re.search(rf'href="/admin/{table}/new/\?client_id={record.id}[^"]*">{caption}<', page), caption
    assert ">Merged into<" not in page


@pytest.mark.parametrize("table", ["client_program_enrollments", "intakes", "discharges", "service_restrictions"])
def test_an_add_link_opens_the_form_with_the_client_chosen(client, sign_in_as, table):
    staff = sign_in_as("Coordinator")
    record = _visible(staff, last_name="Prefilled")
    form = browser_form(client.get(f"/admin/{table}/new/?client_id={record.id}").get_data(as_text=True))
    assert form["client"] == str(record.id)


def test_an_add_link_never_fills_in_a_client_out_of_scope(client, sign_in_as):
    manager = sign_in_as("Manager")
    stranger = factories.create("clients")
    response = client.get(f"/admin/service_restrictions/new/?client_id={stranger.id}")
    assert response.status_code == 200 and 'name="client"' in response.get_data(as_text=True)
    assert stranger.last_name not in response.get_data(as_text=True)
    assert browser_form(client.get(f"/admin/service_restrictions/new/?client_id={_visible(manager).id}")
                        .get_data(as_text=True))["client"]
    assert client.get("/admin/service_restrictions/new/?client_id=not-an-id").status_code == 200


def test_staff_without_add_rights_get_no_add_buttons(client, sign_in_as):
    from app.permissions import Action, may

    staff = sign_in_as("Staff")
    record = _visible(staff)
    page = _record(client, record)
    for table, caption in (("client_program_enrollments", "Add enrollment"), ("service_restrictions", "Add restriction")):
        assert (caption in page) == may({"Staff"}, table, Action.CREATE)


# -- the edit form in sections, extended fields editable ----------------------------------------------
def _legends(page: str) -> list[str]:
    return re.findall(r"<h3[^>]*>\s*([^<]+?)\s*</h3>", page)


def test_edit_form_comes_in_sections_with_every_field_once(client, sign_in_as):
    from app.labels import CLIENT_SECTIONS, label

    staff = sign_in_as("Coordinator")
    record = _visible(staff)
    page = client.get(f"/admin/clients/edit/?id={record.id}").get_data(as_text=True)
    headers = [header for header, _ in CLIENT_SECTIONS] + [label("extended")]
    assert _legends(page) == headers
    for _, fields in CLIENT_SECTIONS:
        for name in fields:
            assert len(re.findall(rf'name="{name}"', page)) >= 1 or name == "source_ids", name
    assert page.index('name="first_name"') < page.index('name="gender"') < page.index('name="phone"') \
        < page.index('name="health_card_number"') < page.index('name="emergency_contact_name"') \
        < page.index('name="uid_external"')


def test_extended_fields_are_edited_on_the_form_and_kept_beside_unknown_keys(client, sign_in_as):
    staff = sign_in_as("Coordinator")
    record = _visible(staff, extended={"household_size": 3, "pet_owner": True, "legacy_code": "Q7"})
    edit_url = f"/admin/clients/edit/?id={record.id}"
    data = browser_form(client.get(edit_url).get_data(as_text=True))
    assert (data["extended__household_size"], data["extended__pet_owner"]) == ("3", "yes")
    for name, value in {"extended__household_size": "5", "extended__pet_owner": "no",
                        "extended__allergies": " Peanuts ", "extended__military_status": ""}.items():
        data[name] = value
    assert client.post(edit_url, data=data).status_code == 302
    db.session.expire_all()
    assert db.session.get(Client, record.id).extended == {"household_size": 5, "pet_owner": False,
                                                          "allergies": "Peanuts", "legacy_code": "Q7"}


@pytest.mark.parametrize("field,value,message", [
    ("extended__household_size", "-2", "between"), ("extended__household_size", "many", "integer"),
    ("extended__allergies", "x" * 501, "characters"), ("extended__pet_owner", "perhaps", "Not a valid choice"),
])
def test_a_bad_extended_value_is_a_field_error_and_nothing_is_saved(client, sign_in_as, field, value, message):
    staff = sign_in_as("Coordinator")
    record = _visible(staff, extended={"household_size": 3})
    edit_url = f"/admin/clients/edit/?id={record.id}"
    data = browser_form(client.get(edit_url).get_data(as_text=True))
    data[field] = value
    page = client.post(edit_url, data=data).get_data(as_text=True)
    assert message in page
    db.session.expire_all()
    assert db.session.get(Client, record.id).extended == {"household_size": 3}


def test_a_managers_extended_edit_becomes_a_proposal(client, sign_in_as):
    manager = sign_in_as("Manager")
    record = _visible(manager, extended={"household_size": 3})
    edit_url = f"/admin/clients/edit/?id={record.id}"
    data = browser_form(client.get(edit_url).get_data(as_text=True))
    data["extended__household_size"] = "4"
    client.post(edit_url, data=data)
    db.session.expire_all()
    assert db.session.get(Client, record.id).extended == {"household_size": 3}
    (change,) = db.session.scalars(sa.select(PendingChange).where(PendingChange.entity_id == record.id)).all()
    assert change.diff_json == {"extended": {"household_size": 4}}
