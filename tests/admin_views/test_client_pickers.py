"""The type-ahead client pickers: the client search itself, within the person's scope."""

import json
from datetime import date

import pytest

from tests import factories

PICKERS = ("client_program_enrollments", "intakes", "discharges", "service_restrictions", "client_source_ids")


def _offered(client, table: str, query: str) -> list[str]:
    response = client.get(f"/admin/{table}/ajax/lookup/", query_string={"name": "client", "query": query})
    assert response.status_code == 200
    return [text for _, text in json.loads(response.get_data(as_text=True))]


@pytest.mark.parametrize("table", PICKERS)
def test_every_client_picker_finds_a_client_as_it_shows_them(client, sign_in_as, db_session, table):
    sign_in_as("Coordinator")
    db_session.add_all([factories.client(first_name="Lori", last_name="Alexander", dob=date(1971, 5, 5)),
                        factories.client(first_name="Émile", last_name="Rousseau", dob=date(1971, 5, 5),
                                         phone="613-555-0199")])
    db_session.commit()
    lori = "Alexander, Lori, born 1971-05-05"
    for query in ("Lori Alexander", "Alexander Lori", "Alexander, Lori", lori):
        assert _offered(client, table, query) == [lori], query
    assert _offered(client, table, "emile") == ["Rousseau, Émile, born 1971-05-05"]
    assert _offered(client, table, "Rouseau") == ["Rousseau, Émile, born 1971-05-05"]
    assert _offered(client, table, "(613) 555 0199") == ["Rousseau, Émile, born 1971-05-05"]
    assert _offered(client, table, "05/05/1971") == [lori, "Rousseau, Émile, born 1971-05-05"]


def test_a_picker_never_offers_a_client_out_of_scope_or_merged_away(client, sign_in_as, db_session):
    staff = sign_in_as("Staff")
    mine = factories.client(first_name="Lori", last_name="Alexander", dob=date(1971, 5, 5))
    other = factories.client(first_name="Lori", last_name="Alexandre", dob=date(1971, 5, 5))
    merged = factories.client(first_name="Lori", last_name="Alexanders", dob=date(1971, 5, 5))
    db_session.add_all([mine, other, merged])
    db_session.flush()
    merged.merged_into_id, merged.is_archived = mine.id, True
    factories.enroll_visible(staff, mine)
    factories.enroll_visible(staff, merged)
    db_session.commit()
    assert _offered(client, "intakes", "lori alexand") == ["Alexander, Lori, born 1971-05-05"]
    assert _offered(client, "intakes", "Alexandre") == ["Alexander, Lori, born 1971-05-05"], \
        "the Alexandre out of scope stays hidden; the typo reading finds the one in scope"
