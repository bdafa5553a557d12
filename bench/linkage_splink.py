"""Splink on the same sets, for comparison with CCD's own linkage model (bench/linkage_fit.py).

    pip install splink            # bench only: CCD does not depend on it
    python -m bench.linkage_splink

Same sets (FEBRL 1-4 and the hard set), the same decision rule and thresholds
(``matching.Thresholds()``): Splink 5 on DuckDB with its standard person comparisons
(NameComparison on first and last name with term frequencies, DateOfBirthComparison, gender
exactly),
blocking on the birth date, on last name + birth year and on both names (the branches
CCD blocks by, without Soundex, which DuckDB lacks), trained the way its tutorials do:
the prior from deterministic rules, u by random sampling, m by EM over two blockings.
"""

from __future__ import annotations

import time
import uuid

from app.services import matching
from bench.linkage_fit import Quality, evaluate, febrl_sets, hard_set


def _frame(people: dict):
    import pandas as pd

    return pd.DataFrame([{"unique_id": str(key), "first_name": (p.first_name or "").lower() or None,
                          "surname": (p.last_name or "").lower() or None,
                          "dob": p.dob.isoformat() if p.dob else None, "gender": p.gender}
                         for key, p in people.items()])


def splink_scores(link_set) -> tuple[list, float]:
    """(truth, [(client id, probability), ...]) per case, and the seconds training and prediction took."""
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI

    cases = {uuid.uuid4(): (person, truth) for person, truth in link_set.cases}
    clients = _frame(link_set.clients)
    incoming = _frame({key: person for key, (person, _) in cases.items()})
    started = time.perf_counter()
    api = DuckDBAPI()
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=[cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
                     cl.NameComparison("surname").configure(term_frequency_adjustments=True),
                     cl.DateOfBirthComparison("dob", input_is_string=True), cl.ExactMatch("gender")],
        blocking_rules_to_generate_predictions=[block_on("dob"), block_on("surname", "substr(dob, 1, 4)"),
                                                block_on("first_name", "surname")],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker([api.register(clients), api.register(incoming)], settings, log_level=40)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "surname", "dob")], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("surname"))
    predictions = linker.inference.predict(threshold_match_probability=0.01).as_pandas_dataframe()
    seconds = time.perf_counter() - started
    found: dict[str, list] = {}
    client_side = set(clients["unique_id"])
    for row in predictions.itertuples():
        left, right = row.unique_id_l, row.unique_id_r
        client, case = (left, right) if left in client_side else (right, left)
        found.setdefault(case, []).append((uuid.UUID(client), float(row.match_probability)))
    scored = [(truth, found.get(str(key), [])) for key, (_, truth) in cases.items()]
    return scored, seconds


def main() -> int:
    thresholds = matching.Thresholds()
    print(f"Splink at accept {thresholds.accept}, review {thresholds.review}, margin {thresholds.margin}:")
    print(f"{'set':8} {'rows':>6} {'dups':>6} {'merged':>7} {'precision':>9} {'caught':>7} {'held not dup':>12} "
          f"{'seconds':>8}")
    for link_set in [*febrl_sets(), hard_set()]:
        scored, seconds = splink_scores(link_set)
        q: Quality = evaluate(scored, thresholds.accept, thresholds.review, thresholds.margin)
        print(f"{link_set.name:8} {q.rows:6} {q.duplicates:6} {q.merged:7} {q.precision:9.4f} {q.recall:7.3f} "
              f"{q.held_share:12.3%} {seconds:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
