"""Plain, one-pair-at-a-time definitions the vectorised matching code is checked against, and the
mixed people those checks draw from (shared by the comparison and model tests)."""

import random
from datetime import date

from app.services.matching import Person, comparisons as c
from app.services.matching.names import name_options, normalize_name


def reference_levels(incoming: Person, candidate: Person, placeholders) -> dict:
    """The levels written plainly, one pair at a time: ``compare`` must agree with it exactly."""
    firsts, lasts = name_options(candidate.first_name, candidate.last_name, candidate.preferred_name,
                                 candidate.alias)
    first, last = normalize_name(incoming.first_name), normalize_name(incoming.last_name)
    gender = c.gender_level(incoming.gender, candidate.gender)

    def best_first(name):
        found = min((c.first_name_level(name, option) for option in firsts), default=c.F_UNKNOWN) \
            if name else c.F_UNKNOWN
        return c.F_GENDERED_OTHER_GENDER if found == c.F_GENDERED and gender == c.G_DIFFERENT else found

    def best_last(name):
        return min((c.last_name_level(name, option) for option in lasts), default=c.L_UNKNOWN) \
            if name else c.L_UNKNOWN

    return {"first_name": best_first(first), "last_name": best_last(last),
            "swapped_first": best_first(last), "swapped_last": best_last(first),
            "dob": c.dob_level(incoming.dob, candidate.dob, placeholders), "gender": gender,
            "source_id": c.source_id_level(incoming.source_ids, candidate.source_ids),
            "city": c.city_level(incoming.city, candidate.city),
            "address": c.address_level(incoming.address, candidate.address)}


def mixed_people(rng: random.Random, count: int) -> list[Person]:
    firsts = ["Marie", "marie-eve", "Bob", "Robert", "J", "John", "Jean Paul", "Émilie", "", None, "Sasha", "Alex",
              "Okafor", "Tremblay", "Olivia", "Olivier", "Louise", "Louis", "Mohamed", "Peter", "Frank"]
    lasts = ["Tremblay", "TREMBLAY-ROY", "Smith", "Smyth", "Okafor", "de la Cruz", "", None, "Marie", "Côté",
             "Frank", "Peters", "Ali"]
    dates = [date(1980, 1, 1), date(1980, 1, 10), date(1981, 1, 1), date(1980, 10, 1), date(1955, 9, 30),
             date(1900, 1, 1), None]
    genders = [None, "Man", "Woman", "Male", "F", "Non-binary"]
    ids = [frozenset(), frozenset(), frozenset({"1"}), frozenset({"2"}), frozenset({"1", "3"}), ("1",), ("3",), ()]
    cities = [None, "", "Toronto", "TORONTO ", "Toronot", "North York", "north-york", "Hamilton", "Trois-Rivières"]
    addresses = [None, "", "339 George St", "339 George Street", "339 Goerge St", "12 Elm St. Apt 4", "12 Elm St",
                 "1 rue Côté", "1 Rue Cote"]
    return [Person(rng.choice(firsts), rng.choice(lasts), rng.choice(dates), rng.choice([None, None, "Bobby", "Jay"]),
                   rng.choice([None, None, "Jane Doe", "Smith"]), rng.choice(genders), rng.choice(ids),
                   rng.choice(cities), rng.choice(addresses))
            for _ in range(count)]
