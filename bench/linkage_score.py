"""Scoring what an import left behind against the truth of the rows it was given.

A *unit* is what the source system calls one person: an id of one source (several rows of
one id are one unit), or a single row when the file carries no id. Merging rows of one id is
the source's doing; what the matcher decides is which units end on one client.

* automatic merges: every client holding k units made k - 1 merges; one holding units of p
  different true persons made p - 1 false ones. Precision = 1 - false / merges.
* true duplicates: a person with k units (not rejected) has k - 1 duplicates. Units of the
  person are joined when they ended on one client, or when a held unit's review item names a
  client holding another unit of the person; caught = k - (number of joined groups).
* held, not a duplicate: a held unit whose person has no other unit anywhere in the set.
* held forever: a person none of whose units became (or joined) a client.
* fingerprint: clients as the sets of units (and enrollments) they hold, held units with the
  clients they were held against, rejected units; equal fingerprints mean equal outcomes.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field

PRECISION_TARGET = 0.998
CAUGHT_TARGET = 0.97
HELD_NON_DUPLICATE_TARGET = 0.02


def unit_of(row, source: str) -> str:
    return f"{source}:{row.source_id}" if row.source_id else f"row:{row.program}:{row.admission.isoformat()}"


@dataclass
class Unit:
    key: str
    truth: str
    rows: list = field(default_factory=list)
    client: object = None
    held_against: set = field(default_factory=set)
    held: bool = False
    rejected: str | None = None


@dataclass
class Score:
    rows: int
    people: int
    units: int
    clients: int
    rejected_rows: int
    merges: int
    false_merges: int
    duplicates: int
    caught: int
    held_rows: int
    held_non_duplicate_rows: int
    held_forever: int
    split_units: int
    false_merge_examples: list
    fingerprint: str

    @property
    def precision(self) -> float:
        return 1 - self.false_merges / self.merges if self.merges else 1.0

    @property
    def caught_share(self) -> float:
        return self.caught / self.duplicates if self.duplicates else 1.0

    @property
    def held_non_duplicate_share(self) -> float:
        return self.held_non_duplicate_rows / self.rows if self.rows else 0.0


def score(data, left) -> Score:
    """``data``: a bench DataSet; ``left``: real_import.Leftovers read after importing it."""
    units: dict[str, Unit] = {}
    rows = 0
    for export in data.files:
        for row in export.rows:
            rows += 1
            key = unit_of(row, export.source)
            unit = units.setdefault(key, Unit(key, row.truth))
            unit.rows.append(row)
    split = 0
    for unit in units.values():
        clients = Counter(left.enrollment_client[r.key] for r in unit.rows if r.key in left.enrollment_client)
        held = [left.held[r.key] for r in unit.rows if r.key not in left.enrollment_client and r.key in left.held]
        if clients:
            unit.client = clients.most_common(1)[0][0]
            split += len(clients) > 1
        elif held:
            unit.held = True
            unit.held_against = set().union(*(h.candidates for h in held))
        else:
            unit.rejected = next((left.other_rows[r.key] for r in unit.rows if r.key in left.other_rows), "missing")

    on_client: dict[object, list[Unit]] = defaultdict(list)
    of_person: dict[str, list[Unit]] = defaultdict(list)
    for unit in units.values():
        if unit.client is not None:
            on_client[unit.client].append(unit)
        if unit.rejected is None:
            of_person[unit.truth].append(unit)

    merges = sum(len(held) - 1 for held in on_client.values())
    false_merges, examples = 0, []
    for client, held in sorted(on_client.items(), key=lambda item: str(item[0])):
        people = sorted({u.truth for u in held})
        if len(people) > 1:
            false_merges += len(people) - 1
            if len(examples) < 8:
                names = " + ".join(sorted({f"{u.rows[0].first_name} {u.rows[0].last_name} {u.rows[0].dob or '-'}"
                                           for u in held}))
                examples.append(f"{left.client_names.get(client, client)} holds {len(people)} people: {names}")

    duplicates = caught = held_non_duplicate = held_forever = 0
    for person, person_units in of_person.items():
        k = len(person_units)
        duplicates += k - 1
        if k == 1 and person_units[0].held:
            held_non_duplicate += len(person_units[0].rows)
        if all(u.held for u in person_units):
            held_forever += 1
        parent = {u.key: u.key for u in person_units}

        def find(key):
            while parent[key] != key:
                parent[key] = parent[parent[key]]
                key = parent[key]
            return key

        first_on = {}
        for u in person_units:
            if u.client is not None:
                if u.client in first_on:
                    parent[find(u.key)] = find(first_on[u.client])
                else:
                    first_on[u.client] = u.key
        for u in person_units:
            for client in u.held_against:
                if client in first_on:
                    parent[find(u.key)] = find(first_on[client])
        caught += k - len({find(u.key) for u in person_units})

    return Score(rows, len({u.truth for u in units.values()}), len(units), len(on_client),
                 sum(len(u.rows) for u in units.values() if u.rejected is not None), merges, false_merges,
                 duplicates, caught, sum(len(u.rows) for u in units.values() if u.held), held_non_duplicate,
                 held_forever, split, examples, fingerprint(units, on_client, left))


def fingerprint(units: dict[str, Unit], on_client, left) -> str:
    """Outcomes without the database's own ids: each client is named by the units it holds."""
    enrollments = defaultdict(list)
    for key, client in left.enrollment_client.items():
        enrollments[client].append(f"{key[0]}@{key[1].isoformat()}")
    signature = {client: min(u.key for u in held) for client, held in on_client.items()}
    clients = sorted((tuple(sorted(u.key for u in held)), tuple(sorted(enrollments[client])))
                     for client, held in on_client.items())
    held = sorted((u.key, tuple(sorted(signature.get(c, "(a client of no unit)") for c in u.held_against)))
                  for u in units.values() if u.held)
    rejected = sorted(u.key for u in units.values() if u.rejected is not None)
    return hashlib.sha256(repr((clients, held, rejected)).encode()).hexdigest()[:12]
