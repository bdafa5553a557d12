"""Client search: names in any order and accent, birth dates, phones, emails, postal codes, ids, typos;
the same answers on PostgreSQL and SQLite (this file runs on both), within the person's scope."""

from datetime import date

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Client, ClientSearchKey, ClientSourceId
from app.search_keys import one_edit_away
from app.services.client_search import (
    find_clients, identifying_condition, is_narrow, page_and_total, search_condition,
)
from app.services.scope import restrict
from tests import factories
from tests.conftest import make_staff


@pytest.fixture
def people(db_session):
    rows = {
        "emile": factories.client(first_name="Émile", last_name="Rousseau", dob=date(1971, 5, 5),
                                  phone="(613) 555-0199", email="Emile.R@Example.ca", postal_code="K1A 0B1"),
        "lori": factories.client(first_name="Lori", last_name="Alexander", dob=date(1980, 1, 2),
                                 phone_alt="+1 416 555 0123"),
        "tremblay": factories.client(first_name="Luc", last_name="Tremblay", preferred_name="Lucky",
                                     dob=date(1990, 12, 31)),
        "alias": factories.client(first_name="Ana", last_name="Silva", alias="Ana Souza", dob=date(1985, 7, 4)),
        "uid": factories.client(first_name="Kim", last_name="Ng", uid_external="SMIS-00042", dob=date(2000, 2, 29)),
        "johnson": factories.client(first_name="Marie", last_name="Johnson", dob=date(1979, 3, 8)),
        "jones": factories.client(first_name="Jonathan", last_name="Jones", dob=date(1979, 3, 8)),
    }
    db.session.add_all(rows.values())
    db.session.flush()
    db.session.add(ClientSourceId(client=rows["lori"], source_system="EMHware", source_client_id="EMH-7781"))
    db.session.commit()
    return rows


def found(text: str, base=None, staff=None) -> set:
    base = base if base is not None else db.session.query(Client)
    condition = search_condition(db.session, base, text, staff)
    return {client_id for client_id, in base.filter(condition).with_entities(Client.id)}


# One query set, one expected answer, whatever the database: PostgreSQL and SQLite must agree.
QUERIES = {
    "Emile": {"emile"}, "émile": {"emile"}, "EMILE ROUSSEAU": {"emile"}, "emile rousseau": {"emile"},
    "rousseau émile": {"emile"}, "Rouseau": {"emile"}, "Rousseua": {"emile"}, "emile rouseau": {"emile"},
    "Lori Alexander": {"lori"}, "Alexander Lori": {"lori"}, "Alexander, Lori": {"lori"},
    "Alexander, Lori, born 1980-01-02": {"lori"}, "alex": {"lori"}, "Lucky": {"tremblay"}, "souza": {"alias"},
    "1971-05-05": {"emile"}, "05/05/1971": {"emile"}, "5 May 1971": {"emile"}, "May 5, 1971": {"emile"},
    "19710505": {"emile"}, "1971/05/05": {"emile"}, "31/12/1990": {"tremblay"}, "12/31/1990": {"tremblay"},
    "08/03/1979": {"johnson", "jones"}, "marie 08/03/1979": {"johnson"},
    "613-555-0199": {"emile"}, "(613) 555 0199": {"emile"}, "6135550199": {"emile"}, "555-0199": {"emile"},
    "+1 416 555 0123": {"lori"}, "4165550123": {"lori"},
    "emile.r@example.ca": {"emile"}, "EMILE.R@": {"emile"}, "K1A 0B1": {"emile"}, "k1a0b1": {"emile"},
    "SMIS-00042": {"uid"}, "smis00042": {"uid"}, "EMH-7781": {"lori"}, "emh7781": {"lori"},
    "jonhson": {"johnson"}, "johnsson": {"johnson"}, "tremblai": {"tremblay"}, "johns": {"johnson"},
    "marie tremblay": set(), "zzzzzz": set(), "%": set(), "_": set(), "rousseau 1980-01-02": set(),
    "nul\x00l": set(),
}


@pytest.mark.parametrize("text", list(QUERIES))
def test_one_query_set_finds_the_same_people_on_every_database(people, text):
    assert found(text) == {people[name].id for name in QUERIES[text]}


def test_a_typo_is_read_only_when_nothing_matches_as_typed(people):
    db.session.add(factories.client(first_name="Paul", last_name="Johnston"))
    db.session.commit()
    assert found("johnson") == {people["johnson"].id}, "a name that exists is not blurred with its neighbours"
    assert found("jonhston") != set()


def test_typos_are_one_keystroke_and_short_words_are_not_guessed(people):
    assert {"johnson", "jnhson", "jonhsn", "jonhsonn", "jonnson"} <= one_edit_away("jonhson")
    assert "jonhson" not in one_edit_away("jonhson")
    assert found("nq") == set(), "two letters: no typo read"


def test_keys_follow_every_change_to_the_client_and_its_source_ids(people):
    lori = people["lori"]
    lori.last_name, lori.phone_alt = "Côté-Lévesque", None
    db.session.commit()
    assert found("levesque") == found("cote lori") == {lori.id}
    assert found("alexander") == set() and found("4165550123") == set()
    source = db.session.scalars(sa.select(ClientSourceId).where(ClientSourceId.client_id == lori.id)).one()
    source.source_client_id = "EMH-9999"
    db.session.commit()
    assert found("EMH-9999") == {lori.id} and found("EMH-7781") == set()
    db.session.delete(source)
    db.session.commit()
    assert found("EMH-9999") == set()
    db.session.delete(lori)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ClientSearchKey)
                             .where(ClientSearchKey.client_id == lori.id)) == 0


def test_search_stays_within_the_persons_scope(people):
    staff = make_staff("Staff")
    factories.enroll_visible(staff, people["johnson"])
    db.session.commit()
    mine = restrict(db.session.query(Client), Client, staff)
    assert found("johnson", mine) == {people["johnson"].id}
    assert found("jones", mine) == set() and found("rousseau", mine) == set()
    assert found("rouseau", mine) == set(), "a typo does not reach outside the scope either"
    assert found("1979-03-08", mine) == {people["johnson"].id}
    assert find_clients(db.session, mine, "Johnson, Marie", staff=staff) == [people["johnson"]]
    assert find_clients(db.session, mine, "Jones", staff=staff) == []
    for text in ("johnson", "jones", "rouseau", "jonhson", "1979-03-08", "jo"):
        assert found(text, mine, staff) == found(text, mine), "narrowed in the key index, the same people"


def test_pickers_page_through_matches_in_name_order(people):
    everyone = db.session.query(Client)
    assert find_clients(db.session, everyone, "jo") == [people["johnson"], people["jones"]]
    assert find_clients(db.session, everyone, "jo", offset=1, limit=1) == [people["jones"]]
    assert find_clients(db.session, everyone, "  ", limit=2) == [people["lori"], people["johnson"]], "as it opens"


def test_a_question_at_the_door_must_name_one_person(people):
    everyone = db.session.query(Client)
    for vague in ("rousseau", "1971-05-05", "e", "k1a"):
        with pytest.raises(ValueError):
            identifying_condition(db.session, everyone, vague)
    for named in ("rousseau 1971-05-05", "613 555 0199", "emile.r@example.ca", "SMIS-00042", "emile K1A 0B1"):
        condition = identifying_condition(db.session, everyone, named)
        assert everyone.filter(condition).count() == 1, named


def test_short_name_parts_are_not_narrow(people):
    assert is_narrow("johns") and is_narrow("1971-05-05") and is_narrow("613-555-0199")
    assert not is_narrow("jo") and not is_narrow("johns li")


def test_the_list_search_box_uses_it(client, sign_in_as, people):
    sign_in_as("Coordinator")
    page = client.get("/admin/clients/?search=Alexander,+Lori").get_data(as_text=True)
    assert "Alexander" in page and "Rousseau" not in page
    page = client.get("/admin/clients/?search=5+May+1971").get_data(as_text=True)
    assert "Rousseau" in page and "Alexander" not in page


def test_a_page_comes_with_the_count_of_every_match(people):
    matches = db.session.query(Client).filter(search_condition(db.session, db.session.query(Client), "jo"))
    in_name_order = matches.order_by(Client.last_name)
    assert page_and_total(in_name_order.limit(1)) == (2, [people["johnson"]])
    assert page_and_total(in_name_order.limit(1).offset(1)) == (2, [people["jones"]])
    assert page_and_total(in_name_order.limit(1).offset(4)) == (2, []), "past the last page, still counted"


def test_the_list_shows_how_many_a_search_found(client, sign_in_as, people):
    db.session.add_all([factories.client(first_name="Johnny", last_name="Cash", dob=date(1979, 3, 8)),
                        factories.client(first_name="Elton", last_name="John")])
    db.session.commit()
    sign_in_as("Coordinator")
    assert "List (3)" in client.get("/admin/clients/?search=john").get_data(as_text=True)
    assert "List (3)" in client.get("/admin/clients/?search=john&page=4").get_data(as_text=True), "past the end"
    assert "List (2)" in client.get("/admin/clients/?search=john+1979-03-08").get_data(as_text=True)
    assert "List (4)" in client.get("/admin/clients/?search=jo").get_data(as_text=True), "a short word, counted apart"


def test_clients_an_import_writes_or_changes_are_found(db_session, tmp_path):
    from app.services.ingest import import_file

    program = factories.create("programs")
    header = ("ID,Last Name,First Name,Program,DOB,Age,Gender,City,Sub-program,Worker,Level of Support,"
              "Admission Date,Days Elapsed,Location/County,Referral Source")

    def imported(name: str, *rows: str):
        path = tmp_path / name
        path.write_text("\r\n".join([header, *rows]) + "\r\n", encoding="utf-8")
        summary = import_file(path, "EMHware")
        assert summary.status == "success", summary

    imported("first.csv", f'CLI-771,Côté,Hélène,"{program.name}",1980-02-03,40,,Toronto,,,,2024-01-15,10,,')
    helene = db.session.scalars(sa.select(Client.id).where(Client.last_name == "Côté")).one()
    assert found("helene cote") == found("CLI-771") == found("3/2/1980 cote") == {helene}
    undated = factories.client(first_name="Ada", last_name="Okafor", dob=None)
    undated.source_ids = [ClientSourceId(source_system="EMHware", source_client_id="CLI-773")]
    db.session.add(undated)
    db.session.commit()
    imported("second.csv", f'CLI-773,Okafor,Ada,"{program.name}",1966-09-30,40,,Toronto,,,,2024-03-15,10,,')
    assert found("okafor 30/09/1966") == {undated.id}, "the birth date the import filled in"
    imported("third.csv", f'CLI-771,Côté,Hélène,"{program.name}",1980-02-03,40,,Ottawa,,,,2024-05-15,10,,')
    assert db.session.get(Client, helene).city == "Ottawa"
    assert found("helene cote") == found("CLI-771") == {helene}, "a change no key holds leaves the keys as they were"


def test_every_client_of_a_large_import_batch_is_found(db_session, tmp_path):
    """A batch's keys go in by COPY on PostgreSQL once there are enough of them (app/bulk.py)."""
    from app.services.ingest import import_file

    program = factories.create("programs")
    surnames = ["Abara", "Bergstrom", "Castillo", "Dubois", "Eriksen", "Fontaine", "Gallo", "Haddad"]
    first_names = [a + b for a in ("Ka", "Lo", "Mi", "Nu", "Ro") for b in ("ren", "dan", "vik", "sol", "mar", "tin",
                                                                        "bel", "zor")]
    rows = [f"BK-{n},{surnames[n % 8]},{first_names[n]},\"{program.name}\",19{50 + n}-01-0{1 + n % 9},2024-01-15"
            for n in range(40)]
    path = tmp_path / "large.csv"
    path.write_text("\n".join(["ID,Last Name,First Name,Program,DOB,Admission Date", *rows]) + "\n")
    assert import_file(path, "EMHware").inserted == 40
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ClientSearchKey)) >= 100
    for n in (0, 17, 39):
        (client_id,) = found(f"{first_names[n]} {surnames[n % 8]}")
        assert found(f"BK-{n}") == {client_id}
