"""Name search: every word must match; parts of names, preferred names and aliases count; typos too on PostgreSQL."""

from datetime import date

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Client
from app.services.client_search import page_and_total, search_condition, slips_of
from tests import factories
from tests.conftest import on_postgres


@pytest.fixture
def people(db_session):
    rows = {
        "johnson": factories.client(first_name="Marie", last_name="Johnson", dob=date(1980, 1, 2)),
        "tremblay": factories.client(first_name="Luc", last_name="Tremblay", preferred_name="Lucky"),
        "alias": factories.client(first_name="Ana", last_name="Silva", alias="Ana Souza"),
        "uid": factories.client(first_name="Kim", last_name="Ng", uid_external="SMIS-00042"),
    }
    db.session.add_all(rows.values())
    db.session.commit()
    return rows


def found(text: str) -> set:
    condition = search_condition(db.session, db.session.query(Client), text)
    return set(db.session.scalars(sa.select(Client.id).where(condition)))


def test_parts_of_names_preferred_names_aliases_and_uids(people):
    assert found("johns") == {people["johnson"].id}
    assert found("LUCKY") == {people["tremblay"].id}
    assert found("souza") == {people["alias"].id}
    assert found("SMIS-00042") == {people["uid"].id}


def test_every_word_must_match(people):
    assert found("marie johnson") == {people["johnson"].id}
    assert found("marie tremblay") == set()


def test_like_wildcards_are_taken_literally(people):
    assert found("%") == set() and found("_") == set()


@pytest.mark.skipif(not on_postgres(), reason="typo tolerance uses pg_trgm")
def test_a_typo_still_finds_the_client_on_postgres(people):
    assert people["johnson"].id in found("jonhson")
    assert people["tremblay"].id in found("tremblya")
    assert found("zzzzzz") == set()


@pytest.mark.skipif(not on_postgres(), reason="typo tolerance uses pg_trgm")
def test_typos_are_tried_only_when_nothing_matches_exactly(people):
    near = factories.client(first_name="Marie", last_name="Johnston")
    db.session.add(near)
    db.session.commit()
    assert found("johnson") == {people["johnson"].id}, "a name that exists is not blurred with its neighbours"


def test_slips_are_swapped_neighbours_and_one_letter_too_many():
    assert slips_of("jonhson") >= {"jonhson", "johnson", "ojnhson", "jonhsno", "jnhson", "jonhso"}
    assert "jnohson" in slips_of("jonhson") and "johnsno" not in slips_of("jonhson")
    assert slips_of("anna") == {"anna", "nana", "anan"}, "no letter dropped from a four-letter word"


@pytest.mark.skipif(not on_postgres(), reason="typo tolerance uses pg_trgm")
def test_a_slip_finds_the_name_it_slipped_from_not_every_name_that_looks_alike(people):
    jones = factories.client(first_name="Jonathan", last_name="Jones")
    db.session.add(jones)
    db.session.commit()
    assert found("jonhson") == {people["johnson"].id}
    assert found("marie jonhson") == {people["johnson"].id}
    assert found("johnsson") == {people["johnson"].id}, "one letter too many"
    assert people["tremblay"].id in found("tremblai"), "not a slip: close words are still tried"


def test_the_list_search_box_uses_it(client, sign_in_as, people):
    sign_in_as("Coordinator")
    page = client.get("/admin/clients/?search=marie+johns").get_data(as_text=True)
    assert "Johnson" in page and "Tremblay" not in page


def test_a_page_comes_with_the_count_of_every_match(people):
    matches = db.session.query(Client).filter(search_condition(db.session, db.session.query(Client), "a"))
    in_name_order = matches.order_by(Client.last_name)
    assert page_and_total(in_name_order.limit(2)) == (3, [people["johnson"], people["alias"]])
    assert page_and_total(in_name_order.limit(2).offset(2)) == (3, [people["tremblay"]])
    assert page_and_total(in_name_order.limit(2).offset(4)) == (3, []), "past the last page, still counted"


def test_the_list_shows_how_many_a_search_found(client, sign_in_as, people):
    db.session.add_all([factories.client(first_name="Johnny", last_name="Cash"),
                        factories.client(first_name="Elton", last_name="John")])
    db.session.commit()
    sign_in_as("Coordinator")
    assert "List (3)" in client.get("/admin/clients/?search=john").get_data(as_text=True)
    assert "List (3)" in client.get("/admin/clients/?search=john&page=4").get_data(as_text=True), "past the end"
    assert "List (1)" in client.get("/admin/clients/?search=john+1980-01-02").get_data(as_text=True)
    assert "List (4)" in client.get("/admin/clients/?search=a").get_data(as_text=True), "a short word, counted apart"
