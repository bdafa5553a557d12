"""Form fields whose choices come from the agency's option lists when the form is shown, and the plain-text rule."""

from flask_admin.form import Select2Widget
from wtforms import DateField, IntegerField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, NumberRange, Optional, ValidationError

from app.audit import same_value
from app.labels import label
from app.plain_text import control_characters
from app.services.options import active_options


def _blank_is_none(value):
    return None if value in ("", None) else str(value)


class OptionSelectField(SelectField):
    """One value from an option list; a stored value since retired still shows and validates."""

    def __init__(self, label=None, validators=None, list_key=None, **kwargs):
        kwargs.pop("coerce", None)
        super().__init__(label, validators, coerce=_blank_is_none, choices=self._current_choices, **kwargs)
        self.list_key = list_key

    def _current_choices(self, *_):
        values = active_options(self.list_key)
        if self.data and self.data not in values:
            values = [self.data, *values]
        return [("", "— not stated —")] + [(value, value) for value in values]


class OptionMultiSelectField(SelectMultipleField):
    """Several values from an option list, stored as a JSON list."""

    widget = Select2Widget(multiple=True)

    def __init__(self, label=None, validators=None, list_key=None, **kwargs):
        kwargs.pop("coerce", None)
        super().__init__(label, validators, coerce=str, choices=self._current_choices, **kwargs)
        self.list_key = list_key

    def _current_choices(self, *_):
        values = active_options(self.list_key)
        stored = [value for value in (self.data or []) if value not in values]
        return [(value, value) for value in [*stored, *values]]

    def process_data(self, value):
        self.data = list(value) if value else []

    def populate_obj(self, obj, name):
        """The same choices in the form's order are no change: the stored list is left as it is."""
        stored = getattr(obj, name, None)
        if not same_value(getattr(obj, "__tablename__", ""), name, stored, self.data):
            super().populate_obj(obj, name)


# -- the client's extended fields (one JSON column, app/models/clients.py) as form fields ---------------
EXTENDED_PREFIX = "extended__"
EXTENDED_TEXT_LIMIT = 500
EXTENDED_NUMBER_LIMIT = 100_000
_YES_NO = (SelectChoice("", "— not recorded —"), SelectChoice("yes", "Yes"), SelectChoice("no", "No"))


class _ExtendedValue:
    """A field that reads and writes one key of ``obj.extended``; a blank answer removes the key.

    The dict is replaced, never changed in place, so the ORM sees the change (and the audit
    trail records it key by key); keys the form does not know are kept as they are.
    """

    def __init__(self, *args, extended_key: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.extended_key = extended_key

    def stored(self, value):
        return value

    def shown(self, value):
        return value

    def load(self, extended: dict | None) -> None:
        self.process_data(self.shown((extended or {}).get(self.extended_key)))

    def populate_obj(self, obj, name):
        values = dict(obj.extended or {})
        value = self.stored(self.data)
        if value is None or value == "":
            values.pop(self.extended_key, None)
        else:
            values[self.extended_key] = value
        if values != (obj.extended or {}):
            obj.extended = values


class ExtendedText(_ExtendedValue, StringField):
    def stored(self, value):
        return (value or "").strip() or None


class ExtendedNumber(_ExtendedValue, IntegerField):
    pass


class ExtendedYesNo(_ExtendedValue, SelectField):
    def stored(self, value):
        return {"yes": True, "no": False}.get(value)

    def shown(self, value):
        return "" if value is None else ("yes" if value else "no")


def extended_form_fields(kinds: dict[str, str]) -> dict:
    """Unbound form fields, one per extended key (``kinds``: key -> "text", "int" or "bool")."""
    fields = {}
    for key, kind in kinds.items():
        common = {"extended_key": key}
        if kind == "int":
            field = ExtendedNumber(label(key), [Optional(), NumberRange(0, EXTENDED_NUMBER_LIMIT)], **common)
        elif kind == "bool":
            field = ExtendedYesNo(label(key), choices=_YES_NO, default="", **common)
        else:
            field = ExtendedText(label(key), [Optional(), Length(max=EXTENDED_TEXT_LIMIT)], **common)
        fields[EXTENDED_PREFIX + key] = field
    return fields


class PlainText:
    """A form field validator: refuses control characters (app/plain_text.py) with a field error."""

    field_flags = {}

    def __call__(self, form, field):
        found = control_characters(field.data) if isinstance(field.data, str) else []
        if found:
            raise ValidationError(f"Remove the invisible control character{'s' if len(found) > 1 else ''} "
                                  f"({', '.join(found)}): this field takes plain text only.")


class IsoDateField(DateField):
    """A date typed or picked as YYYY-MM-DD (the one date format of every form), with an error that says so."""

    def __init__(self, label=None, validators=None, **kwargs):
        render_kw = {"data-ccd-date": "", "placeholder": "YYYY-MM-DD", "autocomplete": "off",
                     **(kwargs.pop("render_kw", None) or {})}
        super().__init__(label, validators, format="%Y-%m-%d", render_kw=render_kw, **kwargs)

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError("Type the date as YYYY-MM-DD, for example 1990-12-31.") from None
