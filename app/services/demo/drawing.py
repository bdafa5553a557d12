"""How the demo's made-up values are drawn: seeded choices from the option lists, plain words, calendar shifts.

Shared by the organisation (staff emails) and the clients and their histories, so every
installation draws the same values from the same seed.
"""

import random
import unicodedata
from datetime import date

from app.choices import DEFAULT_OPTIONS


def pick(rng: random.Random, key: str, weights: dict[str, float] | None = None, none: float = 0.0):
    """One value of option list ``key`` (unlisted values weigh 1), or None with probability ``none``."""
    if none and rng.random() < none:
        return None
    values = DEFAULT_OPTIONS[key]
    weights = weights or {}
    unknown = set(weights) - set(values)
    if unknown:
        raise ValueError(f"{sorted(unknown)} are not in the {key!r} option list.")
    return rng.choices(values, [weights.get(value, 1) for value in values])[0]


def pick_many(rng: random.Random, key: str, count: int, weights: dict[str, float] | None = None) -> list[str]:
    chosen: list[str] = []
    while len(chosen) < count:
        value = pick(rng, key, weights)
        if value not in chosen:
            chosen.append(value)
    return chosen


def ascii_word(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())



def shift_years(day: date, years: int) -> date:
    """The same calendar day ``years`` later (earlier when negative); 29 February becomes the 28th."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)
