"""An import's linking state kept out of the garbage collector's way while the file is worked.

Linking holds the whole file at once (its people, clusters and candidates: millions of
objects for 100,000 rows), and every candidate lookup fetches tens of thousands of rows.
Left to itself, Python's cyclic collector runs a collection every few hundred new
containers and a full one whenever enough have survived, and a full collection rescans
every live container: at a million clients a lookup's fetch spent more time in those
scans than in the driver (0.16-0.2 s of a 0.2 s fetchall, against 0.006 s with the
collector paused).

So while a file is worked the automatic collector is paused, the long-lived state is
frozen (``gc.freeze``: a generation the collector skips) once it is built, and what a
batch leaves behind is collected explicitly after each write, its survivors frozen in turn
(only objects made since the last freeze are scanned). Leaving hands everything back and
turns the collector on again.

Imports can run side by side in one process (the threaded server with Celery eager), and
all of this is process-wide: it is undone only when the last run leaves.
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager

_lock = threading.Lock()
_runs = 0
_was_enabled = True


def freeze() -> None:
    """Collect what is garbage now, then keep everything still alive out of later collections."""
    gc.collect()
    gc.freeze()


def collect() -> None:
    """Collect the garbage made since the last freeze (a written batch's records and their cycles), and keep
    what survives out of the next collection: otherwise each batch's collection rescanned the survivors of
    every batch before it (20 s of a 100,000-row import, in 500-row batches)."""
    freeze()


@contextmanager
def long_lived_state():
    """While inside, automatic collection is paused; ``freeze`` and ``collect`` are called as the run goes."""
    global _runs, _was_enabled
    with _lock:
        if _runs == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _runs += 1
    try:
        yield
    finally:
        with _lock:
            _runs -= 1
            if _runs == 0:
                gc.unfreeze()
                if _was_enabled:
                    gc.enable()
