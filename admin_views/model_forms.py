"""Every screen's form: CSRF, plain text in every text field, and drop-downs limited to what the person may see."""

from flask_admin.contrib.sqla.fields import QuerySelectField
from wtforms import FieldList, FormField, StringField
from wtforms.fields.core import UnboundField
from wtforms.validators import ValidationError

from admin_views.fields import PlainText
from app.models.base import VERSION_FIELD
from app.security import CSRFForm
from app.services.scope import acting_staff, restrict

BLANK_CHOICE = "— none —"


def scoped_query_factory(factory):
    """A form drop-down's query, limited to the rows the person filling in the form may see."""
    def scoped():
        query = factory()
        return restrict(query, query.column_descriptions[0]["entity"], acting_staff())
    return scoped


def _text_fields(form):
    """Every text field of a form, those of its inline child forms included."""
    for field in form:
        if isinstance(field, FieldList):
            for entry in field.entries:
                yield from _text_fields(entry.form) if isinstance(entry, FormField) else ()
        elif isinstance(field, FormField):
            yield from _text_fields(field.form)
        elif isinstance(field, StringField):
            yield field


class ModelForm(CSRFForm):
    """Every screen's form: CSRF, and plain text only in every text field (inline rows too).

    Checked after the fields' own validators, as one more error on the field, so a control
    character never reaches the database (PostgreSQL refuses NUL with a message that quotes
    the statement) and the person sees which field holds it.
    """

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        rule = PlainText()
        for field in _text_fields(self):
            try:
                rule(self, field)
            except ValidationError as error:
                field.errors = [*field.errors, str(error)]
                valid = False
        return valid


def scoped_form(form_class):
    """A scaffolded form made safe: relation drop-downs list only rows in scope (ajax pickers are scoped in
    their loaders), a blank choice says so, and the version is the database's to raise, never a form's to set."""
    if hasattr(form_class, VERSION_FIELD):
        delattr(form_class, VERSION_FIELD)
    for field in list(vars(form_class).values()):
        if isinstance(field, UnboundField) and field.kwargs.get("query_factory") is not None:
            field.kwargs["query_factory"] = scoped_query_factory(field.kwargs["query_factory"])
            if issubclass(field.field_class, QuerySelectField) and field.kwargs.get("allow_blank"):
                # WTForms shows a blank choice without text by its value, "__None".
                field.kwargs.setdefault("blank_text", BLANK_CHOICE)
    return form_class
