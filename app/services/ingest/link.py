"""Linking a batch of rows to clients: the same source id first, then blocking and scoring."""

from __future__ import annotations

import uuid
from collections import defaultdict

import sqlalchemy as sa

from app.models import ClientDuplicate, ClientSourceId
from app.services import matching
from app.services.ingest.parse import ParsedRow
from app.services.ingest.write import Outcome


def plan_batch(batch, rows: list[ParsedRow], outcomes: dict[uuid.UUID, Outcome]) -> None:
    run, session = batch.run, batch.session
    ids = sorted({row.source_id for row in rows if row.source_id and row.source_id not in run.id_of_source})
    known = dict(session.execute(
        sa.select(ClientSourceId.source_client_id, ClientSourceId.client_id)
        .where(ClientSourceId.source_system == run.source, batch._one_of(ClientSourceId.source_client_id, ids))
    ).all()) if ids else {}
    by_id = {row.staged_id: run.id_of_source.get(row.source_id) or known.get(row.source_id)
             for row in rows if row.source_id}
    to_match = [row for row in rows if not by_id.get(row.staged_id) and row.has_names]
    db_candidates = matching.find_candidates(session, [row.person for row in to_match],
                                             min_score=run.thresholds.review, source=run.source)
    candidates = {row.staged_id: found for row, found in zip(to_match, db_candidates)}
    _drop_reviewed_pairs(batch, to_match, candidates)
    # A client that already has another id of this source is not matched automatically: only
    # candidates that could be matched need that check.
    other_ids = _source_ids_of(batch, {c.client_id for found in candidates.values() for c in found
                                     if c.score.value >= run.thresholds.accept})

    # First decide every row (a newcomer gets its id now, so a later row of the batch finds it) ...
    decided = []
    for row in rows:
        client_id = by_id.get(row.staged_id) or run.id_of_source.get(row.source_id or "")
        if client_id is None and not row.has_names:
            outcomes[row.staged_id] = Outcome(
                "rejected", f"{run.source} id {row.source_id!r} is not known to CCD and the row has no first "
                            "and last name to add the client with" if row.source_id else
                            "First and last name are needed to find or add the client")
            continue
        if client_id is not None:
            decided.append((row, "id", client_id, None, False))
            continue
        found = candidates.get(row.staged_id, []) + [
            c for c in run.new_index.candidates(row.person, min_score=run.thresholds.review)
            if all(c.client_id != existing.client_id for existing in candidates.get(row.staged_id, []))]
        decision = matching.decide(found, run.thresholds)
        if decision.outcome == matching.MATCH and row.source_id:
            others = other_ids.get(decision.client_id, set()) - {row.source_id}
            if others:
                decision = matching.Decision(
                    matching.REVIEW, None, decision.candidates,
                    f"the most similar client already has {run.source} id {', '.join(sorted(others))}")
        if decision.outcome == matching.REVIEW:
            decided.append((row, "review", None, decision, False))
            continue
        client_id = decision.client_id if decision.outcome == matching.MATCH else uuid.uuid4()
        if decision.outcome == matching.NEW:
            run.new_index.add(client_id, row.person)
        if row.source_id:
            run.id_of_source[row.source_id] = client_id
        decided.append((row, "score" if decision.outcome == matching.MATCH else "new", client_id, decision,
                        bool(row.source_id)))

    # ... then read only the clients rows were matched to, and write.
    batch._load_clients({client_id for _, kind, client_id, _, _ in decided if kind in ("id", "score")})
    batch._load_children()
    for row, kind, client_id, decision, add_source_id in decided:
        if kind == "review":
            outcomes[row.staged_id] = batch._review(row, decision)
        else:
            outcomes[row.staged_id] = batch._write_row(
                row, client_id, kind, add_source_id,
                score=decision.candidates[0].score if kind == "score" else None)

def _drop_reviewed_pairs(batch, rows: list[ParsedRow], candidates) -> None:
    """A pair a person marked "not a duplicate" is not proposed again."""
    keys = {batch.run.incoming_key(row): row for row in rows}
    if not keys:
        return
    declined = batch.session.execute(
        sa.select(ClientDuplicate.incoming_key, ClientDuplicate.primary_client_id)
        .where(batch._one_of(ClientDuplicate.incoming_key, sorted(keys)), ClientDuplicate.status == "not_duplicate")
    ).all()
    for key, client_id in declined:
        row = keys[key]
        candidates[row.staged_id] = [c for c in candidates.get(row.staged_id, []) if c.client_id != client_id]

def _source_ids_of(batch, client_ids) -> dict[uuid.UUID, set[str]]:
    found: dict[uuid.UUID, set[str]] = defaultdict(set)
    if client_ids:
        for client_id, source_id in batch.session.execute(
                sa.select(ClientSourceId.client_id, ClientSourceId.source_client_id)
                .where(ClientSourceId.source_system == batch.run.source,
                       batch._one_of(ClientSourceId.client_id, sorted(client_ids)))):
            found[client_id].add(source_id)
    return found
