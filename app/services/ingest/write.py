"""Writing what an import decided: clients, source ids, enrollments, intakes, discharges, review items
and their audit rows, for one batch at a time, in bulk statements committed together by the caller.

Every record has a natural key (client + program + date, source + id), looked up before a
batch writes, so re-running a file writes only what is missing.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import sqlalchemy as sa

from app import audit, bulk
from app.models import Client, ClientDuplicate, ClientSourceId, Discharge, Enrollment, Intake
from app.models.search import KEY_FIELDS, refresh_search_keys
from app.services import matching, restriction_notices, restrictions
from app.services.ingest.column_maps import CLIENT_FIELDS
from app.services.ingest.parse import LIST_FIELDS, ParsedRow

DEFAULT_DISCHARGE_REASON = "Not recorded in {source}"
# Identity fields are CCD's own: an import fills them when empty but never overwrites them
# (a typo in one export must not rename a client; a mismatch is evidence for review).
IDENTITY_FIELDS = frozenset({"first_name", "last_name", "dob"})
SEARCHED_FIELDS = frozenset(KEY_FIELDS)


@dataclass
class Outcome:
    status: str
    reason: str | None = None
    client_id: uuid.UUID | None = None
    details: dict = field(default_factory=dict)



class Batch:
    """One batch: what it writes, gathered row by row, then written all at once by ``apply``."""

    def __init__(self, run):
        self.run = run
        self.session = run.session
        self.new_clients: list[dict] = []
        self.client_changes: dict[uuid.UUID, dict] = {}  # client id -> {field: (before, after)}
        self.client_current: dict[uuid.UUID, dict] = {}
        self.new_source_ids: list[dict] = []
        self.new_enrollments: list[dict] = []
        self.enrollment_changes: dict[uuid.UUID, dict] = {}
        self.new_intakes: list[dict] = []
        self.new_discharges: list[dict] = []
        self.new_duplicates: list[dict] = []
        self.enrollments_written = self.intakes_written = self.discharges_written = 0
        self.enrollments_flagged = 0

    def _one_of(self, column, values):
        return matching.one_of(column, values, self.session.connection().dialect.name)


    def _load_clients(self, client_ids) -> None:
        columns = [Client.__table__.c[name] for name in ("id", *CLIENT_FIELDS, "languages_spoken", "extended")]
        if client_ids:
            for row in self.session.execute(sa.select(*columns).where(self._one_of(Client.id, sorted(client_ids)))):
                self.client_current[row.id] = dict(row._mapping)

    def _load_children(self) -> None:
        """Existing enrollments, intakes and discharges of the batch's clients, by natural key."""
        self.enrollments: dict[tuple, dict] = {}
        self.open_enrollments: dict[tuple, list[dict]] = defaultdict(list)
        self.intake_keys: set[tuple] = set()
        self.discharge_keys: set[tuple] = set()
        client_ids = sorted(self.client_current)
        if not client_ids:
            return
        for row in self.session.execute(
                sa.select(Enrollment.id, Enrollment.client_id, Enrollment.program_id, Enrollment.start_date,
                          Enrollment.end_date, Enrollment.status)
                .where(self._one_of(Enrollment.client_id, client_ids), Enrollment.is_archived.is_(False))):
            record = dict(row._mapping)
            self.enrollments[(row.client_id, row.program_id, row.start_date)] = record
            if row.end_date is None:
                self.open_enrollments[(row.client_id, row.program_id)].append(record)
        self.intake_keys = {tuple(row) for row in self.session.execute(
            sa.select(Intake.client_id, Intake.program_id, Intake.intake_date)
            .where(self._one_of(Intake.client_id, client_ids)))}
        self.discharge_keys = {tuple(row) for row in self.session.execute(
            sa.select(Discharge.client_id, Discharge.program_id, Discharge.discharge_date)
            .where(self._one_of(Discharge.client_id, client_ids)))}

    # -- what a row writes -------------------------------------------------------------------
    def _new_client(self, row: ParsedRow, client_id: uuid.UUID) -> None:
        values = {name: value for name, value in row.client.items()}
        if "preferred_language" in values:
            values["languages_spoken"] = [values["preferred_language"]]
        keys = matching.match_keys(values.get("first_name"), values.get("last_name"), values.get("dob"))
        values.update({"id": client_id, "source_system": self.run.source, "block_last_key": keys.last_key,
                       "block_names_key": keys.names_key,
                       "block_prefix_key": keys.prefix_key})
        values.setdefault("languages_spoken", [])
        values.setdefault("ethnicity", [])
        self.new_clients.append(values)
        self.client_current[client_id] = dict(values)

    def _update_client(self, client_id: uuid.UUID, incoming: dict) -> bool:
        current = self.client_current.get(client_id)
        if current is None:  # created by an earlier batch of a dry run: nothing in the database to compare
            return False
        changes = self.client_changes.setdefault(client_id, {})
        changed = False
        for name, value in incoming.items():
            before = current.get(name)
            if name in IDENTITY_FIELDS and before not in (None, ""):
                continue
            if name in LIST_FIELDS:
                merged = list(before or []) + [v for v in value if v not in (before or [])]
                value = merged
            if name == "extended":  # the file's keys over the stored ones; keys it does not carry are kept
                value = {**(before or {}), **value}
            if value == before:
                continue
            changes.setdefault(name, (before, value))
            changes[name] = (changes[name][0], value)
            current[name] = value
            changed = True
        language = incoming.get("preferred_language")
        spoken = list(current.get("languages_spoken") or [])
        if language and language not in spoken:
            changes.setdefault("languages_spoken", (list(spoken), None))
            spoken.append(language)
            changes["languages_spoken"] = (changes["languages_spoken"][0], spoken)
            current["languages_spoken"] = spoken
            changed = True
        if not changes:
            self.client_changes.pop(client_id, None)
        return changed

    def _services(self, row: ParsedRow, client_id: uuid.UUID, program_id: uuid.UUID) -> None:
        run = self.run
        if row.enrollment_start:
            key = (client_id, program_id, row.enrollment_start)
            existing = self.enrollments.get(key)
            if existing is None and key not in run.written_keys:
                record = {"id": uuid.uuid4(), "client_id": client_id, "program_id": program_id,
                          "start_date": row.enrollment_start, "end_date": row.discharge_date,
                          "status": "discharged" if row.discharge_date else "active",
                          "referral_source": row.referral_source}
                self.new_enrollments.append(record)
                self.enrollments[key] = dict(record)
                if record["end_date"] is None:
                    self.open_enrollments[(client_id, program_id)].append(self.enrollments[key])
                self._remember(key, client_id)
                self.enrollments_written += 1
            elif existing is not None and row.discharge_date and existing["end_date"] != row.discharge_date:
                self._end_enrollment(existing, row.discharge_date)
        elif row.discharge_date:
            open_ones = [e for e in self.open_enrollments.get((client_id, program_id), [])
                         if e["start_date"] <= row.discharge_date and e["end_date"] is None]
            if len(open_ones) == 1:
                self._end_enrollment(open_ones[0], row.discharge_date)
        if row.intake_date:
            key = ("intake", client_id, program_id, row.intake_date)
            if (client_id, program_id, row.intake_date) not in self.intake_keys and key not in run.written_keys:
                self.new_intakes.append({"id": uuid.uuid4(), "client_id": client_id, "program_id": program_id,
                                         "intake_date": row.intake_date, "source_system": run.source,
                                         "referral_source": row.referral_source})
                self.intake_keys.add((client_id, program_id, row.intake_date))
                self._remember(key, client_id)
                self.intakes_written += 1
        if row.discharge_date:
            key = ("discharge", client_id, program_id, row.discharge_date)
            if (client_id, program_id, row.discharge_date) not in self.discharge_keys and key not in run.written_keys:
                self.new_discharges.append({
                    "id": uuid.uuid4(), "client_id": client_id, "program_id": program_id,
                    "discharge_date": row.discharge_date,
                    "reason": row.discharge_reason or DEFAULT_DISCHARGE_REASON.format(source=run.source)})
                self.discharge_keys.add((client_id, program_id, row.discharge_date))
                self._remember(key, client_id)
                self.discharges_written += 1

    def _remember(self, key: tuple, client_id: uuid.UUID) -> None:
        """A service written to a client other clusters write to as well, which later batches must see."""
        if client_id in self.run.counters.shared:
            self.run.written_keys.add(key)

    def _end_enrollment(self, enrollment: dict, end: date) -> None:
        if end < enrollment["start_date"]:
            return
        change = self.enrollment_changes.setdefault(
            enrollment["id"], {"client_id": enrollment["client_id"],
                               "before": {"end_date": enrollment["end_date"], "status": enrollment["status"]}})
        change["after"] = {"end_date": end, "status": "discharged"}
        enrollment["end_date"], enrollment["status"] = end, "discharged"
        self.enrollments_written += 1

    # -- what a cluster writes ---------------------------------------------------------------
    def write_cluster(self, decision, rows: list[ParsedRow], matched_by: str) -> tuple[dict, bool]:
        """Every row of a cluster onto its one client, in content order, and the cluster's source id once.
        Returns the rows' outcomes and whether an existing client's details changed."""
        outcomes: dict[uuid.UUID, Outcome] = {}
        client_id, created = decision.client_id, decision.outcome == "new"
        changed = False
        details = {"matched_by": matched_by, "incoming_key": decision.cluster.key}
        if decision.score is not None:
            details.update({"match_probability": round(decision.score.value, 4), "score": decision.score.details()})
        for index, row in enumerate(rows):
            if created and index == 0:
                self._new_client(row, client_id)
            elif self._update_client(client_id, row.client):
                changed = True
                status = "updated"
            else:
                status = "unchanged"
            for program_id in row.programs:
                self._services(row, client_id, program_id)
            outcomes[row.staged_id] = Outcome("inserted" if created else status, None, client_id, dict(details))
        if decision.cluster.source_id and decision.outcome != "id" and decision.add_source_id:
            self.new_source_ids.append({"id": uuid.uuid4(), "client_id": client_id, "source_system": self.run.source,
                                        "source_client_id": decision.cluster.source_id})
        return outcomes, changed and not created

    def hold(self, decision, rows: list[ParsedRow]) -> dict[uuid.UUID, Outcome]:
        """A cluster too close to call: nothing written for any of its rows; one review item per candidate,
        on the cluster's first row (a reviewer's answer writes them all)."""
        run, key = self.run, decision.cluster.key
        listed = [{"client_id": str(c.client_id), "name": " ".join(filter(None, (c.person.first_name,
                                                                                   c.person.last_name))),
                   "dob": c.person.dob.isoformat() if c.person.dob else None,
                   "probability": round(c.score.value, 4), "match_type": c.score.match_type,
                   "score": c.score.details()}
                  for c in decision.candidates]
        first = rows[0]
        for candidate in decision.candidates:
            value = candidate.score.value
            self.new_duplicates.append({
                "id": uuid.uuid4(), "primary_client_id": candidate.client_id, "import_row_id": first.staged_id,
                "incoming_key": key, "similarity_score": round(min(max(value, 0.0), 1.0), 4),
                "match_type": candidate.score.match_type,
                "confidence_level": "high" if value >= run.thresholds.accept else "medium" if value >= (
                    run.thresholds.accept + run.thresholds.review) / 2 else "low",
                "status": "pending", "detection_source": "import",
                "match_details": {"reason": decision.reason, "row_number": first.number, "source": run.source,
                                  "source_id": decision.cluster.source_id, "upload_log_id": str(run.log.id),
                                  "rows_held": len(rows), **candidate.score.details()},
            })
        details = {"incoming_key": key, "rows_held": len(rows), "candidates": listed}
        return {row.staged_id: Outcome("review", f"Held for review: {decision.reason}", None, dict(details))
                for row in rows}

    # -- writing -----------------------------------------------------------------------------
    def apply(self) -> None:
        session = self.session
        actor = audit.current_actor()
        now = datetime.now(timezone.utc)
        trail = []

        def created(table: str, rows: list[dict], client_key: str | None = "client_id") -> None:
            for row in rows:
                diff = {k: {"before": None, "after": v} for k, v in row.items() if k != "id"
                        and not k.startswith("block_")}
                trail.append(audit.audit_row(table, row["id"], "import", diff, actor=actor, at=now,
                                             client_id=row["id"] if client_key is None else row.get(client_key)))

        with audit.bulk_write(), audit.audit_action("import"):
            if self.new_clients:
                self._insert(Client, self.new_clients)
                created("clients", self.new_clients, client_key=None)
            self._update_clients(trail, actor, now)
            if self.new_source_ids:
                self._insert(ClientSourceId, self.new_source_ids)
                created("client_source_ids", self.new_source_ids)
            if self.new_enrollments:
                self._flag_restricted_enrollments(trail, actor, now)
                self._insert(Enrollment, self.new_enrollments)
                created("client_program_enrollments", self.new_enrollments)
            if self.enrollment_changes:
                bulk.update_by_id(session, Enrollment.__table__, [{"id": enrollment_id, **change["after"]}
                                                                   for enrollment_id, change in
                                                                   self.enrollment_changes.items()])
                for enrollment_id, change in self.enrollment_changes.items():
                    diff = {k: {"before": change["before"][k], "after": change["after"][k]} for k in change["after"]
                            if change["before"][k] != change["after"][k]}
                    trail.append(audit.audit_row("client_program_enrollments", enrollment_id, "import", diff,
                                                 actor=actor, at=now, client_id=change["client_id"]))
            if self.new_intakes:
                self._insert(Intake, self.new_intakes)
                created("intakes", self.new_intakes)
            if self.new_discharges:
                self._insert(Discharge, self.new_discharges)
                created("discharges", self.new_discharges)
            if self.new_duplicates:
                self._insert_duplicates(trail, actor, now)
            audit.record_many(session, trail)
        # Bulk statements pass the session by, so the clients they wrote are made findable here: the new ones,
        # those given a source id, and those whose changed fields are searched by (most changes of a matched
        # client are its gender, city or languages, which no key holds).
        refresh_search_keys(session.connection(), {row["id"] for row in self.new_clients}
                            | {client_id for client_id, changes in self.client_changes.items()
                               if not SEARCHED_FIELDS.isdisjoint(changes)}
                            | {row["client_id"] for row in self.new_source_ids})

    def _flag_restricted_enrollments(self, trail, actor, now) -> None:
        """The source system already enrolled these clients, so the enrollments are written; those a
        restriction would have stopped are flagged for a Coordinator, audited as overrides naming the
        restrictions, and announced to subscribers once the batch commits (the session check cannot
        see bulk inserts, so the batch is checked here, with one query)."""
        restricted = restrictions.restrictions_for_enrollments(self.session, self.new_enrollments, self._one_of)
        if not restricted:
            return
        log = self.run.log
        reason = f"Recorded by {log.source} import of {log.file_name}"
        announced = set()
        for record in self.new_enrollments:
            covering = restricted.get(record["id"])
            if not covering:
                continue
            record["override_reason"], record["flagged_for_review"] = reason, True
            trail.append(audit.audit_row("client_program_enrollments", record["id"], "override",
                                         restrictions.override_diff(reason, covering, True),
                                         actor=actor, at=now, client_id=record["client_id"]))
            announced.update(restriction.id for restriction in covering)
            self.enrollments_flagged += 1
        restriction_notices.announce_enrollments_after_commit(self.session, announced)

    def _insert(self, model, rows: list[dict]) -> None:
        bulk.insert_rows(self.session, model.__table__, rows)

    def _update_clients(self, trail, actor, now) -> None:
        groups: dict[tuple, list[dict]] = defaultdict(list)
        for client_id, changes in self.client_changes.items():
            values = {name: after for name, (before, after) in changes.items()}
            if "dob" in values:
                current = self.client_current[client_id]
                keys = matching.match_keys(current.get("first_name"), current.get("last_name"), values["dob"])
                values.update({"block_last_key": keys.last_key,
                               "block_names_key": keys.names_key, "block_prefix_key": keys.prefix_key})
            groups[tuple(sorted(values))].append({"id": client_id, **values})
            trail.append(audit.audit_row("clients", client_id, "import",
                                         {name: {"before": before, "after": after}
                                          for name, (before, after) in changes.items()},
                                         actor=actor, at=now, client_id=client_id))
        for group in groups.values():
            bulk.update_by_id(self.session, Client.__table__, group)

    def _insert_duplicates(self, trail, actor, now) -> None:
        pairs = {(d["primary_client_id"], d["incoming_key"]) for d in self.new_duplicates}
        existing = {tuple(row) for row in self.session.execute(
            sa.select(ClientDuplicate.primary_client_id, ClientDuplicate.incoming_key)
            .where(self._one_of(ClientDuplicate.primary_client_id, sorted({client_id for client_id, _ in pairs})),
                   self._one_of(ClientDuplicate.incoming_key, sorted({key for _, key in pairs}))))}
        fresh = [d for d in self.new_duplicates if (d["primary_client_id"], d["incoming_key"]) not in existing]
        if fresh:
            self._insert(ClientDuplicate, fresh)
            for row in fresh:
                diff = {k: {"before": None, "after": v} for k, v in row.items() if k != "id"}
                trail.append(audit.audit_row("client_duplicates", row["id"], "import", diff, actor=actor, at=now,
                                             client_id=row["primary_client_id"]))
