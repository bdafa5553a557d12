"""An import's memory in the file's length: the same kind of file at two sizes, each imported through the
real path (``import_file``); reading a file alone at two sizes.

Reading is flat (line by line). The import cannot be: the file is linked as a whole, so each row's
staged id, person, cluster, decision and best candidates (their scores without the evidence in words,
which is built batch by batch) are held until its batch is written; everything else is bounded by the
batch and chunk sizes, which the test makes small so both files span many of them. Each measured import
starts from the same state (caches emptied, then one warm-up import of the same size compiles every
statement). Measured on 2026-12-03: ~1,370 bytes a row on SQLite and ~1,480 on PostgreSQL (2,050-2,250
before the held strings were shared and the evidence built late; the figure moves with what ran before
by about 10 %); the bound sits well above that spread, so what it catches is a leak of the size the
issue found (1.7 KB a row more), not the held state itself.
"""

import csv
import gc
import tracemalloc

import pytest

from app.extensions import db
from app import names
from app.services.ingest import import_file, link, stage
from app.services.ingest.reading import read_sheet
from app.services.matching import comparisons
from app.services.matching import names as matching_names
from bench.synthetic import emhware_lines, generate
from tests import factories

SMALL = 250
LARGE = 4 * SMALL
CHUNK = 50  # rows per batch, staging chunk, read chunk and look-up chunk
# Growth allowed per added row, in bytes: above what the order-free linking holds (and its spread
# between runs), below it plus the 1.7 KB a row leak the issue measured.
MAX_BYTES_PER_ROW = 2400


def _export(tmp_path, rows: int, seed: int):
    data = generate(clients=max(rows // 4, 20), rows=rows, seed=seed)
    path = tmp_path / f"emhware-{rows}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(emhware_lines(data))
    return path


NAME_CACHES = (names.normalize_name, names.phonetic, comparisons.gender_code, comparisons.first_name_level,
               comparisons.last_name_level, matching_names.is_gendered_variant)


def _traced_peak(warm_up, path) -> int:
    """Peak bytes the import allocated above what was held when it started, from the same state whatever
    ran before in this process: the bounded name caches emptied, then filled by the same small warm-up
    import (which also compiles every statement the import runs)."""
    for cached in NAME_CACHES:
        cached.cache_clear()
    import_file(warm_up, "EMHware", batch_size=CHUNK)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        summary = import_file(path, "EMHware", batch_size=CHUNK)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert summary.status in ("success", "partial") and summary.rows_read > 0
    return peak - base


@pytest.fixture
def bench_programs(db_session):
    for name in ("Bench Program A", "Bench Program B"):
        db.session.add(factories.program(name=name))
    db.session.commit()


def test_an_imports_memory_grows_only_by_what_linking_holds_per_row(tmp_path, bench_programs, monkeypatch):
    for module, name in ((stage, "STAGE_CHUNK"), (link, "READ_CHUNK"), (link, "LOOKUP_CHUNK")):
        monkeypatch.setattr(module, name, CHUNK)
    warm_up = _export(tmp_path, SMALL, seed=3)
    small = _traced_peak(warm_up, _export(tmp_path, SMALL, seed=5))
    large = _traced_peak(warm_up, _export(tmp_path, LARGE, seed=6))
    per_row = (large - small) / (LARGE - SMALL)
    assert per_row < MAX_BYTES_PER_ROW, (
        f"peak {small / 1024:.0f} KiB at {SMALL} rows, {large / 1024:.0f} KiB at {LARGE} rows: "
        f"{per_row:.0f} bytes a row")


def _reading_peak(path) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        sheet = read_sheet(path)
        rows = sum(1 for _ in sheet.rows)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert rows > 0
    return peak - base


def test_reading_a_file_holds_no_more_for_four_times_the_rows(tmp_path):
    def written(rows: int):
        path = tmp_path / f"plain-{rows}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            out = csv.writer(handle)
            out.writerow(["ID", "Last Name", "First Name", "Program", "DOB", "City"])
            out.writerows([f"CLI{n:07d}", f"Côté{n}", f"Émilie{n % 97}", "Bench Program A", "1980-01-02", "Toronto"]
                          for n in range(rows))
        return path

    small, large = _reading_peak(written(20_000)), _reading_peak(written(80_000))
    assert large < 1.25 * small + 256 * 1024, f"reading peaked at {small} bytes for 20,000 rows, {large} for 80,000"
