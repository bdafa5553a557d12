"""The client create form asks "same person?" when the typed person resembles clients already on file."""

from datetime import date

import sqlalchemy as sa

from app.extensions import db
from app.models import Client, ClientSourceId, PendingChange
from tests import factories
from tests.conftest import csrf_token


def clients_named(last_name):
    return db.session.scalar(sa.select(sa.func.count()).select_from(Client).where(Client.last_name == last_name))


def typed(client, **extra):
    return {"first_name": "Jordan", "last_name": "Tremblay", "dob": "1990-01-02",
            "csrf_token": csrf_token(client, "/admin/clients/new/"), **extra}


def on_file(**kw):
    existing = factories.client(first_name="Jordan", last_name="Tremblay", dob=date(1990, 1, 2), **kw)
    db.session.add(existing)
    db.session.flush()
    db.session.add(ClientSourceId(client=existing, source_system="SMIS", source_client_id="S-42"))
    db.session.commit()
    return existing


def test_a_similar_client_is_shown_with_its_probability_before_anything_is_saved(client, sign_in_as):
    sign_in_as("Coordinator")
    existing = on_file()
    response = client.post("/admin/clients/new/", data=typed(client))
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and clients_named("Tremblay") == 1, "nothing saved yet"
    assert "Same person?" in text and "Jordan Tremblay" in text and "SMIS S-42" in text
    assert "%" in text.split("Same person?")[1].split("</table>")[0], "the match probability is shown"
    assert f"/admin/clients/details/?id={existing.id}" in text, "the existing record can be opened instead"
    assert "None of these is the same person" in text


def test_confirming_none_is_the_same_person_saves_the_new_client(client, sign_in_as):
    sign_in_as("Coordinator")
    existing = on_file()
    response = client.post("/admin/clients/new/", data=typed(
        client, ccd_none_is_the_same="yes", ccd_matches_shown=str(existing.id)))
    assert response.status_code == 302 and clients_named("Tremblay") == 2


def test_a_confirmation_covers_only_the_clients_that_were_shown(client, sign_in_as):
    sign_in_as("Coordinator")
    on_file()
    response = client.post("/admin/clients/new/", data=typed(client, ccd_none_is_the_same="yes",
                                                             ccd_matches_shown=""))
    assert response.status_code == 200 and clients_named("Tremblay") == 1


def test_a_person_nobody_resembles_is_saved_at_once(client, sign_in_as):
    sign_in_as("Coordinator")
    on_file()
    response = client.post("/admin/clients/new/", data=typed(client, first_name="Priya", last_name="Raman",
                                                             dob="1971-09-30"))
    assert response.status_code == 302 and clients_named("Raman") == 1


def test_a_managers_confirmed_save_still_becomes_a_proposal(client, sign_in_as):
    manager = sign_in_as("Manager")
    existing = on_file()
    factories.make_visible_to(manager)
    asked = client.post("/admin/clients/new/", data=typed(client)).get_data(as_text=True)
    assert "Same person?" in asked
    response = client.post("/admin/clients/new/", data=typed(
        client, ccd_none_is_the_same="yes", ccd_matches_shown=str(existing.id)))
    assert response.status_code == 302 and clients_named("Tremblay") == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PendingChange).where(
        PendingChange.entity == "clients", PendingChange.operation == "create")) == 1


def test_clients_out_of_a_managers_scope_are_not_shown(client, sign_in_as):
    sign_in_as("Manager")
    on_file()
    response = client.post("/admin/clients/new/", data=typed(client))
    assert response.status_code == 302, "nobody the Manager may see resembles the person: proposed at once"
    text = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Same person?" not in text and "S-42" not in text
