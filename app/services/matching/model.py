"""The Fellegi–Sunter linkage model: how much each comparison level says for or against a match.

For each field and level, ``m`` is the probability of the level among pairs that are the
same person and ``u`` among pairs that are not; the level weighs log2(m/u) bits. A pair's
match weight is the prior log-odds plus the weights of its fields, and its match
probability 2^w / (1 + 2^w). Exact agreement on a first or last name, or on a city, is
weighed by how common that value is among the agency's clients (term frequency: sharing
"Mohamed Ali" or "Toronto" is weak evidence, sharing a rare name or a small town strong): u
becomes the value's frequency; a shared street address likewise (a shelter's address, written
for everyone it houses, is weak evidence). A shared city and a shared address are capped
(``MATCH_CITY_MAX_WEIGHT``, ``MATCH_ADDRESS_MAX_WEIGHT``): households share them as well as a
last name, so they are not the independent evidence the model assumes.

``DEFAULT_MODEL`` is estimated once (bench/linkage_fit.py, FEBRL 1-4 and a synthetic set) so
a fresh install matches well before any training; ``app.services.matching.training`` learns
the agency's own model, and the latest active one stored is used (``active_model``).
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Mapping, Sequence

import numpy as np

from app.services.matching import comparisons as c
from app.services.matching.comparisons import LEVELS, NEUTRAL_LEVELS, Comparison, People

# Config keys (app/config.py reads them from the environment).
PLACEHOLDER_DOBS_KEY = "MATCH_PLACEHOLDER_DOBS"
DIFFERENT_ID_WEIGHT_KEY = "MATCH_SAME_SOURCE_DIFFERENT_ID_WEIGHT"
CITY_MAX_WEIGHT_KEY = "MATCH_CITY_MAX_WEIGHT"
ADDRESS_MAX_WEIGHT_KEY = "MATCH_ADDRESS_MAX_WEIGHT"
DEFAULT_PLACEHOLDER_DOBS: tuple[date, ...] = (date(1900, 1, 1),)
# A client holding another id of the source being imported is more likely another person, but
# source systems hold duplicates of their own and give returning people fresh ids: -4 bits says
# "a person holds a second id about one time in sixteen". Measured on the real import path
# (bench/match_quality.py, bench/RESULTS.md): at -10 the hard set caught 0.52 of its duplicates,
# at -4 0.81, with rows held that are not duplicates at 1.2 % (target <= 2 %). Names that merely
# agree with unrelated birth dates are told apart by the birth date, not by this weight, and an
# import never merges a client holding another id of the source automatically (ingest/decide.py).
DEFAULT_DIFFERENT_ID_WEIGHT = -4.0
# The most a shared city may count for. A family shares last name and city, twins share their
# birth date too: at this cap opposite-sex twins stay far below review and same-sex twins with
# unrelated first names stay below the automatic merge (bench/RESULTS.md, hard set).
DEFAULT_CITY_MAX_WEIGHT = 4.0
# The most a shared street address may count for, on top of the city: a household shares both with its
# last name, and its twins their birth date as well. Measured (bench/RESULTS.md): at 6 bits opposite-sex
# twins written with their shared address rose into the review band and held rows that are not
# duplicates passed 2 % of the hard set; at 3 they stay below it, and FEBRL's duplicates whose names and
# birth date were both corrupted are still lifted to review.
DEFAULT_ADDRESS_MAX_WEIGHT = 3.0
# A match probability at or above this is written without a person (matching.decide, ingest linking;
# INGEST_ACCEPT_THRESHOLD overrides it). A shared address never lifts a pair over it (``address_weights``).
DEFAULT_ACCEPT_THRESHOLD = 0.99
# How far below the automatic-match line a pair lifted only by its address is left, in bits.
_BELOW_THE_LINE = 0.01

# The frequency given to a name that is not among the stored common ones: never rarer than this.
MIN_NAME_FREQUENCY = 1e-6
TF_FIELDS = ("first_name", "last_name", "city", "address")
COMPARED_FIELDS = ("first_name", "last_name", "dob", "gender", "source_id", "city", "address")


@dataclass(frozen=True)
class NameFrequencies:
    """How many clients carry each common (normalised) name, out of ``total``; ``other`` is the
    frequency of any name not listed (the rest of the clients spread over the rest of the names).

    Counted from a sample, the frequencies are drawn towards ``prior`` as if ``prior_people`` more
    people had been counted at that frequency: a few hundred clients say little of how rare a name is."""

    counts: Mapping[str, int]
    total: int
    other: float
    prior_people: float = 0.0
    prior: float = 0.0

    def frequency(self, value: str) -> float:
        count = self.counts.get(value)
        if self.prior_people:
            return max(((count or 0) + self.prior_people * self.prior) / (self.total + self.prior_people),
                       MIN_NAME_FREQUENCY)
        return max(count / self.total if count else self.other, MIN_NAME_FREQUENCY)

    def to_json(self) -> dict:
        return {"counts": dict(self.counts), "total": self.total, "other": self.other,
                "prior_people": self.prior_people, "prior": self.prior}

    @classmethod
    def from_json(cls, data: dict) -> "NameFrequencies":
        return cls(dict(data["counts"]), int(data["total"]), float(data["other"]),
                   float(data.get("prior_people", 0.0)), float(data.get("prior", 0.0)))


@dataclass(frozen=True)
class LinkageModel:
    m: Mapping[str, Sequence[float]]  # field -> probability of each level among matches
    u: Mapping[str, Sequence[float]]  # ... among non-matches
    prior: float  # probability that two random clients are the same person
    frequencies: Mapping[str, NameFrequencies] = field(default_factory=dict)
    id: uuid.UUID | None = None
    label: str = "built-in default"

    def __post_init__(self):
        for name, levels in LEVELS.items():
            for table in (self.m, self.u):
                if len(table[name]) != len(levels):
                    raise ValueError(f"The model needs one probability per level of {name} ({len(levels)}).")
        if not 0 < self.prior < 1:
            raise ValueError("The prior match probability must be between 0 and 1.")

    @property
    def prior_weight(self) -> float:
        return math.log2(self.prior / (1 - self.prior))

    def weights(self, name: str) -> np.ndarray:
        """log2(m/u) per level of a field; levels that are no evidence weigh 0."""
        neutral = NEUTRAL_LEVELS[name]
        return np.array([0.0 if level in neutral else math.log2(max(m, 1e-12) / max(u, 1e-12))
                         for level, m, u in zip(LEVELS[name], self.m[name], self.u[name])])

    def to_json(self) -> dict:
        return {"m": {k: list(v) for k, v in self.m.items()}, "u": {k: list(v) for k, v in self.u.items()},
                "prior": self.prior, "frequencies": {k: v.to_json() for k, v in self.frequencies.items()}}

    @classmethod
    def from_json(cls, data: dict, **kw) -> "LinkageModel":
        """A stored model; a field it predates (the city or the address, for models trained before it was
        compared) is no evidence either way (m = u) until the model is trained again."""
        m, u = {k: tuple(v) for k, v in data["m"].items()}, {k: tuple(v) for k, v in data["u"].items()}
        for name, levels in LEVELS.items():
            if name not in m and name not in u:
                m[name] = u[name] = (1.0,) * len(levels)
        return cls(m, u, float(data["prior"]),
                   {k: NameFrequencies.from_json(v) for k, v in data.get("frequencies", {}).items()}, **kw)


# Estimated by bench/linkage_fit.py --fit: m from the known links of FEBRL 1-4 and the hard
# synthetic set (averaged, each set once), u from random pairs of the hard set (a population
# shaped like an agency's). Set by hand where the sets cannot say: a gendered variant of the
# first name is no evidence either way when a gender is missing (twin or typo: m = u), and
# with different genders it is the mark of opposite-sex twins (-9 bits: their last name and
# birth date agree, which the independent fields would otherwise count twice); a
# different gender is 5.6 bits against, not the sets' "never" (records do get gender wrong);
# an initial, a nickname, a year off by one and the name order, which FEBRL never produces. The
# city by hand, for an agency that has not trained yet: a person's records name the same city
# seven times in ten (people move, workers leave it empty); two clients share one about one
# time in twenty, far more in a one-city agency, which training's frequencies then say. Levels
# in the order of comparisons.LEVELS. The address by hand too: a person's records give the same street
# address about half the time (people move, shelters change, workers abbreviate), a close spelling
# one time in five; exact agreement is weighed by the address's frequency among the clients.
DEFAULT_MODEL = LinkageModel(
    m={
        "first_name": (0.786, 0.03, 0.11, 0.0166, 0.0001, 0.01, 0.0473, 0.0000001, 1.0),
        "last_name": (0.771, 0.0005, 0.159, 0.0212, 0.0483, 1.0),
        "dob": (0.9292, 0.0112, 0.0089, 0.0256, 0.001, 0.0241, 1.0, 1.0),
        "gender": (0.98, 0.02, 1.0),
        "source_id": (0.9, 0.1, 1.0),
        "name_order": (0.98, 0.0199, 0.0001),
        "city": (0.70, 0.05, 0.25, 1.0),
        "address": (0.50, 0.20, 0.30, 1.0),
    },
    u={
        "first_name": (0.0068, 0.0027, 0.0017, 0.003, 0.0001, 0.0001, 0.98555, 0.00005, 1.0),
        "last_name": (0.0059, 0.0001, 0.0009, 0.0021, 0.991, 1.0),
        "dob": (0.000065, 0.000068, 0.000024, 0.0018, 0.00001, 0.998023, 1.0, 1.0),
        "gender": (0.5, 0.5, 1.0),
        "source_id": (1e-7, 0.9999999, 1.0),
        "name_order": (0.97, 0.01, 0.02),
        "city": (0.05, 0.01, 0.94, 1.0),
        "address": (0.0005, 0.002, 0.9975, 1.0),
    },
    prior=1 / 50_000,
)


# -- settings ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    placeholder_dobs: frozenset[date] = frozenset(DEFAULT_PLACEHOLDER_DOBS)
    different_id_weight: float = DEFAULT_DIFFERENT_ID_WEIGHT
    city_max_weight: float = DEFAULT_CITY_MAX_WEIGHT
    address_max_weight: float = DEFAULT_ADDRESS_MAX_WEIGHT
    accept: float = DEFAULT_ACCEPT_THRESHOLD

    @property
    def accept_weight(self) -> float:
        """The match weight of the automatic-match line."""
        return math.log2(self.accept / (1.0 - self.accept)) if 0.0 < self.accept < 1.0 else math.inf


def parse_placeholder_dobs(value) -> frozenset[date]:
    """A list of dates or a comma-separated string of ISO dates ("1900-01-01, 1901-01-01")."""
    if isinstance(value, str):
        value = [part for part in (p.strip() for p in value.split(",")) if part]
    found = set()
    for item in value or ():
        try:
            found.add(item if isinstance(item, date) else date.fromisoformat(str(item)))
        except ValueError:
            raise ValueError(f"{PLACEHOLDER_DOBS_KEY}: {item!r} is not a date written YYYY-MM-DD.") from None
    return frozenset(found)


def settings(config=None) -> Settings:
    """The matching settings of ``config``, or of the running app, or the defaults outside one."""
    if config is None:
        from flask import current_app, has_app_context

        if not has_app_context():
            return Settings()
        config = current_app.config
    weight = float(config.get(DIFFERENT_ID_WEIGHT_KEY, DEFAULT_DIFFERENT_ID_WEIGHT))
    if weight > 0:
        raise ValueError(f"{DIFFERENT_ID_WEIGHT_KEY} must be 0 or negative (evidence against a match).")
    city_cap = float(config.get(CITY_MAX_WEIGHT_KEY, DEFAULT_CITY_MAX_WEIGHT))
    if city_cap < 0:
        raise ValueError(f"{CITY_MAX_WEIGHT_KEY} must be 0 or more (0: a shared city is no evidence).")
    address_cap = float(config.get(ADDRESS_MAX_WEIGHT_KEY, DEFAULT_ADDRESS_MAX_WEIGHT))
    if address_cap < 0:
        raise ValueError(f"{ADDRESS_MAX_WEIGHT_KEY} must be 0 or more (0: a shared address is no evidence).")
    return Settings(parse_placeholder_dobs(config.get(PLACEHOLDER_DOBS_KEY, DEFAULT_PLACEHOLDER_DOBS)), weight,
                    city_cap, address_cap, float(config.get("INGEST_ACCEPT_THRESHOLD", DEFAULT_ACCEPT_THRESHOLD)))


# -- the model in use ----------------------------------------------------------------------
class _Active:
    model: LinkageModel = DEFAULT_MODEL
    checked_at: float = 0.0


# How often a process looks for a newer trained model (one indexed query).
MODEL_CHECK_SECONDS = 30.0


def active_model(session=None, *, refresh: bool = False) -> LinkageModel:
    """The model scoring uses: the latest active one stored, else the built-in default.

    Cached per process; with a session, the database is asked (at most every
    MODEL_CHECK_SECONDS, or at once with ``refresh``) whether a newer one exists.
    """
    if session is not None and (refresh or time.monotonic() - _Active.checked_at >= MODEL_CHECK_SECONDS):
        from app.models import LinkageModelRecord

        latest = session.execute(
            LinkageModelRecord.latest_active_query().with_only_columns(LinkageModelRecord.id)).scalar()
        if latest is None:
            _Active.model = DEFAULT_MODEL
        elif latest != _Active.model.id:
            record = session.get(LinkageModelRecord, latest)
            _Active.model = LinkageModel.from_json(record.parameters, id=record.id, label=record.label)
        _Active.checked_at = time.monotonic()
    return _Active.model


def forget_active_model() -> None:
    """Back to the default until the database is asked again (tests; a model deactivated by hand)."""
    _Active.model, _Active.checked_at = DEFAULT_MODEL, 0.0


# -- scores ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Evidence:
    field: str
    text: str
    weight: float


@dataclass(frozen=True)
class Score:
    """One pair's match probability, match weight, what agreed, and the evidence in words."""

    value: float  # match probability
    match_weight: float
    match_type: str
    evidence: tuple[Evidence, ...] = ()
    levels: tuple[tuple[str, str], ...] = ()  # (field, level name): what training reads back from labels
    model: str = DEFAULT_MODEL.label

    def details(self) -> dict:
        return {"probability": round(self.value, 4), "match_weight": round(self.match_weight, 1),
                "match_type": self.match_type,
                "evidence": [{"field": e.field, "text": e.text, "weight": round(e.weight, 1)} for e in self.evidence],
                "levels": dict(self.levels), "model": self.model}


def probability(weight):
    """2^w / (1 + 2^w), without overflow."""
    return 1.0 / (1.0 + np.exp2(-np.asarray(weight, dtype=np.float64)))


@dataclass(frozen=True)
class PairScores:
    """Scores of many pairs as arrays; ``at(k)`` is the k-th pair's Score (built only when asked)."""

    value: np.ndarray  # match probability
    weight: np.ndarray  # match weight
    field_weights: dict[str, np.ndarray]
    levels: dict[str, np.ndarray]  # of the reading chosen
    first_option: np.ndarray
    last_option: np.ndarray
    comparison: Comparison
    incoming: People
    candidates: People
    left: np.ndarray
    right: np.ndarray
    model: LinkageModel
    settings: Settings
    source: str | None

    def at(self, k: int, words: bool = True) -> Score:
        """The k-th pair's Score; without ``words`` it carries no evidence (most of a Score's size), for a
        caller holding many scores that a person may never read."""
        from app.services.matching.evidence import describe

        levels = {name: int(values[k]) for name, values in self.levels.items()}
        evidence = describe(self, k, levels) if words else ()
        return Score(float(self.value[k]), float(self.weight[k]), match_type_of(levels), evidence,
                     level_names(tuple(levels.items())), self.model.label)


@lru_cache(maxsize=4096)
def level_names(levels: tuple[tuple[str, int], ...]) -> tuple[tuple[str, str], ...]:
    """The chosen levels by name, one shared tuple per combination: an import holds every candidate's Score
    until its batch is written, and a few hundred combinations cover them all (each tuple is ~450 bytes)."""
    return tuple((name, LEVELS[name][value]) for name, value in levels)


def match_type_of(levels: Mapping[str, int]) -> str:
    """A short code saying what agreed (words in MATCH_TYPE_WORDS)."""
    if levels["source_id"] == c.S_SAME:
        return "same_source_id"
    if levels["name_order"] != c.O_STRAIGHT:
        return "swapped_names"
    first, last = levels["first_name"], levels["last_name"]
    first_agrees = first <= c.F_SIMILAR or first == c.F_INITIAL
    last_agrees = last <= c.L_SIMILAR
    if first == c.F_EXACT and last == c.L_EXACT:
        names = "exact_name"
    elif first == c.F_GENDERED and last_agrees:
        names = "gendered_name"
    elif first_agrees and last_agrees:
        names = "name"
    elif last_agrees:
        names = "last_name"
    elif first_agrees:
        names = "first_name"
    else:
        names = "no_name"
    dob = levels["dob"]
    if dob in (c.D_EXACT, c.D_JANUARY_1):
        return f"{names}_dob"
    if dob in (c.D_TRANSPOSED, c.D_ONE_DIGIT, c.D_YEAR_OFF):
        return f"{names}_near_dob"
    if dob == c.D_DIFFERENT:
        return f"{names}_different_dob"
    return "name_only" if names in ("exact_name", "name") else f"{names}_no_dob"


_NAME_WORDS = {"exact_name": "the same names", "gendered_name": "the same last name and a gendered variant of the "
               "first name", "name": "similar names", "last_name": "the same or a similar last name only",
               "first_name": "the same or a similar first name only", "no_name": "different names"}
_DOB_WORDS = {"dob": "the same birth date", "near_dob": "a nearly equal birth date (typo)",
              "different_dob": "a different birth date", "no_dob": "no birth date to compare"}
MATCH_TYPE_WORDS: dict[str, str] = {
    "same_source_id": "the same id in the source system",
    "swapped_names": "first and last names written the other way round",
    "name_only": "similar names, no birth date to compare",
    **{f"{n}_{d}": f"{nw}, {dw}" for n, nw in _NAME_WORDS.items() for d, dw in _DOB_WORDS.items()},
}


def _tf_weights(model: LinkageModel, name: str, levels: np.ndarray, weights: np.ndarray, values: np.ndarray,
                strings: list[str], exact: int) -> np.ndarray:
    """Field weights with exact agreement weighed by the agreed value's frequency among the clients. A field the
    model holds no evidence for (m = u: a stored model that predates it) stays no evidence, whatever the
    frequencies counted when scoring starts."""
    frequencies = model.frequencies.get(name)
    if frequencies is None or model.m[name][exact] == model.u[name][exact]:
        return weights
    at = np.flatnonzero(levels == exact)
    if at.size:
        m_exact = model.m[name][exact]
        distinct, position = np.unique(values[at], return_inverse=True)
        by_value = np.log2(m_exact / np.array([frequencies.frequency(strings[i]) for i in distinct]))
        weights = weights.copy()
        weights[at] = by_value[position]
    return weights


def _household_weights(model: LinkageModel, name: str, cap: float, levels: np.ndarray, values: np.ndarray,
                       strings: list[str]) -> np.ndarray:
    """A shared value (city, address) weighed by its frequency, never against a match and never above the cap;
    a close spelling at most as much as the same value; a different one as the model says."""
    weights = _tf_weights(model, name, levels, model.weights(name)[levels], values, strings, c.C_SAME)
    agree = levels <= c.C_CLOSE
    return np.where(agree, np.clip(weights, 0.0, cap), weights)


def city_weights(model: LinkageModel, config: Settings, levels: np.ndarray, values: np.ndarray,
                 strings: list[str]) -> np.ndarray:
    return _household_weights(model, "city", config.city_max_weight, levels, values, strings)


def address_weights(model: LinkageModel, config: Settings, levels: np.ndarray, values: np.ndarray,
                    strings: list[str], others: np.ndarray) -> np.ndarray:
    """A shared address as a household's evidence, with one more limit: it may lift a pair to a person's
    review, never over the automatic-match line (``others``: each pair's weight without its address).
    Families and twins share an address as well as a last name, and a shelter's is given by many."""
    weights = _household_weights(model, "address", config.address_max_weight, levels, values, strings)
    line = config.accept_weight
    lifted = (weights > 0) & (others < line) & (others + weights >= line)
    return np.where(lifted, np.maximum(line - _BELOW_THE_LINE - others, 0.0), weights)


def household_weights(household: c.Household, model: LinkageModel, config: Settings,
                      others: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The city's and the address's weights of each pair, ``others`` being its weight without them."""
    w_city = city_weights(model, config, household.city, household.incoming_city, household.strings)
    w_address = address_weights(model, config, household.address, household.incoming_address, household.strings,
                                others + w_city)
    return w_city, w_address


def address_held_below_the_line(config: Settings, level: int, weight: float, total: float) -> bool:
    """Whether a pair's shared address was counted only up to the automatic-match line (for the words)."""
    return level <= c.A_CLOSE and weight > 0 and abs(total - (config.accept_weight - _BELOW_THE_LINE)) < 1e-6


def household_weight_ceiling(model: LinkageModel, config: Settings) -> float:
    """The most a pair's city and address can weigh together (both capped): a lookup scores its many rows
    without them first, and compares them only for the pairs this much could lift."""
    ceiling = 0.0
    for name, cap in (("city", config.city_max_weight), ("address", config.address_max_weight)):
        weights = model.weights(name)
        ceiling += max(cap, 0.0, float(weights[c.C_DIFFERENT]), float(weights[c.C_UNKNOWN]))
    return ceiling


def score_comparison(comparison: Comparison, model: LinkageModel, config: Settings):
    """Match weights of compared pairs: (total, per-field weights, chosen levels, chosen options)."""
    table = {name: model.weights(name) for name in LEVELS}
    strings = comparison.strings

    def names_weights(first, last, first_values, last_values):
        wf = _tf_weights(model, "first_name", first, table["first_name"][first], first_values, strings, c.F_EXACT)
        wl = _tf_weights(model, "last_name", last, table["last_name"][last], last_values, strings, c.L_EXACT)
        return wf, wl

    first, last = comparison.first_name.copy(), comparison.last_name.copy()
    w_first, w_last = names_weights(first, last, comparison.incoming_first, comparison.incoming_last)
    order = np.full(first.size, c.O_STRAIGHT, dtype=np.int8)
    w_order = np.zeros(first.size)
    first_option, last_option = comparison.first_option.copy(), comparison.last_option.copy()
    at = comparison.swapped_at
    if at.size:
        sf, sl = comparison.swapped_first, comparison.swapped_last
        # the swapped reading: incoming last name read as the first name (its value is the incoming last name)
        swf, swl = names_weights(sf, sl, comparison.incoming_last[at], comparison.incoming_first[at])
        both_agree = (sf <= c.F_NICKNAME) & (sl == c.L_EXACT)
        swapped_order = np.where(both_agree, c.O_SWAPPED, c.O_SWAPPED_PARTIAL).astype(np.int8)
        sw_order = table["name_order"][swapped_order]
        wins = swf + swl + sw_order > w_first[at] + w_last[at]
        chosen = at[wins]
        first[chosen], last[chosen] = sf[wins], sl[wins]
        w_first[chosen], w_last[chosen] = swf[wins], swl[wins]
        order[chosen], w_order[chosen] = swapped_order[wins], sw_order[wins]
        first_option[chosen] = comparison.swapped_first_option[wins]
        last_option[chosen] = comparison.swapped_last_option[wins]
    w_dob = table["dob"][comparison.dob]
    w_gender = table["gender"][comparison.gender]
    w_source = np.where(comparison.source_id == c.S_DIFFERENT, config.different_id_weight,
                        table["source_id"][comparison.source_id])
    w_city, w_address = household_weights(comparison.household, model, config,
                                          model.prior_weight + w_first + w_last + w_dob + w_gender + w_source + w_order)
    fields = {"first_name": w_first, "last_name": w_last, "dob": w_dob, "gender": w_gender,
              "source_id": w_source, "name_order": w_order, "city": w_city, "address": w_address}
    total = model.prior_weight + w_first + w_last + w_dob + w_gender + w_source + w_order + w_city + w_address
    levels = {"first_name": first, "last_name": last, "dob": comparison.dob, "gender": comparison.gender,
              "source_id": comparison.source_id, "name_order": order, "city": comparison.household.city,
              "address": comparison.household.address}
    return total, fields, levels, first_option, last_option


def score_pairs(incoming, candidates, left, right, *, model: LinkageModel | None = None,
                config: Settings | None = None, source: str | None = None) -> PairScores:
    """Match probability of incoming[left[k]] and candidates[right[k]], for every k.

    ``model``: the active one unless given; ``config``: the running app's settings (placeholder
    birth dates, the weight of a different same-source id); ``source``: the source system whose
    ids ``Person.source_ids`` holds (for the words).
    """
    incoming, candidates = People.of(incoming), People.of(candidates)
    left, right = np.asarray(left, dtype=np.intp), np.asarray(right, dtype=np.intp)
    model = model or active_model()
    config = config or settings()
    comparison = c.compare(incoming, candidates, left, right, config.placeholder_dobs)
    total, fields, levels, first_option, last_option = score_comparison(comparison, model, config)
    return PairScores(probability(total), total, fields, levels, first_option, last_option, comparison, incoming,
                      candidates, left, right, model, config, source)

