"""An import's memory stays flat in the file's length: the same kind of file at two sizes, each imported
through the real path (``import_file``), the larger may not peak meaningfully higher.

The file is linked as a whole, so some state is held per row until its batch is written (the
row's staged id, its person, its cluster and decision, and the name caches of app/names.py and
matching, which are bounded but do not fill at these sizes); everything else is bounded by the
batch and chunk sizes, which the test makes small so both files span many of them. Measured
here: 1,439 bytes a row on SQLite and 1,551 on PostgreSQL; the importer before this test
(the file's text held several times over, every matched client kept in sets, written services
kept for the whole run) gave 1,791 and 1,926, which the bound fails.
"""

import csv
import gc
import tracemalloc

import pytest

from app.extensions import db
from app.services.ingest import import_file, link, stage
from bench.synthetic import emhware_lines, generate
from tests import factories

SMALL = 250
CHUNK = 50  # rows per batch, staging chunk, read chunk and look-up chunk
# Growth allowed per added row, in bytes: above what the order-free linking holds, below the old importer.
MAX_BYTES_PER_ROW = 1700


def _export(tmp_path, rows: int, seed: int):
    data = generate(clients=max(rows // 4, 20), rows=rows, seed=seed)
    path = tmp_path / f"emhware-{rows}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(emhware_lines(data))
    return path


def _traced_peak(path) -> int:
    """Peak bytes the import allocated above what was held when it started."""
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


def test_an_imports_peak_memory_does_not_grow_with_the_rows(tmp_path, bench_programs, monkeypatch):
    for module, name in ((stage, "STAGE_CHUNK"), (link, "READ_CHUNK"), (link, "LOOKUP_CHUNK")):
        monkeypatch.setattr(module, name, CHUNK)
    import_file(_export(tmp_path, 40, seed=3), "EMHware", batch_size=CHUNK)  # modules and statement caches warm
    small = _traced_peak(_export(tmp_path, SMALL, seed=5))
    large = _traced_peak(_export(tmp_path, 4 * SMALL, seed=6))
    per_row = (large - small) / (3 * SMALL)
    assert per_row < MAX_BYTES_PER_ROW, (
        f"peak {small / 1024:.0f} KiB at {SMALL} rows, {large / 1024:.0f} KiB at {4 * SMALL} rows: "
        f"{per_row:.0f} bytes a row")
