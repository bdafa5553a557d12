"""The most an import could catch of a set's duplicates with today's blocking keys and model.

Every pair of the set's rows sharing a blocking key is scored in memory (the same keys the
client table stores, the same ``matching.score_pairs`` an import calls); a person's rows
joined by a chain of pairs at or above the review threshold are the most any linking could
merge or hold against one another. bench/match_quality.py measures what the import leaves;
this says how much of the gap is linking and how much is the evidence itself.

    python -m bench.linkage_ceiling "FEBRL2 no ids" [--review 0.2]
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from datetime import date

import numpy as np

from app.services.ingest.link import MAX_BLOCK


# Review thresholds below the default, to show what catching more would hold besides.
LOWER_REVIEW = (0.1, 0.05, 0.02)


def people_of(data):
    from app.services import matching

    people, truth = [], []
    for export in data.files:
        for row in export.rows:
            if not row.first_name or not row.last_name:
                continue  # rejected by the import: no name to add the client with
            try:
                dob = date.fromisoformat(row.dob) if row.dob else None
            except ValueError:
                dob = None
            people.append(matching.Person(row.first_name, row.last_name, dob,
                                          source_ids=frozenset([row.source_id]) if row.source_id else frozenset(),
                                          gender=getattr(row, "gender", None) or None, city=row.city or None,
                                          address=row.address or None))
            truth.append(row.truth)
    return people, truth


def ceiling(people, truth, review: float) -> dict:
    from app.services import matching

    blocks = defaultdict(list)
    for index, person in enumerate(people):
        keys = matching.match_keys(person.first_name, person.last_name, person.dob)
        for kind, value in (("dob", person.dob), ("last", keys.last_key), ("names", keys.names_key),
                            ("prefix", keys.prefix_key)):
            if value:
                blocks[(kind, value)].append(index)
    pairs = {(m[a], m[b]) for m in blocks.values() if len(m) <= MAX_BLOCK
             for a in range(len(m)) for b in range(a + 1, len(m))}
    left = np.array([a for a, _ in pairs], dtype=np.intp)
    right = np.array([b for _, b in pairs], dtype=np.intp)
    columns = matching.People.of(people)
    from app.extensions import db

    # the import's model: names and cities weighed by how common they are among the set's people
    model = matching.with_data_frequencies(db.session, matching.active_model(), people)
    value = matching.score_pairs(columns, columns, left, right, model=model).value if pairs else np.zeros(0)
    parent = list(range(len(people)))

    def root(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    same = np.array([truth[a] == truth[b] for a, b in zip(left, right)], dtype=bool)
    for k in np.flatnonzero((value >= review) & same):
        parent[root(left[k])] = root(right[k])
    rows_of = defaultdict(list)
    for index, person_truth in enumerate(truth):
        rows_of[person_truth].append(index)
    duplicates = sum(len(rows) - 1 for rows in rows_of.values())
    joinable = sum(len(rows) - len({root(i) for i in rows}) for rows in rows_of.values())
    return {"rows": len(people), "duplicates": duplicates, "ceiling": joinable / duplicates if duplicates else 1.0,
            "true pairs blocked": int(same.sum()),
            "true pairs at or above review": int((same & (value >= review)).sum()),
            "other pairs at or above review": int((~same & (value >= review)).sum()),
            **{f"true / other pairs at or above {lower}": f"{int((same & (value >= lower)).sum()):,} / "
                                                          f"{int((~same & (value >= lower)).sum()):,}"
               for lower in LOWER_REVIEW}}


def main(argv=None) -> int:
    from app import create_app
    from app.extensions import db
    from bench.match_quality import febrl_sets, hard_set, synthetic_set

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set", help='a set of bench/match_quality.py: "FEBRL1" … "FEBRL4 no ids", Synthetic, Hard')
    parser.add_argument("--review", type=float, default=None, help="the review threshold (default: the app's)")
    args = parser.parse_args(argv)
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with app.app_context():
        db.create_all()
        review = args.review if args.review is not None else app.config["INGEST_REVIEW_THRESHOLD"]
        sets = (list(febrl_sets()) if args.set.startswith("FEBRL") else
                [hard_set(3000)] if args.set == "Hard" else [synthetic_set(6000, 4000)])
        data = next((d for d in sets if d.name == args.set), None)
        if data is None:
            parser.error(f"no set named {args.set!r}")
        for name, figure in ceiling(*people_of(data), review).items():
            print(f"{name:40s} {figure:.4f}" if isinstance(figure, float) else
                  f"{name:40s} {figure}" if isinstance(figure, str) else f"{name:40s} {figure:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
