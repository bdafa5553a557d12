"""Reading the audit trail: readable changes, a client's History, and a client's record as it was on a past date.

The trail keeps, for every changed row, ``{field: {"before": x, "after": y}}``: a create
carries every field (before empty), a delete every field (after empty), an update only
what changed. A record as it was at a past moment is therefore rebuilt *backwards*:
start from what is stored now (or, for a deleted record, from the full copy its delete
row kept) and undo each later change with its "before" values. That needs only the rows
after the moment (one indexed query), and it also works for records that existed before
auditing started, whose creation the trail never saw.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterable
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import aliased

from app import audit
from app.extensions import db
from app.labels import FIELD_LABELS, entity_label, label
from app.models import AuditLog, Client, Discharge, Enrollment, Intake, ServiceRestriction, Staff, model_of_table
from app.permissions import GROUP_OF, Action, may
from app.services.scope import client_visible

HISTORY_PAGE_SIZE = 20
SUMMARY_FIELDS = 4
HIDDEN_VALUE = "(hidden: not kept in the trail)"
ID_FIELD = "id"

# A client's own records, shown with the client "as of" a date: the fields that identify
# each, and the date they are listed by (newest first).
CLIENT_CHILDREN: dict[str, tuple[type, tuple[str, ...], str]] = {
    "client_program_enrollments": (
        Enrollment, ("program_id", "subprogram_id", "start_date", "end_date", "status", "referral_source",
                     "is_archived"), "start_date"),
    "intakes": (Intake, ("program_id", "intake_date", "source_system", "referral_source", "housing_status"),
                "intake_date"),
    "discharges": (Discharge, ("program_id", "discharge_date", "reason"), "discharge_date"),
    "service_restrictions": (
        ServiceRestriction, ("scope", "program_id", "start_date", "end_date", "is_indefinite", "restriction_types",
                             "is_bill_168", "is_no_trespass", "is_archived"), "start_date"),
}


# -- models and fields -----------------------------------------------------------------------
def model_for(table: str):
    """The mapped class of a table name, or None for an entity that is not a table (an event)."""
    return model_of_table(table)


def tracked_fields(model) -> list[str]:
    """The fields the trail follows for this model, in the model's order (the key excluded)."""
    ignored = audit.NEVER_DIFFED | getattr(model, "__guard_exempt_fields__", frozenset()) | {ID_FIELD}
    return [prop.key for prop in sa.inspect(model).column_attrs if prop.key not in ignored]


def stored_values(obj) -> dict[str, Any]:
    """A record's tracked fields as the trail would write them (JSON types, secrets hidden)."""
    values = {}
    for key in tracked_fields(type(obj)):
        value = getattr(obj, key)
        values[key] = audit.REDACTED_VALUE if key in audit.REDACTED and value is not None else audit.jsonable(value)
    return values


def _in_model_order(model, keys: Iterable[str]) -> list[str]:
    """Fields in the order the record lists them (JSONB keeps its own key order, not the form's)."""
    order = {key: n for n, key in enumerate(prop.key for prop in sa.inspect(model).column_attrs)} if model else {}
    return sorted(keys, key=lambda key: (order.get(key, len(order)), key))


def _column(model, key: str):
    if model is None:
        return None
    return model.__table__.columns.get(key)


# -- reading a diff --------------------------------------------------------------------------
def field_changes(diff: Any) -> list[tuple[str, Any, Any]]:
    """(field, before, after) for every well-formed entry of a diff; anything else is left out."""
    if not isinstance(diff, dict):
        return []
    return [(key, change.get("before"), change.get("after")) for key, change in diff.items()
            if isinstance(change, dict) and ("before" in change or "after" in change)]


def row_kind(row) -> str:
    """What the row did to its record: create, delete, update, or an event that changed no field.

    The action alone does not say (an approval or import may create, change or delete),
    but the record's key does: only a create sets it and only a delete clears it.
    """
    changes = {key: (before, after) for key, before, after in field_changes(row.diff_json)}
    if ID_FIELD in changes:
        before, after = changes[ID_FIELD]
        if before is None and after is not None:
            return "create"
        if after is None and before is not None:
            return "delete"
    if row.action in ("create", "delete"):
        return row.action
    return "update" if changes else "event"


# -- as of a moment --------------------------------------------------------------------------
def as_utc(moment: datetime) -> datetime:
    """A moment in UTC; a naive one is taken to be UTC already, as the database (SQLite) returns them."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def agency_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def _local(moment: datetime) -> datetime:
    return as_utc(moment.replace(tzinfo=agency_zone()))


def start_of_day(day: date) -> datetime:
    """The first moment of a calendar day in the agency's time zone, in UTC."""
    return _local(datetime.combine(day, time.min))


def end_of_day(day: date) -> datetime:
    """The last moment of a calendar day in the agency's time zone, in UTC."""
    return _local(datetime.combine(day, time.max))


def parse_moment(day: str, at: str | None = None) -> datetime:
    """The moment a person asked for: a date (its end) or a date and time, in the agency's time zone."""
    try:
        chosen_day = date.fromisoformat((day or "").strip())
    except ValueError:
        raise ValueError("Give the date as YYYY-MM-DD.") from None
    if not at or not at.strip():
        return end_of_day(chosen_day)
    try:
        chosen_time = time.fromisoformat(at.strip())
    except ValueError:
        raise ValueError("Give the time as HH:MM (24-hour clock).") from None
    # The whole minute the person picked counts as "at" that time.
    return _local(datetime.combine(chosen_day, chosen_time)) + timedelta(seconds=59, microseconds=999999)


def _later_rows(entity: str, ids: Iterable, moment: datetime) -> dict[Any, list]:
    """Rows of these records written after ``moment``, newest first, per record (one indexed query).

    Only the columns the rebuild reads are fetched: a long history is thousands of rows.
    """
    ids = list(ids)
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(AuditLog.entity_id, AuditLog.action, AuditLog.diff_json)
        .where(AuditLog.entity == entity, AuditLog.entity_id.in_(ids), AuditLog.changed_at > as_utc(moment))
        .order_by(AuditLog.changed_at.desc())
    )
    by_record: dict[Any, list] = {}
    for row in rows:
        by_record.setdefault(row.entity_id, []).append(row)
    return by_record


def undo_later_changes(current: dict | None, later_rows: Iterable, fields: Iterable[str]) -> dict | None:
    """The record before ``later_rows`` (newest first) happened, from its values after them.

    ``current`` is None when the record does not exist now. Walking back past its delete
    gives the full copy the delete kept; past its create, the record did not exist yet.
    A field the trail cannot account for keeps its later value.
    """
    fields = set(fields)
    state = dict(current) if current is not None else None
    for row in later_rows:
        kind = row_kind(row)
        changes = [(key, before) for key, before, _after in field_changes(row.diff_json) if key in fields]
        if kind == "create":
            state = None
        elif kind == "delete":
            state = dict(changes)
        elif kind == "update":
            # An update to a record that is gone without a recorded delete (removed by the
            # database itself): from here back, what the trail says is all that is known.
            state = {} if state is None else state
            state.update(changes)
    return state


def record_as_of(model, record_id: uuid.UUID, moment: datetime) -> dict | None:
    """A record's tracked fields as they were at ``moment``; None when it did not exist then."""
    current = db.session.get(model, record_id)
    later = _later_rows(model.__tablename__, [record_id], moment).get(record_id, [])
    return undo_later_changes(stored_values(current) if current is not None else None, later,
                              tracked_fields(model))


def client_as_of(client_id: uuid.UUID, moment: datetime) -> dict | None:
    """A client's fields as they were at ``moment``; None before it was created or after it was deleted."""
    return record_as_of(Client, client_id, moment)


def client_children_as_of(client_id: uuid.UUID, moment: datetime) -> dict[str, dict[uuid.UUID, dict]]:
    """The client's enrollments, intakes, discharges and restrictions as they were at ``moment``.

    Candidates are the records the client has now plus any its trail mentions after the
    moment (records deleted or moved since); each is rebuilt from its own rows and kept
    when it existed and belonged to this client at that moment. A record moved to another
    client whose only later row is the move itself is not found: that row is filed under
    the client it moved to.
    """
    moment = as_utc(moment)
    mentioned: dict[str, set] = {table: set() for table in CLIENT_CHILDREN}
    for entity, entity_id in db.session.execute(
        sa.select(AuditLog.entity, AuditLog.entity_id).distinct()
        .where(AuditLog.client_id == client_id, AuditLog.changed_at > moment,
               AuditLog.entity.in_(list(CLIENT_CHILDREN)))
    ):
        if entity_id is not None:
            mentioned[entity].add(entity_id)
    result: dict[str, dict[uuid.UUID, dict]] = {}
    for table, (model, _shown, _order) in CLIENT_CHILDREN.items():
        current = {row.id: stored_values(row) for row in db.session.scalars(
            sa.select(model).where(sa.or_(model.client_id == client_id, model.id.in_(mentioned[table]))))}
        ids = set(current) | mentioned[table]
        later = _later_rows(table, ids, moment)
        fields = tracked_fields(model)
        then = {}
        for record_id in ids:
            state = undo_later_changes(current.get(record_id), later.get(record_id, []), fields)
            if state is not None and state.get("client_id") == str(client_id):
                then[record_id] = state
        result[table] = then
    return result


# -- presenting values -------------------------------------------------------------------------
@dataclass
class Change:
    """One field of one audit row, ready to show: label, before and after as text."""

    field: str
    label: str
    before: str
    after: str
    before_hidden: bool = False
    after_hidden: bool = False

    @property
    def hidden(self) -> bool:
        return self.before_hidden or self.after_hidden


def _reference_target(model, key: str):
    """The model a reference column points at (by its key; a column in several keys, like an
    enrollment's program, is named after the record whose id it holds)."""
    column = _column(model, key)
    targets = [fk.column.table.name for fk in (column.foreign_keys if column is not None else ())
               if fk.column.primary_key]
    return model_for(targets[0]) if len(targets) == 1 else None


def field_label(key: str) -> str:
    """A field's label; a reference column (program_id) is called what it refers to (Program)."""
    if key not in FIELD_LABELS and key.endswith("_id") and key[:-3] in FIELD_LABELS:
        return FIELD_LABELS[key[:-3]]
    return label(key)


def local_time(moment: datetime) -> str:
    """A stored moment as the agency reads it: its own time zone, to the minute."""
    return as_utc(moment).astimezone(agency_zone()).strftime("%Y-%m-%d %H:%M")


def _format_datetime(text: str) -> str:
    try:
        return local_time(datetime.fromisoformat(text))
    except ValueError:
        return text


def display_value(model, key: str, value: Any, names: dict | None = None) -> str:
    """A stored value as a person reads it: Yes/No, lists joined, local times, names for references."""
    if _blank(value):
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(display_value(None, key, item) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{label(k)}: {display_value(None, k, v)}" for k, v in value.items())
    column = _column(model, key)
    if isinstance(value, str) and column is not None and isinstance(column.type, sa.DateTime):
        return _format_datetime(value)
    if names is not None and _reference_target(model, key) is not None:
        return names.get(str(value), str(value))
    return str(value)


def _reference_names(pairs: Iterable[tuple[Any, str, Any]]) -> dict[str, str]:
    """Names for the ids that reference columns hold, one query per referenced table."""
    wanted: dict[Any, set[uuid.UUID]] = {}
    for model, key, value in pairs:
        target = _reference_target(model, key)
        if target is None or value is None:
            continue
        try:
            wanted.setdefault(target, set()).add(uuid.UUID(str(value)))
        except ValueError:
            continue
    names = {}
    for target, ids in wanted.items():
        key_column = sa.inspect(target).primary_key[0]
        for obj in db.session.scalars(sa.select(target).where(key_column.in_(ids))):
            names[str(obj.id)] = obj.full_name if isinstance(obj, Staff) else str(obj)
    return names


def _is_hidden(key: str, value: Any) -> bool:
    return key in audit.REDACTED and value == audit.REDACTED_VALUE


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _changes_of(row: AuditLog, names: dict) -> list[Change]:
    model = model_for(row.entity)
    diff = row.diff_json if isinstance(row.diff_json, dict) else {}
    changes = []
    for key in _in_model_order(model, diff):
        change = diff[key]
        if key == ID_FIELD:
            continue
        if not (isinstance(change, dict) and ("before" in change or "after" in change)):
            # An event's details (a rationale, a check's result): a value, not a change.
            changes.append(Change(key, field_label(key), "", display_value(model, key, change, names)))
            continue
        before, after = change.get("before"), change.get("after")
        if _blank(before) and _blank(after):
            continue
        if isinstance(before, (dict, type(None))) and isinstance(after, (dict, type(None))):
            before, after = before or {}, after or {}
            for sub in sorted(k for k in {**before, **after} if before.get(k) != after.get(k)):
                changes.append(Change(f"{key}.{sub}", f"{field_label(key)}: {label(sub)}",
                                      display_value(None, sub, before.get(sub)),
                                      display_value(None, sub, after.get(sub))))
            continue
        changes.append(Change(
            key, field_label(key),
            HIDDEN_VALUE if _is_hidden(key, before) else display_value(model, key, before, names),
            HIDDEN_VALUE if _is_hidden(key, after) else display_value(model, key, after, names),
            _is_hidden(key, before), _is_hidden(key, after),
        ))
    return changes


def readable_changes(rows: Iterable[AuditLog]) -> dict[uuid.UUID, list[Change]]:
    """Each row's diff as labelled before/after text, references named (one query per referenced table)."""
    rows = list(rows)
    names = _reference_names(
        (model_for(row.entity), key, value)
        for row in rows for key, before, after in field_changes(row.diff_json) for value in (before, after)
    )
    return {row.id: _changes_of(row, names) for row in rows}


def change_summary(row: AuditLog) -> str:
    """One line saying what a row changed, for lists: "First name, Phone and 2 more"."""
    kind = row_kind(row)
    if kind == "create":
        return "New record"
    if kind == "delete":
        return "Record removed"
    diff = row.diff_json if isinstance(row.diff_json, dict) else {}
    keys = [key for key in _in_model_order(model_for(row.entity), diff) if key != ID_FIELD]
    if not keys:
        return ""
    labels = [field_label(key) for key in keys[:SUMMARY_FIELDS]]
    more = len(keys) - len(labels)
    return ", ".join(labels) + (f" and {more} more" if more else "")


def diff_as_text(row: AuditLog) -> str:
    """A row's changes on one line for a CSV cell: "First name: Alex → Alexandra; …".

    References stay ids here: an export streams every row, and a name look-up per row would
    multiply its queries.
    """
    return "; ".join(f"{c.label}: {c.before} → {c.after}" for c in _changes_of(row, {}))


def actor_of(row: AuditLog) -> str:
    """Who made the change: the staff member's name as it was then, or the system job's name."""
    if row.actor_name:
        return row.actor_name
    return row.changed_by.full_name if row.changed_by is not None else audit.SYSTEM_ACTOR


# -- one record's rows --------------------------------------------------------------------------
def trail_entities() -> sa.Select:
    """Every entity the trail holds rows about, read by hopping along the (entity, entity_id,
    changed_at) index from one entity to the next: one probe per entity, never a read of the trail."""
    hop = aliased(AuditLog)
    entities = sa.select(sa.func.min(AuditLog.entity).label("entity")).cte("trail_entities", recursive=True)
    entities = entities.union_all(
        sa.select(sa.select(sa.func.min(hop.entity)).where(hop.entity > entities.c.entity).scalar_subquery())
        .where(entities.c.entity.is_not(None))
    )
    return sa.select(entities.c.entity).where(entities.c.entity.is_not(None))


def about_record(entity_id) -> sa.ColumnElement[bool]:
    """The rows about one record, whatever its type.

    The same rows as ``entity_id = x`` (every row's entity is among ``trail_entities``), but
    the database finds them through the (entity, entity_id, changed_at) index, entered once
    per entity; by its second column alone it cannot be entered, and the trail is read whole.
    """
    return sa.and_(AuditLog.entity.in_(trail_entities()), AuditLog.entity_id == entity_id)


# -- who may read which rows -------------------------------------------------------------------
def visible_rows(staff) -> sa.ColumnElement[bool]:
    """The audit rows a person may read: about records whose screen they may list, and of clients they may see.

    The trail must not show what the screens hide: changes to staff accounts stay with
    those who manage staff, and a program manager sees the history of their own clients.
    """
    roles = staff.role_names if staff is not None else frozenset()
    hidden_tables = sorted(table for table in GROUP_OF if not may(roles, table, Action.LIST))
    clause = AuditLog.entity.not_in(hidden_tables) if hidden_tables else sa.true()
    visible = client_visible(AuditLog.client_id, staff)
    if visible is not None:
        clause = sa.and_(clause, sa.or_(AuditLog.client_id.is_(None), visible))
    return clause


# -- a client's History --------------------------------------------------------------------------
@dataclass
class HistoryEntry:
    row: AuditLog
    when: str
    who: str
    record_type: str
    summary: str
    changes: list[Change]


@dataclass
class HistoryPage:
    entries: list[HistoryEntry]
    total: int
    page: int
    pages: int
    page_size: int = HISTORY_PAGE_SIZE

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def client_history(client_id: uuid.UUID, staff, page: int = 1, page_size: int = HISTORY_PAGE_SIZE) -> HistoryPage:
    """One page of everything the trail holds about a client and its own records, newest first.

    Served by the (client_id, changed_at) index: a count and one page, never every row.
    """
    condition = sa.and_(AuditLog.client_id == client_id, visible_rows(staff))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog).where(condition)) or 0
    pages = max(1, math.ceil(total / page_size))
    page = min(max(1, page), pages)
    rows = db.session.scalars(
        sa.select(AuditLog).where(condition)
        .order_by(AuditLog.changed_at.desc(), AuditLog.entity, AuditLog.id)
        .limit(page_size).offset((page - 1) * page_size)
    ).all()
    changes = readable_changes(rows)
    entries = [HistoryEntry(row, local_time(row.changed_at), actor_of(row), entity_label(row.entity),
                            change_summary(row), changes[row.id]) for row in rows]
    return HistoryPage(entries, total, page, pages, page_size)


# -- a client as of a date, for the page -----------------------------------------------------------
@dataclass
class FieldThen:
    field: str
    label: str
    then: str
    now: str
    differs: bool


@dataclass
class ChildThen:
    record_id: uuid.UUID
    values: dict[str, str]
    state: str  # "as today", "changed since", "removed since"
    changed_fields: list[str] = field(default_factory=list)


@dataclass
class ClientThen:
    client_id: uuid.UUID
    moment: datetime
    existed: bool
    exists_now: bool
    fields: list[FieldThen]
    children: dict[str, tuple[str, list[str], list[ChildThen]]]  # table -> (label, column labels, rows)
    absence: str = ""  # why there is nothing to show, when the client did not exist at that moment
    name: str = ""  # the client's name then (or today, when it did not exist then)


def absence_reason(model, record_id: uuid.UUID, moment: datetime) -> str:
    """Why a record did not exist at ``moment``: not created yet, or already removed (two indexed look-ups)."""
    moment = as_utc(moment)
    of_record = sa.select(AuditLog).where(AuditLog.entity == model.__tablename__, AuditLog.entity_id == record_id)
    next_row = db.session.scalars(
        of_record.where(AuditLog.changed_at > moment).order_by(AuditLog.changed_at).limit(1)).first()
    if next_row is not None and row_kind(next_row) == "create":
        return f"It had not been created yet (created {local_time(next_row.changed_at)})."
    last_row = db.session.scalars(
        of_record.where(AuditLog.changed_at <= moment).order_by(AuditLog.changed_at.desc()).limit(1)).first()
    if last_row is not None and row_kind(last_row) == "delete":
        return f"It had been removed ({local_time(last_row.changed_at)})."
    return "CCD holds no record of it at that moment."


def _field_order(model) -> list[str]:
    return [key for key in tracked_fields(model) if key != "extended"]


def client_then(client_id: uuid.UUID, moment: datetime) -> ClientThen:
    """Everything the "as of" page shows: the client's fields then and now, and its own records then."""
    moment = as_utc(moment)
    then = client_as_of(client_id, moment)
    current_obj = db.session.get(Client, client_id)
    now = stored_values(current_obj) if current_obj is not None else None
    children = client_children_as_of(client_id, moment) if then is not None else {}
    current_children = {
        table: {row.id: stored_values(row) for row in db.session.scalars(
            sa.select(CLIENT_CHILDREN[table][0]).where(CLIENT_CHILDREN[table][0].id.in_(list(records))))}
        for table, records in children.items()
    }
    names = _reference_names(
        [(Client, key, value) for state in (then or {}, now or {}) for key, value in state.items()]
        + [(CLIENT_CHILDREN[table][0], key, value)
           for table, records in children.items() for state in records.values() for key, value in state.items()]
    )

    fields = []
    if then is not None:
        keys = _field_order(Client)
        for key in keys:
            then_text = display_value(Client, key, then.get(key), names)
            now_text = display_value(Client, key, now.get(key), names) if now is not None else ""
            fields.append(FieldThen(key, field_label(key), then_text, now_text,
                                    now is None or then.get(key) != now.get(key)))
        then_extended, now_extended = then.get("extended") or {}, (now or {}).get("extended") or {}
        for sub in sorted({**then_extended, **now_extended}):
            fields.append(FieldThen(f"extended.{sub}", label(sub), display_value(None, sub, then_extended.get(sub)),
                                    display_value(None, sub, now_extended.get(sub)),
                                    now is None or then_extended.get(sub) != now_extended.get(sub)))

    shown_children = {}
    for table, records in children.items():
        model, shown, order = CLIENT_CHILDREN[table]
        rows = []
        for record_id, state in sorted(records.items(), key=lambda item: item[1].get(order) or "", reverse=True):
            current = current_children[table].get(record_id)
            changed = [] if current is None else [field_label(k) for k in tracked_fields(model)
                                                   if state.get(k) != current.get(k)]
            status = "removed since" if current is None else ("changed since" if changed else "as today")
            rows.append(ChildThen(record_id, {key: display_value(model, key, state.get(key), names) for key in shown},
                                  status, changed))
        shown_children[table] = (entity_label(table), [field_label(key) for key in shown], rows)
    absence = "" if then is not None else absence_reason(Client, client_id, moment)
    named = then or now or {}
    name = ", ".join(part for part in (named.get("last_name"), named.get("first_name")) if part)
    return ClientThen(client_id, moment, then is not None, current_obj is not None, fields, shown_children, absence,
                      name)
