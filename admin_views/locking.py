"""What an edit form was opened at, carried back with its save: the record's version and values.

The edit form holds them in one hidden field, signed so they cannot be altered on the way
back. A direct edit of a record that moved to a newer version since (an approval, an
import, a merge, another person's save) is refused with the fields that changed and their
values now, and the form keeps what the person typed; saved again, it holds the newer
version and goes through. A proposal keeps the values and version as its base instead
(app/services/approvals.py), so the approvals inbox can show what changed since.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from flask_admin.form import rules
from itsdangerous import BadSignature, URLSafeSerializer
from wtforms import HiddenField
from wtforms.validators import ValidationError

from app import audit
from app.models.base import VERSION_FIELD
from app.services import approvals

OPENED_FIELD = "ccd_opened"
SALT = "ccd-opened-form"
STALE_FORM = ("This form could not be checked against the record you opened (it was altered or is from "
              "another record); open the record again and redo your change.")
RECORD_CHANGED = ("Not saved: someone changed this record after you opened it{changes}. Your changes are still "
                  "in the form below: check them against the values now, then save again to keep yours, or cancel.")
MOST_SHOWN = 8


@dataclass(frozen=True)
class Opened:
    """The record as the edit form showed it: its version (None for an unversioned table) and values."""

    version: int | None
    values: dict


class OpenedField(HiddenField):
    """The hidden field of every edit form: carried back with the save, never written to the record."""

    def populate_obj(self, obj, name):
        return None


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=SALT)


def _key(record) -> str:
    """The record's primary key as text (a pair of keys for tables keyed by two columns)."""
    return ",".join(str(part) for part in sa.inspect(record).identity or ())


def version_of(record) -> int | None:
    return getattr(record, VERSION_FIELD, None)


def token(entity: str, record) -> str:
    """The signed value of the hidden field for an edit form of ``record`` as it is now.

    Signed, not encrypted: the page can read it, so secrets (a password hash) are left out.
    """
    values = {key: value for key, value in approvals.record_values(record).items() if key not in audit.REDACTED}
    return _signer().dumps({"entity": entity, "id": _key(record), "version": version_of(record), "values": values})


def read(raw: str | None, entity: str, record) -> Opened | None:
    """What the form was opened at; None when the form carries nothing (not sent from an edit page).

    Raises ValidationError when the field was altered or belongs to another record.
    """
    if not raw:
        return None
    try:
        payload = _signer().loads(raw)
    except BadSignature:
        raise ValidationError(STALE_FORM) from None
    if not isinstance(payload, dict) or payload.get("entity") != entity or payload.get("id") != _key(record):
        raise ValidationError(STALE_FORM)
    return Opened(version=payload.get("version"), values=payload.get("values") or {})


def fill(form, entity: str, record) -> None:
    """Set the hidden field of a form being shown for the first time (a posted one keeps its own)."""
    if OPENED_FIELD in form:
        form[OPENED_FIELD].data = token(entity, record)


def submitted(form, entity: str, record) -> Opened | None:
    """What a posted edit form was opened at (None: it carries nothing, so the record as it is now counts)."""
    return read(form[OPENED_FIELD].data, entity, record) if OPENED_FIELD in form else None


def refusal_of_stale_save(form, entity: str, record) -> str | None:
    """Why a direct save must not go ahead (an altered field, or a record changed since it was opened),
    or None when it may.

    A refused form keeps what was typed and now holds the record's newer version: saving it
    again is a decision made knowing the values now.
    """
    try:
        opened = submitted(form, entity, record)
    except ValidationError as exc:
        return str(exc)
    if not is_stale(opened, record):
        return None
    fill(form, entity, record)
    return refusal(entity, opened, record)


def is_stale(opened: Opened | None, record) -> bool:
    """True when the record's version moved on since the form was opened."""
    return opened is not None and opened.version is not None and opened.version != version_of(record)


def changed_fields(entity: str, opened: Opened, record) -> list[str]:
    """The fields whose value now differs from what the form showed when it was opened."""
    current = approvals.record_values(record)
    return [field for field, value in current.items()
            if field in opened.values and not approvals.same(value, opened.values[field], entity, field)]


def refusal(entity: str, opened: Opened | None, record) -> str:
    """Why a save was refused, with each changed field's value now and when the form was opened."""
    if opened is None:
        return RECORD_CHANGED.format(changes="")
    fields = changed_fields(entity, opened, record)
    if not fields:
        return RECORD_CHANGED.format(changes=" (in details this form does not show)")
    current = approvals.record_values(record)
    shown = [f"{approvals.field_label(entity, field)} is now “{approvals.readable(entity, field, current[field])}” "
             f"(was “{approvals.readable(entity, field, opened.values[field])}”)" for field in fields[:MOST_SHOWN]]
    more = len(fields) - MOST_SHOWN
    if more > 0:
        shown.append(f"and {more} more field{'s' if more != 1 else ''}")
    return RECORD_CHANGED.format(changes=": " + "; ".join(shown))


class KeepOpenedField(rules.BaseRule):
    """For a form laid out in sections (``form_rules``): Flask-Admin removes every field its rules do not
    name, and this one must stay. It renders nothing itself: the form's hidden fields are written with
    its CSRF token."""

    def __init__(self):
        super().__init__()

    @property
    def visible_fields(self):
        return [OPENED_FIELD]

    def __call__(self, form, form_opts=None, field_args=None):
        return ""

