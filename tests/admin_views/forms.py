"""Valid form data for any admin screen, derived from the screen's own form class.

Walking the real form keeps the permission matrix honest for every screen without a
hand-written payload per table; FRESH supplies new related rows where a unique rule
would otherwise refuse a second row.
"""

import uuid
from datetime import date, datetime
from html.parser import HTMLParser

import sqlalchemy as sa
from flask import current_app
from flask_login import login_user
from werkzeug.datastructures import MultiDict
from wtforms import IntegerField
from wtforms.validators import Length

from tests import factories


def _fresh_staff(person):
    return {"staff": str(factories.create("staff").id)}


FRESH = {
    "users": _fresh_staff,
    "staff_roles": _fresh_staff,
    "program_staff": _fresh_staff,
    "restriction_notification_subscriptions": _fresh_staff,
    "program_manager_assignments": _fresh_staff,
    "department_leader_assignments": _fresh_staff,
    "staff_program_assignments": _fresh_staff,
    "staff_client_assignments": _fresh_staff,
    "client_duplicates": lambda person: {"primary_client": str(factories.create("clients", person).id),
                                         "duplicate_client": str(factories.create("clients", person).id)},
    "program_capacities": lambda person: {"program": str(factories.create("programs", person).id)},
    "service_restrictions": lambda person: {"scope": "org", "program": None},
    "client_program_enrollments": lambda person: {"subprogram": None, "end_date": None},
    "import_source_settings": lambda person: {"source_system": factories.unused_source()},
    "import_column_titles": lambda person: dict(zip(("source_system", "field"), factories.unused_column_field())),
}


def _text(field) -> str:
    name, token = field.name, uuid.uuid4().hex[:8]
    if "email" in name:
        return f"{token}@form.example"
    if "phone" in name:
        return "416-555-0100"
    value = f"Form {token}"
    limits = [v.max for v in field.validators if isinstance(v, Length) and v.max and v.max > 0]
    return value[: min(limits)] if limits else value


def _first_choice(field):
    return next(value for value, *_ in field.iter_choices() if value not in ("", "__None"))


def _value_for(field):
    kind = type(field).__name__
    if kind in ("InlineModelFormList", "FieldList", "CSRFTokenField"):
        return None
    if kind == "PasswordField":
        return "Form-password-123"
    if kind == "BooleanField":
        return "y" if field.name in ("active", "is_active") else None
    if isinstance(field, IntegerField):
        return "5"
    if kind in ("FloatField", "DecimalField"):
        return "0.9"
    if kind == "DateField":
        return date.today().isoformat()
    if kind == "DateTimeField":
        return datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    if kind == "AjaxSelectField":
        rows = field.loader.get_list("", 0, 1)
        return str(rows[0].id) if rows else None
    if kind in ("QuerySelectField", "QuerySelectMultipleField"):
        rows = field._get_object_list()
        if not rows:
            return None
        return str(rows[0][0]) if kind == "QuerySelectField" else [str(rows[0][0])]
    if kind in ("OptionMultiSelectField", "Select2TagsField", "SelectMultipleField"):
        return [_first_choice(field)]
    if hasattr(field, "iter_choices"):
        return _first_choice(field)
    return _text(field)


def form_data(view, csrf_token: str, person) -> dict:
    """A payload the screen's create/edit form accepts when ``person`` fills it in (drop-downs and
    look-ups offer only what they may see), with fresh rows where uniqueness needs them."""
    data = {}
    with current_app.test_request_context():
        login_user(person.user)
        form = view.create_form()
        for field in form:
            value = _value_for(field)
            if value is not None:
                data[field.name] = value
    for name, value in FRESH.get(view.rule_key, lambda person: {})(person).items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    data["csrf_token"] = csrf_token
    return data


def inline_edit_key(row, row_id: str) -> str:
    """The row key the list page's inline editor posts: the id and, for a versioned table, the version now."""
    from admin_views.locking import list_key
    from app.extensions import db

    db.session.expire_all()
    state = sa.inspect(row)
    fresh = db.session.get(type(row), state.identity if len(state.identity) > 1 else state.identity[0])
    version = getattr(fresh, "version", None) if fresh is not None else None
    return row_id if version is None else list_key(row_id, version)


def inline_edit_value(view, field_name: str):
    """A value the list page's inline editor accepts for this column."""
    with current_app.test_request_context():
        form = view.list_form()
    field = form[field_name]
    if hasattr(field, "iter_choices"):
        current = field.data
        return next(value for value, *_ in field.iter_choices() if value not in ("", "__None", current))
    return _value_for(field) or ""


class _FormReader(HTMLParser):
    """Collects what a browser would submit from the page's admin form."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.data: list[tuple[str, str]] = []
        self._in_form = False
        self._select: dict | None = None
        self._option: dict | None = None
        self._textarea: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and "admin-form" in (attrs.get("class") or ""):
            self._in_form = True
        if not self._in_form:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = (attrs.get("type") or "text").lower()
            if kind in ("submit", "button", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.data.append((name, attrs.get("value") or ("y" if kind == "checkbox" else "")))
        elif tag == "select" and name:
            self._select = {"name": name, "multiple": "multiple" in attrs, "options": [], "chosen": []}
        elif tag == "option" and self._select is not None:
            self._option = {"value": attrs.get("value"), "text": "", "selected": "selected" in attrs}
        elif tag == "textarea" and name:
            self._textarea = {"name": name, "text": ""}

    def handle_data(self, data):
        if self._option is not None:
            self._option["text"] += data
        if self._textarea is not None:
            self._textarea["text"] += data

    def handle_endtag(self, tag):
        if tag == "option" and self._option is not None:
            option = self._option
            value = option["value"] if option["value"] is not None else option["text"].strip()
            self._select["options"].append(value)
            if option["selected"]:
                self._select["chosen"].append(value)
            self._option = None
        elif tag == "select" and self._select is not None:
            chosen = self._select["chosen"] or ([] if self._select["multiple"] else self._select["options"][:1])
            self.data.extend((self._select["name"], value) for value in chosen)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.data.append((self._textarea["name"], self._textarea["text"].replace("\r\n", "\n").removeprefix("\n")))
            self._textarea = None
        elif tag == "form" and self._in_form:
            self._in_form = False


def browser_form(page: str) -> MultiDict:
    """The admin form of a page as a browser would post it untouched."""
    reader = _FormReader()
    reader.feed(page)
    return MultiDict(reader.data)
