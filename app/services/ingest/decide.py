"""Deciding, for each cluster of a file, what the import does with it: write it onto the client that
holds its source id, onto the one client the model clearly matches, as a new client, or hold it
for a reviewer (all its rows); or reject its rows when there is nothing to add the client with.

Decisions are taken for the whole file before anything is written, from content alone, so
the same file in any row order and any batch size decides the same.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from app.services import matching
from app.services.ingest.link import Cluster

BY_ID, BY_NAME, NEW, HELD, REJECTED = "id", "name", "new", "held", "rejected"


@dataclass(slots=True)
class ClusterDecision:
    cluster: Cluster
    outcome: str  # BY_ID, BY_NAME, NEW, HELD or REJECTED
    client_id: uuid.UUID | None = None
    score: matching.Score | None = None  # the automatic match's
    candidates: list[matching.Candidate] = field(default_factory=list)  # a held cluster's
    reason: str = ""
    add_source_id: bool = True  # False when the client already holds the cluster's id

    @property
    def writes(self) -> bool:
        return self.outcome in (BY_ID, BY_NAME, NEW)


def decide_clusters(clusters: list[Cluster], source: str, thresholds: matching.Thresholds) -> list[ClusterDecision]:
    """One decision per cluster, in the clusters' (key) order."""
    decisions = {cluster.key: _decide(cluster, source, thresholds) for cluster in clusters}
    _hold_shared_matches(decisions.values(), source)
    held_in_file = {cluster.key for cluster in clusters if cluster.held_reason and cluster.known_client_id is None}
    for cluster in clusters:
        if cluster.key in held_in_file:
            decisions[cluster.key] = _held_in_file(cluster, decisions, held_in_file)
    return [decisions[cluster.key] for cluster in clusters]


def _decide(cluster: Cluster, source: str, thresholds) -> ClusterDecision:
    if cluster.known_client_id is not None:
        return ClusterDecision(cluster, BY_ID, cluster.known_client_id, reason=f"same {source} id")
    if not cluster.people:
        return ClusterDecision(cluster, REJECTED, reason=f"{source} id {cluster.source_id!r} is not known to CCD and "
                                                         "the row has no first and last name to add the client with")
    decision = matching.decide(cluster.candidates, thresholds)
    if decision.outcome == matching.MATCH:
        best = decision.candidates[0]
        others = set(best.person.source_ids) - {cluster.source_id}
        if cluster.source_id and others:
            return ClusterDecision(cluster, HELD, candidates=list(decision.candidates),
                                   reason=f"the most similar client already has {source} id "
                                          f"{', '.join(sorted(others))}")
        return ClusterDecision(cluster, BY_NAME, best.client_id, best.score, reason=decision.reason)
    if decision.outcome == matching.REVIEW:
        return ClusterDecision(cluster, HELD, candidates=list(decision.candidates), reason=decision.reason)
    return ClusterDecision(cluster, NEW, uuid.uuid4(), reason=decision.reason)


def _hold_shared_matches(decisions, source: str) -> None:
    """Several people of the file with different ids matched by name to one client: none of them is
    written there automatically (one client would get several ids of the same source)."""
    by_client: dict[uuid.UUID, list[ClusterDecision]] = defaultdict(list)
    for decision in decisions:
        if decision.outcome == BY_NAME and decision.cluster.source_id:
            by_client[decision.client_id].append(decision)
    for shared in by_client.values():
        if len(shared) < 2:
            continue
        for decision in shared:
            decision.candidates = [c for c in decision.cluster.candidates if c.client_id == decision.client_id]
            decision.outcome, decision.client_id, decision.score = HELD, None, None
            decision.reason = (f"{len(shared)} people in this file with different {source} ids match the "
                               "same client")


def _held_in_file(cluster: Cluster, decisions: dict[str, ClusterDecision], held_in_file: set[str]) -> ClusterDecision:
    """A cluster held against other clusters of the file: its candidates are the clients those are written
    to (new or existing), with the clients the table offered; if none of them is written, it is decided
    against the table alone (a cluster itself held in the file is nobody's candidate: it is not written)."""
    candidates = {}
    for other, score in cluster.held_against:
        target = decisions[other.key]
        if other.key not in held_in_file and target.writes and other.person is not None:
            candidates[target.client_id] = matching.Candidate(target.client_id, other.person, score)
    if not candidates:
        return decisions[cluster.key]
    for candidate in cluster.candidates:
        if candidate.client_id not in candidates:
            candidates[candidate.client_id] = candidate
    ranked = sorted(candidates.values(), key=lambda c: (-c.score.value, str(c.client_id)))[:5]
    return ClusterDecision(cluster, HELD, candidates=ranked, reason=cluster.held_reason)



def describe(decisions: list[ClusterDecision], model, source: str) -> None:
    """The evidence in words of what these decisions keep (a match's score, a held cluster's candidates),
    for the row outcomes and review items a batch writes: linking held the file's candidates without it."""
    wanted: list[tuple[ClusterDecision, int | None, matching.Candidate]] = []
    for decision in decisions:
        if decision.outcome == BY_NAME and decision.score is not None and not decision.score.evidence:
            match = next((c for c in decision.cluster.candidates
                          if c.client_id == decision.client_id and c.score is decision.score), None)
            if match is not None:
                wanted.append((decision, None, match))
        elif decision.outcome == HELD:
            wanted += [(decision, k, c) for k, c in enumerate(decision.candidates) if not c.score.evidence]
    if not wanted:
        return
    done = matching.described([candidate for _, _, candidate in wanted], model=model, source=source)
    for (decision, position, _), candidate in zip(wanted, done):
        if position is None:
            decision.score = candidate.score
        else:
            decision.candidates[position] = candidate


def shared_clients(decisions: list[ClusterDecision]) -> frozenset:
    """Existing clients more than one cluster of the file is written to."""
    counts = Counter(d.client_id for d in decisions if d.outcome in (BY_ID, BY_NAME))
    return frozenset(client_id for client_id, count in counts.items() if count > 1)


def matched_by_words(decision: ClusterDecision, source: str) -> str:
    """How a written row found its client, as a row outcome and the rejects file say it."""
    if decision.outcome == BY_ID:
        return f"same {source} id {decision.cluster.source_id}"
    if decision.outcome == BY_NAME:
        return f"name and birth date, match probability {decision.score.value:.2f}"
    return "new client"
