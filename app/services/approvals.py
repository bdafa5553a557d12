"""Proposals instead of writes: what Managers and Leaders submit and what a Coordinator does with it.

The build spec lets Managers and Leaders change canonical records only through a
Coordinator. Their saves become PendingChanges holding the proposed values and the values
they saw (the base); approving applies the change and its audit row in one transaction,
declining or withdrawing leaves the record untouched. Screens, tasks and the CLI all call
these functions, so the rules (who may propose or review, which records are in scope, what
counts as a conflict, that nothing is half-applied) hold whatever the caller.

Every function works on ``db.session`` and leaves the commit to the caller, except that a
failed approval rolls back its own savepoint so the caller's transaction stays clean.
"""

from __future__ import annotations

import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

import sqlalchemy as sa
from flask import has_request_context, url_for
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import ColumnProperty, RelationshipDirection

from app import audit
from app.constraints import explain
from app.extensions import db
from app.labels import entity_label, label
from app.guard import WriteNotPermitted
from app.models import Notification, PendingChange, Program, model_of_table
from app.models.base import VERSION_FIELD
from app.permissions import GROUPS, Action, Grant, grant
from app.services import restrictions, scope

# Tables whose writes Managers and Leaders propose (the rule table's canonical records).
PROPOSABLE = frozenset(GROUPS["records"])
OPERATIONS = ("create", "update", "delete")
OPERATION_ACTIONS = {"create": Action.CREATE, "update": Action.EDIT, "delete": Action.DELETE}
OPERATION_WORDS = {"create": "new record", "update": "edit", "delete": "deletion"}
# Kept by the database or set when a change is applied, never proposed.
DERIVED_FIELDS = frozenset({"id", "archived_at"}) | audit.NEVER_DIFFED
NOTIFICATION_CATEGORY = "approval"


class ApprovalError(ValueError):
    """A proposal or review that cannot go ahead; the message says why and what to do."""


class AlreadyReviewed(ApprovalError):
    """Someone else approved, declined or withdrew the change first."""


class RestrictedApproval(ApprovalError):
    """Approving would enroll a client a service restriction stops; ``restrictions`` names them."""

    def __init__(self, message: str, restrictions: list):
        super().__init__(message)
        self.restrictions = restrictions


class ConflictError(ApprovalError):
    """The record changed since the proposer saw it; the reviewer must acknowledge the fields."""

    def __init__(self, message: str, fields: list[str]):
        super().__init__(message)
        self.fields = fields


# -- records and their values ------------------------------------------------------------------
def model_for(entity: str):
    """The model class behind a table name."""
    model = model_of_table(entity)
    if model is None:
        raise ApprovalError(f"Unknown record type {entity!r}.")
    return model


def _column_props(model) -> list[ColumnProperty]:
    return [prop for prop in inspect(model).column_attrs if prop.key not in DERIVED_FIELDS]


def proposable_fields(model) -> list[str]:
    """The columns a proposal may set on this model, in table order."""
    return [prop.key for prop in _column_props(model)]


def _many_to_one(model):
    return [rel for rel in inspect(model).relationships if rel.direction is RelationshipDirection.MANYTOONE]


def columns_of(model, names: Iterable[str]) -> set[str]:
    """The columns behind form field names: a column stands for itself, a relationship for its keys."""
    fields = set(proposable_fields(model))
    by_relationship = {rel.key: [local.key for local, _ in rel.local_remote_pairs] for rel in _many_to_one(model)}
    columns = set()
    for name in names:
        if name in fields:
            columns.add(name)
        columns.update(key for key in by_relationship.get(name, ()) if key in fields)
    return columns


def record_values(obj) -> dict[str, Any]:
    """A record's proposable values as JSON-safe data, read before any flush.

    A form fills in relationships (``enrollment.client = <Client>``) whose key columns are
    only set at flush time; a changed relationship therefore wins over its stale column.
    """
    state = inspect(obj)
    values = {key: audit.jsonable(getattr(obj, key)) for key in proposable_fields(type(obj))}
    for rel in _many_to_one(type(obj)):
        history = state.attrs[rel.key].history
        if not history.has_changes():
            continue
        target = history.added[0] if history.added else None
        for local, remote in rel.local_remote_pairs:
            if local.key in values:
                values[local.key] = None if target is None else audit.jsonable(getattr(target, remote.key))
    return values


def same(a, b, entity: str | None = None, field: str | None = None) -> bool:
    """Equal as a person would judge it: an empty text and no value are the same, and (given the
    table and column) a multi-select's choices in another order too (audit.same_value)."""
    if a == b or (a in (None, "") and b in (None, "")):
        return True
    return entity is not None and field is not None and audit.same_value(entity, field, a, b)


def current_record(change: PendingChange, *, lock: bool = False):
    """The canonical record a change is about (None for a create not yet applied, or a deleted record)."""
    if change.entity_id is None:
        return None
    return db.session.get(model_for(change.entity), change.entity_id, with_for_update=lock or None,
                          populate_existing=lock)


def current_values(change: PendingChange) -> dict[str, Any] | None:
    record = current_record(change)
    return None if record is None else record_values(record)


def conflicts(change: PendingChange, current: dict | None = None) -> list[str]:
    """Fields whose canonical value changed since the proposer's base and differs from the proposal.

    For an edit only the proposed fields count (others are not overwritten); for a deletion
    every field counts, since the whole record would go.
    """
    if change.operation == "create":
        return []
    current = current_values(change) if current is None else current
    if current is None:
        return []
    base = change.base_json or {}
    fields = list(change.diff_json) if change.operation == "update" else list(base)
    found = []
    for field in fields:
        if field not in base or field not in current:
            continue
        moved = not same(current[field], base[field], change.entity, field)
        # An edit someone else already made exactly as proposed is no conflict.
        if moved and (change.operation == "delete"
                      or not same(current[field], change.diff_json.get(field), change.entity, field)):
            found.append(field)
    return found


def changed_since_proposed(change: PendingChange) -> bool:
    """True when the record was written after the proposal was made (its version moved on), whether
    or not in the fields the proposal changes (those are ``conflicts``)."""
    if change.base_version is None:
        return False
    record = current_record(change)
    version = getattr(record, VERSION_FIELD, None) if record is not None else None
    return version is not None and version != change.base_version


# -- labels and readable values -----------------------------------------------------------------
def _relationship_for(model, field: str):
    for rel in _many_to_one(model):
        if any(local.key == field for local, _ in rel.local_remote_pairs):
            return rel
    return None


def field_label(entity: str, field: str) -> str:
    """The label of a column; a key column is called after its relationship (client_id -> Client)."""
    rel = _relationship_for(model_for(entity), field)
    return label(rel.key) if rel is not None else label(field)


def readable(entity: str, field: str, value) -> str:
    """A stored value as a person reads it: names for linked records, Yes/No, lists joined."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    rel = _relationship_for(model_for(entity), field)
    if rel is not None:
        try:
            target = db.session.get(rel.mapper.class_, uuid.UUID(str(value)))
        except ValueError:
            target = None
        return str(target) if target is not None else f"(record no longer exists: {value})"
    return str(value)


def record_label(change: PendingChange) -> str:
    """What the change is about, for lists and messages."""
    if change.entity_id is None:
        return "(new record)"
    record = current_record(change)
    return "(deleted record)" if record is None else str(record)


@dataclass(frozen=True)
class FieldRow:
    field: str
    label: str
    base: str
    proposed: str
    current: str
    proposed_change: bool  # the proposal changes this field
    changed_since: bool  # the canonical value moved since the proposer's base
    conflict: bool


def comparison(change: PendingChange) -> list[FieldRow]:
    """The proposal field by field: what the proposer saw, what they propose, what the record holds now."""
    current = current_values(change)
    base = change.base_json or {}
    diff = change.diff_json or {}
    conflicted = set(conflicts(change, current))
    if change.operation == "create":
        fields = [f for f in proposable_fields(model_for(change.entity)) if f in diff]
    elif change.operation == "update":
        fields = [f for f in proposable_fields(model_for(change.entity)) if f in diff]
    else:
        fields = [f for f in proposable_fields(model_for(change.entity)) if f in base]
    rows = []
    for field in fields:
        now = None if current is None else current.get(field)
        proposed = diff.get(field) if change.operation != "delete" else None
        rows.append(FieldRow(
            field=field, label=field_label(change.entity, field),
            base=readable(change.entity, field, base.get(field)) if change.operation != "create" else "",
            proposed=readable(change.entity, field, proposed) if change.operation != "delete" else "(deleted)",
            current="" if current is None else readable(change.entity, field, now),
            proposed_change=(change.operation != "update"
                             or not same(base.get(field), proposed, change.entity, field)),
            changed_since=(current is not None and field in base
                           and not same(now, base.get(field), change.entity, field)),
            conflict=field in conflicted,
        ))
    return rows


# -- scope ------------------------------------------------------------------------------------
def _references(model, values: dict, entity_id=None) -> tuple[set, set]:
    """(client ids, program ids) a record carries, found from its foreign keys."""
    clients, programs = set(), set()
    table = model.__table__
    if entity_id is not None and table.name == "clients":
        clients.add(entity_id)
    if entity_id is not None and table.name == "programs":
        programs.add(entity_id)
    for column in table.columns:
        value = values.get(column.key)
        if value is None:
            continue
        for fk in column.foreign_keys:
            target = fk.column.table.name
            if target == "clients":
                clients.add(uuid.UUID(str(value)))
            elif target == "programs":
                programs.add(uuid.UUID(str(value)))
    return clients, programs


def in_scope(staff, entity: str, values: dict, entity_id=None) -> bool:
    """True when every client and program a record refers to is one this person may see.

    Records that refer to neither (a department, a client not yet created) are in scope.
    """
    if scope.sees_everything(staff):
        return True
    clients, programs = _references(model_for(entity), values, entity_id)
    if any(not scope.may_see_client(db.session, staff, client_id) for client_id in clients):
        return False
    if programs:
        seen = set(db.session.scalars(sa.select(Program.id).where(
            Program.id.in_(programs), Program.id.in_(scope.visible_program_ids(staff)))))
        if seen != programs:
            return False
    return True


# -- proposing --------------------------------------------------------------------------------
def _staff_roles(staff) -> frozenset[str]:
    return staff.role_names if staff is not None else frozenset()


def propose(requester, entity: str, operation: str, *, entity_id=None, values: dict | None = None,
            base: dict | None = None, base_version: int | None = None) -> PendingChange | None:
    """Store a proposed create, edit or deletion; None when an edit changes nothing.

    ``values`` are the proposed values (for an edit, those of the fields the form covered);
    ``base`` and ``base_version`` the values and version the proposer saw when they opened
    the form, defaulting to the record as it is now. Only the fields that differ from the
    base are kept, with their base values.
    """
    if entity not in PROPOSABLE:
        raise ApprovalError(f"Changes to {entity_label(entity)} are not made through approval.")
    if operation not in OPERATIONS:
        raise ApprovalError(f"Unknown operation {operation!r}.")
    if requester is None or grant(_staff_roles(requester), entity, OPERATION_ACTIONS[operation]) is not Grant.PROPOSE:
        raise ApprovalError("Your role does not propose this kind of change.")
    model = model_for(entity)
    values = audit.jsonable(dict(values or {}))
    unknown = sorted(set(values) - set(proposable_fields(model)))
    if unknown:
        raise ApprovalError(f"{entity_label(entity)} have no field(s) {', '.join(unknown)}.")

    record = None
    if operation != "create":
        if entity_id is None:
            raise ApprovalError("Say which record the change is about.")
        record = db.session.get(model, entity_id)
        if record is None:
            raise ApprovalError("That record no longer exists.")
    now = record_values(record) if record is not None else {}
    if operation == "update":
        base = audit.jsonable(dict(base)) if base is not None else now
        diff = {field: value for field, value in values.items() if not same(value, base.get(field), entity, field)}
        if not diff:
            return None
        base = {field: base.get(field) for field in diff}
    elif operation == "delete":
        diff, base = {}, audit.jsonable(dict(base)) if base is not None else now
    else:
        diff, base = values, {}

    if not (in_scope(requester, entity, now, entity_id) and in_scope(requester, entity, {**now, **diff}, entity_id)):
        raise ApprovalError("You can only propose changes to records of the programs you work with.")
    if record is not None and base_version is None:
        base_version = getattr(record, VERSION_FIELD, None)
    change = PendingChange(entity=entity, entity_id=entity_id, operation=operation, diff_json=diff,
                           base_json=base, base_version=None if record is None else base_version,
                           status="pending", requested_by_id=requester.id)
    db.session.add(change)
    return change


# -- reviewing --------------------------------------------------------------------------------
def may_review(staff) -> bool:
    return staff is not None and grant(_staff_roles(staff), "pending_changes", Action.REVIEW) is Grant.ALLOW


def _locked(change_id) -> PendingChange:
    """The change, locked (FOR UPDATE on PostgreSQL) so two reviewers cannot both act on it."""
    change = db.session.scalars(
        sa.select(PendingChange).where(PendingChange.id == change_id)
        .with_for_update().execution_options(populate_existing=True)
    ).first()
    if change is None:
        raise ApprovalError("That change does not exist.")
    return change


def _require_pending(change: PendingChange) -> None:
    if change.status == "pending":
        return
    who = f" by {change.reviewed_by.full_name}" if change.reviewed_by is not None else ""
    raise AlreadyReviewed(f"This change was already {change.status}{who}; nothing was done.")


def _notify(change: PendingChange, title: str, message: str) -> None:
    link = url_for("my_requests.details_view", id=change.id) if has_request_context() else None
    db.session.add(Notification(
        staff_id=change.requested_by_id, category=NOTIFICATION_CATEGORY, title=title[:255], message=message,
        link=link, data={"pending_change_id": str(change.id), "status": change.status},
    ))


def _labels(entity: str, fields: Iterable[str]) -> str:
    return ", ".join(field_label(entity, field) for field in fields)


def _apply(change: PendingChange, record, fields: list[str]):
    """Write the approved fields to the canonical record; returns the record."""
    model = model_for(change.entity)
    if change.operation == "delete":
        db.session.delete(record)
        return record
    if change.operation == "create":
        record = model()
        db.session.add(record)
    for field in fields:
        setattr(record, field, audit.from_jsonable(model, field, change.diff_json[field]))
    if "is_archived" in fields and hasattr(record, "archived_at"):
        record.archived_at = datetime.now(timezone.utc) if record.is_archived else None
    return record


def approve(change_id, reviewer, *, fields: Iterable[str] | None = None,
            acknowledge_conflicts: bool = False, override_reason: str | None = None) -> PendingChange:
    """Apply a pending change to its record, with an audit row of action "approve", and close it.

    ``fields`` approves an edit field by field (the rest are not applied). Fields that changed
    since the proposer's base are applied only when the reviewer acknowledges the conflict.
    A broken database rule, or an enrollment a service restriction stops, leaves the change
    pending and nothing applied. ``override_reason`` enrolls despite a restriction (kept on the
    enrollment and audited as an override; only a Coordinator or Administrator may).
    """
    if not may_review(reviewer):
        raise ApprovalError("Only a Coordinator or an Administrator can approve changes.")
    change = _locked(change_id)
    _require_pending(change)
    record = current_record(change, lock=True)
    if change.operation != "create" and record is None:
        raise ApprovalError("The record this change is about was deleted, so it cannot be approved; decline it.")

    proposed = list(change.diff_json)
    if fields is None or change.operation != "update":
        chosen = proposed
    else:
        chosen = [field for field in proposed if field in set(fields)]
        unknown = sorted(set(fields) - set(proposed))
        if unknown:
            raise ApprovalError(f"These fields are not part of the proposal: {', '.join(unknown)}.")
        if not chosen:
            raise ApprovalError("Choose at least one field to approve, or decline the change.")
    conflicted = [field for field in conflicts(change)
                  if change.operation == "delete" or field in chosen]
    if conflicted and not acknowledge_conflicts:
        raise ConflictError(
            "The record changed after this was proposed (" + _labels(change.entity, conflicted) + "). "
            "Compare the values, then approve knowing the conflict, approve only some fields, or decline.",
            conflicted,
        )

    about = record_label(change)
    override_reason = (override_reason or "").strip()
    overriding = restrictions.allow_restricted_enrollment(override_reason) if override_reason else nullcontext()
    try:
        with overriding, db.session.begin_nested(), audit.audit_action("approve"):
            applied = _apply(change, record, chosen)
            db.session.flush()
            if change.operation == "create":
                change.entity_id = applied.id
            change.status = "approved"
            change.reviewed_by_id = reviewer.id
            change.reviewed_at = datetime.now(timezone.utc)
            left_out = [field for field in proposed if field not in chosen]
            if left_out:
                change.rationale = f"Approved in part; not applied: {_labels(change.entity, left_out)}."
            _notify(change, f"Approved: your {OPERATION_WORDS[change.operation]} in {entity_label(change.entity)}",
                    f"{reviewer.full_name} approved your {OPERATION_WORDS[change.operation]} of "
                    f"{about if change.operation != 'create' else applied}."
                    + (f" {change.rationale}" if left_out else ""))
            db.session.flush()
    except IntegrityError as exc:
        raise ApprovalError(f"{explain(exc)} The change stays pending; nothing was applied.") from None
    except restrictions.EnrollmentRestricted as exc:
        hint = "" if override_reason else " To approve it anyway, give an override reason."
        raise RestrictedApproval(f"{exc} The change stays pending; nothing was applied.{hint}",
                                 exc.restrictions) from None
    except WriteNotPermitted as exc:
        raise ApprovalError(f"{exc} The change stays pending; nothing was applied.") from None
    return change


def decline(change_id, reviewer, rationale: str) -> PendingChange:
    """Close a change without touching the record; the rationale is required and reaches the requester."""
    if not may_review(reviewer):
        raise ApprovalError("Only a Coordinator or an Administrator can decline changes.")
    rationale = (rationale or "").strip()
    if not rationale:
        raise ApprovalError("A decline needs a rationale: tell the requester why.")
    change = _locked(change_id)
    _require_pending(change)
    change.status = "declined"
    change.reviewed_by_id = reviewer.id
    change.reviewed_at = datetime.now(timezone.utc)
    change.rationale = rationale
    _record_closed(change, "decline", {"rationale": {"before": None, "after": rationale}})
    _notify(change, f"Declined: your {OPERATION_WORDS[change.operation]} in {entity_label(change.entity)}",
            f"{reviewer.full_name} declined your {OPERATION_WORDS[change.operation]} of {record_label(change)}: "
            f"{rationale}")
    db.session.flush()
    return change


def withdraw(change_id, requester) -> PendingChange:
    """The requester takes back their own pending change."""
    change = _locked(change_id)
    if requester is None or change.requested_by_id != requester.id:
        raise ApprovalError("You can only withdraw your own requests.")
    _require_pending(change)
    change.status = "withdrawn"
    _record_closed(change, "withdraw", {})
    db.session.flush()
    return change


def _record_closed(change: PendingChange, action: str, extra: dict) -> None:
    """An audit row for a proposal closed without a write: what was proposed, and why it was not applied."""
    diff = {field: {"before": (change.base_json or {}).get(field), "after": value}
            for field, value in (change.diff_json or {}).items()}
    diff.update(extra)
    client_id = None
    values = {**(change.base_json or {}), **(change.diff_json or {})}
    if change.entity == "clients":
        client_id = change.entity_id
    elif values.get("client_id"):
        client_id = uuid.UUID(str(values["client_id"]))
    audit.record(db.session, change.entity, change.entity_id, action, diff, client_id=client_id)


# -- lists ------------------------------------------------------------------------------------
def pending_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(PendingChange)
                             .where(PendingChange.status == "pending")) or 0


def pending_for_record(entity: str, entity_id) -> int:
    """Proposed changes to one record still waiting for a decision (so new proposals are not made blind)."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(PendingChange).where(
        PendingChange.status == "pending", PendingChange.entity == entity,
        PendingChange.entity_id == entity_id)) or 0


def own_pending_count(staff) -> int:
    if staff is None:
        return 0
    return db.session.scalar(sa.select(sa.func.count()).select_from(PendingChange).where(
        PendingChange.status == "pending", PendingChange.requested_by_id == staff.id)) or 0


def requests_of(staff, *, limit: int = 50, offset: int = 0) -> list[PendingChange]:
    """A person's own proposals, newest first."""
    return list(db.session.scalars(
        sa.select(PendingChange).where(PendingChange.requested_by_id == staff.id)
        .order_by(PendingChange.created_at.desc(), PendingChange.id).limit(limit).offset(offset)
    ))
