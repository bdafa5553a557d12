"""Comparison levels: how each field of a pair agrees, as one small integer per pair and field.

The per-pair functions (``first_name_level``, ``last_name_level``, ``dob_level``,
``gender_level``, ``source_id_level``, ``city_level``, ``address_level``) are the definitions; ``compare`` gives the same levels
for many pairs at once (an import compares ~100k pairs per batch): each distinct pair of
names is compared once, plain Jaro-Winkler runs in one rapidfuzz call, and only the name
pairs the definitions refine (nicknames, gendered forms, initials, multi-part names) go
through the per-pair function. No Python object is built per pair.

Levels are numbered from the strongest agreement down; the last levels of a field are
"no evidence" (missing, placeholder) and weigh nothing in the model.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Collection, Sequence

import numpy as np
from rapidfuzz.distance import JaroWinkler, Levenshtein
from rapidfuzz.process import cpdist

from app.services.matching.names import NICKNAMES, is_gendered_variant, is_nickname, name_options, normalize_name

# Jaro-Winkler bands: "close" is one typo in a name of usual length, "similar" two.
CLOSE_SIMILARITY = 0.92
SIMILAR_SIMILARITY = 0.85

FIRST_LEVELS = ("exact", "nickname", "close", "similar", "gendered", "initial", "different", "gendered_other_gender",
                "unknown")
LAST_LEVELS = ("exact", "part", "close", "similar", "different", "unknown")
DOB_LEVELS = ("exact", "exact_1_january", "transposed", "one_digit", "year_off", "different", "placeholder",
              "unknown")
GENDER_LEVELS = ("same", "different", "unknown")
SOURCE_ID_LEVELS = ("same", "different", "absent")
CITY_LEVELS = ("same", "close", "different", "unknown")
ADDRESS_LEVELS = ("same", "close", "different", "unknown")
ORDER_LEVELS = ("straight", "swapped", "swapped_partial")

LEVELS: dict[str, tuple[str, ...]] = {"first_name": FIRST_LEVELS, "last_name": LAST_LEVELS, "dob": DOB_LEVELS,
                                      "gender": GENDER_LEVELS, "source_id": SOURCE_ID_LEVELS,
                                      "name_order": ORDER_LEVELS, "city": CITY_LEVELS,
                                      "address": ADDRESS_LEVELS}
# Levels that are no evidence either way (weight 0, not estimated).
NEUTRAL_LEVELS: dict[str, frozenset[str]] = {
    "first_name": frozenset({"unknown"}), "last_name": frozenset({"unknown"}),
    "dob": frozenset({"placeholder", "unknown"}), "gender": frozenset({"unknown"}),
    "source_id": frozenset({"absent"}), "name_order": frozenset({"straight"}), "city": frozenset({"unknown"}),
    "address": frozenset({"unknown"}),
}


def level(field: str, name: str) -> int:
    return LEVELS[field].index(name)


(F_EXACT, F_NICKNAME, F_CLOSE, F_SIMILAR, F_GENDERED, F_INITIAL, F_DIFFERENT, F_GENDERED_OTHER_GENDER,
 F_UNKNOWN) = range(len(FIRST_LEVELS))
L_EXACT, L_PART, L_CLOSE, L_SIMILAR, L_DIFFERENT, L_UNKNOWN = range(len(LAST_LEVELS))
(D_EXACT, D_JANUARY_1, D_TRANSPOSED, D_ONE_DIGIT, D_YEAR_OFF, D_DIFFERENT, D_PLACEHOLDER,
 D_UNKNOWN) = range(len(DOB_LEVELS))
G_SAME, G_DIFFERENT, G_UNKNOWN = range(len(GENDER_LEVELS))
S_SAME, S_DIFFERENT, S_ABSENT = range(len(SOURCE_ID_LEVELS))
O_STRAIGHT, O_SWAPPED, O_SWAPPED_PARTIAL = range(len(ORDER_LEVELS))
C_SAME, C_CLOSE, C_DIFFERENT, C_UNKNOWN = range(len(CITY_LEVELS))
A_SAME, A_CLOSE, A_DIFFERENT, A_UNKNOWN = range(len(ADDRESS_LEVELS))

# The option values of app/choices.py "gender" (and what source files write) read as man or woman;
# anything else (non-binary, two-spirit, transgender, prefer not to answer, unknown) is no evidence:
# a person's recorded gender may differ between systems there.
_MAN = frozenset({"man", "male", "m", "homme", "h", "boy", "garcon"})
_WOMAN = frozenset({"woman", "female", "f", "femme", "w", "girl", "fille"})
GENDER_UNKNOWN, GENDER_MAN, GENDER_WOMAN = 0, 1, 2


@lru_cache(maxsize=256)
def gender_code(value: str | None) -> int:
    word = normalize_name(value)
    return GENDER_MAN if word in _MAN else GENDER_WOMAN if word in _WOMAN else GENDER_UNKNOWN


# -- the definitions, one pair at a time -------------------------------------------------
def _similarity(a: str, b: str) -> float:
    """Jaro-Winkler; multi-part names also compared joined and with their parts in order."""
    best = JaroWinkler.normalized_similarity(a, b)
    if " " in a or " " in b:
        best = max(best, JaroWinkler.normalized_similarity(a.replace(" ", ""), b.replace(" ", "")),
                   JaroWinkler.normalized_similarity(" ".join(sorted(a.split())), " ".join(sorted(b.split()))))
    return best


def _band(similarity: float, close: int, similar: int, different: int) -> int:
    return close if similarity >= CLOSE_SIMILARITY else similar if similarity >= SIMILAR_SIMILARITY else different


@lru_cache(maxsize=100_000)
def first_name_level(a: str, b: str) -> int:
    """Level of two normalised first names (a gendered variant is a level of its own; with different
    genders it becomes F_GENDERED_OTHER_GENDER, see ``compare``)."""
    if not a or not b:
        return F_UNKNOWN
    if a == b:
        return F_EXACT
    token_a, token_b = a.split()[0], b.split()[0]
    if is_nickname(token_a, token_b):
        return F_NICKNAME
    if token_a == token_b or set(a.split()) & set(b.split()):  # "marie" / "marie eve"
        return F_CLOSE
    if is_gendered_variant(token_a, token_b):
        return F_GENDERED
    found = _band(_similarity(a, b), F_CLOSE, F_SIMILAR, F_DIFFERENT)
    if found == F_DIFFERENT and (len(token_a) == 1 or len(token_b) == 1) and token_a[0] == token_b[0]:
        return F_INITIAL
    return found


@lru_cache(maxsize=100_000)
def last_name_level(a: str, b: str) -> int:
    """Level of two normalised last names; "tremblay" / "tremblay roy" is one part of a double name."""
    if not a or not b:
        return L_UNKNOWN
    if a == b or a.replace(" ", "") == b.replace(" ", ""):
        return L_EXACT
    found = _band(_similarity(a, b), L_CLOSE, L_SIMILAR, L_DIFFERENT)
    if found != L_CLOSE and (" " in a or " " in b) and set(a.split()) & set(b.split()):
        return L_PART
    return found


def dob_level(a: date | None, b: date | None, placeholders: frozenset[date] = frozenset()) -> int:
    if a is None or b is None:
        return D_UNKNOWN
    if a in placeholders or b in placeholders:
        return D_PLACEHOLDER
    if a == b:
        return D_JANUARY_1 if (a.month, a.day) == (1, 1) else D_EXACT
    if a.year == b.year and a.month == b.day and a.day == b.month:
        return D_TRANSPOSED
    if Levenshtein.distance(a.isoformat(), b.isoformat()) == 1:  # digits only differ: dashes always agree
        return D_ONE_DIGIT
    if (a.month, a.day) == (b.month, b.day) and abs(a.year - b.year) == 1:
        return D_YEAR_OFF
    return D_DIFFERENT


def gender_level(a: str | None, b: str | None) -> int:
    code_a, code_b = gender_code(a), gender_code(b)
    if not code_a or not code_b:
        return G_UNKNOWN
    return G_SAME if code_a == code_b else G_DIFFERENT


def shares_an_id(a: Collection[str], b: Collection[str]) -> bool:
    """Whether two holdings of ids (sets, or an incoming row's one id as a tuple) have one in common."""
    return any(source_id in b for source_id in a)


def source_id_level(a: Collection[str], b: Collection[str]) -> int:
    if not a or not b:
        return S_ABSENT
    return S_SAME if shares_an_id(a, b) else S_DIFFERENT


def _id_codes(holdings: Sequence[Collection[str]], codes: dict[str, int]) -> np.ndarray:
    """Per person: 0 without ids, the number of its one id, or -1 holding several."""
    out = np.zeros(len(holdings), dtype=np.int64)
    for index, ids in enumerate(holdings):
        if len(ids) == 1:
            for only in ids:
                out[index] = codes.setdefault(only, len(codes) + 1)
        elif ids:
            out[index] = -1
    return out


def _source_id_levels(inc_ids: Sequence[Collection[str]], cand_ids: Sequence[Collection[str]],
                      left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``source_id_level`` of every pair: as numbers where each side holds one id (nearly every pair of an
    import, where a file's pairs among themselves run to hundreds of thousands), by the ids otherwise."""
    codes: dict[str, int] = {}
    a, b = _id_codes(inc_ids, codes)[left], _id_codes(cand_ids, codes)[right]
    levels = np.full(left.size, S_ABSENT, dtype=np.int8)
    both = (a != 0) & (b != 0)
    levels[both] = np.where(a[both] == b[both], S_SAME, S_DIFFERENT)
    for k in np.flatnonzero(both & ((a < 0) | (b < 0))):
        levels[k] = source_id_level(inc_ids[left[k]], cand_ids[right[k]])
    return levels


def _place_level(a: str, b: str) -> int:
    """Same, close (about one typo), different or unknown, of two normalised places (a city and an address are
    levelled alike, and their levels numbered alike)."""
    if not a or not b:
        return C_UNKNOWN
    if a == b:
        return C_SAME
    return C_CLOSE if JaroWinkler.normalized_similarity(a, b) >= CLOSE_SIMILARITY else C_DIFFERENT


def city_level(a: str | None, b: str | None) -> int:
    """Level of two cities as written ("North York" / "north-york" are the same; one typo is close)."""
    return _place_level(normalize_name(a), normalize_name(b))


_NOT_ALPHANUMERIC = re.compile(r"[^a-z0-9]+")
# Street words as Canada Post abbreviates them, so "12 Main Street East" and "12 main st e" are one address.
_ADDRESS_WORDS = {
    "street": "st", "avenue": "ave", "av": "ave", "road": "rd", "drive": "dr", "boulevard": "blvd",
    "crescent": "cres", "court": "crt", "ct": "crt", "place": "pl", "lane": "ln", "terrace": "terr",
    "parkway": "pky", "highway": "hwy", "square": "sq", "circle": "cir", "trail": "trl",
    "east": "e", "west": "w", "north": "n", "south": "s", "apartment": "apt", "suite": "apt", "unit": "apt",
    "chemin": "ch",
}


@lru_cache(maxsize=100_000)
def normalize_address(value: str | None) -> str:
    """A street address as compared: lower case, no accents or punctuation, street words abbreviated."""
    if not value:
        return ""
    decomposed = unicodedata.normalize("NFKD", value)
    text = _NOT_ALPHANUMERIC.sub(" ", "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower())
    return " ".join(_ADDRESS_WORDS.get(word, word) for word in text.split())


def address_level(a: str | None, b: str | None) -> int:
    """Level of two street addresses as written ("339 George Street" / "339 george st." are the same)."""
    return _place_level(normalize_address(a), normalize_address(b))


# -- many pairs at once ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Person:
    """What matching looks at: names, birth date, gender, the ids held in the source system being
    matched (``source_ids``: an incoming row's own id; a client's ids from that same source), the
    city and the street address. Phone and email are deliberately absent: families and shelters
    share them and a person changes them. A city is shared by most clients, and an address by a
    household or everyone a shelter houses: each weighs by how many clients share it, and capped."""

    first_name: str | None
    last_name: str | None
    dob: date | None
    preferred_name: str | None = None
    alias: str | None = None
    gender: str | None = None
    # A client's ids as a set; an incoming row's own id as a one-id tuple (a file's every row holds one, and a
    # set of one costs 216 bytes against a tuple's 48).
    source_ids: frozenset[str] | tuple[str, ...] = frozenset()
    city: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class People:
    """Many people as columns, the shape scoring reads them in (one pass over fetched rows, not one per pair)."""

    first_name: Sequence[str | None]
    last_name: Sequence[str | None]
    preferred_name: Sequence[str | None]
    alias: Sequence[str | None]
    dob: Sequence[date | None]
    gender: Sequence[str | None] | None = None
    source_ids: Sequence[Collection[str]] | None = None  # per person: a set, or an incoming row's one-id tuple
    city: Sequence[str | None] | None = None
    address: Sequence[str | None] | None = None

    @classmethod
    def of(cls, people: Sequence) -> "People":
        """From Persons, or rows with the same attributes (gender, source ids, city and address when they
        have them)."""
        if isinstance(people, People):
            return people
        return cls([p.first_name for p in people], [p.last_name for p in people],
                   [p.preferred_name for p in people], [p.alias for p in people], [p.dob for p in people],
                   [getattr(p, "gender", None) for p in people],
                   [getattr(p, "source_ids", None) or frozenset() for p in people],
                   [getattr(p, "city", None) for p in people], [getattr(p, "address", None) for p in people])

    def __len__(self) -> int:
        return len(self.first_name)

    def subset(self, indices: Sequence[int]) -> "People":
        """These people only, in this order (scoring reads every person it is given, whatever the pairs)."""
        def taken(column):
            return None if column is None else [column[i] for i in indices]

        return People(taken(self.first_name), taken(self.last_name), taken(self.preferred_name), taken(self.alias),
                      taken(self.dob), taken(self.gender), taken(self.source_ids), taken(self.city),
                      taken(self.address))

    def person(self, k: int) -> Person:
        return Person(self.first_name[k], self.last_name[k], self.dob[k], self.preferred_name[k], self.alias[k],
                      self.gender[k] if self.gender is not None else None,
                      self.source_ids[k] if self.source_ids is not None else frozenset(),
                      self.city[k] if self.city is not None else None,
                      self.address[k] if self.address is not None else None)

    def genders(self) -> Sequence[str | None]:
        return self.gender if self.gender is not None else [None] * len(self)

    def ids(self) -> Sequence[frozenset[str]]:
        return self.source_ids if self.source_ids is not None else [frozenset()] * len(self)

    def cities(self) -> Sequence[str | None]:
        return self.city if self.city is not None else [None] * len(self)

    def addresses(self) -> Sequence[str | None]:
        return self.address if self.address is not None else [None] * len(self)


class Strings:
    """The distinct normalised names of one comparison call, numbered, with what each needs."""

    def __init__(self):
        self.number: dict[str, int] = {"": 0}
        self.strings: list[str] = [""]

    def id(self, value: str) -> int:
        found = self.number.get(value)
        if found is None:
            found = self.number[value] = len(self.strings)
            self.strings.append(value)
        return found

    def freeze(self) -> None:
        tokens = [s.split()[0] if s else "" for s in self.strings]
        self.multi_part = np.array([" " in s for s in self.strings], dtype=bool)
        self.has_nicknames = np.array([t in NICKNAMES for t in tokens], dtype=bool)
        self.initial = np.array([len(t) == 1 for t in tokens], dtype=bool)
        prefixes: dict[str, int] = {}
        self.prefix = np.array([prefixes.setdefault(t[:2], len(prefixes)) for t in tokens], dtype=np.intp)


@dataclass(frozen=True)
class Options:
    """Each candidate's first (or last) names as string ids, in compressed rows: ids[start[c]:start[c]+count[c]]."""

    ids: np.ndarray
    start: np.ndarray
    count: np.ndarray

    @classmethod
    def of(cls, names_per_candidate: list[tuple[str, ...]], strings: Strings) -> "Options":
        count = np.fromiter((len(names) for names in names_per_candidate), dtype=np.intp,
                            count=len(names_per_candidate))
        ids = np.fromiter((strings.id(name) for names in names_per_candidate for name in names), dtype=np.intp,
                          count=int(count.sum()))
        return cls(ids, np.cumsum(count) - count, count)


def _distinct(values: list) -> tuple[list, np.ndarray]:
    """The distinct values (in first-seen order) and where each value is among them.

    A lookup fetches tens of thousands of rows that repeat far fewer names and cities, so each is
    normalised once; the passes over every row are the interpreter's own (dict, map), not Python code."""
    number = dict.fromkeys(values)
    for position, value in enumerate(number):
        number[value] = position
    return list(number), np.fromiter(map(number.__getitem__, values), dtype=np.intp, count=len(values))


def _candidate_options(strings: Strings, candidates: People) -> tuple[Options, Options]:
    """Each candidate's first and last names as ``name_options`` gives them. Most clients have no preferred
    name or alias: their one first and one last name are numbered column by column; the others' options
    are laid out after those."""
    size = len(candidates)
    own = (_string_ids(strings, candidates.first_name), _string_ids(strings, candidates.last_name))
    extra = np.flatnonzero(np.fromiter(map(bool, candidates.preferred_name), dtype=bool, count=size)
                           | np.fromiter(map(bool, candidates.alias), dtype=bool, count=size))
    names = [name_options(candidates.first_name[k], candidates.last_name[k], candidates.preferred_name[k],
                          candidates.alias[k]) for k in extra.tolist()]
    found = []
    for side, ids in enumerate(own):
        count = (ids != 0).astype(np.intp)
        start = np.arange(size, dtype=np.intp)
        if extra.size:
            more = Options.of([n[side] for n in names], strings)
            count[extra], start[extra] = more.count, more.start + size
            ids = np.concatenate([ids, more.ids])
        found.append(Options(ids, start, count))
    return found[0], found[1]


def _string_ids(strings: Strings, values: Sequence[str | None] | None, normalise=normalize_name,
                size: int = 0) -> np.ndarray:
    """The string id of each value, normalised (0: none); ``values`` None: ``size`` people without the field (a
    lookup scores its tens of thousands of rows without their cities and addresses first)."""
    if values is None:
        return np.zeros(size, dtype=np.intp)
    written, position = _distinct(list(values))
    ids = np.fromiter((strings.id(normalise(value)) for value in written), dtype=np.intp, count=len(written))
    return ids[position]


def _string_pair_levels(strings: Strings, a: np.ndarray, b: np.ndarray, first_names: bool) -> np.ndarray:
    """``first_name_level`` (or ``last_name_level``) of the string pairs (a[k], b[k]), none of them empty."""
    width = len(strings.strings)
    distinct, position = np.unique(a.astype(np.int64) * width + b, return_inverse=True)
    left, right = distinct // width, distinct % width
    texts = strings.strings
    lefts, rights = [texts[i] for i in left], [texts[i] for i in right]
    similarity = cpdist(lefts, rights, scorer=JaroWinkler.normalized_similarity, dtype=np.float64)
    if first_names:
        levels = np.where(similarity >= CLOSE_SIMILARITY, F_CLOSE,
                          np.where(similarity >= SIMILAR_SIMILARITY, F_SIMILAR, F_DIFFERENT))
        levels[left == right] = F_EXACT
        refined = (strings.multi_part[left] | strings.multi_part[right]
                   | (strings.has_nicknames[left] & strings.has_nicknames[right])
                   | strings.initial[left] | strings.initial[right]
                   | (strings.prefix[left] == strings.prefix[right])) & (left != right)
        definition = first_name_level
    else:
        levels = np.where(similarity >= CLOSE_SIMILARITY, L_CLOSE,
                          np.where(similarity >= SIMILAR_SIMILARITY, L_SIMILAR, L_DIFFERENT))
        levels[left == right] = L_EXACT
        refined = (strings.multi_part[left] | strings.multi_part[right]) & (left != right)
        definition = last_name_level
    at = np.flatnonzero(refined)
    if at.size:  # one assignment: an element at a time cost more than the (cached) definition itself
        levels[at] = [definition(lefts[k], rights[k]) for k in at.tolist()]
    return levels.astype(np.int8)[position]


def _best_levels(strings: Strings, names: np.ndarray, owners: np.ndarray, options: Options,
                 first_names: bool) -> tuple[np.ndarray, np.ndarray]:
    """For each k, the best level of names[k] against candidate owners[k]'s names, and the string id
    of that candidate name (0 when either side has no name)."""
    unknown = F_UNKNOWN if first_names else L_UNKNOWN
    counts = options.count[owners]
    levels = np.full(names.size, unknown, dtype=np.int8)
    chosen = np.zeros(names.size, dtype=np.intp)
    known = np.flatnonzero((names != 0) & (counts > 0))
    if known.size == 0:
        return levels, chosen
    per_pair = counts[known]
    pair_of = np.repeat(np.arange(known.size), per_pair)
    first_slot = np.cumsum(per_pair) - per_pair
    slots = options.start[owners[known]][pair_of] + (np.arange(pair_of.size) - first_slot[pair_of])
    option_ids = options.ids[slots]
    found = _string_pair_levels(strings, names[known][pair_of], option_ids, first_names)
    # the best level, and among equals the first option (own name before preferred name and alias)
    ranked = found.astype(np.int64) * 64 + np.minimum(np.arange(pair_of.size) - first_slot[pair_of], 63)
    best = np.minimum.reduceat(ranked, first_slot)
    levels[known] = best // 64
    chosen[known] = option_ids[first_slot + best % 64]
    return levels, chosen


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def days(dates: Sequence[date | None]) -> np.ndarray:
    """Dates as datetime64 days, None as NaT (through ordinals: much faster than numpy's date parsing)."""
    written, position = _distinct(list(dates))
    ordinals = np.fromiter((d.toordinal() if d else 0 for d in written), dtype=np.int64, count=len(written))[position]
    result = (ordinals - _EPOCH_ORDINAL).astype("datetime64[D]")
    result[ordinals == 0] = np.datetime64("NaT")
    return result


def _digits_apart(a: tuple, b: tuple) -> np.ndarray:
    """How many digits of two dates written yyyy-mm-dd differ, from their (year, month, day) arrays."""
    apart = np.zeros(a[0].shape, dtype=np.int64)
    for part_a, part_b, places in zip(a, b, (4, 2, 2)):
        for place in range(places):
            apart += (part_a // 10 ** place % 10) != (part_b // 10 ** place % 10)
    return apart


def dob_levels(a: np.ndarray, b: np.ndarray, placeholders: frozenset[date] = frozenset()) -> np.ndarray:
    """``dob_level`` of the pairs (a[k], b[k]) of datetime64 days (NaT: unknown)."""
    def parts(values):
        months = values.astype("datetime64[M]")
        # year, month from 0 and day of month from 0
        return (values.astype("datetime64[Y]").astype(np.int64), months.astype(np.int64) % 12,
                (values - months).astype(np.int64))

    unknown = np.isnat(a) | np.isnat(b)
    placeholder = np.zeros(a.size, dtype=bool)
    if placeholders:
        marks = np.array(sorted(placeholders), dtype="datetime64[D]")
        placeholder = ~unknown & (np.isin(a, marks) | np.isin(b, marks))
    (ay, am, ad), (by, bm, bd) = parts(a), parts(b)
    plain = ~unknown & ~placeholder
    same = plain & (a == b)
    transposed = plain & ~same & (ay == by) & (am == bd) & (ad == bm)  # both counted from 0
    # One digit of yyyy-mm-dd differs: both are as long and the dashes agree, so a Levenshtein distance of 1
    apart = _digits_apart((ay + 1970, am + 1, ad + 1), (by + 1970, bm + 1, bd + 1))
    one_digit = plain & ~same & ~transposed & (apart == 1)
    year_off = (am == bm) & (ad == bd) & (np.abs(ay - by) == 1)
    january_1 = (am == 0) & (ad == 0)
    return np.select([unknown, placeholder, same & january_1, same, transposed, one_digit, year_off],
                     [D_UNKNOWN, D_PLACEHOLDER, D_JANUARY_1, D_EXACT, D_TRANSPOSED, D_ONE_DIGIT, D_YEAR_OFF],
                     D_DIFFERENT).astype(np.int8)


def _city_levels(strings: Strings, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``city_level`` (or ``address_level``: its levels are numbered alike) of the string-id pairs (a[k], b[k]):
    each distinct pair of values compared once."""
    levels = np.full(a.size, C_UNKNOWN, dtype=np.int8)
    known = (a != 0) & (b != 0)
    levels[known & (a == b)] = C_SAME
    differ = np.flatnonzero(known & (a != b))
    if differ.size:
        width = len(strings.strings)
        distinct, position = np.unique(a[differ].astype(np.int64) * width + b[differ], return_inverse=True)
        texts = strings.strings
        similarity = cpdist([texts[i] for i in distinct // width], [texts[i] for i in distinct % width],
                            scorer=JaroWinkler.normalized_similarity, dtype=np.float64)
        levels[differ] = np.where(similarity >= CLOSE_SIMILARITY, C_CLOSE, C_DIFFERENT)[position]
    return levels


@dataclass(frozen=True)
class Household:
    """The city and address levels of many pairs, with each incoming side's string ids (their frequencies
    weigh an agreement)."""

    city: np.ndarray
    incoming_city: np.ndarray  # string id of each incoming side's city (0: none)
    address: np.ndarray
    incoming_address: np.ndarray
    strings: list[str]


def _household(strings: Strings, incoming: People, candidates: People, left: np.ndarray,
               right: np.ndarray) -> Household:
    inc_city, cand_city = (_string_ids(strings, people.city, size=len(people)) for people in (incoming, candidates))
    inc_address, cand_address = (_string_ids(strings, people.address, normalize_address, len(people))
                                 for people in (incoming, candidates))
    city_a, city_b = inc_city[left], cand_city[right]
    address_a, address_b = inc_address[left], cand_address[right]
    return Household(_city_levels(strings, city_a, city_b), city_a, _city_levels(strings, address_a, address_b),
                     address_a, strings.strings)


def compare_household(incoming, candidates, left, right) -> Household:
    """The city and address levels alone (a lookup adds them to the pairs its other fields leave in reach)."""
    return _household(Strings(), People.of(incoming), People.of(candidates), np.asarray(left, dtype=np.intp),
                      np.asarray(right, dtype=np.intp))


@dataclass(frozen=True)
class Comparison:
    """The levels of many pairs; ``swapped_*`` hold the reading with first and last names exchanged
    (incoming last name against the candidate's first names and the reverse), where it was computed."""

    first_name: np.ndarray
    last_name: np.ndarray
    dob: np.ndarray
    gender: np.ndarray
    source_id: np.ndarray
    household: Household  # city and address
    first_option: np.ndarray  # string id of the candidate first name that gave the level
    last_option: np.ndarray
    incoming_first: np.ndarray  # string id of the incoming names
    incoming_last: np.ndarray
    swapped_at: np.ndarray  # pairs the swapped reading was computed for
    swapped_first: np.ndarray
    swapped_last: np.ndarray
    swapped_first_option: np.ndarray
    swapped_last_option: np.ndarray
    strings: list[str]

    def __len__(self) -> int:
        return self.first_name.size


def compare(incoming, candidates, left, right, placeholders: frozenset[date] = frozenset()) -> Comparison:
    """Levels of every pair (incoming[left[k]], candidates[right[k]]).

    First names are compared with each of the candidate's first names (own, preferred, alias),
    last names with its last names (own, alias). A gendered variant of the first name with
    different genders (Olivia, a woman / Olivier, a man) is a level of its own: the mark of
    opposite-sex twins, whose last name and birth date agree. Where the straight reading leaves a
    name different, the swapped reading is computed too (the model picks the better one).
    """
    incoming, candidates = People.of(incoming), People.of(candidates)
    left, right = np.asarray(left, dtype=np.intp), np.asarray(right, dtype=np.intp)
    strings = Strings()
    inc_first, inc_last = _string_ids(strings, incoming.first_name), _string_ids(strings, incoming.last_name)
    firsts, lasts = _candidate_options(strings, candidates)
    strings.freeze()

    inc_gender = np.fromiter(map(gender_code, incoming.genders()), dtype=np.int8, count=len(incoming))
    cand_gender = np.fromiter(map(gender_code, candidates.genders()), dtype=np.int8, count=len(candidates))
    ga, gb = inc_gender[left], cand_gender[right]
    gender = np.where((ga == 0) | (gb == 0), G_UNKNOWN, np.where(ga == gb, G_SAME, G_DIFFERENT)).astype(np.int8)

    first, first_option = _best_levels(strings, inc_first[left], right, firsts, True)
    last, last_option = _best_levels(strings, inc_last[left], right, lasts, False)
    first[(first == F_GENDERED) & (gender == G_DIFFERENT)] = F_GENDERED_OTHER_GENDER

    maybe = np.flatnonzero((first >= F_GENDERED) | (last >= L_SIMILAR))
    swapped_first, swapped_first_option = _best_levels(strings, inc_last[left[maybe]], right[maybe], firsts, True)
    swapped_last, swapped_last_option = _best_levels(strings, inc_first[left[maybe]], right[maybe], lasts, False)
    swapped_first[(swapped_first == F_GENDERED) & (gender[maybe] == G_DIFFERENT)] = F_GENDERED_OTHER_GENDER

    dob = dob_levels(days(incoming.dob)[left], days(candidates.dob)[right], placeholders)

    source_id = _source_id_levels(incoming.ids(), candidates.ids(), left, right)

    household = _household(strings, incoming, candidates, left, right)
    return Comparison(first, last, dob, gender, source_id, household, first_option, last_option, inc_first[left],
                      inc_last[left], maybe, swapped_first, swapped_last, swapped_first_option,
                      swapped_last_option, strings.strings)
