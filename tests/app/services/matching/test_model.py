"""The linkage model: match weights in bits, probabilities, name frequencies, evidence in words."""

import math
import random
from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from app.services import matching
from app.services.matching import Person, Thresholds, comparisons as c, decide, score
from app.services.matching.model import (
    DEFAULT_MODEL, LinkageModel, NameFrequencies, Settings, household_weight_ceiling, parse_placeholder_dobs, settings,
)
from app.services.matching.names import normalize_name
from tests.app.services.matching.references import mixed_people, reference_levels

ACCEPT = Thresholds().accept


def _decision(incoming, existing):
    import uuid

    candidate = matching.Candidate(uuid.uuid4(), existing, score(incoming, existing))
    return decide([candidate], Thresholds()).outcome


@pytest.mark.parametrize("incoming,existing", [
    (Person("Marie", "Tremblay", date(1980, 3, 4)), Person("Marie", "Tremblay", date(1980, 3, 4))),
    (Person("MARIE", "TREMBLAY-ROY", date(1980, 3, 4)), Person("Marie", "Tremblay Roy", date(1980, 3, 4))),
    (Person("Tremblay", "Marie", date(1980, 3, 4)), Person("Marie", "Tremblay", date(1980, 3, 4))),
    (Person("Bob", "Smith", date(1970, 5, 6)), Person("Robert", "Smith", date(1970, 5, 6))),
    (Person("Bobby", "Smith", date(1970, 5, 6)), Person("Robert", "Smith", date(1970, 5, 6), preferred_name="Bobby")),
    (Person("Jane", "Doe", date(1970, 5, 6)), Person("Janet", "Smith", date(1970, 5, 6), alias="Jane Doe")),
    (Person("Emilie", "Cote", date(1988, 7, 21)), Person("Émilie", "Côté", date(1988, 7, 21))),
    (Person("Louise", "Asselin", date(1990, 5, 6), gender="Woman"),
     Person("Louise", "Asselin", date(1990, 5, 6), gender="F")),
])
def test_the_same_person_written_differently_is_accepted(incoming, existing):
    assert score(incoming, existing).value >= ACCEPT


@pytest.mark.parametrize("incoming,existing", [
    (Person("John", "Okafor", date(1992, 3, 3)), Person("Jane", "Okafor", date(1992, 3, 3))),  # twins
    (Person("Marie", "Tremblay", date(1980, 1, 1)), Person("Marie", "Tremblay", date(1955, 9, 30))),
    (Person("Marie", "Tremblay", None), Person("Marie", "Tremblay", date(1980, 1, 1))),
    (Person("Peter", "Frank", date(1980, 3, 4)), Person("Frank", "Peters", date(1980, 3, 4))),
])
def test_different_people_or_missing_evidence_are_never_accepted(incoming, existing):
    assert score(incoming, existing).value < ACCEPT


@pytest.mark.parametrize("first,other_first", [("Olivia", "Olivier"), ("Erica", "Eric"), ("Roberta", "Robert"),
                                               ("Françoise", "François"), ("Louise", "Louis"), ("Julie", "Julien")])
def test_twins_with_gendered_names_and_different_genders_are_two_people(first, other_first):
    her = Person(first, "Asselin", date(1990, 5, 6), gender="Woman")
    him = Person(other_first, "Asselin", date(1990, 5, 6), gender="Man")
    assert _decision(her, him) == matching.NEW
    found = score(her, him)
    assert found.evidence[0].text == (f"gendered variant of the first name ({first} / {other_first}) "
                                      "with a different gender: twins, not one person")
    assert found.evidence[0].weight < 0 and found.match_type == "last_name_dob"
    # the same names with a gender missing are no evidence either way: a person decides
    assert _decision(her, Person(other_first, "Asselin", date(1990, 5, 6))) == matching.REVIEW


def test_namesakes_with_common_names_and_different_birth_dates_are_new_clients():
    common = NameFrequencies({"mohamed": 400, "marie": 300}, 20_000, 1e-5)
    model = LinkageModel(DEFAULT_MODEL.m, DEFAULT_MODEL.u, DEFAULT_MODEL.prior,
                         {"first_name": common, "last_name": NameFrequencies({"ali": 300, "tremblay": 250}, 20_000,
                                                                             1e-5)})
    for first, last in (("Mohamed", "Ali"), ("Marie", "Tremblay")):
        found = score(Person(first, last, date(1980, 3, 4)), Person(first, last, date(1971, 11, 22)), model=model)
        assert found.value < Thresholds().review and found.match_type == "exact_name_different_dob"
    # and without frequencies (a fresh install) the birth date alone says no
    assert _decision(Person("Marie", "Tremblay", date(1980, 3, 4)), Person("Marie", "Tremblay", date(1971, 11, 22))) \
        == matching.NEW


def test_a_common_exact_name_weighs_less_than_a_rare_one():
    frequencies = NameFrequencies({"ali": 500}, 10_000, 1e-5)
    model = LinkageModel(DEFAULT_MODEL.m, DEFAULT_MODEL.u, DEFAULT_MODEL.prior, {"last_name": frequencies})
    common = score(Person("Sam", "Ali", date(1980, 3, 4)), Person("Sam", "Ali", date(1980, 3, 4)), model=model)
    rare = score(Person("Sam", "Zwolinski", date(1980, 3, 4)), Person("Sam", "Zwolinski", date(1980, 3, 4)),
                 model=model)
    last = {s: next(e for e in s.evidence if e.field == "last_name") for s in (common, rare)}
    assert last[common].weight == pytest.approx(math.log2(DEFAULT_MODEL.m["last_name"][0] / 0.05))
    assert last[rare].weight == pytest.approx(math.log2(DEFAULT_MODEL.m["last_name"][0] / 1e-5))
    assert common.match_weight < rare.match_weight
    assert last[common].text == "same last name (common: 500 clients)" and last[rare].text == "same last name (rare)"


def test_a_placeholder_birth_date_is_no_evidence():
    placeholder = score(Person("Marie", "Tremblay", date(1900, 1, 1)), Person("Marie", "Tremblay", date(1900, 1, 1)))
    missing = score(Person("Marie", "Tremblay", None), Person("Marie", "Tremblay", date(1980, 1, 1)))
    dob = next(e for e in placeholder.evidence if e.field == "dob")
    assert dob.weight == 0 and dob.text == "placeholder birth date (1900-01-01): no evidence"
    assert placeholder.match_weight == missing.match_weight
    assert placeholder.match_type == "name_only"


def test_placeholder_dates_are_configurable(app, monkeypatch):
    monkeypatch.setitem(app.config, "MATCH_PLACEHOLDER_DOBS", ["1901-01-01"])
    with app.app_context():
        found = score(Person("Marie", "Tremblay", date(1901, 1, 1)), Person("Marie", "Tremblay", date(1901, 1, 1)))
    assert next(e for e in found.evidence if e.field == "dob").weight == 0
    with pytest.raises(ValueError, match="MATCH_PLACEHOLDER_DOBS"):
        parse_placeholder_dobs("1900-13-01")


def test_a_first_of_january_agreeing_is_weaker_than_another_day():
    january = score(Person("Marie", "Tremblay", date(1980, 1, 1)), Person("Marie", "Tremblay", date(1980, 1, 1)))
    other = score(Person("Marie", "Tremblay", date(1980, 3, 4)), Person("Marie", "Tremblay", date(1980, 3, 4)))
    assert 0 < january.evidence[2].weight < other.evidence[2].weight


def test_a_different_id_from_the_same_source_weighs_against_by_the_configured_bits(app, monkeypatch):
    """(An import never merges such a pair automatically whatever its probability: ingest/decide.py holds it.)"""
    marie = Person("Marie", "Tremblay", date(1980, 3, 4), gender="Woman", source_ids=frozenset({"E-2"}))
    client = Person("Marie", "Tremblay", date(1980, 3, 4), gender="Woman", source_ids=frozenset({"E-1"}))
    without_ids = score(marie, Person("Marie", "Tremblay", date(1980, 3, 4), gender="Woman"))
    found = score(marie, client, source="EMHware")
    assert found.evidence[4].text == "different EMHware ID (E-2 / E-1)" and found.evidence[4].weight == -4
    assert found.match_weight == pytest.approx(without_ids.match_weight - 4)
    monkeypatch.setitem(app.config, "MATCH_SAME_SOURCE_DIFFERENT_ID_WEIGHT", -2.0)
    with app.app_context():
        assert score(marie, client).evidence[4].weight == -2
        monkeypatch.setitem(app.config, "MATCH_SAME_SOURCE_DIFFERENT_ID_WEIGHT", 3.0)
        with pytest.raises(ValueError, match="MATCH_SAME_SOURCE_DIFFERENT_ID_WEIGHT"):
            settings()


def test_the_probability_is_the_weight_as_odds():
    found = score(Person("Marie", "Tremblay", date(1980, 3, 4)), Person("Marie", "Tremblay", date(1980, 3, 5)))
    assert found.value == pytest.approx(2 ** found.match_weight / (1 + 2 ** found.match_weight))
    assert found.match_weight == pytest.approx(DEFAULT_MODEL.prior_weight + sum(e.weight for e in found.evidence))


def test_details_are_what_the_review_page_and_training_read():
    found = score(Person("Marie", "Tremblay", date(1980, 3, 4), gender="Woman"),
                  Person("Marie", "Tremblay", date(1980, 3, 5), gender="Man"))
    details = found.details()
    assert details["match_type"] == "exact_name_near_dob" and 0 <= details["probability"] <= 1
    assert [e["text"] for e in details["evidence"]] == [
        "same first name", "same last name", "birth date one digit apart (1980-03-04 / 1980-03-05)",
        "different gender", "no source IDs to compare: no evidence", "city not known for both: no evidence"]
    assert all(e["weight"] == round(e["weight"], 1) for e in details["evidence"])
    assert details["levels"] == {"first_name": "exact", "last_name": "exact", "dob": "one_digit",
                                 "gender": "different", "source_id": "absent", "name_order": "straight",
                                 "city": "unknown", "address": "unknown"}
    assert "dob" not in details and "name" not in details  # never overwrites the candidate's own values


def test_match_types_say_what_agreed():
    def kind(a, b):
        return score(a, b).match_type

    assert kind(Person("Marie", "Tremblay", date(1980, 3, 4)), Person("Marie", "Tremblay", date(1943, 3, 4))) \
        == "exact_name_different_dob"
    assert kind(Person("Marie", "Tremblai", date(1980, 3, 4)), Person("Marie", "Tremblay", date(1980, 4, 3))) \
        == "name_near_dob"
    assert kind(Person("Peter", "Frank", date(1980, 3, 4)), Person("Frank", "Peters", date(1980, 3, 4))) \
        == "swapped_names"
    assert kind(Person("John", "Okafor", date(1992, 3, 3)), Person("Jane", "Okafor", date(1992, 3, 3))) \
        == "last_name_dob"
    assert all(code in matching.MATCH_TYPE_WORDS for code in (
        "exact_name_different_dob", "name_near_dob", "swapped_names", "last_name_dob", "name_only"))


def _reference_weight(incoming: Person, candidate: Person, model: LinkageModel, config: Settings) -> float:
    """The match weight written plainly, one pair at a time: score_pairs must agree with it."""
    levels = reference_levels(incoming, candidate, config.placeholder_dobs)
    weights = {name: model.weights(name) for name in matching.LEVELS}

    def name_weight(field, level, value, exact):
        frequencies = model.frequencies.get(field)
        if level == exact and frequencies is not None:
            return math.log2(model.m[field][exact] / frequencies.frequency(value))
        return weights[field][level]

    first, last = normalize_name(incoming.first_name), normalize_name(incoming.last_name)
    straight = name_weight("first_name", levels["first_name"], first, c.F_EXACT) \
        + name_weight("last_name", levels["last_name"], last, c.L_EXACT)
    names = straight
    if levels["first_name"] >= c.F_GENDERED or levels["last_name"] >= c.L_SIMILAR:
        order = c.O_SWAPPED if levels["swapped_first"] <= c.F_NICKNAME and levels["swapped_last"] == c.L_EXACT \
            else c.O_SWAPPED_PARTIAL
        swapped = name_weight("first_name", levels["swapped_first"], last, c.F_EXACT) \
            + name_weight("last_name", levels["swapped_last"], first, c.L_EXACT) + weights["name_order"][order]
        names = max(straight, swapped)
    source = config.different_id_weight if levels["source_id"] == c.S_DIFFERENT \
        else weights["source_id"][levels["source_id"]]
    city = weights["city"][levels["city"]]
    if levels["city"] == c.C_SAME and model.frequencies.get("city") is not None:
        city = math.log2(model.m["city"][c.C_SAME] / model.frequencies["city"].frequency(normalize_name(incoming.city)))
    if levels["city"] in (c.C_SAME, c.C_CLOSE):
        city = min(max(city, 0.0), config.city_max_weight)
    address = weights["address"][levels["address"]]
    if levels["address"] == c.A_SAME and model.frequencies.get("address") is not None:
        address = math.log2(model.m["address"][c.A_SAME]
                            / model.frequencies["address"].frequency(c.normalize_address(incoming.address)))
    if levels["address"] in (c.A_SAME, c.A_CLOSE):
        address = min(max(address, 0.0), config.address_max_weight)
    others = model.prior_weight + names + weights["dob"][levels["dob"]] + weights["gender"][levels["gender"]] \
        + source + city
    line = math.log2(config.accept / (1 - config.accept))
    if address > 0 and others < line <= others + address:  # an address never lifts a pair over the line
        address = max(line - 0.01 - others, 0.0)
    return others + address


def test_scoring_a_batch_gives_each_pair_exactly_its_own_weight():
    rng = random.Random(11)
    incoming, candidates = mixed_people(rng, 40), mixed_people(rng, 60)
    left = [rng.randrange(40) for _ in range(1500)]
    right = [rng.randrange(60) for _ in range(1500)]
    model = LinkageModel(DEFAULT_MODEL.m, DEFAULT_MODEL.u, DEFAULT_MODEL.prior,
                         {"first_name": NameFrequencies({"marie": 40, "bob": 3}, 1000, 1e-4),
                          "last_name": NameFrequencies({"tremblay": 50}, 1000, 2e-4),
                          "city": NameFrequencies({"toronto": 900, "north york": 3}, 1000, 1e-3),
                          "address": NameFrequencies({"339 george st": 200, "12 elm st": 2}, 1000, 1e-4)})
    config = Settings(frozenset({date(1900, 1, 1)}), -7.0, 3.0, 5.0)
    batch = matching.score_pairs(incoming, candidates, left, right, model=model, config=config)
    for k, (i, j) in enumerate(zip(left, right)):
        assert batch.weight[k] == pytest.approx(_reference_weight(incoming[i], candidates[j], model, config),
                                                abs=1e-9), (incoming[i], candidates[j])
        assert batch.at(k) == matching.score(incoming[i], candidates[j], model=model, config=config)
    assert np.all((batch.value >= 0) & (batch.value <= 1))


@pytest.mark.parametrize("cap", [0.0, 3.0])
def test_a_city_and_address_never_add_more_than_the_ceiling_a_lookup_drops_candidates_by(cap):
    """Blocking scores its rows without their cities and addresses and drops those that the most these can
    weigh would not lift to the threshold; no pair's may weigh more, or a likely candidate would be lost."""
    rng = random.Random(5)
    incoming, candidates = mixed_people(rng, 40), mixed_people(rng, 60)
    left = np.array([rng.randrange(40) for _ in range(3000)])
    right = np.array([rng.randrange(60) for _ in range(3000)])
    model = LinkageModel(DEFAULT_MODEL.m, DEFAULT_MODEL.u, DEFAULT_MODEL.prior,
                         {"city": NameFrequencies({"toronto": 900, "hamilton": 2}, 1000, 1e-3),
                          "address": NameFrequencies({"339 george st": 300, "12 elm st": 2}, 1000, 1e-4)})
    config = Settings(frozenset({date(1900, 1, 1)}), -7.0, cap, cap + 2.0)
    full = matching.score_pairs(incoming, candidates, left, right, model=model, config=config).weight
    people, others = matching.People.of(incoming), matching.People.of(candidates)
    without = matching.score_pairs(replace(people, city=None, address=None), replace(others, city=None, address=None),
                                   left, right, model=model, config=config).weight
    ceiling = household_weight_ceiling(model, config)
    assert np.all(without + ceiling >= full - 1e-9)
    assert np.any(np.isclose(without + ceiling, full)), "the premise: some city and address weigh the whole ceiling"


def test_a_model_needs_one_probability_per_level():
    with pytest.raises(ValueError, match="one probability per level"):
        LinkageModel({**DEFAULT_MODEL.m, "gender": (0.5, 0.5)}, DEFAULT_MODEL.u, DEFAULT_MODEL.prior)
    assert LinkageModel.from_json(DEFAULT_MODEL.to_json()) == DEFAULT_MODEL


def _city_model(counts: dict[str, int]) -> LinkageModel:
    return LinkageModel(DEFAULT_MODEL.m, DEFAULT_MODEL.u, DEFAULT_MODEL.prior,
                        {"city": NameFrequencies(counts, 1000, 1e-3)})


def _city_weight(found) -> float:
    return next(e.weight for e in found.evidence if e.field == "city")


def test_a_shared_city_counts_by_how_many_clients_share_it_never_against_and_at_most_the_cap():
    model = _city_model({"toronto": 900, "kenora": 1})
    config = Settings(city_max_weight=4.0)
    marie = Person("Marie", "Tremblay", date(1980, 3, 4))

    def in_city(a, b):
        return score(Person("Marie", "Tremblay", date(1980, 3, 4), city=a),
                     Person("Marie", "Tremblay", date(1980, 3, 4), city=b), model=model, config=config)

    assert _city_weight(in_city("Toronto", "TORONTO")) == 0.0  # nine clients in ten live there
    capped = in_city("Kenora", "kenora")
    assert _city_weight(capped) == 4.0 and "counted at most this much" in capped.evidence[-1].text
    assert _city_weight(in_city("Kenora", "Hamilton")) < 0
    assert _city_weight(in_city("Kenora", None)) == 0.0
    assert score(marie, marie, model=model, config=Settings(city_max_weight=0.0)).match_weight == \
        score(Person("Marie", "Tremblay", date(1980, 3, 4), city="Kenora"),
              Person("Marie", "Tremblay", date(1980, 3, 4), city="Kenora"), model=model,
              config=Settings(city_max_weight=0.0)).match_weight


@pytest.mark.parametrize("first,other_first,gender,other_gender", [
    ("Olivia", "Olivier", "Woman", "Man"), ("Julie", "Julien", "Woman", "Man"),
    ("Sarah", "Rebecca", "Woman", "Woman"), ("David", "Kevin", "Man", "Man"),
])
def test_twins_in_the_same_small_town_are_never_merged_automatically(first, other_first, gender, other_gender):
    one = Person(first, "Asselin", date(1990, 5, 6), gender=gender, city="Kenora")
    other = Person(other_first, "Asselin", date(1990, 5, 6), gender=other_gender, city="Kenora")
    assert _decision(one, other) != matching.MATCH


def _address_weight(found) -> float:
    return next(e.weight for e in found.evidence if e.field == "address")


def _address_model(counts: dict[str, int]) -> LinkageModel:
    return LinkageModel(DEFAULT_MODEL.m, DEFAULT_MODEL.u, DEFAULT_MODEL.prior,
                        {"address": NameFrequencies(counts, 1000, 1e-4)})


def test_a_shared_address_counts_by_how_many_clients_give_it_and_at_most_the_cap():
    model = _address_model({"339 george st": 300})
    config = Settings(address_max_weight=3.0)

    def at(a, b):
        # a different birth date: far below the automatic-match line, so only the cap limits the address
        return score(Person("Marie", "Tremblay", date(1980, 3, 4), address=a),
                     Person("Maria", "Tremblay", date(1961, 7, 9), address=b), model=model, config=config)

    shelter, home = at("339 George Street", "339 george st."), at("12 Elm St", "12 Elm Street")
    assert 0 < _address_weight(shelter) < _address_weight(home) == 3.0  # a shelter's address is given by many
    assert "counted at most this much" in next(e.text for e in home.evidence if e.field == "address")
    assert _address_weight(at("12 Elm St", "41 Oak Ave")) < 0
    assert not any(e.field == "address" for e in at(None, None).evidence)  # no line for files without addresses
    assert _address_weight(at("12 Elm St", None)) == 0.0


def test_a_shared_address_lifts_a_pair_to_review_never_to_an_automatic_match():
    """Same-sex twins at home: everything but the first name agrees. Their address may bring them to a
    person's review; it must never be what makes them one client."""
    model, config = _address_model({}), Settings(address_max_weight=20.0)
    sarah = Person("Sarah", "Asselin", date(1990, 5, 6), gender="Woman", city="Kenora", address="12 Elm St")
    rebecca = Person("Rebecca", "Asselin", date(1990, 5, 6), gender="Woman", city="Kenora", address="12 Elm St")
    elsewhere = replace(rebecca, address=None)
    without = score(sarah, elsewhere, model=model, config=config)
    together = score(sarah, rebecca, model=model, config=config)
    assert without.value < config.accept, "the premise: without the address the pair is below the line"
    assert without.value < together.value < config.accept
    assert "never merges two records" in next(e.text for e in together.evidence if e.field == "address")
    assert _decision(sarah, rebecca) != matching.MATCH
    clear = Person("Sarah", "Asselin", date(1990, 5, 6), gender="Woman", city="Kenora", address="12 Elm St")
    assert score(sarah, clear, model=model, config=config).value > config.accept  # the same person still is


def test_a_model_stored_before_cities_were_compared_counts_no_city():
    stored = DEFAULT_MODEL.to_json()
    del stored["m"]["city"], stored["u"]["city"]
    old = LinkageModel.from_json(stored)
    assert list(old.weights("city")) == [0.0] * len(c.CITY_LEVELS)
    found = score(Person("Marie", "Tremblay", date(1980, 3, 4), city="Kenora"),
                  Person("Marie", "Tremblay", date(1980, 3, 4), city="Hamilton"), model=old)
    assert _city_weight(found) == 0.0


def test_a_model_stored_before_cities_and_addresses_stays_without_them_once_frequencies_are_counted():
    """An import counts the frequencies a stored model lacks (frequencies.with_data_frequencies); for a field
    the model predates (m = u) they must not turn a shared city or address into evidence."""
    stored = DEFAULT_MODEL.to_json()
    for field in ("city", "address"):
        del stored["m"][field], stored["u"][field]
    old = LinkageModel.from_json(stored)
    counted = replace(old, frequencies={"city": NameFrequencies({"kenora": 1}, 1000, 1e-3),
                                        "address": NameFrequencies({"12 elm st": 1}, 1000, 1e-4)})
    at_home = Person("Marie", "Tremblay", date(1980, 3, 4), city="Kenora", address="12 Elm St")
    found = score(at_home, at_home, model=counted)
    assert _city_weight(found) == 0.0 and _address_weight(found) == 0.0
    fresh = replace(DEFAULT_MODEL, frequencies=counted.frequencies)
    assert _city_weight(score(at_home, at_home, model=fresh)) > 0  # the premise: counted, they are evidence
