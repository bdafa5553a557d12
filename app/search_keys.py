"""The keys a client is found by, and the keys a search looks up: computed by one set of functions.

Every way a person looks a client up (a word of a name, a birth date, a phone number, an
email, a postal code, a source id) becomes a short key, "<kind>:<value>", stored in
``client_search_keys`` (app/models/search.py) and looked up there through its index. The
same functions turn what was stored and what was typed into keys, so "Émile", "émile" and
"EMILE" meet at ``n:emile`` and "(613) 555-0199", "613.555.0199" at ``p:6135550199``, on
PostgreSQL and SQLite alike. Keys hold only ASCII letters, digits and ``:@._+-``, so a
prefix is a plain range of the index on either database.
"""

from __future__ import annotations

import re
import string
import unicodedata
from datetime import date
from typing import Iterable

from app.names import normalize_name

NAME, BORN, PHONE, EMAIL, POSTAL, SOURCE = "n", "b", "p", "e", "z", "s"
KEY_LENGTH = 120  # the column's width; longer values are cut (a prefix of them still finds them)

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_NOT_EMAIL = re.compile(r"[^a-z0-9@._+-]+")
_NOT_DIGITS = re.compile(r"\D+")


def key(kind: str, value: str) -> str:
    return f"{kind}:{value}"[:KEY_LENGTH]


def compact(value: str | None) -> str:
    """Letters and digits only, lower case, accents dropped: 'SMIS-00042' -> 'smis00042'."""
    return _NOT_ALNUM.sub("", fold(value or ""))


def fold(value: str) -> str:
    """Lower case without accents, every other character kept: 'Émile@X.ca' -> 'emile@x.ca'."""
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def name_words(value: str | None) -> list[str]:
    """The words of a name as search compares them (app/names.py's normal form)."""
    return normalize_name(value).split()


def phone_digits(value: str | None) -> str:
    """A phone number's digits, without North America's leading 1: '+1 (613) 555-0199' -> '6135550199'."""
    digits = _NOT_DIGITS.sub("", value or "")
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


def phone_keys(value: str | None) -> set[str]:
    """A number is found by all its digits and, when it has an area code, by its last seven."""
    digits = phone_digits(value)
    if len(digits) < 7:
        return set()
    return {key(PHONE, digits), key(PHONE, digits[-7:])}


def email_key(value: str | None) -> str | None:
    cleaned = _NOT_EMAIL.sub("", fold((value or "").strip()))
    return key(EMAIL, cleaned) if cleaned else None


def postal_key(value: str | None) -> str | None:
    cleaned = compact(value)
    return key(POSTAL, cleaned) if cleaned else None


def born_key(value: date) -> str:
    return key(BORN, f"{value:%Y%m%d}")


def source_key(value: str | None) -> str | None:
    cleaned = compact(value)
    return key(SOURCE, cleaned) if cleaned else None


def client_keys(*, first_name=None, last_name=None, preferred_name=None, alias=None, dob=None, phone=None,
                phone_alt=None, email=None, postal_code=None, uid_external=None,
                source_ids: Iterable[str] = ()) -> set[str]:
    """Every key one client is found by."""
    keys = {key(NAME, word) for value in (first_name, last_name, preferred_name, alias)
            for word in name_words(value)}
    if dob is not None:
        keys.add(born_key(dob))
    keys |= phone_keys(phone) | phone_keys(phone_alt)
    keys |= {k for k in (email_key(email), postal_key(postal_code), source_key(uid_external),
                         *(source_key(value) for value in source_ids)) if k}
    return keys


def next_after_prefix(prefix: str) -> str:
    """The smallest key greater than every key starting with ``prefix`` (keys are ASCII)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def one_edit_away(word: str) -> set[str]:
    """Every word one keystroke from ``word``: a letter dropped, added, changed, or two neighbours swapped.

    A search computes these, then looks them up as whole name words, so a typo finds the
    same names on every database (no similarity function of one engine decides).
    """
    letters = string.ascii_lowercase
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    dropped = {left + right[1:] for left, right in splits if right}
    swapped = {left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1}
    changed = {left + letter + right[1:] for left, right in splits if right for letter in letters}
    added = {left + letter + right for left, right in splits for letter in letters}
    return (dropped | swapped | changed | added) - {word, ""}
