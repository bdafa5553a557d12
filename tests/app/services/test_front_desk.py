"""The front desk asks the import's question before a client is created by hand."""

from datetime import date

import pytest

from app.extensions import db
from app.services.front_desk import likely_matches
from tests import factories


@pytest.mark.parametrize("address,shown", [("41 Wellesley St E", True), (None, False)])
def test_the_address_typed_at_the_front_desk_counts_as_an_import_row_s_does(db_session, address, shown):
    """The first name misspelt and the birth date entered wrong: the same street address brings the existing
    client up as a likely match; without it the names and date alone do not."""
    existing = factories.client(first_name="Agnieszka", last_name="Kowalczyk", dob=date(1948, 9, 13), gender="Woman",
                                city="Toronto", address_line1="41 Wellesley Street East")
    db.session.add(existing)
    db.session.commit()
    found = likely_matches("Agneszka", "Kowalczyk", date(1958, 3, 11), gender="Woman", city="Toronto",
                           address=address)
    assert [match.client.client_id for match in found] == ([existing.id] if shown else [])
