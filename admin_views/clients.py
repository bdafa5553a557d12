"""Client screens: the client list and record, their source-system ids and possible duplicates."""

import uuid
from datetime import date

from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader
from flask_admin.model.form import InlineFormAdmin
from wtforms import FloatField
from wtforms.validators import InputRequired, NumberRange

from admin_views.base import ArchivableView, CCDModelView
from admin_views.filters import EnrolledInProgramFilter, JsonListContainsFilter, option_filter
from app.choices import DUPLICATE_CONFIDENCE, DUPLICATE_STATUSES, SOURCE_SYSTEMS
from app.extensions import db
from app.models import Client, ClientDuplicate, ClientSourceId, Staff
from app.services.clients import client_record_tabs


class UUIDAjaxLoader(QueryAjaxModelLoader):
    """Type-ahead picker whose submitted id is turned into a UUID before the lookup."""

    def get_one(self, pk):
        try:
            key = uuid.UUID(str(pk))
        except ValueError:
            return None
        return super().get_one(key)


def client_lookup(name: str) -> QueryAjaxModelLoader:
    """Type-ahead client picker: forms never load the whole client table into a drop-down."""
    return UUIDAjaxLoader(name, db.session, Client, fields=["last_name", "first_name", "preferred_name",
                                                                  "uid_external"],
                                order_by="last_name", page_size=10, placeholder="Type a name or UID")


def staff_lookup(name: str) -> QueryAjaxModelLoader:
    return UUIDAjaxLoader(name, db.session, Staff, fields=["last_name", "first_name", "email"],
                                order_by="last_name", page_size=10, placeholder="Type a name or email")


def _parse_iso_date(term: str) -> date | None:
    try:
        return date.fromisoformat(term) if len(term) == 10 else None
    except ValueError:
        return None


class SourceIdInline(InlineFormAdmin):
    form_columns = ("id", "source_system", "source_client_id")
    form_choices = {"source_system": [(s, s) for s in SOURCE_SYSTEMS]}


class ClientView(ArchivableView):
    details_template = "admin/clients/details.html"
    column_list = ("last_name", "first_name", "preferred_name", "dob", "gender", "uid_external",
                   "source_system", "is_inactive", "is_archived")
    column_default_sort = [("last_name", False), ("first_name", False)]
    column_sortable_list = ("last_name", "first_name", "preferred_name", "dob", "gender", "uid_external",
                            "source_system", "is_inactive", "is_archived")
    column_searchable_list = ("last_name", "first_name", "preferred_name", "alias", "uid_external")
    column_filters = (
        EnrolledInProgramFilter(Client.id),
        option_filter(Client.gender, "gender"),
        option_filter(Client.sexual_orientation, "sexual_orientation"),
        option_filter(Client.citizenship_status, "citizenship_status"),
        option_filter(Client.indigenous_status, "indigenous_status"),
        option_filter(Client.race, "race"),
        JsonListContainsFilter(Client.languages_spoken, "language"),
        JsonListContainsFilter(Client.ethnicity, "ethnicity"),
        option_filter(Client.preferred_language, "language"),
        "dob", "source_system", "is_inactive", "is_archived",
    )
    column_details_exclude_list = ("source_ids", "block_last_key", "block_names_key", "block_prefix_key")
    form_columns = (
        "first_name", "middle_name", "last_name", "preferred_name", "alias", "dob",
        "gender", "gender_identity", "pronoun", "sexual_orientation", "citizenship_status",
        "indigenous_status", "country_of_birth", "marital_status", "languages_spoken", "preferred_language",
        "official_language", "interpreter_needed", "ethnicity", "race",
        "phone", "phone_alt", "email", "permission_to_phone", "permission_to_email",
        "address_line1", "address_line2", "city", "province", "postal_code",
        "emergency_contact_name", "emergency_contact_relationship", "emergency_contact_phone",
        "health_card_number", "health_card_version", "health_card_exp_date", "health_card_issuing_province",
        "no_health_card_reason", "uid_external", "source_system", "source_ids", "image_url", "comments",
        "is_inactive", "is_archived",
    )
    form_choices = {"source_system": [("CCD", "CCD")] + [(s, s) for s in SOURCE_SYSTEMS]}
    inline_models = (SourceIdInline(ClientSourceId),)

    def search_placeholder(self):
        return "Name, preferred name, alias, UID or birth date (YYYY-MM-DD)"

    def _apply_search(self, query, count_query, joins, count_joins, search):
        """Birth dates in the search box match the date of birth; every other word matches names and ids."""
        words = []
        for term in search.split():
            born = _parse_iso_date(term)
            if born is None:
                words.append(term)
                continue
            query = query.filter(Client.dob == born)
            if count_query is not None:
                count_query = count_query.filter(Client.dob == born)
        return super()._apply_search(query, count_query, joins, count_joins, " ".join(words))

    def render(self, template, **kwargs):
        if template == self.details_template and kwargs.get("model") is not None:
            kwargs["tabs"] = client_record_tabs(kwargs["model"])
        return super().render(template, **kwargs)

    def on_model_change(self, form, model, is_created):
        for field in ("uid_external", "email", "preferred_name", "alias", "middle_name"):
            value = getattr(model, field)
            if isinstance(value, str):
                setattr(model, field, value.strip() or None)
        super().on_model_change(form, model, is_created)


class ClientSourceIdView(CCDModelView):
    column_list = ("client", "source_system", "source_client_id", "created_at")
    column_searchable_list = ("source_client_id",)
    column_filters = ("source_system",)
    form_columns = ("client", "source_system", "source_client_id")
    form_choices = {"source_system": [(s, s) for s in SOURCE_SYSTEMS]}
    form_ajax_refs = {"client": client_lookup("client")}


class ClientDuplicateView(CCDModelView):
    column_list = ("primary_client", "duplicate_client", "similarity_score", "confidence_level", "match_type",
                   "status", "detection_source", "created_at")
    column_default_sort = ("similarity_score", True)
    column_filters = ("status", "confidence_level", "match_type", "similarity_score")
    form_columns = ("primary_client", "duplicate_client", "similarity_score", "match_type", "confidence_level",
                    "status", "detection_source", "review_notes")
    form_choices = {"status": [(s, s.replace("_", " ")) for s in DUPLICATE_STATUSES],
                    "confidence_level": [(c, c) for c in DUPLICATE_CONFIDENCE]}
    # Flask-Admin has no converter for SQLAlchemy 2.1's Float (no longer a Numeric subclass).
    form_overrides = {"similarity_score": FloatField}
    form_args = {"similarity_score": {"validators": [InputRequired(), NumberRange(0, 1)]}}
    form_ajax_refs = {"primary_client": client_lookup("primary_client"),
                      "duplicate_client": client_lookup("duplicate_client")}
