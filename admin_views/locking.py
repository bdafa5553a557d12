"""What an edit form was opened at, carried back with its save: the record's version and values.

The edit form holds them in one hidden field, signed so they cannot be altered on the way
back. A direct edit of a record that moved to a newer version since (an approval, an
import, a merge, another person's save) is refused with the fields that changed and their
values now, and the form keeps what the person typed; saved again, it holds the newer
version and goes through. A proposal keeps the values and version as its base instead
(app/services/approvals.py), so the approvals inbox can show what changed since.

The list's inline editors (``column_editable_list``) name their row as "<id>@<version>", and an
edit of a row that moved on since the list was shown is refused. Inline child rows
(``inline_models``) carry a hidden ``version`` each, handed to the ORM as the row's committed
version, so the UPDATE itself refuses a child row changed since the form was opened.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from flask_admin.form import rules
from flask_admin.model.widgets import XEditableWidget
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm.attributes import set_committed_value
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
# An inline list edit names its row as "<id>@<version>": x-editable posts only the row's key and the value,
# so the version the list showed travels in the key.
LIST_VERSION_MARK = "@"
LIST_VERSION_KW = "ccd_list_version"
LIST_OUT_OF_DATE = ("Not saved: this list is out of date (it does not say which version of the row it showed); "
                    "reload the page and make the change again.")
LIST_ROW_CHANGED = ("Not saved: someone changed this row after the list was shown{changes}. Reload the page to see "
                    "the values now, then make your change again.")


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



# -- inline list edits (column_editable_list, x-editable's ajax/update/) ----------------------
class VersionedXEditableWidget(XEditableWidget):
    """The list's inline editor, naming its row with the version the list showed (``list_key``)."""

    def __call__(self, field, **kwargs):
        version = kwargs.pop(LIST_VERSION_KW, None)
        if version is not None and kwargs.get("pk"):
            kwargs["pk"] = list_key(kwargs["pk"], version)
        return super().__call__(field, **kwargs)


def list_key(pk, version: int) -> str:
    return f"{pk}{LIST_VERSION_MARK}{version}"


def split_list_key(raw: str | None) -> tuple[str, int | None]:
    """(the row's key, the version the list showed, or None when the key carries none)."""
    raw = raw or ""
    key, mark, version = raw.rpartition(LIST_VERSION_MARK)
    if mark and version.isdigit():
        return key, int(version)
    return raw, None


def mark_list_form(form, record) -> None:
    """A list row's editors carry the row's version (a table without versions carries none)."""
    version = version_of(record)
    if version is None:
        return
    for field in form:
        if field.name not in ("list_form_pk", "csrf_token"):
            field.render_kw = {**(field.render_kw or {}), LIST_VERSION_KW: version}


def refusal_of_stale_list_edit(seen_version: int | None, entity: str, record) -> str | None:
    """Why an inline list edit must not be saved (the row moved on since the list showed it, or the edit
    does not say which version it saw), or None when it may."""
    current = version_of(record)
    if current is None:
        return None
    if seen_version is None:
        return LIST_OUT_OF_DATE
    if seen_version == current:
        return None
    return LIST_ROW_CHANGED.format(changes=f" (it is at version {current}; the list showed version {seen_version})")


# -- inline child rows (inline_models) ----------------------------------------------------------
class SeenVersionField(HiddenField):
    """An inline child row's version as the form showed it. Saving hands that version to the ORM as the
    row's committed one, so the UPDATE's version check (``version_id_col``) tests what the person saw:
    a row someone changed since is refused by the database (StaleDataError), not overwritten. A row the
    form added, or a post without the field (a page from before it existed), is left as loaded."""

    def populate_obj(self, obj, name):
        seen = str(self.data or "").strip()
        state = sa.inspect(obj)
        if seen.isdigit() and state.persistent:
            set_committed_value(obj, VERSION_FIELD, int(seen))


def with_seen_versions(inline_models) -> tuple:
    """The screen's inline models, each versioned one carrying a hidden ``version`` field per row."""
    from flask_admin.contrib.sqla.form import InlineFormAdmin

    def versioned(model) -> bool:
        return VERSION_FIELD in getattr(getattr(model, "__table__", None), "c", {})

    def with_field(options: dict) -> dict:
        """The options plus the field (named among ``form_columns`` too, which extra fields must be)."""
        columns = options.get("form_columns")
        if columns is not None and VERSION_FIELD not in columns:
            columns = (*columns, VERSION_FIELD)
        return {**options, "form_columns": columns,
                "form_extra_fields": {**(options.get("form_extra_fields") or {}), VERSION_FIELD: SeenVersionField()}}

    result = []
    for entry in inline_models or ():
        if isinstance(entry, tuple) and versioned(entry[0]):
            entry = (entry[0], with_field(entry[1]))
        elif isinstance(entry, InlineFormAdmin) and versioned(entry.model):
            for name, value in with_field({"form_columns": entry.form_columns,
                                           "form_extra_fields": entry.form_extra_fields}).items():
                setattr(entry, name, value)
        elif isinstance(entry, type) and versioned(entry):
            entry = (entry, with_field({}))
        result.append(entry)
    return tuple(result)
