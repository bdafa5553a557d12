"""Learning the linkage model from the agency's own clients.

* u (how often a level happens between two different people) from random pairs of clients:
  two samples drawn in SQL by id from a seed-derived starting point (ids are random UUIDs,
  so a run of ids is a random sample), bounded, paired every one with every one;
* m (how often it happens between two records of one person) by expectation-maximisation
  over the blocked candidate pairs of a bounded sample of clients, with u held fixed, plus
  the reviewers' decisions: a duplicate pair marked ``merged`` is a match, ``not_duplicate``
  a non-match (their levels are stored in ``match_details["levels"]``, or re-compared for
  pairs of two clients);
* name frequencies for the term-frequency adjustment by GROUP BY in SQL, the top names only.

Never the whole table in Python. The same data and seed give the same model. The prior
match probability is not learned: it is the chance that an incoming record is a given
client, which the thresholds were chosen against; EM's own estimate (the share of the
agency's clients that duplicate another) is kept among the figures.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import sqlalchemy as sa

from app.services.matching import comparisons as c
from app.services.matching.blocking import CANDIDATE_CHUNK, CandidateRow, fetch_blocked_rows, pair_by_blocks, \
    rows_as_people
from app.services.matching.comparisons import LEVELS, NEUTRAL_LEVELS, People
from app.services.matching.model import (
    DEFAULT_MODEL, TF_FIELDS, LinkageModel, active_model, score_comparison, settings,
)
from app.services.matching.frequencies import value_frequencies

# Bounds that keep a training run to seconds at 200,000 clients.
DEFAULT_RANDOM_SAMPLE = 700  # clients per side: 700 x 700 random pairs for u
DEFAULT_EM_SAMPLE = 2_000  # clients whose blocked candidates EM learns m from
DEFAULT_TOP_NAMES = 2_000  # names kept with their frequencies, per field
MAX_LABELS = 5_000
EM_MAX_ITERATIONS = 100
EM_TOLERANCE = 1e-5
EM_MAX_SHARE = 0.5  # EM reaching this has not found duplicates but some other half of the pairs
PROBABILITY_FLOOR = 1e-5
# Fields EM learns; the same-source id and the name order keep the built-in values (an
# agency's clients carry no pairs to learn them from).
LEARNED_FIELDS = ("first_name", "last_name", "dob", "gender", "city")
# Below this many clients the random pairs say little: the built-in model is better.
MIN_CLIENTS = 50


class TrainingError(ValueError):
    pass


@dataclass
class TrainingResult:
    record_id: uuid.UUID
    model: LinkageModel
    figures: dict

    def describe(self) -> str:
        f = self.figures
        kept = f["em_fields_kept_built_in"]
        return (f"Trained linkage model {self.record_id} on {f['clients']} clients: u from {f['random_pairs']} random "
                f"pairs, m by EM over {f['em_pairs']} candidate pairs of {f['em_clients']} clients "
                f"({f['em_iterations']} iterations, {'converged' if f['em_converged'] else 'not converged'}, "
                f"estimated share of matches among them {f['em_match_share']:.4f}"
                + (f"; built-in m kept for {', '.join(kept)}: EM found no plausible same-person class there"
                   if kept else "")
                + f"), {f['labels']['matches']} + {f['labels']['non_matches']} reviewers' labels.")


def _live(table):
    return sa.and_(table.c.is_archived.is_(False), table.c.merged_into_id.is_(None))


def _start_id(seed: int, salt: str) -> uuid.UUID:
    return uuid.UUID(bytes=hashlib.sha256(f"{seed}:{salt}".encode()).digest()[:16])


def sample_clients(session, size: int, seed: int, salt: str) -> list[CandidateRow]:
    """``size`` live clients from the first id at or after a seed-derived one, wrapping round."""
    from app.models import Client

    table = Client.__table__
    start = _start_id(seed, salt)
    columns = [table.c[name] for name in CandidateRow._fields]
    after = session.execute(sa.select(*columns).where(_live(table), table.c.id >= start)
                            .order_by(table.c.id).limit(size)).all()
    before = session.execute(sa.select(*columns).where(_live(table), table.c.id < start)
                             .order_by(table.c.id).limit(size - len(after))).all() if len(after) < size else []
    return [CandidateRow(*row) for row in [*after, *before]]


def level_shares(values: np.ndarray, name: str, weights: np.ndarray | None = None) -> np.ndarray:
    """Probability of each level among the levels that are evidence (neutral levels: 1.0)."""
    names = LEVELS[name]
    counted = np.array([level not in NEUTRAL_LEVELS[name] for level in names])
    counts = np.bincount(values, weights=weights, minlength=len(names)).astype(float)
    total = counts[counted].sum()
    shares = np.where(counted, np.maximum(counts / total if total else 0, PROBABILITY_FLOOR), 1.0)
    shares[counted] /= shares[counted].sum()
    return shares


def _levels(incoming, candidates, left, right, model, config) -> dict[str, np.ndarray]:
    comparison = c.compare(incoming, candidates, left, right, config.placeholder_dobs)
    return score_comparison(comparison, model, config)[2]


def estimate_u(session, model, config, seed: int, size: int) -> tuple[dict[str, np.ndarray], int]:
    a = sample_clients(session, size, seed, "u-left")
    b = sample_clients(session, size, seed, "u-right")
    if not a or not b:
        raise TrainingError("There are no clients to learn from.")
    left, right = np.meshgrid(np.arange(len(a)), np.arange(len(b)), indexing="ij")
    left, right = left.ravel(), right.ravel()
    ids_a, ids_b = np.array([r.id.int for r in a], dtype=object), np.array([r.id.int for r in b], dtype=object)
    keep = ids_a[left] != ids_b[right]
    left, right = left[keep], right[keep]
    levels = _levels(rows_as_people(a), rows_as_people(b), left, right, model, config)
    return {name: level_shares(levels[name], name) for name in LEARNED_FIELDS}, int(left.size)


def blocked_pairs(session, seed: int, size: int, config) -> tuple[People, People, np.ndarray, np.ndarray, int]:
    """Candidate pairs (sampled client, other client sharing a blocking key), each client pair once."""
    sample = sample_clients(session, size, seed, "em")
    sampled = frozenset(row.id for row in sample)
    people = rows_as_people(sample)
    persons = [people.person(k) for k in range(len(people))]
    rows: list[CandidateRow] = []
    lefts, rights = [], []
    for start in range(0, len(persons), CANDIDATE_CHUNK):
        chunk = persons[start:start + CANDIDATE_CHUNK]
        found = fetch_blocked_rows(session, chunk, extra_condition=_live_condition(),
                                   placeholders=config.placeholder_dobs)
        left, right = pair_by_blocks(chunk, found, config.placeholder_dobs)
        own = np.array([sample[start + i].id for i in left], dtype=object)
        other = np.array([found[j][0] for j in right], dtype=object)
        keep = (own != other) if left.size else np.zeros(0, dtype=bool)
        # a pair of two sampled clients is found from both sides: keep it once
        keep &= np.array([a.int < b.int or b not in sampled for a, b in zip(own, other)], dtype=bool) \
            if left.size else keep
        lefts.append(left[keep] + start)
        rights.append(right[keep] + len(rows))
        rows += found
    left = np.concatenate(lefts) if lefts else np.zeros(0, dtype=np.intp)
    right = np.concatenate(rights) if rights else np.zeros(0, dtype=np.intp)
    return people, rows_as_people(rows), left, right, len(sample)


def _live_condition():
    from app.models import Client

    return Client.merged_into_id.is_(None)


def reviewers_labels(session, model, config) -> tuple[dict[str, np.ndarray], np.ndarray, dict]:
    """Levels of the pairs reviewers decided (the latest MAX_LABELS), and 1 for a match, 0 for not."""
    from app.models import Client, ClientDuplicate

    decided = session.execute(
        sa.select(ClientDuplicate.status, ClientDuplicate.match_details, ClientDuplicate.primary_client_id,
                  ClientDuplicate.duplicate_client_id)
        .where(ClientDuplicate.status.in_(("merged", "not_duplicate")))
        .order_by(ClientDuplicate.updated_at.desc(), ClientDuplicate.id).limit(MAX_LABELS)).all()
    stored, to_compare, skipped = [], [], 0
    for status, details, primary, duplicate in decided:
        names = (details or {}).get("levels")
        if isinstance(names, dict) and all(names.get(f) in LEVELS[f] for f in LEARNED_FIELDS):
            stored.append(({f: LEVELS[f].index(names[f]) for f in LEARNED_FIELDS}, status == "merged"))
        elif duplicate is not None:
            to_compare.append((primary, duplicate, status == "merged"))
        else:
            skipped += 1
    if to_compare:
        wanted = {i for p, d, _ in to_compare for i in (p, d)}
        table = Client.__table__
        found = {}
        for start in range(0, len(wanted), 1000):
            chunk = sorted(wanted)[start:start + 1000]
            for row in session.execute(sa.select(*(table.c[n] for n in CandidateRow._fields))
                                       .where(table.c.id.in_(chunk))):
                found[row.id] = CandidateRow(*row)
        pairs = [(found[p], found[d], label) for p, d, label in to_compare if p in found and d in found]
        if pairs:
            levels = _levels(rows_as_people([p for p, _, _ in pairs]), rows_as_people([d for _, d, _ in pairs]),
                             np.arange(len(pairs)), np.arange(len(pairs)), model, config)
            stored += [({f: int(levels[f][k]) for f in LEARNED_FIELDS}, label) for k, (_, _, label) in
                       enumerate(pairs)]
        skipped += len(to_compare) - len(pairs)
    levels = {f: np.array([s[0][f] for s in stored], dtype=np.int8) for f in LEARNED_FIELDS}
    labels = np.array([s[1] for s in stored], dtype=float)
    return levels, labels, {"matches": int(labels.sum()), "non_matches": int(len(labels) - labels.sum()),
                            "skipped": skipped}


def expectation_maximisation(levels: dict[str, np.ndarray], u: dict[str, np.ndarray], m: dict[str, np.ndarray],
                             share: float, labelled: dict[str, np.ndarray] | None = None,
                             labels: np.ndarray | None = None, *, max_iterations: int = EM_MAX_ITERATIONS,
                             tolerance: float = EM_TOLERANCE):
    """Fellegi–Sunter EM with u fixed: m per level and the share of matches among the pairs.

    Labelled pairs take part with their label as a fixed responsibility. Returns
    (m, share, iterations, converged)."""
    fields = [f for f in LEARNED_FIELDS if f in levels]
    size = next(iter(levels.values())).size
    labelled = labelled if labels is not None and labels.size else None
    m = {f: np.asarray(m[f], dtype=float).copy() for f in fields}
    log_u = sum(np.log(u[f][levels[f]]) for f in fields) if size else np.zeros(0)
    converged, iteration = False, 0
    for iteration in range(1, max_iterations + 1):
        log_m = sum(np.log(m[f][levels[f]]) for f in fields) if size else np.zeros(0)
        odds = np.exp(np.clip(np.log(share / (1 - share)) + log_m - log_u, -700, 700))
        responsibility = odds / (1 + odds)
        new_m = {}
        for f in fields:
            values, weights = levels[f], responsibility
            if labelled is not None:
                values = np.concatenate([values, labelled[f]])
                weights = np.concatenate([weights, labels])
            new_m[f] = level_shares(values, f, weights)
        new_share = float(np.clip(responsibility.mean() if size else share, 1e-9, EM_MAX_SHARE))
        change = max(max(float(np.max(np.abs(new_m[f] - m[f]))) for f in fields), abs(new_share - share))
        m, share = new_m, new_share
        if change < tolerance:
            converged = True
            break
    return m, share, iteration, converged


def plausible_m(name: str, m) -> bool:
    """Whether EM found the same-person class: records of one person agree on a field more often than not.

    Without duplicates to find (or with too few), EM settles on another split of the pairs (say,
    people of one birth year); its m is then not the same person's, and the built-in m is kept."""
    different = LEVELS[name].index("different")
    return m[0] >= 0.5 and m[different] <= 0.3


def _with_policy(m: dict, u: dict) -> tuple[dict, dict]:
    """What the data cannot teach: a gendered variant alone is no evidence (twin or typo), with
    different genders it is the twins' mark, and a recorded gender is sometimes wrong (a different
    gender is never "impossible")."""
    m, u = {k: list(v) for k, v in m.items()}, {k: list(v) for k, v in u.items()}
    gendered = c.F_GENDERED
    m["first_name"][gendered] = u["first_name"][gendered]
    m["first_name"][c.F_GENDERED_OTHER_GENDER] = DEFAULT_MODEL.m["first_name"][c.F_GENDERED_OTHER_GENDER]
    u["first_name"][c.F_GENDERED_OTHER_GENDER] = DEFAULT_MODEL.u["first_name"][c.F_GENDERED_OTHER_GENDER]
    m["gender"][c.G_DIFFERENT] = max(m["gender"][c.G_DIFFERENT], DEFAULT_MODEL.m["gender"][c.G_DIFFERENT])
    m["gender"][c.G_SAME] = 1 - m["gender"][c.G_DIFFERENT]
    return {k: tuple(float(x) for x in v) for k, v in m.items()}, {k: tuple(float(x) for x in v) for k, v in u.items()}


def train(session, *, seed: int = 0, random_sample: int = DEFAULT_RANDOM_SAMPLE, em_sample: int = DEFAULT_EM_SAMPLE,
          top_names: int = DEFAULT_TOP_NAMES, trained_by: str = "ccd train-matcher",
          trained_by_id: uuid.UUID | None = None) -> TrainingResult:
    """Learn a model from the clients and the reviewers' decisions, store it (active), and use it."""
    from app.models import Client, LinkageModelRecord

    for value, what in ((random_sample, "random sample"), (em_sample, "EM sample"), (top_names, "top names")):
        if value < 1:
            raise TrainingError(f"The {what} size must be at least 1.")
    table = Client.__table__
    clients = session.execute(sa.select(sa.func.count()).where(_live(table))).scalar_one()
    if clients < MIN_CLIENTS:
        raise TrainingError(f"Only {clients} clients: at least {MIN_CLIENTS} are needed to learn from; "
                            "matching keeps the built-in model.")
    config = settings()
    # Always from the built-in model: the same data and seed give the same model, whichever is active.
    start = DEFAULT_MODEL
    u, random_pairs = estimate_u(session, start, config, seed, random_sample)
    incoming, candidates, left, right, em_clients = blocked_pairs(session, seed, em_sample, config)
    levels = _levels(incoming, candidates, left, right, start, config) if left.size else \
        {f: np.zeros(0, dtype=np.int8) for f in LEARNED_FIELDS}
    labelled, labels, label_counts = reviewers_labels(session, start, config)
    m_start = {f: np.array(start.m[f]) for f in LEARNED_FIELDS}
    m_learned, share, iterations, converged = expectation_maximisation(
        {f: levels[f] for f in LEARNED_FIELDS}, u, m_start, 0.01, labelled, labels)
    learned = [f for f in LEARNED_FIELDS if converged and share < EM_MAX_SHARE and plausible_m(f, m_learned[f])]
    m = {**start.m, **{f: tuple(m_learned[f]) for f in learned}}
    u_all = {**start.u, **{f: tuple(u[f]) for f in LEARNED_FIELDS}}
    m, u_all = _with_policy(m, u_all)
    frequencies = {name: found for name in TF_FIELDS
                   if (found := value_frequencies(session, name, top_names)) is not None}
    model = LinkageModel(m, u_all, DEFAULT_MODEL.prior, frequencies)
    figures = {
        "clients": int(clients), "seed": seed, "random_sample": random_sample, "random_pairs": random_pairs,
        "em_clients": em_clients, "em_pairs": int(left.size), "em_iterations": iterations, "em_converged": converged,
        "em_match_share": share, "em_fields_learned": learned,
        "em_fields_kept_built_in": [f for f in LEARNED_FIELDS if f not in learned], "labels": label_counts,
        "prior": model.prior,
        "levels": {f: {level: {"m": model.m[f][k], "u": model.u[f][k], "weight": round(float(model.weights(f)[k]), 2)}
                       for k, level in enumerate(LEVELS[f])} for f in LEVELS},
        "common_names": {f: len(v.counts) for f, v in frequencies.items()},
    }
    record = LinkageModelRecord(trained_at=datetime.now(timezone.utc), trained_by=trained_by[:200],
                                trained_by_id=trained_by_id, is_active=True, seed=seed, client_count=int(clients),
                                parameters=model.to_json(), figures=figures)
    session.add(record)
    session.flush()
    active_model(session, refresh=True)
    return TrainingResult(record.id, active_model(), figures)
