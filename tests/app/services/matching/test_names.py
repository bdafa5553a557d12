"""Names as matching reads them: normalised, phonetic, nicknames, gendered variants, a client's other names."""

from datetime import date

import pytest

from app.services.matching import match_keys, normalize_name, phonetic
from app.services.matching.names import is_gendered_variant, is_nickname, name_options


def test_names_are_normalised_for_case_accents_hyphens_and_spacing():
    assert normalize_name("  Côté-LÉVESQUE ") == "cote levesque"
    assert normalize_name("O'Brien") == "o brien"
    assert phonetic("Smith") == phonetic("Smyth") == "S530"
    assert phonetic("") == ""


def test_keys_ignore_name_order_and_need_a_birth_year_for_the_year_keys():
    a = match_keys("Marie", "Tremblay", date(1980, 1, 1))
    b = match_keys("Tremblay", "Marie", None)
    assert a.names_key == b.names_key and a.prefix_key == b.prefix_key
    assert a.last_key == "1980T651" and b.last_key is None


def test_the_model_and_the_matching_package_compute_keys_with_one_function():
    from app import names
    from app.services import matching

    assert matching.match_keys is names.match_keys and matching.normalize_name is names.normalize_name


@pytest.mark.parametrize("masculine,feminine", [
    ("louis", "louise"), ("julien", "julie"), ("olivier", "olivia"), ("eric", "erica"), ("robert", "roberta"),
    ("francois", "francoise"), ("daniel", "danielle"), ("michel", "michelle"), ("antonio", "antonia"),
    ("nicolas", "nicole"), ("jean", "jeanne"), ("martin", "martine"),
])
def test_masculine_and_feminine_forms_of_a_name_are_gendered_variants(masculine, feminine):
    assert is_gendered_variant(masculine, feminine) and is_gendered_variant(feminine, masculine)


@pytest.mark.parametrize("a,b", [("john", "jane"), ("louis", "louis"), ("eric", "derica"), ("al", "ala"),
                                 ("marc", "paula")])
def test_unrelated_or_equal_names_are_not_gendered_variants(a, b):
    assert not is_gendered_variant(a, b)


def test_nicknames_come_from_the_groups():
    assert is_nickname("bob", "robert") and is_nickname("guillaume", "william")
    assert not is_nickname("bob", "bob") and not is_nickname("bob", "william")


def test_a_client_may_appear_under_its_preferred_name_and_alias():
    firsts, lasts = name_options("Robert", "Smith", "Bobby", "Jane Doe")
    assert firsts == ("robert", "bobby", "jane", "jane doe") and lasts == ("smith", "doe")
    assert name_options("Marie", "Tremblay", None, None) == (("marie",), ("tremblay",))
