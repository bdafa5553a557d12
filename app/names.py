"""Names as matching compares and indexes them: normalised, phonetic, and the blocking keys.

These sit below the models (``Client.refresh_match_keys`` and migration 0007 compute the
stored keys with them) and below ``app.services.matching``, which re-exports them: the
keys a client is stored under and the keys an incoming row is looked up by must be
computed by one function.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

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
