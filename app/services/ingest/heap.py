"""An import's linking state kept out of the garbage collector's sight while the file is worked.

Linking holds the whole file at once (its people, clusters and candidates: millions of
objects for 100,000 rows), and Python's cyclic collector rescans every live container
each time it runs a full collection, which the import's own churn of fetched rows sets
off again and again. ``gc.freeze`` moves what exists now into a generation the collector
skips; objects made afterwards (fetched rows, a batch's records) are collected as
usual. Leaving puts the frozen objects back, so whatever became garbage meanwhile is
collected then.

Imports can run side by side in one process (the threaded server with Celery eager), and
freezing is process-wide: the objects are handed back only when the last run leaves.
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager

_lock = threading.Lock()
_runs = 0


def freeze() -> None:
    """Collect what is garbage now, then keep everything still alive out of later collections."""
    gc.collect()
    gc.freeze()


@contextmanager
def long_lived_state():
    """While inside, ``freeze`` may be called as the state grows (after reading, after linking)."""
    global _runs
    with _lock:
        _runs += 1
    try:
        yield
    finally:
        with _lock:
            _runs -= 1
            if _runs == 0:
                gc.unfreeze()
