"""Candidates: the clients sharing a blocking key with a person, found by indexed lookup.

Each blocking branch is one indexed lookup: the birth date; birth year + phonetic last
name; both phonetic names in either order (swapped names, a wrong birth date); the first
letters of both names (a typo that changes how a name sounds). Never the whole client
table, never every row against every client. A placeholder birth date (1900-01-01) is
not looked up by: it would fetch every client whose date is unknown.
"""

from __future__ import annotations

import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait as futures_wait
from dataclasses import replace
from itertools import repeat
from datetime import date
from collections import defaultdict
from typing import NamedTuple, Sequence

import numpy as np
import sqlalchemy as sa

from app.names import MatchKeys, match_keys
from app.services.matching.comparisons import People, Person, compare_household
from app.services.matching.decide import Candidate
from app.services.matching.model import (
    active_model, household_weight_ceiling, household_weights, score_pairs, settings,
)


def one_of(column, values, dialect_name: str):
    """``column IN values``. On PostgreSQL one array parameter (``= ANY``) instead of one parameter per
    value: a batch's lists run to thousands of values, and binding each one costs more than the query."""
    values = list(values)
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == sa.any_(sa.bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


class CandidateRow(NamedTuple):
    """A client as blocking fetches it: the query selects exactly these columns, in this order."""

    id: uuid.UUID
    first_name: str | None
    last_name: str | None
    preferred_name: str | None
    alias: str | None
    dob: date | None
    block_last_key: str | None
    block_names_key: str | None
    block_prefix_key: str | None
    gender: str | None
    city: str | None
    address_line1: str | None


def _looked_up_dob(dob, placeholders):
    return dob if dob is not None and dob not in placeholders else None


def block_condition(client_table, people: Sequence[Person], dialect_name: str = "default",
                    placeholders: frozenset = frozenset()):
    """SQL condition selecting every client that shares a blocking key with one of ``people``."""
    dobs, year_keys, names, prefixes = set(), set(), set(), set()
    for person in people:
        keys = match_keys(person.first_name, person.last_name, person.dob)
        dob = _looked_up_dob(person.dob, placeholders)
        if dob:
            dobs.add(dob)
        if keys.last_key:
            year_keys.add(keys.last_key)
        if keys.names_key:
            names.add(keys.names_key)
        if keys.prefix_key:
            prefixes.add(keys.prefix_key)
    c = client_table.c
    branches = []
    if dobs:
        branches.append(one_of(c.dob, sorted(dobs), dialect_name))
    if year_keys:
        branches.append(one_of(c.block_last_key, sorted(year_keys), dialect_name))
    if names:
        branches.append(one_of(c.block_names_key, sorted(names), dialect_name))
    if prefixes:
        branches.append(one_of(c.block_prefix_key, sorted(prefixes), dialect_name))
    return sa.or_(*branches) if branches else sa.false()


# People looked up per query: at a million clients 250 people share keys with ~30,000 clients,
# which bounds what one lookup holds in memory (an import's peak stays well under 500 MB).
CANDIDATE_CHUNK = 250


def fetch_blocked_rows(session, people: Sequence[Person], *, exclude_archived: bool = True, extra_condition=None,
                       placeholders: frozenset = frozenset(), ids_as_text: bool = False) -> list[tuple]:
    """The client rows sharing a blocking key with any of ``people`` (one query), as tuples of
    ``CandidateRow``'s columns in its order (row[0] is the client id).

    ``ids_as_text``: the ids as the database writes them (a UUID object per row cost more than all the
    row's other columns, and a lookup keeps few of its rows; ``with_client_ids`` makes those UUIDs)."""
    connection = session.connection()
    return _all_rows(connection, blocked_rows_query(people, connection.dialect.name, exclude_archived=exclude_archived,
                                                    extra_condition=extra_condition, placeholders=placeholders,
                                                    ids_as_text=ids_as_text))


def blocked_rows_query(people: Sequence[Person], dialect_name: str, *, exclude_archived: bool = True,
                       extra_condition=None, placeholders: frozenset = frozenset(), ids_as_text: bool = False):
    """The query ``fetch_blocked_rows`` runs."""
    from app.models import Client

    table = Client.__table__
    columns = [table.c[name] for name in CandidateRow._fields]
    if ids_as_text:
        columns[0] = sa.cast(table.c.id, sa.String)
    query = sa.select(*columns).where(block_condition(table, people, dialect_name, placeholders))
    if exclude_archived:
        query = query.where(table.c.is_archived.is_(False))
    if extra_condition is not None:
        query = query.where(extra_condition)
    return query


def _all_rows(connection, query) -> list[tuple]:
    """Every row of ``query``, fetched whole (a lookup at a million clients reads ~35,000 rows, most dropped
    unscored). On PostgreSQL as the driver's tuples: it types dates and UUIDs itself, and the result
    layer's row objects cost more than the query. Elsewhere the result layer types them (SQLite keeps
    dates as text)."""
    result = connection.execute(query)
    if connection.dialect.name != "postgresql":
        return result.all()
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


class _RowsAhead:
    """The blocked rows of each chunk of people in turn. On PostgreSQL, while the caller scores one chunk's
    rows, the next chunk's query runs in a thread on the same connection: the server's time is spent
    while this process works (it waits on the socket without holding the interpreter), instead of after.

    The connection is the session's own, so a test's open transaction sees its own rows. It is used by
    one thread at a time: ``wait`` must be called before the caller's next statement."""

    def __init__(self, session, chunks: list, overlap: bool, **query_options):
        self.connection = session.connection()
        self.chunks, self.options = chunks, query_options
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ccd-lookup") \
            if overlap and self.connection.dialect.name == "postgresql" and len(chunks) > 1 else None
        self.next: Future | None = None

    def _fetch(self, chunk) -> list[tuple]:
        return _all_rows(self.connection, blocked_rows_query(chunk, self.connection.dialect.name, **self.options))

    def __iter__(self):
        try:
            for index, chunk in enumerate(self.chunks):
                rows = self.next.result() if self.next is not None else self._fetch(chunk)
                self.next = None
                if self.pool is not None and index + 1 < len(self.chunks):
                    self.next = self.pool.submit(self._fetch, self.chunks[index + 1])
                yield chunk, rows
        finally:
            self.wait()
            if self.pool is not None:
                self.pool.shutdown()

    def wait(self) -> None:
        """Until the next chunk's query, if one runs, is done with the connection (its result, or its error,
        is kept for the next turn)."""
        if self.next is not None:
            futures_wait([self.next])


def find_candidates(session, people: Sequence[Person], *, exclude_archived: bool = True,
                    extra_condition=None, min_score: float | None = None,
                    source: str | None = None, model=None, words: bool = True) -> list[list[Candidate]]:
    """For each person, the clients sharing a blocking key with them, scored; one query per chunk of people.

    With ``min_score`` (a match probability), only candidates at least that likely are returned
    (an import needs only those in the review band; the rest are scored but never become
    objects). With ``source``, each candidate carries the ids it holds in that source system
    (``Person.source_ids``), the evidence an import of that source compares. ``model``: the
    active one with the clients' city frequencies unless given (an import brings its file's).
    ``words=False``: scores without their evidence in words (an import holds a whole file's
    candidates, and describes those a person will read with ``described``).
    """
    if model is None:
        from app.services.matching.frequencies import with_data_frequencies

        model = with_data_frequencies(session, active_model(session))
    config = settings()
    found: list[list[Candidate]] = []
    # Scoring before the source ids are fetched is the work the next chunk's query can run beside.
    scored_first = bool(source) and min_score is not None
    chunks = [people[start:start + CANDIDATE_CHUNK] for start in range(0, len(people), CANDIDATE_CHUNK)]
    ahead = _RowsAhead(session, chunks, scored_first, exclude_archived=exclude_archived,
                       extra_condition=extra_condition, placeholders=config.placeholder_dobs, ids_as_text=True)
    for chunk, fetched in ahead:
        rows = fetched
        try:
            if scored_first and rows:
                rows = _likely_rows(chunk, rows, min_score=min_score, model=model, config=config)
        finally:
            ahead.wait()
        if scored_first and fetched:
            rows = _with_holders_of_their_ids(session, source, chunk, fetched, rows)
        rows = with_client_ids(rows)
        held = None
        if source and rows:
            held = source_ids_of(session, source, [row[0] for row in rows]) if rows else None
        found += candidates_from_rows(chunk, rows, min_score=min_score, source_ids=held, source=source,
                                      model=model, config=config, words=words)
    return found


def with_client_ids(rows: Sequence[tuple]) -> list[tuple]:
    """Rows fetched ``ids_as_text`` with their client ids as UUIDs."""
    return [(uuid.UUID(row[0]), *row[1:]) for row in rows]


def _likely_rows(people: Sequence[Person], rows: Sequence[CandidateRow], *, min_score: float, model,
                 config) -> list[CandidateRow]:
    """The rows at least ``min_score`` likely for someone before their source ids are compared.

    A block at a million clients holds tens of thousands of rows, and fetching every one's ids
    cost a third of an import. A different id from the same source only weighs against, so the rows
    below ``min_score`` without ids stay below it, unless the client holds the person's own id
    (``_with_holders_of_their_ids`` keeps those).
    """
    columns = list(zip(*rows))
    left, right = pair_by_blocks(people, rows, config.placeholder_dobs, columns)
    if not left.size:
        return []
    incoming, candidates = People.of(people), rows_as_people(rows, columns=columns)
    # Cities and addresses last: most blocked rows share a key and little else (a common name, another birth
    # date), and fall short of min_score on their names, dates and genders even with the most those could add.
    # The pairs left in reach add them to the weight already scored (the same sum a whole scoring makes).
    needed = float(np.log2(min_score / (1.0 - min_score))) if 0.0 < min_score < 1.0 else -np.inf
    without_household = score_pairs(replace(incoming, city=None, address=None),
                                    replace(candidates, city=None, address=None), left, right,
                                    model=model, config=config).weight
    reachable = without_household + household_weight_ceiling(model, config) >= needed - 1e-9
    left, right, without_household = left[reachable], right[reachable], without_household[reachable]
    if not left.size:
        return []
    named, position = np.unique(right, return_inverse=True)  # the few rows in reach: their values compared alone
    household = compare_household(incoming, candidates.subset(named.tolist()), left, position)
    w_city, w_address = household_weights(household, model, config, without_household)
    likely = without_household + w_city + w_address >= needed - 1e-9  # the caller keeps min_score exactly
    return [rows[index] for index in np.unique(right[likely])]


def _with_holders_of_their_ids(session, source: str, people: Sequence[Person], fetched: Sequence[tuple],
                               likely: list[tuple]) -> list[tuple]:
    """The likely rows and any fetched client holding one of ``people``'s own ids in ``source``: the same id
    can lift a pair that nothing else would, and whether another person of the chunk kept that row must not
    decide the answer. An import looks up no one whose id a client holds (ingest/link.py links those first),
    so there this finds nothing, in one indexed query."""
    from app.models import ClientSourceId

    ids = sorted({source_id for person in people for source_id in person.source_ids})
    if not ids:
        return likely
    holders = set(session.scalars(
        sa.select(sa.cast(ClientSourceId.client_id, sa.String))
        .where(ClientSourceId.source_system == source,
               one_of(ClientSourceId.source_client_id, ids, session.connection().dialect.name))))
    kept = {row[0] for row in likely}
    return likely + [row for row in fetched if row[0] in holders and row[0] not in kept]


def source_ids_of(session, source: str, client_ids) -> dict[uuid.UUID, frozenset[str]]:
    """The ids each of ``client_ids`` holds in ``source``."""
    from app.models import ClientSourceId

    held: dict[uuid.UUID, set[str]] = defaultdict(set)
    for client_id, source_id in session.execute(
            sa.select(ClientSourceId.client_id, ClientSourceId.source_client_id)
            .where(ClientSourceId.source_system == source,
                   one_of(ClientSourceId.client_id, client_ids, session.connection().dialect.name))):
        held[client_id].add(source_id)
    return {client_id: frozenset(ids) for client_id, ids in held.items()}


def _blocking_keys(person: Person, placeholders) -> list:
    """The keys a person is found by: the birth date itself, and the stored key columns that are set."""
    keys = match_keys(person.first_name, person.last_name, person.dob)
    dob = _looked_up_dob(person.dob, placeholders)
    found = [dob] if dob else []
    found += [key for key in (keys.last_key, keys.names_key, keys.prefix_key) if key]
    return found


def pair_by_blocks(people: Sequence[Person], rows: Sequence[CandidateRow],
                   placeholders: frozenset = frozenset(), columns: list | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Every (person, row) pair sharing a blocking key, each pair once, as two index arrays (by person, then row).

    The rows' keys are read from their stored columns (what the query selected on); the
    people's are computed. Dates and key strings never collide, so one table numbers them all.
    The table holds only the people's keys (a few per person): each of the many rows is looked
    up in it once per key column, and the rest is done on arrays. ``columns``: the rows' columns
    (``zip(*rows)``), when the caller has them.
    """
    people_of: dict = defaultdict(list)
    for index, person in enumerate(people):
        for key in _blocking_keys(person, placeholders):
            people_of[key].append(index)
    if not people_of or not rows:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    number = {key: n for n, key in enumerate(people_of)}
    lookup = number.get
    columns = columns or list(zip(*rows))
    row_keys = np.stack([np.fromiter(map(lookup, column, repeat(-1)), dtype=np.intp, count=len(rows))
                         for column in columns[5:9]], axis=1)  # dob and the three key columns
    row_of, column = np.nonzero(row_keys >= 0)
    key_of = row_keys[row_of, column]
    holders = [people_of[key] for key in number]
    count = np.fromiter(map(len, holders), dtype=np.intp, count=len(holders))
    start = np.cumsum(count) - count
    person_by_key = np.fromiter((index for group in holders for index in group), dtype=np.intp,
                                count=int(count.sum()))
    per_entry = count[key_of]
    entry = np.repeat(np.arange(key_of.size), per_entry)
    first_slot = np.cumsum(per_entry) - per_entry
    slots = start[key_of][entry] + (np.arange(entry.size) - first_slot[entry])
    pairs = np.unique(person_by_key[slots].astype(np.int64) * len(rows) + row_of[entry])
    return pairs // len(rows), pairs % len(rows)


def rows_as_people(rows: Sequence[CandidateRow], source_ids: dict | None = None, columns: list | None = None) -> People:
    columns = columns or (list(zip(*rows)) if rows else [()] * len(CandidateRow._fields))
    if source_ids:
        ids = [source_ids.get(client_id, frozenset()) for client_id in columns[0]]
    else:  # no ids to look up: a UUID's hash is computed in Python, and a block holds tens of thousands
        ids = [frozenset()] * len(rows)
    return People(columns[1], columns[2], columns[3], columns[4], columns[5], columns[9], ids, columns[10],
                  columns[11])


def candidates_from_rows(people: Sequence[Person], rows: Sequence[CandidateRow], *,
                         min_score: float | None = None,
                         source_ids: dict[uuid.UUID, frozenset[str]] | None = None, source: str | None = None,
                         model=None, config=None, words: bool = True) -> list[list[Candidate]]:
    """Pair fetched client rows with the people whose block they share, and score every pair in one call.

    ``source_ids``: the ids each client holds in the source being matched, when known."""
    config = config or settings()
    result: list[list[Candidate]] = [[] for _ in people]
    left, right = pair_by_blocks(people, rows, config.placeholder_dobs)
    if not left.size:
        return result
    candidates = rows_as_people(rows, source_ids)
    scores = score_pairs(people, candidates, left, right, model=model, config=config, source=source)
    kept = range(left.size) if min_score is None else np.flatnonzero(scores.value >= min_score)
    for k in kept:
        result[left[k]].append(Candidate(rows[right[k]][0], candidates.person(right[k]), scores.at(k, words),
                                         None if words else people[left[k]]))
    return result


def described(candidates: Sequence[Candidate], *, model, source: str | None = None,
              config=None) -> list[Candidate]:
    """The candidates with their scores' evidence in words, scored again in one call (the same people and
    model give the same score); those that carry their evidence, or no incoming person, are kept as they are."""
    wanted = [k for k, candidate in enumerate(candidates) if not candidate.score.evidence and candidate.incoming]
    if not wanted:
        return list(candidates)
    pairs = np.arange(len(wanted), dtype=np.intp)
    scores = score_pairs([candidates[k].incoming for k in wanted], [candidates[k].person for k in wanted],
                         pairs, pairs, model=model, config=config, source=source)
    result = list(candidates)
    for position, k in enumerate(wanted):
        result[k] = replace(candidates[k], score=scores.at(position), incoming=None)
    return result


class CandidateIndex:
    """People not (yet) in the database, findable by the same blocking keys the database stores.

    An import keeps the clients it creates here, so a later row of the same file finds
    them; the quality bench keeps its test clients here. ``source``: the source system
    whose ids the people's ``source_ids`` are (for the words of the evidence).
    """

    def __init__(self, source: str | None = None):
        self.source = source
        self._by_key: dict[tuple, list] = defaultdict(list)
        self._source_ids: dict[uuid.UUID, frozenset[str]] = {}

    def add(self, client_id: uuid.UUID, person: Person) -> None:
        keys = match_keys(person.first_name, person.last_name, person.dob)
        row = CandidateRow(client_id, person.first_name, person.last_name, person.preferred_name, person.alias,
                           person.dob, keys.last_key, keys.names_key, keys.prefix_key, person.gender, person.city,
                           person.address)
        if person.source_ids:
            self._source_ids[client_id] = self._source_ids.get(client_id, frozenset()).union(person.source_ids)
        for lookup in self._lookups(person, keys):
            self._by_key[lookup].append(row)

    @staticmethod
    def _lookups(person: Person, keys: MatchKeys):
        dob = _looked_up_dob(person.dob, settings().placeholder_dobs)
        if dob:
            yield "dob", dob
        if keys.last_key:
            yield "year", keys.last_key
        if keys.names_key:
            yield "names", keys.names_key
        if keys.prefix_key:
            yield "prefix", keys.prefix_key

    def rows_for(self, person: Person) -> list:
        keys = match_keys(person.first_name, person.last_name, person.dob)
        found = {}
        for lookup in self._lookups(person, keys):
            for row in self._by_key.get(lookup, ()):
                found[row.id] = row
        return list(found.values())

    def candidates(self, person: Person, *, min_score: float | None = None) -> list[Candidate]:
        rows = self.rows_for(person)
        return candidates_from_rows([person], rows, min_score=min_score, source_ids=self._source_ids,
                                    source=self.source)[0] if rows else []
