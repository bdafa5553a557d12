"""Comparison levels per field, one pair at a time and many pairs at once (which must agree exactly)."""

import random
from datetime import date

import numpy as np
import pytest

from app.services.matching import People, Person, comparisons as c
from tests.app.services.matching.references import mixed_people, reference_levels


@pytest.mark.parametrize("a,b,level", [
    ("marie", "marie", c.F_EXACT), ("bob", "robert", c.F_NICKNAME), ("jhon", "john", c.F_CLOSE),
    ("marie", "marie eve", c.F_CLOSE), ("olivia", "olivier", c.F_GENDERED), ("louise", "louis", c.F_GENDERED),
    ("j", "john", c.F_INITIAL), ("peter", "frank", c.F_DIFFERENT), ("", "marie", c.F_UNKNOWN),
])
def test_first_name_levels(a, b, level):
    assert c.first_name_level(a, b) == level


@pytest.mark.parametrize("a,b,level", [
    ("tremblay", "tremblay", c.L_EXACT), ("de la cruz", "delacruz", c.L_EXACT), ("tremblay", "tremblai", c.L_CLOSE),
    ("tremblay", "roy tremblay", c.L_PART), ("okafor", "haddad", c.L_DIFFERENT), ("okafor", "", c.L_UNKNOWN),
])
def test_last_name_levels(a, b, level):
    assert c.last_name_level(a, b) == level


PLACEHOLDERS = frozenset({date(1900, 1, 1)})


@pytest.mark.parametrize("a,b,level", [
    (date(1980, 3, 4), date(1980, 3, 4), c.D_EXACT), (date(1980, 1, 1), date(1980, 1, 1), c.D_JANUARY_1),
    (date(1980, 3, 4), date(1980, 4, 3), c.D_TRANSPOSED), (date(1980, 3, 4), date(1980, 3, 5), c.D_ONE_DIGIT),
    (date(1980, 3, 4), date(1979, 3, 4), c.D_YEAR_OFF), (date(1980, 3, 4), date(1943, 9, 30), c.D_DIFFERENT),
    (date(1900, 1, 1), date(1900, 1, 1), c.D_PLACEHOLDER), (date(1980, 3, 4), None, c.D_UNKNOWN),
])
def test_birth_date_levels(a, b, level):
    assert c.dob_level(a, b, PLACEHOLDERS) == level


@pytest.mark.parametrize("a,b,level", [
    ("Man", "Male", c.G_SAME), ("Woman", "F", c.G_SAME), ("Femme", "Woman", c.G_SAME), ("Man", "Woman", c.G_DIFFERENT),
    ("M", "Female", c.G_DIFFERENT), ("Non-binary", "Man", c.G_UNKNOWN), ("Prefer not to answer", "Woman", c.G_UNKNOWN),
    (None, "Man", c.G_UNKNOWN),
])
def test_gender_levels_read_the_option_values(a, b, level):
    assert c.gender_level(a, b) == level


def test_same_source_id_levels():
    assert c.source_id_level(frozenset({"1"}), frozenset({"1", "2"})) == c.S_SAME
    assert c.source_id_level(frozenset({"1"}), frozenset({"2"})) == c.S_DIFFERENT
    assert c.source_id_level(frozenset(), frozenset({"2"})) == c.S_ABSENT


def test_a_gendered_variant_with_different_genders_is_a_level_of_its_own():
    olivia = Person("Olivia", "Asselin", date(1990, 5, 6), gender="Woman")
    olivier = Person("Olivier", "Asselin", date(1990, 5, 6), gender="Man")
    unknown = Person("Olivier", "Asselin", date(1990, 5, 6))
    compared = c.compare([olivia], [olivier, unknown], [0, 0], [0, 1])
    assert list(compared.first_name) == [c.F_GENDERED_OTHER_GENDER, c.F_GENDERED]


def test_comparing_a_batch_gives_each_pair_exactly_its_own_levels():
    rng = random.Random(7)
    incoming, candidates = mixed_people(rng, 40), mixed_people(rng, 60)
    left = [rng.randrange(40) for _ in range(1500)]
    right = [rng.randrange(60) for _ in range(1500)]
    compared = c.compare(incoming, candidates, left, right, PLACEHOLDERS)
    swapped_at = {int(k): n for n, k in enumerate(compared.swapped_at)}
    for k, (i, j) in enumerate(zip(left, right)):
        expected = reference_levels(incoming[i], candidates[j], PLACEHOLDERS)
        got = {name: int(getattr(compared, name)[k]) for name in ("first_name", "last_name", "dob", "gender",
                                                                    "source_id")}
        got.update({name: int(getattr(compared.household, name)[k]) for name in ("city", "address")})
        assert got == {name: expected[name] for name in got}, (incoming[i], candidates[j])
        if k in swapped_at:
            n = swapped_at[k]
            assert (compared.swapped_first[n], compared.swapped_last[n]) == (expected["swapped_first"],
                                                                             expected["swapped_last"])
        else:
            assert expected["first_name"] < c.F_GENDERED and expected["last_name"] < c.L_SIMILAR


def test_dates_as_days_keep_unknown_dates_apart():
    values = c.days([date(1980, 3, 4), None])
    assert values[0] == np.datetime64("1980-03-04") and np.isnat(values[1])


@pytest.mark.parametrize("a,b,level", [
    ("Toronto", "TORONTO ", c.C_SAME), ("North York", "north-york", c.C_SAME), ("Trois-Rivières", "trois rivieres",
                                                                                c.C_SAME),
    ("Toronto", "Toronot", c.C_CLOSE), ("Toronto", "Hamilton", c.C_DIFFERENT), ("Toronto", "", c.C_UNKNOWN),
    (None, "Toronto", c.C_UNKNOWN),
])
def test_cities_are_compared_as_written_places(a, b, level):
    assert c.city_level(a, b) == level


@pytest.mark.parametrize("a,b,level", [
    ("339 George Street", "339 george st.", c.A_SAME), ("12 Main St E", "12 Main Street East", c.A_SAME),
    ("1 Rue Côté", "1 rue cote", c.A_SAME), ("339 George St", "339 Goerge St", c.A_CLOSE),
    ("339 George St", "41 Elm Ave", c.A_DIFFERENT), ("339 George St", "", c.A_UNKNOWN), (None, "12 Elm St", c.A_UNKNOWN),
])
def test_addresses_are_compared_with_street_words_abbreviated(a, b, level):
    assert c.address_level(a, b) == level


def test_an_address_keeps_its_numbers():
    assert c.address_level("12 Elm St", "14 Elm St") != c.A_SAME
    assert c.normalize_address("Apt. 4, 12 Elm Street") == "apt 4 12 elm st"


def test_a_subset_of_people_keeps_each_persons_columns_together():
    people = People.of([Person("Ana", "Silva", date(1980, 1, 2), gender="Woman", city="Kenora",
                               source_ids=frozenset({"A1"}), address="12 Elm St"),
                        Person("Bo", "Lee", None), Person("Cy", "Roy", date(1990, 3, 4), alias="Cyrus Roy")])
    part = people.subset([2, 0])
    assert [part.person(k) for k in range(len(part))] == [people.person(2), people.person(0)]
    bare = People(["Ana"], ["Silva"], [None], [None], [None])
    assert bare.subset([0]).gender is None and bare.subset([0]).city is None and bare.subset([0]).address is None
