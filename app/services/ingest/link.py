"""Linking a staged file as a whole: its rows become clusters (one person each), and each cluster is
linked to the clients CCD already has.

Nothing here depends on the order of the rows or on how the file will be cut into batches:

* rows with the same source id are one cluster; rows without an id, or with different ids,
  join only when the matching model scores them as the same person (``matching.score_pairs``
  over the file's own rows, blocked by the same keys the client table stores, each person
  carrying its id in the source so the model sees "different EMHware id");
* two clusters with different ids of the same source that the model still calls the same
  person are not joined: the one whose id sorts later is held for review against the
  other, exactly as it would be held against a client written by an earlier file;
* a row without an id that the model ties to several clusters with ids is held too;
* clusters are then linked to clients: the same source id first (``client_source_ids``),
  else ``matching.find_candidates`` in chunks (never the whole client table).

Every tie is broken on content (ids, normalised names, dates), never on row numbers.
Rows are kept compact (the person and its row number in the staged file); the write step reads
their cells again batch by batch and puts each cluster's rows in content order then.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple, Sequence

import numpy as np
import sqlalchemy as sa

from app.models import ClientDuplicate, ClientSourceId, ImportRow
from app.services import matching
from app.services.ingest.parse import ParsedRow
from app.services.ingest.values import BadValue

READ_CHUNK = 2000
# People looked up in the client table per find_candidates call (it chunks its queries itself, running
# each next one while this one is scored, so all but a call's first overlap; what one call returns is
# held until its clusters keep their best few). At a million clients 4,000 took 60.9-61.7 s against
# 62.5-63.2 s for 1,000 (alternating runs), peaking 4 MiB higher.
LOOKUP_CHUNK = 4000
# Pairs of the file's own rows scored per call.
SCORED_PAIRS_CHUNK = 100_000
# A blocking key shared by more rows than this (a placeholder birth date on thousands of rows)
# is no evidence of anything; those rows are still paired through their other keys.
MAX_BLOCK = 500
# Candidates kept per cluster until the file is decided: matching.decide reads no more than its
# five best (it lists at most five, and the margin compares the best two); a common name can bring
# dozens, and the whole file's are held at once.
KEPT_CANDIDATES = 5


@dataclass(slots=True)
class Cluster:
    """Rows of one file that are one person, and what linking found for them."""

    key: str  # the incoming key: "<source>:<id>", or "<source>:row:<hash of name and birth date>"
    source_id: str | None
    # Staged row numbers (put in content order when written): an int where a staged id's UUID cost ~90 bytes.
    rows: list[int] = field(default_factory=list)
    people: list[matching.Person] = field(default_factory=list)  # distinct persons with names
    known_client_id: uuid.UUID | None = None  # the client already holding this cluster's source id
    # From the client table, and held against other clusters of the same file ([(cluster, score)], and why).
    # Assigned, never appended to: most clusters have none, and the whole file's are held at once.
    candidates: Sequence[matching.Candidate] = ()
    held_against: Sequence[tuple["Cluster", matching.Score]] = ()
    held_reason: str | None = None

    @property
    def row_count(self) -> int:
        return len(self.rows)

    @property
    def person(self) -> matching.Person | None:
        """The cluster's person as a review page lists it (the first in content order)."""
        return self.people[0] if self.people else None


class _PairScore(NamedTuple):
    """A pair of the file's people as clustering keeps it: the probability, and which two people (their
    Score, with its evidence in words, is built only for the pairs a reviewer will see)."""

    value: float
    left: int
    right: int


@dataclass(slots=True)
class _Group:
    """Rows sharing a source id, or (without one) the same person exactly."""

    sort_key: tuple
    source_id: str | None
    rows: list[tuple] = field(default_factory=list)
    people: list[matching.Person] = field(default_factory=list)  # distinct (nearly always one)


def content_key(row: ParsedRow, cells: list) -> tuple:
    """Orders a cluster's rows by what they say (service dates, then the cells), never by where they are."""
    digest = hashlib.sha1("\x1f".join(str(c) for c in cells).encode("utf-8")).digest()[:12]
    return tuple(d.toordinal() if d else 0 for d in (row.enrollment_start, row.intake_date, row.discharge_date)) \
        + (digest,)


def in_content_order(parsed: list[tuple[ParsedRow, list]]) -> list[ParsedRow]:
    """A cluster's rows (parsed, with their cells) in content order, whatever order the file had them in."""
    return [row for _, row in sorted(((content_key(row, cells), row) for row, cells in parsed),
                                     key=lambda entry: entry[0])]


def _person_key(person: matching.Person) -> tuple:
    """A person as the file wrote them: what sorts them and tells exact repeats apart (the person's own
    strings, no copies: the file's every row holds one)."""
    return (person.last_name or "", person.first_name or "", person.dob.toordinal() if person.dob else 0,
            person.preferred_name or "", person.alias or "", person.gender or "", person.city or "",
            person.address or "")


def _add_person(group: _Group, person: matching.Person) -> None:
    """A person joins its group unless the group has them already (a list, not a dict keyed by person: most
    groups hold one person, and the whole file's groups are held at once)."""
    key = _person_key(person)
    if all(_person_key(other) != key for other in group.people):
        group.people.append(person)


class FileLinks:
    """The clusters of one staged file, linked to clients."""

    def __init__(self, run):
        self.run = run
        self.session = run.session
        self.clusters: list[Cluster] = []
        self._close_calls: tuple = ({}, {})
        self._pair_columns: matching.People | None = None  # the file's people, while its pairs are kept
        self._row_keys: set[str] = set()  # the bases of the incoming keys given to people without an id
        self.model: matching.LinkageModel | None = None  # the active model, cities counted with the file's

    def _one_of(self, column, values):
        return matching.one_of(column, values, self.session.connection().dialect.name)

    # -- reading -----------------------------------------------------------------------------
    def read(self, on_rejected) -> None:
        """Parse every staged row; rows that cannot be read are handed to ``on_rejected`` chunk by chunk."""
        by_id: dict[str, _Group] = {}
        by_person: dict[tuple, _Group] = {}
        last_number = 0
        while True:
            staged = self.session.execute(
                sa.select(ImportRow.id, ImportRow.row_number, ImportRow.cells)
                .where(ImportRow.upload_log_id == self.run.log.id, ImportRow.status == "staged",
                       ImportRow.row_number > last_number)
                .order_by(ImportRow.row_number).limit(READ_CHUNK)).all()
            if not staged:
                break
            last_number = staged[-1].row_number
            rejected = []
            for row in staged:
                try:
                    parsed = self.run._parse(row)
                except BadValue as exc:
                    rejected.append((row, str(exc)))
                    continue
                if not parsed.source_id and not parsed.has_names:
                    rejected.append((row, "First and last name are needed to find or add the client"))
                    continue
                person = parsed.person
                if parsed.source_id:
                    group = by_id.get(parsed.source_id)
                    if group is None:
                        group = by_id[parsed.source_id] = _Group((0, parsed.source_id), parsed.source_id)
                else:
                    exact = _person_key(person)
                    group = by_person.get(exact)
                    if group is None:
                        group = by_person[exact] = _Group((1,) + exact, None)
                group.rows.append(row.row_number)
                if parsed.has_names:
                    _add_person(group, person)
            if rejected:
                on_rejected(rejected)
            self.run.heartbeat()
        self._reject_conflicting_ids(by_id, on_rejected)
        groups = sorted([*by_id.values(), *by_person.values()], key=lambda g: g.sort_key)
        self.model = matching.with_data_frequencies(self.session, matching.active_model(self.session),
                                                    (person for group in groups for person in group.people))
        self._cluster(groups)

    def _reject_conflicting_ids(self, by_id: dict[str, _Group], on_rejected) -> None:
        """One id on rows with different birth dates: the file contradicts itself, and which row is right
        is not the import's to guess; every row of that id is rejected, naming the others."""
        for source_id in sorted(by_id):
            group = by_id[source_id]
            if len({person.dob for person in group.people if person.dob}) < 2:
                continue
            rows = self.session.execute(
                sa.select(ImportRow.id, ImportRow.row_number)
                .where(ImportRow.upload_log_id == self.run.log.id, self._one_of(ImportRow.row_number, group.rows))
                .order_by(ImportRow.row_number)).all()
            numbers = ", ".join(str(row.row_number) for row in rows)
            on_rejected([(row, f"{self.run.source} id {source_id} has different birth dates on rows {numbers}; "
                               "correct it in the source system so the id has one birth date") for row in rows])
            del by_id[source_id]

    # -- rows of the file that are one person ------------------------------------------------
    def _cluster(self, groups: list[_Group]) -> None:
        thresholds = self.run.thresholds
        people, owner = [], []
        for index, group in enumerate(groups):
            for person in sorted(group.people, key=_person_key):
                people.append(person)
                owner.append(index)
        best = self._best_pair_scores(people, np.array(owner, dtype=np.intp))

        parent = list(range(len(groups)))

        def root(g):
            while parent[g] != g:
                parent[g] = parent[parent[g]]
                g = parent[g]
            return g

        for (a, b), score in sorted(best.items()):
            if score.value >= thresholds.accept and not (groups[a].source_id and groups[b].source_id):
                ra, rb = root(a), root(b)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
        components: dict[int, list[int]] = defaultdict(list)
        for g in range(len(groups)):
            components[root(g)].append(g)

        cluster_of: dict[int, Cluster] = {}
        ambiguous: list[tuple[int, list[int]]] = []
        for members in components.values():
            with_ids = [g for g in members if groups[g].source_id]
            if len(with_ids) <= 1:
                cluster = self._new_cluster(groups, members)
                for g in members:
                    cluster_of[g] = cluster
                continue
            # Rows tied to several people with ids: each of those people is a cluster; a row without
            # an id joins the one it is tied to directly, or waits for a reviewer.
            for g in with_ids:
                cluster_of[g] = self._new_cluster(groups, [g])
            for g in members:
                if groups[g].source_id:
                    continue
                direct = [h for h in with_ids if best.get((min(g, h), max(g, h)), None) is not None
                          and best[(min(g, h), max(g, h))].value >= thresholds.accept]
                if len(direct) == 1:
                    self._join(cluster_of[direct[0]], groups[g])
                    cluster_of[g] = cluster_of[direct[0]]
                else:
                    ambiguous.append((g, members))
        held_in_file = []
        for g, members in ambiguous:
            cluster = cluster_of[g] = self._new_cluster(groups, [g])
            cluster.held_reason = "this row resembles several people of the same file"
            against = {}
            for h in members:
                other = cluster_of.get(h)
                pair = best.get((min(g, h), max(g, h)))
                if other is not None and other is not cluster and pair is not None and (
                        other.key not in against or pair.value > against[other.key][1].value):
                    against[other.key] = (other, pair)
            cluster.held_against = [against[key] for key in sorted(against)]
            held_in_file.append(cluster)
        self._with_scores(held_in_file)
        self.clusters = sorted({id(c): c for c in cluster_of.values()}.values(), key=lambda c: c.key)
        self._close_calls = (best, cluster_of)  # held once the clients holding the file's ids are known
        for cluster in self.clusters:
            if len(cluster.people) > 1:
                cluster.people = [person for _, person in sorted({_person_key(p): p for p in cluster.people}.items(),
                                                                 key=lambda item: item[0])]

    def _hold_close_calls(self, best, cluster_of) -> None:
        """Two people of the file the model neither joins nor tells apart (the review band, or the same person
        by everything but a different id of this source): the one whose key sorts later waits for a reviewer,
        against the other, as it would against the client an earlier file had written for that other."""
        against: dict[str, dict[str, tuple]] = defaultdict(dict)
        for (a, b), score in sorted(best.items()):
            first, second = sorted((cluster_of[a], cluster_of[b]), key=lambda c: c.key)
            if first is not second and (first.key not in against[second.key]
                                        or score.value > against[second.key][first.key][1].value):
                against[second.key][first.key] = (first, score)
        accept = self.run.thresholds.accept
        held = []
        for cluster in self.clusters:  # in key order: a cluster held here is no one's target
            if cluster.held_reason is not None or cluster.known_client_id is not None:
                continue  # a row whose id CCD knows goes to that client, as it would in any file
            close = [pair for _, pair in sorted(against.get(cluster.key, {}).items())]
            pairs = [pair for pair in close if pair[0].held_reason is None]
            if not pairs and close:
                pairs = self._through_held(cluster, [other for other, _ in close])
                if pairs:
                    cluster.held_against = pairs
                    cluster.held_reason = ("resembles another person in this file who is held for review against "
                                           "the client shown")
                continue
            if not pairs:
                continue
            cluster.held_against = pairs
            held.append(cluster)
            if any(score.value >= accept for _, score in pairs):
                cluster.held_reason = (f"another person in this file with a different {self.run.source} id "
                                       "looks like the same person")
            else:
                cluster.held_reason = "another person in this file may be the same person"
        self._with_scores(held)

    def _through_held(self, cluster: Cluster, held: list[Cluster]) -> list[tuple]:
        """A cluster close only to clusters that are themselves held: it is held against what those are
        held against (a person's third record resembling the second, not the first, still waits beside
        the first instead of becoming a client of its own), scored directly against each of them."""
        targets = {}
        for other in held:
            for target, _ in other.held_against:
                if target.held_reason is None and target is not cluster and target.person is not None:
                    targets[target.key] = target
        if not targets or cluster.person is None:
            return []
        ordered = [targets[key] for key in sorted(targets)]
        columns = matching.People.of([cluster.person] + [target.person for target in ordered])
        index = np.arange(1, len(ordered) + 1)
        scores = matching.score_pairs(columns, columns, np.zeros(len(ordered), dtype=np.intp), index,
                                      model=self.model)
        return [(target, scores.at(k)) for k, target in enumerate(ordered)]

    def _new_cluster(self, groups: list[_Group], members: list[int]) -> Cluster:
        with_id = next((groups[g].source_id for g in members if groups[g].source_id), None)
        cluster = Cluster("", with_id)
        for g in members:
            self._join(cluster, groups[g])
        cluster.key = (f"{self.run.source}:{with_id}"[:200] if with_id else self._row_key(groups, members))
        return cluster

    @staticmethod
    def _join(cluster: Cluster, group: _Group) -> None:
        """Put in order, and people counted once, when the clusters are complete (``_cluster``)."""
        cluster.rows.extend(group.rows)
        cluster.people.extend(group.people)

    def _row_key(self, groups: list[_Group], members: list[int]) -> str:
        """The incoming key of a person without an id: a hash of the normalised name and birth date (the
        key earlier imports used, so a pair once marked "not a duplicate" stays so), made unique in the file."""
        person = min((p for g in members for p in groups[g].people), key=_person_key)
        basis = "|".join((matching.normalize_name(person.first_name), matching.normalize_name(person.last_name),
                          person.dob.isoformat() if person.dob else ""))
        if basis in self._row_keys:
            basis += "|" + "|".join(map(str, _person_key(person)))
        self._row_keys.add(basis)
        return f"{self.run.source}:row:{hashlib.sha1(basis.encode()).hexdigest()[:20]}"

    def _with_scores(self, clusters: list[Cluster]) -> None:
        """Each cluster's ``held_against`` pairs, as clustering kept them, become Scores with their evidence:
        all of them in a few scoring calls, each among the people its pairs name (scoring reads every person
        it is handed: the whole file for each held pair was quadratic in the file, and one call per pair
        cost a millisecond each, a seventh of a 200,000-row import that holds 30,000 rows)."""
        pairs = [pair for cluster in clusters for _, pair in cluster.held_against]
        scores: list[matching.Score] = []
        columns = self._pair_columns
        for start in range(0, len(pairs), SCORED_PAIRS_CHUNK):
            chunk = pairs[start:start + SCORED_PAIRS_CHUNK]
            lefts = np.fromiter((pair.left for pair in chunk), dtype=np.intp, count=len(chunk))
            rights = np.fromiter((pair.right for pair in chunk), dtype=np.intp, count=len(chunk))
            named, position = np.unique(np.concatenate([lefts, rights]), return_inverse=True)
            part = columns.subset(named.tolist())
            scored = matching.score_pairs(part, part, position[:len(chunk)], position[len(chunk):], model=self.model)
            scores += [scored.at(k) for k in range(len(chunk))]
        taken = iter(scores)
        for cluster in clusters:
            cluster.held_against = [(other, next(taken)) for other, _ in cluster.held_against]

    def _best_pair_scores(self, people: list[matching.Person], owner: np.ndarray) -> dict[tuple, _PairScore]:
        """For each pair of groups sharing a blocking key, their best score at or above the review threshold.

        Kept as probabilities and people: a Score with its evidence is ~1.5 KB, and a file of common
        names has several such pairs a row (an import's peak memory was ~4.5 KB a row)."""
        self._pair_columns = matching.People.of(people)
        if len(people) < 2:
            return {}
        blocks: dict[tuple, list[int]] = defaultdict(list)
        for index, person in enumerate(people):
            keys = matching.match_keys(person.first_name, person.last_name, person.dob)
            for kind, value in (("dob", person.dob), ("last", keys.last_key), ("names", keys.names_key),
                                ("prefix", keys.prefix_key)):
                if value:
                    blocks[(kind, value)].append(index)
        size = len(people)
        # Pairs as numbers (left * size + right, left < right), in arrays: a block of a common name can
        # hold hundreds of rows, and a Python set of their pairs would be the import's largest object.
        twos, chunks = [], []
        for members in blocks.values():
            if len(members) == 2:
                twos.append(members)
            elif 2 < len(members) <= MAX_BLOCK:
                index = np.asarray(members, dtype=np.int64)
                i, j = np.triu_indices(len(members), k=1)
                chunks.append((index[i], index[j]))
        if twos:
            pair = np.asarray(twos, dtype=np.int64)
            chunks.append((pair[:, 0], pair[:, 1]))
        if not chunks:
            return {}
        left = np.concatenate([a for a, _ in chunks])
        right = np.concatenate([b for _, b in chunks])
        apart = owner[left] != owner[right]
        flat = np.unique(left[apart] * size + right[apart])
        if not flat.size:
            return {}
        left, right = flat // size, flat % size
        del flat, apart, chunks
        columns = self._pair_columns
        best: dict[tuple, _PairScore] = {}
        for start in range(0, left.size, SCORED_PAIRS_CHUNK):  # scoring's arrays stay a few megabytes
            lefts, rights = left[start:start + SCORED_PAIRS_CHUNK], right[start:start + SCORED_PAIRS_CHUNK]
            # Scored among the people these pairs name: scoring reads every person it is handed, and
            # handing it the whole file for each chunk cost more than the pairs themselves.
            named, position = np.unique(np.concatenate([lefts, rights]), return_inverse=True)
            part = columns.subset(named.tolist())
            values = matching.score_pairs(part, part, position[:lefts.size], position[lefts.size:],
                                          model=self.model).value
            for k in np.flatnonzero(values >= self.run.thresholds.review):
                a, b = int(owner[lefts[k]]), int(owner[rights[k]])
                pair = (min(a, b), max(a, b))
                value = float(values[k])
                if pair not in best or value > best[pair].value:
                    best[pair] = _PairScore(value, int(lefts[k]), int(rights[k]))
        return best

    # -- clusters to clients -------------------------------------------------------------------
    def link_to_clients(self) -> None:
        """The client holding each cluster's source id; else the scored candidates from the client table."""
        run = self.run
        with_ids = [c for c in self.clusters if c.source_id]
        for start in range(0, len(with_ids), LOOKUP_CHUNK):
            chunk = {c.source_id: c for c in with_ids[start:start + LOOKUP_CHUNK]}
            for source_id, client_id in self.session.execute(
                    sa.select(ClientSourceId.source_client_id, ClientSourceId.client_id)
                    .where(ClientSourceId.source_system == run.source,
                           self._one_of(ClientSourceId.source_client_id, sorted(chunk)))):
                chunk[source_id].known_client_id = client_id
        self._hold_close_calls(*self._close_calls)
        self._close_calls, self._pair_columns = ({}, {}), None
        wanted = [c for c in self.clusters if c.known_client_id is None and c.people]
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            self._candidates_for(wanted[start:start + LOOKUP_CHUNK])

    def _candidates_for(self, clusters: list[Cluster]) -> None:
        people = [person for cluster in clusters for person in cluster.people]
        # Without words: the whole file's candidates are held until it is written, and only those a decision
        # keeps are described, batch by batch (ImportRun._process_batch).
        found = matching.find_candidates(self.session, people, min_score=self.run.thresholds.review,
                                         source=self.run.source, model=self.model, words=False)
        declined = self._declined({c.key for c in clusters},
                                  {candidate.client_id for candidates in found for candidate in candidates})
        position = 0
        for cluster in clusters:
            best: dict[uuid.UUID, matching.Candidate] = {}
            for candidates in found[position:position + len(cluster.people)]:
                for candidate in candidates:
                    if (cluster.key, candidate.client_id) in declined:
                        continue
                    held = best.get(candidate.client_id)
                    if held is None or candidate.score.value > held.score.value:
                        best[candidate.client_id] = candidate
            position += len(cluster.people)
            cluster.candidates = sorted(best.values(),
                                        key=lambda c: (-c.score.value, str(c.client_id)))[:KEPT_CANDIDATES]

    def _declined(self, keys: set[str], client_ids: set[uuid.UUID]) -> set[tuple]:
        """Pairs a person marked "not a duplicate" are not proposed again (looked up by client first,
        the leading column of the pair's unique index)."""
        if not keys or not client_ids:
            return set()
        return {tuple(row) for row in self.session.execute(
            sa.select(ClientDuplicate.incoming_key, ClientDuplicate.primary_client_id)
            .where(self._one_of(ClientDuplicate.primary_client_id, sorted(client_ids, key=str)),
                   self._one_of(ClientDuplicate.incoming_key, sorted(keys)),
                   ClientDuplicate.status == "not_duplicate"))}
