"""How common each value of a field is among the agency's clients: the u of an exact agreement.

Training counts first and last names over every client and stores them with the model. The
city is counted where scoring starts instead (an import, the front desk, the scan), from the
clients and the file being imported, as Splink computes its term frequencies from the data it
links: a fresh install has no trained model, and "Toronto" must not count as a small town there.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from dataclasses import replace
from typing import Iterable

import sqlalchemy as sa

from app.services.matching.model import LinkageModel, NameFrequencies
from app.services.matching.names import normalize_name

# Clients whose cities are counted when scoring starts: one indexed range read (all of them in a
# smaller agency); enough to tell a city most clients share from one few do.
CITY_SAMPLE = 20_000
_SAMPLE_START = uuid.UUID(bytes=hashlib.sha256(b"city-frequencies").digest()[:16])


def _live(table):
    return sa.and_(table.c.is_archived.is_(False), table.c.merged_into_id.is_(None))


def value_frequencies(session, column_name: str, top: int) -> NameFrequencies | None:
    """How many live clients carry each of the ``top`` commonest values (normalised), and the rest's share."""
    from app.models import Client

    table = Client.__table__
    column = sa.func.lower(sa.func.trim(table.c[column_name]))
    total = session.execute(sa.select(sa.func.count()).where(_live(table))).scalar_one()
    if not total:
        return None
    distinct = session.execute(sa.select(sa.func.count(sa.distinct(column))).where(_live(table))).scalar_one()
    counts: Counter[str] = Counter()
    rows = session.execute(sa.select(column, sa.func.count()).where(_live(table)).group_by(column)
                           .order_by(sa.func.count().desc(), column).limit(top)).all()
    for value, count in rows:
        name = normalize_name(value)
        if name:
            counts[name] += count
    rest_clients = total - sum(count for _, count in rows)
    rest_names = max(distinct - len(rows), 1)
    other = rest_clients / rest_names / total if rest_clients > 0 else 1 / total
    return NameFrequencies(dict(counts), int(total), float(other))


def sampled_cities(session, size: int = CITY_SAMPLE) -> Counter:
    """The normalised cities of up to ``size`` live clients (from a fixed id onwards, wrapping round)."""
    from app.models import Client

    table = Client.__table__
    found: Counter = Counter()
    taken = 0
    for condition in (table.c.id >= _SAMPLE_START, table.c.id < _SAMPLE_START):
        if taken >= size:
            break
        rows = session.execute(sa.select(table.c.city).where(_live(table), condition)
                               .order_by(table.c.id).limit(size - taken)).scalars().all()
        taken += len(rows)
        found.update(normalize_name(city) for city in rows)
    return found


def city_frequencies(cities: Counter) -> NameFrequencies | None:
    """Frequencies of cities as counted (an empty city is counted among the people, not as a city);
    a city nobody counted is as rare as one person in all of them."""
    total = sum(cities.values())
    if not total:
        return None
    return NameFrequencies({city: count for city, count in cities.items() if city}, total, 1 / total)


def with_city_frequencies(session, model: LinkageModel, also: Iterable[str | None] = ()) -> LinkageModel:
    """``model`` with the city weighed by how many of the clients (and of ``also``, a file's people)
    live there, unless the model was trained with city frequencies of its own."""
    if "city" in model.frequencies:
        return model
    cities = sampled_cities(session)
    cities.update(normalize_name(city) for city in also)
    found = city_frequencies(cities)
    if found is None:
        return model
    return replace(model, frequencies={**model.frequencies, "city": found})
