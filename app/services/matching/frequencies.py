"""How common each value of a field is among the agency's clients: the u of an exact agreement.

Training counts names and cities over every client and stores them with the model. Without
them (the built-in model of a fresh install, a model trained before the city was compared, and
always for street addresses, which training does not count) they are counted where scoring starts (an import, the front desk, the scan), from a sample of
the clients and from the file being imported, as Splink computes its term frequencies from the
data it links: "Mohamed Ali" and "Toronto" must not count as rare anywhere.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from dataclasses import replace
from typing import Iterable

import sqlalchemy as sa

from app.services.matching.comparisons import normalize_address
from app.services.matching.model import LinkageModel, NameFrequencies
from app.services.matching.names import normalize_name

# Clients whose values are counted when scoring starts: one indexed range read (all of them in a
# smaller agency); enough to tell a value most clients share from one few do.
CLIENT_SAMPLE = 20_000
DATA_FREQUENCY_FIELDS = ("first_name", "last_name", "city", "address")
# The client column each field is counted from, and how its values are compared (comparisons.compare).
_COLUMN = {"address": "address_line1"}
_NORMALISE = {"address": normalize_address}
# Counted frequencies are drawn towards the model's u of an exact agreement as if this many more
# people had been counted at it: a small agency's names keep about the built-in weights.
PRIOR_PEOPLE = 1_000
_SAMPLE_START = uuid.UUID(bytes=hashlib.sha256(b"city-frequencies").digest()[:16])


def _live(table):
    return sa.and_(table.c.is_archived.is_(False), table.c.merged_into_id.is_(None))


def value_frequencies(session, column_name: str, top: int) -> NameFrequencies | None:
    """How many live clients carry each of the ``top`` commonest values of a field (normalised), and the rest's
    share."""
    from app.models import Client

    table = Client.__table__
    column = sa.func.lower(sa.func.trim(table.c[_COLUMN.get(column_name, column_name)]))
    total = session.execute(sa.select(sa.func.count()).where(_live(table))).scalar_one()
    if not total:
        return None
    distinct = session.execute(sa.select(sa.func.count(sa.distinct(column))).where(_live(table))).scalar_one()
    counts: Counter[str] = Counter()
    rows = session.execute(sa.select(column, sa.func.count()).where(_live(table)).group_by(column)
                           .order_by(sa.func.count().desc(), column).limit(top)).all()
    normalise = _NORMALISE.get(column_name, normalize_name)
    for value, count in rows:
        name = normalise(value)
        if name:
            counts[name] += count
    rest_clients = total - sum(count for _, count in rows)
    rest_names = max(distinct - len(rows), 1)
    other = rest_clients / rest_names / total if rest_clients > 0 else 1 / total
    return NameFrequencies(dict(counts), int(total), float(other))


def sampled_values(session, fields: tuple[str, ...], size: int = CLIENT_SAMPLE) -> dict[str, Counter]:
    """The normalised values of ``fields`` of up to ``size`` live clients (from a fixed id onwards,
    wrapping round: one indexed range read)."""
    from app.models import Client

    table = Client.__table__
    found: dict[str, Counter] = {name: Counter() for name in fields}
    taken = 0
    for condition in (table.c.id >= _SAMPLE_START, table.c.id < _SAMPLE_START):
        if taken >= size:
            break
        rows = session.execute(sa.select(*(table.c[_COLUMN.get(name, name)] for name in fields))
                               .where(_live(table), condition).order_by(table.c.id).limit(size - taken)).all()
        taken += len(rows)
        for name, values in zip(fields, zip(*rows)):
            found[name].update(map(_NORMALISE.get(name, normalize_name), values))
    return found


def counted_frequencies(values: Counter, prior: float) -> NameFrequencies | None:
    """Frequencies of values as counted (an empty value is counted among the people, not as a value),
    drawn towards the model's own ``prior`` frequency as if PRIOR_PEOPLE more had been counted."""
    total = sum(values.values())
    if not total:
        return None
    return NameFrequencies({value: count for value, count in values.items() if value}, total, 1 / total,
                           PRIOR_PEOPLE, prior)


def with_data_frequencies(session, model: LinkageModel, also: Iterable = ()) -> LinkageModel:
    """``model`` with each of its term-frequency fields it has no frequencies for (all of them for the
    built-in model; the city for a model trained before it was compared) counted from the clients and
    from ``also``, the people of a file being imported."""
    missing = tuple(name for name in DATA_FREQUENCY_FIELDS if name not in model.frequencies)
    if not missing:
        return model
    values = sampled_values(session, missing)
    for person in also:
        for name in missing:
            values[name][_NORMALISE.get(name, normalize_name)(getattr(person, name, None))] += 1
    found = {name: frequencies for name in missing
             if (frequencies := counted_frequencies(values[name], model.u[name][0])) is not None}
    if not found:
        return model
    return replace(model, frequencies={**model.frequencies, **found})
