"""A hard Canadian client population, written as two days of EMHware exports, with the truth kept aside.

Harder than real data on purpose, with the cases that fool a name-and-birth-date matcher:

* opposite-sex twins whose first names differ only by a gendered ending (Louis/Louise,
  Julien/Julie, Olivier/Olivia, Eric/Erica, Robert/Roberta, François/Françoise,
  Daniel/Danielle, ...), same last name, same birth date, same city; and same-sex twins whose
  first names are unrelated (everything else agrees);
* namesakes: several people called Mohamed Ali, Wei Zhang, John Smith, Marie Tremblay ...,
  born on different dates;
* many people born on 1 January (how unknown days get recorded), and placeholder birth
  dates (1900-01-01) on some people who never had a real one and on some duplicate rows;
* families sharing a surname, an address and a city, with birth dates years apart;
* one city for most people (an agency's own: more than half live in Toronto), so sharing a city
  is weak evidence, and duplicates written another day that moved city or left it empty;
* duplicates with typos, swapped first and last names, nicknames, one part of a hyphenated
  or double surname dropped, accents dropped, ALL CAPS, day and month swapped, a wrong digit,
  the year off by one;
* the source system's own duplicates: the same person under two ids of the same source
  (fewer, and the same person in the truth);
* a first import, then a second day's file: returning people under their id, returning people
  under a fresh id (written differently), and newcomers, among them the twin or namesake of
  someone imported the first day.

With ``addresses``, the files carry each row's street address too ("Hard + address"): families
and twins share theirs, some people give the address of one of the agency's shelters (shared by
many), and a returning person written another day has often moved. ``generate(people, seed)`` is deterministic (its own ``random.Random`` and seeded Faker
instances). Each row's ``truth`` names its person and is never written to a file.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from faker import Faker

from bench.export_files import DataSet, ExportFile, ExportRow, assign_admissions

GENDERED_PAIRS = (("Louis", "Louise"), ("Julien", "Julie"), ("Olivier", "Olivia"), ("Eric", "Erica"),
                  ("Robert", "Roberta"), ("François", "Françoise"), ("Daniel", "Danielle"), ("Denis", "Denise"),
                  ("Michel", "Michelle"), ("Jean", "Jeanne"), ("Simon", "Simone"), ("Christian", "Christiane"),
                  ("Paul", "Paula"), ("Gabriel", "Gabrielle"), ("Antoine", "Antoinette"), ("Joël", "Joëlle"))
COMMON_NAMES = (("Mohamed", "Ali", "Man"), ("Wei", "Zhang", "Man"), ("John", "Smith", "Man"),
                ("Marie", "Tremblay", "Woman"), ("Maria", "Garcia", "Woman"), ("Ahmed", "Hassan", "Man"),
                ("Fatima", "Ahmed", "Woman"), ("Li", "Wang", "Woman"), ("Michael", "Brown", "Man"),
                ("Nathalie", "Gagnon", "Woman"), ("Jean", "Roy", "Man"), ("Priya", "Patel", "Woman"),
                ("Mohammed", "Khan", "Man"), ("Sarah", "Wilson", "Woman"), ("David", "Nguyen", "Man"))
NICKNAMES = {"Robert": ("Bob", "Rob", "Bobby"), "William": ("Bill", "Will"), "Elizabeth": ("Liz", "Beth"),
             "Michael": ("Mike",), "Christopher": ("Chris",), "Jennifer": ("Jen", "Jenny"),
             "Katherine": ("Kate", "Kathy"), "Catherine": ("Cathy", "Kate"), "Joseph": ("Joe",),
             "Margaret": ("Maggie", "Peggy"), "Richard": ("Rick", "Dick"), "Daniel": ("Dan", "Danny"),
             "Thomas": ("Tom",), "Nicholas": ("Nick",), "Alexander": ("Alex",), "Anthony": ("Tony",),
             "Jonathan": ("Jon",), "Matthew": ("Matt",), "Patricia": ("Pat", "Patty"), "Samuel": ("Sam",),
             "Benjamin": ("Ben",), "Stephanie": ("Steph",), "Rebecca": ("Becky",), "James": ("Jim", "Jimmy"),
             "Mohamed": ("Mo",), "Frédéric": ("Fred",), "Guillaume": ("Will",), "Jean-François": ("JF",),
             "Marie-Ève": ("Marie",), "Josée": ("Jo",), "Alexandre": ("Alex",), "Mathieu": ("Matt",),
             "Nathalie": ("Nat",), "Sébastien": ("Seb",), "Christian": ("Chris",), "Christiane": ("Chris",)}
PLACEHOLDER_DOB = "1900-01-01"
# Most of an agency's clients live in its own city; the rest spread over Faker's towns.
HOME_CITY, HOME_CITY_SHARE = "Toronto", 0.55
NEARBY_CITIES = ("Toronto", "Mississauga", "Brampton", "Scarborough", "North York", "Etobicoke", "Hamilton")
# Ages are counted from a fixed day, so the same seed gives the same people on any day.
REFERENCE_DAY = date(2025, 12, 31)


@dataclass
class HardPerson:
    key: str
    first: str
    last: str
    dob: date | None  # None: the person never had a known birth date (files carry 1900-01-01)
    gender: str
    city: str
    address: str  # shared by families and twins; written only with ``generate(addresses=True)``
    kind: str


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 4:
        return text
    i = rng.randrange(1, len(text) - 2)
    match rng.randrange(4):
        case 0:
            return text[:i] + text[i + 1:]
        case 1:
            return text[:i] + rng.choice("aeinorst") + text[i:]
        case 2:
            return text[:i] + text[i + 1] + text[i] + text[i + 2:]
        case _:
            return text[:i] + rng.choice("aeinorst") + text[i + 1:]


def _written(person: HardPerson) -> tuple[str, str, str]:
    return person.first, person.last, person.dob.isoformat() if person.dob else PLACEHOLDER_DOB


def _perturbed(rng: random.Random, person: HardPerson) -> tuple[str, str, str]:
    """The same person as another worker or another day wrote them: one or two changes."""
    first, last, dob_text = _written(person)
    dob = person.dob
    for change in rng.sample(range(11), rng.choice((1, 1, 2))):
        if change == 0:
            first = _typo(rng, first)
        elif change == 1:
            last = _typo(rng, last)
        elif change == 2 and first in NICKNAMES:
            first = rng.choice(NICKNAMES[first])
        elif change == 3:
            first, last = last, first
        elif change == 4 and ("-" in last or " " in last):
            parts = last.replace("-", " ").split()
            last = rng.choice(parts)
        elif change == 5:
            first, last = _strip_accents(first), _strip_accents(last)
        elif change == 6:
            first, last = first.upper(), last.upper()
        elif change == 7 and dob and dob.day <= 12 and dob.day != dob.month:
            dob_text = date(dob.year, dob.day, dob.month).isoformat()
        elif change == 8 and dob:
            shifted = dob + timedelta(days=rng.choice((-1, 1, -10, 10)))
            dob_text = shifted.isoformat()
        elif change == 9 and dob:
            try:
                dob_text = dob.replace(year=dob.year + rng.choice((-1, 1))).isoformat()
            except ValueError:
                dob_text = (dob + timedelta(days=365)).isoformat()
        elif change == 10 and dob:
            dob_text = PLACEHOLDER_DOB if rng.random() < 0.6 else ""
    return first, last, dob_text


class _Population:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.fakers = [Faker("en_CA"), Faker("fr_CA")]
        for number, faker in enumerate(self.fakers):
            faker.seed_instance(seed + number)
        self.people: list[HardPerson] = []
        self.today = REFERENCE_DAY

    def faker(self) -> Faker:
        return self.fakers[0] if self.rng.random() < 0.6 else self.fakers[1]

    def birth(self, low: int = 18, high: int = 85) -> date:
        rng = self.rng
        born = self.today - timedelta(days=rng.randrange(low * 365, high * 365))
        return date(born.year, 1, 1) if rng.random() < 0.12 else born

    def city(self, faker: Faker) -> str:
        return HOME_CITY if self.rng.random() < HOME_CITY_SHARE else faker.city()

    def surname(self, faker: Faker) -> str:
        last = faker.last_name()
        if self.rng.random() < 0.08:
            last = f"{last}{self.rng.choice(('-', ' '))}{self.faker().last_name()}"
        return last

    def add(self, first, last, dob, gender, city, address, kind) -> HardPerson:
        if dob is not None and self.rng.random() < 0.03:
            dob = None
        person = HardPerson(f"P{len(self.people):06d}", first, last, dob, gender, city, address, kind)
        self.people.append(person)
        return person

    def ordinary(self) -> None:
        faker, gender = self.faker(), self.rng.choice(("Woman", "Man"))
        first = faker.first_name_female() if gender == "Woman" else faker.first_name_male()
        if self.rng.random() < 0.1:
            first = self.rng.choice([name for name in NICKNAMES if len(name) > 4])
        self.add(first, self.surname(faker), self.birth(), gender, self.city(faker), faker.street_address(),
                 "ordinary")

    def twins(self) -> None:
        faker = self.faker()
        male, female = self.rng.choice(GENDERED_PAIRS)
        last, dob, city, address = self.surname(faker), self.birth(18, 60), self.city(faker), faker.street_address()
        self.add(male, last, dob, "Man", city, address, "twin")
        self.add(female, last, dob, "Woman", city, address, "twin")

    def same_sex_twins(self) -> None:
        """Twins of one sex with unrelated first names: everything but the first name agrees."""
        faker = self.faker()
        gender = self.rng.choice(("Woman", "Man"))
        last, dob, city, address = self.surname(faker), self.birth(18, 60), self.city(faker), faker.street_address()
        firsts = set()
        while len(firsts) < 2:
            firsts.add(faker.first_name_female() if gender == "Woman" else faker.first_name_male())
        for first in sorted(firsts):
            self.add(first, last, dob, gender, city, address, "same-sex twin")

    def namesakes(self) -> None:
        first, last, gender = self.rng.choice(COMMON_NAMES)
        for _ in range(self.rng.randrange(2, 5)):
            faker = self.faker()
            self.add(first, last, self.birth(), gender, self.city(faker), faker.street_address(), "namesake")

    def family(self) -> None:
        faker = self.faker()
        last, city, address = self.surname(faker), self.city(faker), faker.street_address()
        parent_born = self.birth(40, 75)
        for number in range(self.rng.randrange(2, 6)):
            gender = self.rng.choice(("Woman", "Man"))
            first = faker.first_name_female() if gender == "Woman" else faker.first_name_male()
            if number < 2:
                born = parent_born + timedelta(days=self.rng.randrange(-1500, 1500))
            else:
                born = parent_born + timedelta(days=self.rng.randrange(20 * 365, 30 * 365))
            born = min(born, self.today - timedelta(days=365))
            self.add(first, last, born, gender, city, address, "family")


def people_of(count: int, seed: int) -> list[HardPerson]:
    population = _Population(seed)
    makers = ((population.ordinary, 0.67), (population.twins, 0.08), (population.same_sex_twins, 0.03),
              (population.namesakes, 0.08), (population.family, 0.10))
    while len(population.people) < count:
        population.rng.choices([m for m, _ in makers], [w for _, w in makers])[0]()
    return population.people[:count]


# The agency's shelters: a person with no home of their own gives one of these (bench "Hard + address").
SHELTER_ADDRESSES = ("339 George Street", "67 Adelaide Street East", "1673 Kingston Road")


def generate(people: int = 3000, seed: int = 2026, addresses: bool = False) -> DataSet:
    rng = random.Random(seed + 1)
    # Addresses from a stream of their own: the set without them stays exactly as it was.
    places = random.Random(seed + 2)
    movers = Faker("en_CA")
    movers.seed_instance(seed + 2)
    population = people_of(people, seed)
    lives_at = {person.key: (places.choice(SHELTER_ADDRESSES) if places.random() < 0.15 else person.address)
                for person in population}
    next_id = iter(range(1, 10 ** 7))

    def new_id() -> str:
        return f"CLI{next(next_id):07d}"

    def row(person, source_id, names=None) -> ExportRow:
        first, last, dob_text = names or _written(person)
        gender = person.gender if rng.random() > 0.05 else ""
        city = person.city if rng.random() > 0.05 else ""
        if names is not None and rng.random() < 0.25:  # written another day: moved, or the city left empty
            city = rng.choice(NEARBY_CITIES + ("",))
        address = lives_at[person.key] if addresses and places.random() > 0.1 else ""
        if addresses and names is not None and places.random() < 0.4:  # written another day: moved since
            address = places.choice(SHELTER_ADDRESSES) if places.random() < 0.3 else movers.street_address()
        return ExportRow(person.key, source_id, first, last, dob_text, gender, city, address=address)

    day1, day2 = [], []
    ids: dict[str, str] = {}
    for person in population:
        place = rng.random()
        if place < 0.7:  # imported the first day
            ids[person.key] = new_id()
            day1.append(row(person, ids[person.key]))
            if rng.random() < 0.1:  # a second program, same id
                day1.append(row(person, ids[person.key]))
            if rng.random() < 0.02:  # the source's own duplicate: a second id the same day
                day1.append(row(person, new_id(), _perturbed(rng, person)))
            again = rng.random()
            if again < 0.30:  # back the next day under the same id, as the source has them
                day2.append(row(person, ids[person.key]))
            elif again < 0.45:  # back under a fresh id, written differently
                day2.append(row(person, new_id(), _perturbed(rng, person)))
        else:  # a newcomer the second day
            day2.append(row(person, new_id()))
            if rng.random() < 0.02:
                day2.append(row(person, new_id(), _perturbed(rng, person)))
    rng.shuffle(day1)
    rng.shuffle(day2)
    kinds = {}
    for person in population:
        kinds[person.kind] = kinds.get(person.kind, 0) + 1
    note = ("twins, namesakes, 1 January and placeholder birth dates, families, perturbed duplicates, "
            "the source's own duplicates; day 1 then day 2 (" +
            ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items())) + " people)")
    return assign_admissions(DataSet("Hard + address" if addresses else "Hard",
                                     [ExportFile("EMHware", day1), ExportFile("EMHware", day2)], note), seed=seed)
