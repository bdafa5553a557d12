"""Is this incoming person a client CCD already knows?

Imports (and, later, the scan for duplicates already in the database) ask the same
question, so they share these functions. A wrong merge mixes two people's histories
and is the worst mistake this code can make, so:

* ids are compared only within one source system (an SMIS ``Client No.`` is never
  compared with an EMHware ``ID``; that happens in the importer, before anything here);
* candidates come from the database by *blocking* keys kept in indexed columns (same
  birth date, or phonetic name + birth year), never by reading the whole client table
  and never by comparing every row with every client;
* candidates are scored on names normalised for case, accents, hyphens and spacing,
  with first/last swapped, preferred name, alias and common nicknames considered, and
  on the birth date (exact, transposed day/month, one-digit typo);
* phone numbers and email addresses are not evidence: families and shelters share them;
* a match is automatic only when exactly one candidate is clearly above the accept
  threshold; close calls go to a person (the review band). Thresholds are configuration,
  with defaults chosen by ``bench/match_quality.py``.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections import defaultdict
from functools import lru_cache
from dataclasses import dataclass, field
from datetime import date
from typing import Iterable, NamedTuple, Sequence

import sqlalchemy as sa
import numpy as np
from rapidfuzz.distance import JaroWinkler, Levenshtein
from rapidfuzz.process import cpdist

# Defaults measured by bench/match_quality.py (see bench/RESULTS.md); config keys
# INGEST_ACCEPT_THRESHOLD, INGEST_REVIEW_THRESHOLD and INGEST_MATCH_MARGIN override them.
DEFAULT_ACCEPT_THRESHOLD = 0.92
DEFAULT_REVIEW_THRESHOLD = 0.55
DEFAULT_MATCH_MARGIN = 0.08

# How much each part of the evidence weighs in the score (they add up to 1).
LAST_NAME_WEIGHT = 0.35
FIRST_NAME_WEIGHT = 0.30
DOB_WEIGHT = 0.35
# A birth date or name the row or the client lacks counts as this much agreement: neither for nor against.
UNKNOWN_DOB_AGREEMENT = 0.5
UNKNOWN_NAME_AGREEMENT = 0.5
# Jaro-Winkler gives unrelated names 0.4-0.7 ("Erica"/"Jamie" 0.47); below this floor a name is
# no evidence at all, and above it the similarity is stretched back to 0..1.
NAME_SIMILARITY_FLOOR = 0.5
# Names written the other way round are the same person more often than not, but not always.
SWAPPED_NAMES_FACTOR = 0.97

# Common English and French given-name equivalents (each group is one person's possible names).
NICKNAME_GROUPS: tuple[tuple[str, ...], ...] = (
    ("alexander", "alex", "alexandre", "sasha", "sandy"), ("alexandra", "alex", "alexa", "sandra", "sasha"),
    ("andrew", "andy", "drew", "andre"), ("anthony", "tony", "antoine"), ("benjamin", "ben", "benny"),
    ("catherine", "katherine", "kathryn", "cathy", "kathy", "kate", "katie", "cat"), ("charles", "charlie", "chuck"),
    ("christopher", "chris", "kit", "christophe"), ("christine", "christina", "chris", "tina", "kristina"),
    ("daniel", "dan", "danny"), ("david", "dave", "davy"), ("deborah", "debra", "debbie", "deb"),
    ("edward", "ed", "eddie", "ted", "ned", "edouard"), ("elizabeth", "liz", "beth", "betty", "eliza", "lisa",
                                                        "elisabeth", "lizzie", "elise"),
    ("francis", "frank", "francois"), ("frederick", "fred", "freddie", "frederic"),
    ("gabriel", "gabe", "gab"), ("gregory", "greg"), ("henry", "hank", "harry", "henri"),
    ("isabelle", "isabel", "izzy", "bella"), ("jacob", "jake", "jacques"), ("james", "jim", "jimmy", "jamie"),
    ("jennifer", "jen", "jenny"), ("jessica", "jess", "jessie"), ("john", "johnny", "jack", "jean", "jon"),
    ("jonathan", "jon", "jonny", "nathan"), ("joseph", "joe", "joey", "jo"), ("joshua", "josh"),
    ("josephine", "jo", "josie"), ("kenneth", "ken", "kenny"), ("lawrence", "larry", "laurent"),
    ("louis", "lou", "louie", "luis"), ("margaret", "maggie", "meg", "peggy", "marguerite", "margot"),
    ("matthew", "matt", "matthieu", "mathieu"), ("michael", "mike", "mikey", "michel", "mick"),
    ("michelle", "shelly", "micheline"), ("nicholas", "nick", "nicky", "nicolas", "nico"),
    ("patricia", "pat", "patty", "trish", "patricie"), ("patrick", "pat", "paddy", "patrice"),
    ("peter", "pete", "pierre"), ("philip", "phil", "phillip", "philippe"), ("rebecca", "becky", "becca"),
    ("richard", "rick", "ricky", "dick", "rich"), ("robert", "rob", "bob", "bobby", "robbie", "bert"),
    ("ronald", "ron", "ronnie"), ("samuel", "sam", "sammy"), ("samantha", "sam", "sammy"),
    ("stephen", "steven", "steve", "stephane", "etienne"), ("susan", "sue", "suzie", "suzanne"),
    ("theodore", "theo", "ted", "teddy"), ("thomas", "tom", "tommy", "thom"), ("timothy", "tim", "timmy"),
    ("victoria", "vicky", "tori"), ("william", "will", "bill", "billy", "willy", "liam", "guillaume"),
    ("zachary", "zach", "zack"), ("abigail", "abby", "gail"), ("amanda", "mandy"), ("anne", "ann", "annie",
                                                                                     "anna", "hannah"),
    ("barbara", "barb", "babs"), ("caroline", "carol", "carrie", "carolyn"), ("cynthia", "cindy"),
    ("dorothy", "dot", "dottie"), ("eleanor", "ellie", "nora", "elle"), ("emily", "em", "emmy", "emilie"),
    ("gerald", "gerry", "jerry", "gerard"), ("helen", "helene", "nell"), ("jacqueline", "jackie"),
    ("judith", "judy"), ("kimberly", "kim"), ("leonard", "leo", "len", "lenny", "leon"), ("mary", "marie",
                                                                                          "molly", "maria"),
    ("melissa", "mel", "missy"), ("nathaniel", "nate", "nathan"), ("raymond", "ray"), ("ronald", "ron"),
    ("sarah", "sara", "sally"), ("vincent", "vince", "vinny"), ("walter", "walt", "wally"),
)

_NICKNAMES: dict[str, frozenset[str]] = {}
for _group in NICKNAME_GROUPS:
    for _name in _group:
        _NICKNAMES[_name] = _NICKNAMES.get(_name, frozenset()) | frozenset(_group)

_NOT_LETTERS = re.compile(r"[^a-z]+")


@lru_cache(maxsize=200_000)
def normalize_name(value: str | None) -> str:
    """Lower case, no accents, hyphens/apostrophes/dots as spaces: 'Côté-Lévesque ' -> 'cote levesque'."""
    if not value:
        return ""
    decomposed = unicodedata.normalize("NFKD", value)
    letters = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    return _NOT_LETTERS.sub(" ", letters).strip()


_SOUNDEX_CODES = {**dict.fromkeys("bfpv", "1"), **dict.fromkeys("cgjkqsxz", "2"), **dict.fromkeys("dt", "3"),
                  "l": "4", **dict.fromkeys("mn", "5"), "r": "6"}


@lru_cache(maxsize=200_000)
def phonetic(value: str | None) -> str:
    """American Soundex of a normalised name (spaces dropped): 'Smyth' and 'Smith' share 'S530'."""
    letters = normalize_name(value).replace(" ", "")
    if not letters:
        return ""
    code = letters[0].upper()
    previous = _SOUNDEX_CODES.get(letters[0], "")
    for ch in letters[1:]:
        digit = _SOUNDEX_CODES.get(ch, "")
        if digit and digit != previous:
            code += digit
            if len(code) == 4:
                break
        if ch not in "hw":
            previous = digit
    return code.ljust(4, "0")


@dataclass(frozen=True)
class MatchKeys:
    """The blocking keys stored on a client (indexed columns) and computed for an incoming row."""

    last_key: str | None  # birth year + phonetic last name
    names_key: str | None  # both phonetic names, in sorted order (no birth date needed; swaps give the same key)
    prefix_key: str | None  # first three letters of each name, sorted (typos that change the sound of a name)


def match_keys(first_name: str | None, last_name: str | None, dob: date | None) -> MatchKeys:
    first, last = phonetic(first_name), phonetic(last_name)
    first_letters = normalize_name(first_name).replace(" ", "")[:3]
    last_letters = normalize_name(last_name).replace(" ", "")[:3]
    year = f"{dob.year:04d}" if dob else None
    return MatchKeys(
        last_key=year + last if year and last else None,
        names_key="".join(sorted((first, last))) if first and last else None,
        prefix_key="+".join(sorted((first_letters, last_letters))) if first_letters and last_letters else None,
    )


# -- scoring -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Person:
    """What matching looks at: names, birth date, gender and the ids held in the source system being
    matched (``source_ids``: an incoming row's own id; a client's ids from that same source).
    Contact details are deliberately absent: families and shelters share them."""

    first_name: str | None
    last_name: str | None
    dob: date | None
    preferred_name: str | None = None
    alias: str | None = None
    gender: str | None = None
    source_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Score:
    value: float
    first: float
    last: float
    dob: float
    swapped: bool

    @property
    def match_type(self) -> str:
        if self.swapped:
            return "swapped_names"
        if self.dob == 1.0:
            return "name_dob" if min(self.first, self.last) < 1.0 else "exact_name_dob"
        if self.dob == UNKNOWN_DOB_AGREEMENT:
            return "name_only"
        return "name_near_dob"

    def details(self) -> dict:
        return {"score": round(self.value, 4), "first_name": round(self.first, 4), "last_name": round(self.last, 4),
                "dob": round(self.dob, 4), "swapped_names": self.swapped, "match_type": self.match_type}


@lru_cache(maxsize=50_000)
def _similarity(a: str, b: str) -> float:
    """Jaro-Winkler on normalised names; multi-part names also compared with parts in any order."""
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    best = JaroWinkler.normalized_similarity(a, b)
    if " " in a or " " in b:
        joined_a, joined_b = a.replace(" ", ""), b.replace(" ", "")
        best = max(best, JaroWinkler.normalized_similarity(joined_a, joined_b),
                   JaroWinkler.normalized_similarity(" ".join(sorted(a.split())), " ".join(sorted(b.split()))))
        # "maria" against "maria jose": one part fully present
        parts_a, parts_b = set(a.split()), set(b.split())
        if parts_a & parts_b:
            best = max(best, 0.9)
    return best


@lru_cache(maxsize=50_000)
def first_name_similarity(a: str, b: str) -> float:
    """Names, nicknames (Bob/Robert, Guillaume/William) and initials (J/John) considered."""
    score = _similarity(a, b)
    if score < 1.0 and a and b:
        first_a, first_b = a.split()[0], b.split()[0]
        if first_b in _NICKNAMES.get(first_a, ()):
            score = max(score, 0.95)
        elif (len(first_a) == 1 or len(first_b) == 1) and first_a[0] == first_b[0]:
            score = max(score, 0.8)
    return score


def _name_options_of(first_name, last_name, preferred_name, alias_name) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The first and last names a client may appear under: own names, preferred name, alias."""
    first, last = normalize_name(first_name), normalize_name(last_name)
    if not preferred_name and not alias_name:  # most clients: no extra names to consider
        return (first,) if first else (), (last,) if last else ()
    firsts = [first]
    lasts = [last]
    if preferred_name:
        firsts.append(normalize_name(preferred_name))
    alias = normalize_name(alias_name)
    if alias:
        parts = alias.split()
        firsts.append(parts[0])
        lasts.append(parts[-1])
        if len(parts) > 1:
            firsts.append(alias)
    return tuple(f for f in firsts if f), tuple(n for n in lasts if n)


def dob_agreement(a: date | None, b: date | None) -> float:
    """1 for the same date; partial credit for a transposed day/month or a one-digit typo; 0 otherwise."""
    if a is None or b is None:
        return UNKNOWN_DOB_AGREEMENT
    if a == b:
        return 1.0
    if a.year == b.year and a.month == b.day and a.day == b.month:
        return 0.8
    typos = Levenshtein.distance(a.isoformat(), b.isoformat())  # digits only differ: dashes always agree
    if typos == 1:
        return 0.7
    if a.month == b.month and a.day == b.day and abs(a.year - b.year) <= 1:
        return 0.6
    if typos == 2:
        return 0.3
    return 0.0


# -- scoring many pairs at once ------------------------------------------------------------
# An import scores tens of thousands of (row, candidate) pairs per batch. The per-pair
# definitions above stay the reference; here the plain Jaro-Winkler comparisons run in one
# rapidfuzz call per batch, each distinct pair of strings is compared once, and only the
# pairs those definitions refine (multi-part names, nicknames, initials) go through them.
class _Strings:
    """The distinct normalised names of one scoring call, numbered, with what each needs."""

    def __init__(self):
        self.number: dict[str, int] = {}
        self.strings: list[str] = []

    def id(self, value: str) -> int:
        found = self.number.get(value)
        if found is None:
            found = self.number[value] = len(self.strings)
            self.strings.append(value)
        return found

    def freeze(self) -> None:
        first_tokens = [s.split()[0] if s else "" for s in self.strings]
        self.empty = np.array([not s for s in self.strings], dtype=bool)
        self.multi_part = np.array([" " in s for s in self.strings], dtype=bool)
        self.has_nicknames = np.array([t in _NICKNAMES for t in first_tokens], dtype=bool)
        self.initial = np.array([len(t) == 1 for t in first_tokens], dtype=bool)


@dataclass(frozen=True)
class _Options:
    """Each candidate's first (or last) names as string ids, in compressed rows: ids[start[c]:start[c]+count[c]]."""

    ids: np.ndarray
    start: np.ndarray
    count: np.ndarray

    @classmethod
    def of(cls, names_per_candidate: list[tuple[str, ...]], strings: _Strings) -> "_Options":
        count = np.fromiter((len(names) for names in names_per_candidate), dtype=np.intp,
                            count=len(names_per_candidate))
        ids = np.fromiter((strings.id(name) for names in names_per_candidate for name in names), dtype=np.intp,
                          count=int(count.sum()))
        return cls(ids, np.cumsum(count) - count, count)


def _similarities(strings: _Strings, a: np.ndarray, b: np.ndarray, first_names: bool) -> np.ndarray:
    """``_similarity`` (or ``first_name_similarity``) of the string pairs (a[k], b[k])."""
    if a.size == 0:
        return np.zeros(0)
    width = len(strings.strings)
    distinct, position = np.unique(a.astype(np.int64) * width + b, return_inverse=True)
    left, right = distinct // width, distinct % width
    texts = strings.strings
    lefts, rights = [texts[i] for i in left], [texts[i] for i in right]
    result = cpdist(lefts, rights, scorer=JaroWinkler.normalized_similarity, dtype=np.float64)
    refined = strings.multi_part[left] | strings.multi_part[right] | strings.empty[left] | strings.empty[right]
    if first_names:
        refined |= (strings.has_nicknames[left] & strings.has_nicknames[right]) | strings.initial[left] \
            | strings.initial[right]
    similarity = first_name_similarity if first_names else _similarity
    for k in np.flatnonzero(refined):
        result[k] = similarity(lefts[k], rights[k])
    return result[position]


def _evidence(strings: _Strings, names: np.ndarray, owners: np.ndarray, options: _Options,
              first_names: bool) -> np.ndarray:
    """How much names[k] supports the match with candidate owners[k], 0..1: the best of the candidate's
    names, none below the floor, neutral when either side has no name."""
    counts = options.count[owners]
    result = np.full(names.size, UNKNOWN_NAME_AGREEMENT)
    known = np.flatnonzero(~strings.empty[names] & (counts > 0))
    if known.size == 0:
        return result
    per_pair = counts[known]
    pair_of = np.repeat(np.arange(known.size), per_pair)
    first_slot = np.cumsum(per_pair) - per_pair
    slots = options.start[owners[known]][pair_of] + (np.arange(pair_of.size) - first_slot[pair_of])
    similarity = _similarities(strings, names[known][pair_of], options.ids[slots], first_names)
    best = np.maximum.reduceat(similarity, first_slot)
    result[known] = np.where(best > NAME_SIMILARITY_FLOOR,
                             (best - NAME_SIMILARITY_FLOOR) / (1 - NAME_SIMILARITY_FLOOR), 0.0)
    return result


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _days(dates: Sequence[date | None]) -> np.ndarray:
    """Dates as datetime64 days, None as NaT (through ordinals: much faster than numpy's date parsing)."""
    ordinals = np.fromiter((d.toordinal() if d else 0 for d in dates), dtype=np.int64, count=len(dates))
    days = (ordinals - _EPOCH_ORDINAL).astype("datetime64[D]")
    days[ordinals == 0] = np.datetime64("NaT")
    return days


def _dob_agreements(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``dob_agreement`` of the pairs (a[k], b[k]) of datetime64 days (NaT: unknown)."""
    def parts(days):
        months = days.astype("datetime64[M]")
        # year, month from 0 and day of month from 0
        return (days.astype("datetime64[Y]").astype(np.int64), months.astype(np.int64) % 12,
                (days - months).astype(np.int64))

    unknown = np.isnat(a) | np.isnat(b)
    (ay, am, ad), (by, bm, bd) = parts(a), parts(b)
    same = ~unknown & (a == b)
    transposed = ~unknown & ~same & (ay == by) & (am == bd) & (ad == bm)  # both counted from 0
    rest = np.flatnonzero(~unknown & ~same & ~transposed)
    typos = np.zeros(a.size, dtype=np.int64)
    if rest.size:
        typos[rest] = cpdist(np.datetime_as_string(a[rest]).tolist(), np.datetime_as_string(b[rest]).tolist(),
                             scorer=Levenshtein.distance)
    near_year = (am == bm) & (ad == bd) & (np.abs(ay - by) <= 1)
    return np.select([unknown, same, transposed, typos == 1, near_year, typos == 2],
                     [UNKNOWN_DOB_AGREEMENT, 1.0, 0.8, 0.7, 0.6, 0.3], 0.0)


@dataclass(frozen=True)
class PairScores:
    """Scores of many pairs as arrays; ``at(k)`` is the k-th pair's Score."""

    value: np.ndarray
    first: np.ndarray
    last: np.ndarray
    dob: np.ndarray
    swapped: np.ndarray

    def at(self, k: int) -> Score:
        return Score(float(self.value[k]), float(self.first[k]), float(self.last[k]), float(self.dob[k]),
                     bool(self.swapped[k]))


@dataclass(frozen=True)
class People:
    """Many people as columns, the shape scoring reads them in (one pass over fetched rows, not one per pair)."""

    first_name: Sequence[str | None]
    last_name: Sequence[str | None]
    preferred_name: Sequence[str | None]
    alias: Sequence[str | None]
    dob: Sequence[date | None]
    gender: Sequence[str | None] | None = None
    source_ids: Sequence[frozenset[str]] | None = None

    @classmethod
    def of(cls, people: Sequence) -> "People":
        """From Persons, or rows with the same attributes (gender and source ids when they have them)."""
        if isinstance(people, People):
            return people
        return cls([p.first_name for p in people], [p.last_name for p in people],
                   [p.preferred_name for p in people], [p.alias for p in people], [p.dob for p in people],
                   [getattr(p, "gender", None) for p in people],
                   [getattr(p, "source_ids", None) or frozenset() for p in people])

    def __len__(self) -> int:
        return len(self.first_name)

    def person(self, k: int) -> Person:
        return Person(self.first_name[k], self.last_name[k], self.dob[k], self.preferred_name[k], self.alias[k],
                      self.gender[k] if self.gender is not None else None,
                      self.source_ids[k] if self.source_ids is not None else frozenset())


def score_pairs(incoming: Sequence[Person] | People, candidates: Sequence | People, left, right) -> PairScores:
    """How alike incoming[left[k]] and candidates[right[k]] are, for every k, from 0 to 1.

    Names are compared with each of the candidate's names (own, preferred, alias); names
    written the other way round count slightly less, and only when the straight reading is
    not already near its ceiling.
    """
    incoming, candidates = People.of(incoming), People.of(candidates)
    left, right = np.asarray(left, dtype=np.intp), np.asarray(right, dtype=np.intp)
    strings = _Strings()
    strings.id("")
    inc_first = np.fromiter((strings.id(normalize_name(name)) for name in incoming.first_name), dtype=np.intp,
                            count=len(incoming))
    inc_last = np.fromiter((strings.id(normalize_name(name)) for name in incoming.last_name), dtype=np.intp,
                           count=len(incoming))
    names = list(map(_name_options_of, candidates.first_name, candidates.last_name, candidates.preferred_name,
                     candidates.alias))
    firsts = _Options.of([n[0] for n in names], strings)
    lasts = _Options.of([n[1] for n in names], strings)
    strings.freeze()
    dob = _dob_agreements(_days(incoming.dob)[left], _days(candidates.dob)[right])
    dob_part = DOB_WEIGHT * dob
    first = _evidence(strings, inc_first[left], right, firsts, True)
    last = _evidence(strings, inc_last[left], right, lasts, False)
    value = FIRST_NAME_WEIGHT * first + LAST_NAME_WEIGHT * last + dob_part
    swapped = np.zeros(left.size, dtype=bool)
    maybe = np.flatnonzero(value < SWAPPED_NAMES_FACTOR * (FIRST_NAME_WEIGHT + LAST_NAME_WEIGHT + dob_part))
    if maybe.size:
        swapped_first = _evidence(strings, inc_last[left[maybe]], right[maybe], firsts, True)
        swapped_last = _evidence(strings, inc_first[left[maybe]], right[maybe], lasts, False)
        swapped_value = SWAPPED_NAMES_FACTOR * (FIRST_NAME_WEIGHT * swapped_first + LAST_NAME_WEIGHT * swapped_last
                                                + dob_part[maybe])
        wins = swapped_value > value[maybe]
        chosen = maybe[wins]
        value[chosen], first[chosen], last[chosen] = swapped_value[wins], swapped_first[wins], swapped_last[wins]
        swapped[chosen] = True
    return PairScores(value, first, last, dob, swapped)


def score(incoming: Person, candidate: Person) -> Score:
    """How alike two people are, from 0 (nothing in common) to 1 (same names and birth date)."""
    return score_pairs([incoming], [candidate], [0], [0]).at(0)


# -- deciding ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Thresholds:
    accept: float = DEFAULT_ACCEPT_THRESHOLD
    review: float = DEFAULT_REVIEW_THRESHOLD
    margin: float = DEFAULT_MATCH_MARGIN

    def __post_init__(self):
        if not 0 < self.review <= self.accept <= 1:
            raise ValueError("Matching thresholds must satisfy 0 < review <= accept <= 1.")

    @classmethod
    def from_config(cls, config) -> "Thresholds":
        return cls(float(config.get("INGEST_ACCEPT_THRESHOLD", DEFAULT_ACCEPT_THRESHOLD)),
                   float(config.get("INGEST_REVIEW_THRESHOLD", DEFAULT_REVIEW_THRESHOLD)),
                   float(config.get("INGEST_MATCH_MARGIN", DEFAULT_MATCH_MARGIN)))


@dataclass(frozen=True)
class Candidate:
    client_id: uuid.UUID
    person: Person
    score: Score


MATCH, NEW, REVIEW = "match", "new", "review"


@dataclass(frozen=True)
class Decision:
    outcome: str  # MATCH, NEW or REVIEW
    client_id: uuid.UUID | None = None
    candidates: tuple[Candidate, ...] = field(default_factory=tuple)
    reason: str = ""


def decide(candidates: Iterable[Candidate], thresholds: Thresholds, *, max_listed: int = 5) -> Decision:
    """Match only one clear candidate above the accept threshold; several or a close call go to review."""
    ranked = sorted(candidates, key=lambda c: c.score.value, reverse=True)
    plausible = tuple(c for c in ranked if c.score.value >= thresholds.review)[:max_listed]
    if not plausible:
        return Decision(NEW, reason="no similar client")
    best = plausible[0]
    runner_up = plausible[1].score.value if len(plausible) > 1 else None
    if best.score.value >= thresholds.accept and (runner_up is None
                                                  or best.score.value - runner_up >= thresholds.margin):
        return Decision(MATCH, best.client_id, plausible[:1], reason=f"matched with score {best.score.value:.3f}")
    if runner_up is not None and best.score.value >= thresholds.accept:
        reason = f"{len(plausible)} similar clients; the best two score {best.score.value:.3f} and {runner_up:.3f}"
    elif len(plausible) > 1:
        reason = f"{len(plausible)} similar clients, none clearly the same person (best {best.score.value:.3f})"
    else:
        reason = f"one similar client, not similar enough to merge automatically (score {best.score.value:.3f})"
    return Decision(REVIEW, None, plausible, reason)


# -- candidates from the database ---------------------------------------------------------
def one_of(column, values, dialect_name: str):
    """``column IN values``. On PostgreSQL one array parameter (``= ANY``) instead of one parameter per
    value: a batch's lists run to thousands of values, and binding each one costs more than the query."""
    values = list(values)
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == sa.any_(sa.bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


class CandidateRow(NamedTuple):
    """A client as blocking fetches it: the query selects exactly these columns, in this order."""

    id: uuid.UUID
    first_name: str | None
    last_name: str | None
    preferred_name: str | None
    alias: str | None
    dob: date | None
    block_last_key: str | None
    block_names_key: str | None
    block_prefix_key: str | None
    gender: str | None


def block_condition(client_table, people: Sequence[Person], dialect_name: str = "default"):
    """SQL condition selecting every client that shares a blocking key with one of ``people``.

    Each branch is one indexed lookup: the birth date; birth year + phonetic last name;
    both phonetic names in either order (swapped names, a wrong birth date); the first
    letters of both names (a typo that changes how a name sounds). bench/match_quality.py
    reports the share of true duplicates these branches find ("blocking").
    """
    dobs, year_keys, names, prefixes = set(), set(), set(), set()
    for person in people:
        keys = match_keys(person.first_name, person.last_name, person.dob)
        if person.dob:
            dobs.add(person.dob)
        if keys.last_key:
            year_keys.add(keys.last_key)
        if keys.names_key:
            names.add(keys.names_key)
        if keys.prefix_key:
            prefixes.add(keys.prefix_key)
    c = client_table.c
    branches = []
    if dobs:
        branches.append(one_of(c.dob, sorted(dobs), dialect_name))
    if year_keys:
        ordered = sorted(year_keys)
        branches.append(one_of(c.block_last_key, ordered, dialect_name))
    if names:
        branches.append(one_of(c.block_names_key, sorted(names), dialect_name))
    if prefixes:
        branches.append(one_of(c.block_prefix_key, sorted(prefixes), dialect_name))
    return sa.or_(*branches) if branches else sa.false()


# People looked up per query: at a million clients 250 people share keys with ~30,000 clients,
# which bounds what one lookup holds in memory (an import's peak stays well under 500 MB).
CANDIDATE_CHUNK = 250


def find_candidates(session, people: Sequence[Person], *, exclude_archived: bool = True,
                    extra_condition=None, min_score: float | None = None,
                    source: str | None = None) -> list[list[Candidate]]:
    """For each person, the clients sharing a blocking key with them, scored; one query per chunk of people.

    With ``min_score``, only candidates scoring at least that much are returned (an import
    needs only those in the review band; the rest are scored but never become objects).
    With ``source``, each candidate carries the ids it holds in that source system
    (``Person.source_ids``), the evidence an import of that source compares.
    """
    from app.models import Client

    table = Client.__table__
    found: list[list[Candidate]] = []
    for start in range(0, len(people), CANDIDATE_CHUNK):
        chunk = people[start:start + CANDIDATE_CHUNK]
        query = sa.select(*(table.c[name] for name in CandidateRow._fields)).where(
            block_condition(table, chunk, session.connection().dialect.name))
        if exclude_archived:
            query = query.where(table.c.is_archived.is_(False))
        if extra_condition is not None:
            query = query.where(extra_condition)
        rows = session.execute(query).all()
        held = _source_ids_of(session, source, [row.id for row in rows]) if source and rows else None
        found += candidates_from_rows(chunk, rows, min_score=min_score, source_ids=held)
    return found


def _source_ids_of(session, source: str, client_ids) -> dict[uuid.UUID, frozenset[str]]:
    """The ids each of ``client_ids`` holds in ``source``."""
    from app.models import ClientSourceId

    held: dict[uuid.UUID, set[str]] = defaultdict(set)
    for client_id, source_id in session.execute(
            sa.select(ClientSourceId.client_id, ClientSourceId.source_client_id)
            .where(ClientSourceId.source_system == source,
                   one_of(ClientSourceId.client_id, client_ids, session.connection().dialect.name))):
        held[client_id].add(source_id)
    return {client_id: frozenset(ids) for client_id, ids in held.items()}


def _blocking_keys(first_name, last_name, dob) -> list:
    """The keys a person is found by: the birth date itself, and the stored key columns that are set."""
    keys = match_keys(first_name, last_name, dob)
    found = [dob] if dob else []
    found += [key for key in (keys.last_key, keys.names_key, keys.prefix_key) if key]
    return found


def pair_by_blocks(people: Sequence[Person], rows: Sequence[CandidateRow]) -> tuple[np.ndarray, np.ndarray]:
    """Every (person, row) pair sharing a blocking key, each pair once, as two index arrays.

    The rows' keys are read from their stored columns (what the query selected on); the
    people's are computed. Dates and key strings never collide, so one table numbers them all.
    """
    number: dict = {}
    row_of, key_of = [], []
    for index, row in enumerate(rows):
        for key in row[5:9]:  # dob and the three key columns
            if key is not None:
                row_of.append(index)
                key_of.append(number.setdefault(key, len(number)))
    person_of, wanted = [], []
    for index, person in enumerate(people):
        for key in _blocking_keys(person.first_name, person.last_name, person.dob):
            found = number.get(key)
            if found is not None:
                person_of.append(index)
                wanted.append(found)
    if not person_of:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    key_of, row_of = np.array(key_of, dtype=np.intp), np.array(row_of, dtype=np.intp)
    rows_by_key = row_of[np.argsort(key_of, kind="stable")]
    count = np.bincount(key_of, minlength=len(number))
    start = np.cumsum(count) - count
    wanted, person_of = np.array(wanted, dtype=np.intp), np.array(person_of, dtype=np.intp)
    per_entry = count[wanted]
    entry = np.repeat(np.arange(wanted.size), per_entry)
    first_slot = np.cumsum(per_entry) - per_entry
    slots = start[wanted][entry] + (np.arange(entry.size) - first_slot[entry])
    pairs = np.unique(person_of[entry].astype(np.int64) * len(rows) + rows_by_key[slots])
    return pairs // len(rows), pairs % len(rows)


def candidates_from_rows(people: Sequence[Person], rows: Sequence[CandidateRow], *,
                         min_score: float | None = None,
                         source_ids: dict[uuid.UUID, frozenset[str]] | None = None) -> list[list[Candidate]]:
    """Pair fetched client rows with the people whose block they share, and score every pair in one call.

    ``source_ids``: the ids each client holds in the source being matched, when known."""
    result: list[list[Candidate]] = [[] for _ in people]
    left, right = pair_by_blocks(people, rows)
    if not left.size:
        return result
    columns = list(zip(*rows))
    ids, first, last, preferred, alias, dob = columns[:6]
    held = source_ids or {}
    candidates = People(first, last, preferred, alias, dob, columns[9],
                        [held.get(client_id, frozenset()) for client_id in ids])
    scores = score_pairs(people, candidates, left, right)
    kept = range(left.size) if min_score is None else np.flatnonzero(scores.value >= min_score)
    for k in kept:
        result[left[k]].append(Candidate(ids[right[k]], candidates.person(right[k]), scores.at(k)))
    return result


class CandidateIndex:
    """People not (yet) in the database, findable by the same blocking keys the database stores.

    An import keeps the clients it creates here, so a later row of the same file finds
    them; the quality bench keeps its test clients here.
    """

    def __init__(self):
        self._by_key: dict[tuple, list] = defaultdict(list)
        self._source_ids: dict[uuid.UUID, frozenset[str]] = {}

    def add(self, client_id: uuid.UUID, person: Person) -> None:
        keys = match_keys(person.first_name, person.last_name, person.dob)
        row = CandidateRow(client_id, person.first_name, person.last_name, person.preferred_name, person.alias,
                           person.dob, keys.last_key, keys.names_key, keys.prefix_key, person.gender)
        if person.source_ids:
            self._source_ids[client_id] = self._source_ids.get(client_id, frozenset()) | person.source_ids
        for lookup in self._lookups(person, keys):
            self._by_key[lookup].append(row)

    @staticmethod
    def _lookups(person: Person, keys: MatchKeys):
        if person.dob:
            yield "dob", person.dob
        if keys.last_key:
            yield "year", keys.last_key
        if keys.names_key:
            yield "names", keys.names_key
        if keys.prefix_key:
            yield "prefix", keys.prefix_key

    def rows_for(self, person: Person) -> list:
        keys = match_keys(person.first_name, person.last_name, person.dob)
        found = {}
        for lookup in self._lookups(person, keys):
            for row in self._by_key.get(lookup, ()):
                found[row.id] = row
        return list(found.values())

    def candidates(self, person: Person, *, min_score: float | None = None) -> list[Candidate]:
        rows = self.rows_for(person)
        return candidates_from_rows([person], rows, min_score=min_score, source_ids=self._source_ids)[0] \
            if rows else []
