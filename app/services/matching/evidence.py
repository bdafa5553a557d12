"""A pair's evidence in words an operator reads: one entry per compared field, with its weight.

Review pages draw these as a waterfall ("same birth date +14.3", "different gender -4.1",
"different EMHware ID -4.0"); the words name the values compared where that helps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.services.matching import comparisons as c
from app.services.matching.model import Evidence, address_held_below_the_line
from app.services.matching.names import normalize_name

if TYPE_CHECKING:
    from app.services.matching.model import PairScores

# A name shared by at least this many clients is called common in the words.
COMMON_NAME_CLIENTS = 20


def _shown(value: str | None) -> str:
    return (value or "").strip() or "?"


def _as_written(normalised: str, raw: str | None) -> str:
    """The name as the record writes it when the compared name is the record's own, else the
    compared name (a preferred name or alias) in title case."""
    return (raw or "").strip() if raw and normalize_name(raw) == normalised else normalised.title()


def _frequency_note(scores: "PairScores", name: str, value: str) -> str:
    frequencies = scores.model.frequencies.get(name)
    if frequencies is None:
        return ""
    count = frequencies.counts.get(value)
    if count and count >= COMMON_NAME_CLIENTS:
        return f" (common: {count} clients)"
    return " (rare)" if not count else f" ({count} clients)"


def _first_words(level: int, mine: str, theirs: str, note: str, swapped: bool) -> str:
    pair = f"({_shown(mine)} / {_shown(theirs)})"
    what = "first name" if not swapped else "first name (written as the last name)"
    return {
        c.F_EXACT: f"same {what}{note}",
        c.F_NICKNAME: f"{what}: a nickname {pair}",
        c.F_CLOSE: f"{what} nearly the same {pair}",
        c.F_SIMILAR: f"{what} similar {pair}",
        c.F_GENDERED: f"gendered variant of the {what} {pair}",
        c.F_INITIAL: f"{what} only an initial {pair}",
        c.F_DIFFERENT: f"different {what} {pair}",
        c.F_GENDERED_OTHER_GENDER: f"gendered variant of the {what} {pair} with a different gender: "
                                   "twins, not one person",
        c.F_UNKNOWN: f"{what} missing: no evidence",
    }[level]


def _last_words(level: int, mine: str, theirs: str, note: str, swapped: bool) -> str:
    pair = f"({_shown(mine)} / {_shown(theirs)})"
    what = "last name" if not swapped else "last name (written as the first name)"
    return {
        c.L_EXACT: f"same {what}{note}",
        c.L_PART: f"one part of a double {what} {pair}",
        c.L_CLOSE: f"{what} nearly the same {pair}",
        c.L_SIMILAR: f"{what} similar {pair}",
        c.L_DIFFERENT: f"different {what} {pair}",
        c.L_UNKNOWN: f"{what} missing: no evidence",
    }[level]


def _dob_words(level: int, mine, theirs, placeholders) -> str:
    def shown(value):
        return value.isoformat() if value else "?"

    placeholder = next((d for d in (mine, theirs) if d is not None and d in placeholders), mine or theirs)
    return {
        c.D_EXACT: "same birth date",
        c.D_JANUARY_1: "same birth date, a 1 January (often an estimated date: weaker)",
        c.D_TRANSPOSED: f"birth date day and month transposed ({shown(mine)} / {shown(theirs)})",
        c.D_ONE_DIGIT: f"birth date one digit apart ({shown(mine)} / {shown(theirs)})",
        c.D_YEAR_OFF: f"birth year off by one ({shown(mine)} / {shown(theirs)})",
        c.D_DIFFERENT: f"different birth date ({shown(mine)} / {shown(theirs)})",
        c.D_PLACEHOLDER: f"placeholder birth date ({shown(placeholder)}): no evidence",
        c.D_UNKNOWN: "birth date missing: no evidence",
    }[level]


def _place_words(scores: "PairScores", k: int, field: str, level: int, mine: str | None, theirs: str | None) -> str:
    """A city's or an address's evidence (their levels are numbered alike), saying when its weight was limited."""
    what, cap, shared_by = {"city": ("city", scores.settings.city_max_weight, "households share a city"),
                            "address": ("address", scores.settings.address_max_weight,
                                        "a household shares its address")}[field]
    weight = float(scores.field_weights[field][k])
    if field == "address" and address_held_below_the_line(scores.settings, level, weight, float(scores.weight[k])):
        limit = " (counted only up to the line of an automatic match: an address alone never merges two records)"
    elif level <= c.C_CLOSE and weight >= cap > 0:
        limit = f" (counted at most this much: {shared_by})"
    else:
        limit = ""
    if level == c.C_SAME:
        household = scores.comparison.household
        incoming = household.incoming_city if field == "city" else household.incoming_address
        note = _frequency_note(scores, field, scores.comparison.strings[incoming[k]])
        return f"same {what}, {_shown(mine)}{note}{limit}"
    return {
        c.C_CLOSE: f"{what} nearly the same ({_shown(mine)} / {_shown(theirs)}){limit}",
        c.C_DIFFERENT: f"different {what} ({_shown(mine)} / {_shown(theirs)})",
        c.C_UNKNOWN: f"{what} not known for both: no evidence",
    }[level]


def describe(scores: "PairScores", k: int, levels: dict[str, int]) -> tuple[Evidence, ...]:
    i, j = int(scores.left[k]), int(scores.right[k])
    incoming, candidates, strings = scores.incoming, scores.candidates, scores.comparison.strings
    weights = scores.field_weights
    swapped = levels["name_order"] != c.O_STRAIGHT
    mine_first = strings[scores.comparison.incoming_last[k] if swapped else scores.comparison.incoming_first[k]]
    mine_last = strings[scores.comparison.incoming_first[k] if swapped else scores.comparison.incoming_last[k]]
    theirs_first, theirs_last = strings[scores.first_option[k]], strings[scores.last_option[k]]
    raw_mine = (incoming.last_name[i], incoming.first_name[i]) if swapped else (incoming.first_name[i],
                                                                                incoming.last_name[i])
    shown = {"first": (_as_written(mine_first, raw_mine[0]), _as_written(theirs_first, candidates.first_name[j])),
             "last": (_as_written(mine_last, raw_mine[1]), _as_written(theirs_last, candidates.last_name[j]))}
    gender = levels["gender"]
    source = scores.source or "source"
    ids_mine, ids_theirs = incoming.ids()[i], candidates.ids()[j]
    source_words = {
        c.S_SAME: f"same {source} ID",
        c.S_DIFFERENT: f"different {source} ID ({', '.join(sorted(ids_mine))} / {', '.join(sorted(ids_theirs))})",
        c.S_ABSENT: f"no {source} IDs to compare: no evidence",
    }[levels["source_id"]]
    found = [
        Evidence("first_name", _first_words(levels["first_name"], *shown["first"],
                                            _frequency_note(scores, "first_name", mine_first), swapped),
                 float(weights["first_name"][k])),
        Evidence("last_name", _last_words(levels["last_name"], *shown["last"],
                                          _frequency_note(scores, "last_name", mine_last), swapped),
                 float(weights["last_name"][k])),
        Evidence("dob", _dob_words(levels["dob"], incoming.dob[i], candidates.dob[j],
                                         scores.settings.placeholder_dobs), float(weights["dob"][k])),
        Evidence("gender", {c.G_SAME: "same gender", c.G_DIFFERENT: "different gender",
                            c.G_UNKNOWN: "gender not known for both: no evidence"}[gender],
                 float(weights["gender"][k])),
        Evidence("source_id", source_words, float(weights["source_id"][k])),
        Evidence("city", _place_words(scores, k, "city", levels["city"], incoming.cities()[i],
                                      candidates.cities()[j]), float(weights["city"][k])),
    ]
    mine_address, theirs_address = incoming.addresses()[i], candidates.addresses()[j]
    if mine_address or theirs_address:  # most files carry no address: no line saying so on every pair
        found.append(Evidence("address", _place_words(scores, k, "address", levels["address"], mine_address,
                                                      theirs_address), float(weights["address"][k])))
    if swapped:
        found.append(Evidence("name_order", "first and last names written the other way round"
                              + ("" if levels["name_order"] == c.O_SWAPPED else ", and one of them differs"),
                              float(weights["name_order"][k])))
    return tuple(found)
