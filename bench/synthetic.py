"""A synthetic agency: clients already in CCD, and a daily EMHware-style export about them and newcomers.

What real exports do to people is simulated on purpose: typos, nicknames (Bob for
Robert), first and last names swapped, accents dropped, hyphens as spaces, ALL CAPS,
day and month transposed or a digit wrong in the birth date, missing birth dates; and
the people most easily mistaken for each other (twins, siblings, namesakes) are there as
newcomers who must *not* be matched. Every row knows the truth (``truth``: the client it
is, or None), so precision and recall can be measured.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from faker import Faker

try:  # the matcher's own nickname groups: not part of the matching contract, so they may move
    from app.services.matching import NICKNAME_GROUPS
except ImportError:
    from bench.hard_people import NICKNAMES

    NICKNAME_GROUPS = tuple((name.lower(), *(n.lower() for n in nicknames)) for name, nicknames in NICKNAMES.items())

ROW_KINDS = (
    ("known_id", 0.55),   # the client already has this EMHware id
    ("fuzzy", 0.20),      # an existing client under a new id, written differently
    ("new", 0.15),        # a newcomer
    ("lookalike", 0.05),  # a newcomer easily mistaken for an existing client (twin, sibling, namesake)
    ("bad", 0.05),        # a row with an invalid value
)
_NICKNAME_OF = {group[0]: group[1:] for group in NICKNAME_GROUPS}
_ACCENTS = str.maketrans("éèêëàâîïôûùçÉÈÀÇ", "eeeeaaiiouucEEAC")


@dataclass
class SyntheticClient:
    id: uuid.UUID
    first_name: str
    last_name: str
    dob: date | None
    gender: str
    city: str
    emh_id: str | None
    preferred_name: str | None = None
    alias: str | None = None


@dataclass
class SyntheticRow:
    kind: str
    source_id: str
    first_name: str
    last_name: str
    dob: date | None
    dob_text: str
    gender: str
    city: str
    program: str
    admission: str
    truth: uuid.UUID | None


@dataclass
class SyntheticSet:
    clients: list[SyntheticClient]
    rows: list[SyntheticRow]


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    letters = "abcdefghijklmnopqrstuvwxyz"
    match rng.randrange(4):
        case 0:
            return text[:i] + text[i + 1:]
        case 1:
            return text[:i] + rng.choice(letters) + text[i:]
        case 2:
            return text[:i] + text[i + 1] + text[i] + text[i + 2:]
        case _:
            return text[:i] + rng.choice(letters) + text[i + 1:]


def _perturb(rng: random.Random, client: SyntheticClient) -> tuple[str, str, date | None]:
    """The same person as another system or another worker wrote them (one to three changes)."""
    first, last, dob = client.first_name, client.last_name, client.dob
    for change in rng.sample(range(9), rng.choice((1, 1, 2, 2, 3))):
        if change == 0:
            first = _typo(rng, first)
        elif change == 1:
            last = _typo(rng, last)
        elif change == 2 and first.lower() in _NICKNAME_OF:
            first = rng.choice(_NICKNAME_OF[first.lower()]).capitalize()
        elif change == 3:
            first, last = last, first
        elif change == 4:
            first, last = first.translate(_ACCENTS), last.translate(_ACCENTS)
        elif change == 5:
            last = last.replace("-", " ") if "-" in last else last.upper()
        elif change == 6 and dob and dob.day <= 12 and dob.day != dob.month:
            dob = date(dob.year, dob.day, dob.month)
        elif change == 7 and dob:
            dob = dob + timedelta(days=rng.choice((-1, 1, 10, -10)))
        elif change == 8:
            dob = None if rng.random() < 0.5 else dob
    return first, last, dob


def generate(clients: int, rows: int, seed: int = 7, programs: tuple[str, ...] = ("Bench Program A",
                                                                                   "Bench Program B")) -> SyntheticSet:
    rng = random.Random(seed)
    fakers = [Faker("en_CA"), Faker("fr_CA")]
    for number, faker in enumerate(fakers):
        faker.seed_instance(seed + number)
    today = date.today()

    def person():
        faker = fakers[0] if rng.random() < 0.7 else fakers[1]
        gender = rng.choice(("Woman", "Man"))
        first = faker.first_name_female() if gender == "Woman" else faker.first_name_male()
        last = faker.last_name()
        if rng.random() < 0.05:
            last = f"{last}-{faker.last_name()}"
        dob = today - timedelta(days=rng.randrange(18 * 365, 85 * 365))
        return first, last, dob, gender, faker.city()

    population = []
    for number in range(clients):
        first, last, dob, gender, city = person()
        population.append(SyntheticClient(uuid.uuid4(), first, last, dob if rng.random() > 0.02 else None, gender,
                                          city, f"CLI{number:07d}" if rng.random() < 0.8 else None,
                                          preferred_name=_NICKNAME_OF.get(first.lower(), (None,))[0]
                                          if rng.random() < 0.05 else None))
    with_ids = [c for c in population if c.emh_id]
    without_ids = [c for c in population if not c.emh_id]
    kinds = [k for k, _ in ROW_KINDS]
    weights = [w for _, w in ROW_KINDS]
    out = []
    next_id = clients
    for _ in range(rows):
        kind = rng.choices(kinds, weights)[0]
        program = rng.choice(programs)
        admission = (today - timedelta(days=rng.randrange(1, 700))).isoformat()
        next_id += 1
        new_id = f"CLI{next_id:07d}"
        if kind == "known_id":
            c = rng.choice(with_ids)
            out.append(SyntheticRow(kind, c.emh_id, c.first_name, c.last_name, c.dob,
                                    c.dob.isoformat() if c.dob else "", c.gender, c.city, program, admission, c.id))
        elif kind == "fuzzy":
            c = rng.choice(without_ids or population)
            first, last, dob = _perturb(rng, c)
            out.append(SyntheticRow(kind, new_id, first, last, dob, dob.isoformat() if dob else "", c.gender,
                                    c.city, program, admission, c.id))
        elif kind == "lookalike":
            c = rng.choice(population)
            first, last, dob, gender, city = person()
            match rng.randrange(3):
                case 0:  # twin: same last name and birth date, another first name
                    last, dob = c.last_name, c.dob
                case 1:  # sibling: same last name, born a few years apart
                    last = c.last_name
                    dob = (c.dob or dob) + timedelta(days=rng.choice((-1, 1)) * rng.randrange(400, 3000))
                case _:  # namesake: same names, another birth date
                    first, last = c.first_name, c.last_name
            out.append(SyntheticRow(kind, new_id, first, last, dob, dob.isoformat() if dob else "", gender, city,
                                    program, admission, None))
        elif kind == "new":
            first, last, dob, gender, city = person()
            out.append(SyntheticRow(kind, new_id, first, last, dob, dob.isoformat(), gender, city, program,
                                    admission, None))
        else:
            first, last, dob, gender, city = person()
            bad_program = rng.random() < 0.5
            out.append(SyntheticRow(kind, new_id, first, last, None, "1980-02-30" if not bad_program else
                                    dob.isoformat(), gender, city, "Program Nobody Runs" if bad_program else program,
                                    admission, None))
    return SyntheticSet(population, out)


EMHWARE_HEADER = ["ID", "Last Name", "First Name", "Program", "DOB", "Age", "Gender", "City", "Sub-program", "Worker",
                  "Level of Support", "Admission Date", "Days Elapsed", "Location/County", "Referral Source"]


def emhware_lines(data: SyntheticSet):
    """The export as EMHware's "Current Client List - Receiving Services" rows (header first)."""
    yield EMHWARE_HEADER
    for row in data.rows:
        yield [row.source_id, row.last_name, row.first_name, row.program, row.dob_text, "", row.gender, row.city, "",
               "", "", row.admission, "", "Toronto", "Self,  Family or Friend"]
