"""The front desk's "same person?" check: clients like the one being typed in, before it is saved.

The same engine as an import (``matching.find_candidates``, blocked by indexed keys, never
the whole table), limited to the clients the person at the desk may see (their scope) and
to records not merged away, from the import's review threshold up: a likely match a
reviewer would be asked about is one the front desk is shown too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from app.extensions import db
from app.labels import match_type_label
from app.models import Client
from app.services import matching
from app.services.review_sides import Described, describe, source_ids_of
from app.services.scope import scope_condition

SHOWN = 5


@dataclass
class LikelyMatch:
    client: Described
    probability: float
    match_type: str


def likely_matches(first_name: str | None, last_name: str | None, dob: date | None, *, preferred_name=None,
                   alias=None, gender=None, city=None, address=None, staff=None,
                   min_probability: float | None = None) -> list[LikelyMatch]:
    """The clients most likely to be this person, most likely first (at most ``SHOWN``)."""
    if not (first_name or "").strip() or not (last_name or "").strip():
        return []
    if min_probability is None:
        from flask import current_app

        min_probability = matching.Thresholds.from_config(current_app.config).review
    condition = Client.merged_into_id.is_(None)
    scope = scope_condition(Client, staff) if staff is not None else None
    if scope is not None:
        condition = sa.and_(condition, scope)
    person = matching.Person(first_name.strip(), last_name.strip(), dob, (preferred_name or "").strip() or None,
                             (alias or "").strip() or None, gender or None, city=(city or "").strip() or None,
                             address=(address or "").strip() or None)
    (found,) = matching.find_candidates(db.session, [person], extra_condition=condition,
                                        min_score=min_probability)
    found = sorted((c for c in found if c.score.value >= min_probability), key=lambda c: -c.score.value)[:SHOWN]
    if not found:
        return []
    clients = {c.id: c for c in db.session.scalars(sa.select(Client).where(
        Client.id.in_([candidate.client_id for candidate in found])))}
    held = source_ids_of(clients)
    return [LikelyMatch(describe(clients[c.client_id], held[c.client_id]), float(c.score.value),
                        match_type_label(c.score.match_type))
            for c in found if c.client_id in clients]


def parse_seen(text: str | None) -> set[uuid.UUID]:
    """The client ids a person was shown (posted back with their confirmation)."""
    seen = set()
    for part in (text or "").split(","):
        try:
            seen.add(uuid.UUID(part.strip()))
        except ValueError:
            continue
    return seen
