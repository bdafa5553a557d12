"""Term frequencies counted where scoring starts, for a model that has none of its own."""

from collections import Counter
from datetime import date

import pytest

from app.extensions import db
from app.services import matching
from app.services.matching import Person, frequencies
from app.services.matching.model import DEFAULT_MODEL, LinkageModel, NameFrequencies
from tests import factories


def test_counted_frequencies_lean_on_the_model_until_many_people_are_counted():
    few = frequencies.counted_frequencies(Counter({"tremblay": 3, "kowalczyk": 1, "": 6}), 0.01)
    assert few.frequency("tremblay") == pytest.approx((3 + 1000 * 0.01) / 1010)
    assert few.frequency("nobody") == pytest.approx(10 / 1010)
    many = frequencies.counted_frequencies(Counter({"tremblay": 3000, "kowalczyk": 1, "": 96_999}), 0.01)
    assert many.frequency("tremblay") == pytest.approx(0.03, rel=0.01)
    assert many.frequency("kowalczyk") < 0.0002
    assert frequencies.counted_frequencies(Counter(), 0.01) is None


def test_a_file_and_the_clients_are_counted_for_the_built_in_model_and_a_trained_model_keeps_its_own(db_session):
    for number in range(5):
        db.session.add(factories.client(first_name=f"Ana{number}", last_name="Tremblay", dob=date(1980, 1, number + 1),
                                        city="Toronto"))
    db.session.commit()
    incoming = [Person("Marie", "Tremblay", date(1990, 2, 2), city="Toronto"),
                Person("Zed", "Kowalczyk", date(1990, 2, 2), city="Kenora")]
    counted = frequencies.with_data_frequencies(db.session, DEFAULT_MODEL, incoming)
    assert set(counted.frequencies) == {"first_name", "last_name", "city", "address"}
    assert counted.frequencies["last_name"].counts == {"tremblay": 6, "kowalczyk": 1}
    assert counted.frequencies["city"].counts == {"toronto": 6, "kenora": 1}
    assert counted.frequencies["first_name"].total == 7
    own = NameFrequencies({"tremblay": 50}, 1000, 1e-4)
    trained = LinkageModel(DEFAULT_MODEL.m, DEFAULT_MODEL.u, DEFAULT_MODEL.prior,
                           {"first_name": own, "last_name": own, "city": own, "address": own})
    assert frequencies.with_data_frequencies(db.session, trained, incoming) is trained


def test_only_the_fields_a_trained_model_lacks_are_counted(db_session):
    db.session.add(factories.client(first_name="Ana", last_name="Tremblay", dob=date(1980, 1, 1), city="Hamilton"))
    db.session.commit()
    own = NameFrequencies({"tremblay": 50}, 1000, 1e-4)
    older = LinkageModel(DEFAULT_MODEL.m, DEFAULT_MODEL.u, DEFAULT_MODEL.prior, {"first_name": own, "last_name": own})
    counted = frequencies.with_data_frequencies(db.session, older)
    assert counted.frequencies["last_name"] is own and counted.frequencies["city"].counts == {"hamilton": 1}


def test_the_sample_reads_at_most_its_size_of_live_clients(db_session):
    for number in range(12):
        db.session.add(factories.client(first_name="Ana", last_name=f"L{number}", dob=date(1980, 1, 1)))
    merged = factories.client(first_name="Ana", last_name="Gone", dob=date(1980, 1, 1))
    db.session.add(merged)
    db.session.flush()
    merged.merged_into_id = factories.create("clients").id
    db.session.commit()
    assert sum(frequencies.sampled_values(db.session, ("last_name",), size=5)["last_name"].values()) == 5
    everyone = frequencies.sampled_values(db.session, ("last_name",))["last_name"]
    assert "gone" not in everyone and sum(everyone.values()) == 13


def test_addresses_are_counted_as_compared_so_a_shelters_address_is_common(db_session):
    for number in range(3):
        db.session.add(factories.client(first_name=f"Ana{number}", last_name=f"Roy{number}", dob=date(1980, 1, 1),
                                        address_line1="339 George Street" if number else "339 george st."))
    db.session.commit()
    counted = frequencies.with_data_frequencies(db.session, DEFAULT_MODEL, [Person("Bo", "Lee", None,
                                                                                   address="339 GEORGE ST")])
    assert counted.frequencies["address"].counts == {"339 george st": 4}
    trained = frequencies.value_frequencies(db.session, "address", 10)
    assert trained.counts == {"339 george st": 3}
