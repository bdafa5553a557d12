"""Audit trail, reports set-up and logs, and settings (the approvals inbox is in admin_views/approvals.py)."""

import uuid

import sqlalchemy as sa
from flask import g, url_for
from flask_admin.contrib.sqla.filters import FilterEqual, FilterLike
from flask_login import current_user
from werkzeug.routing import BuildError

from admin_views.base import CCDModelView
from admin_views.clients import staff_lookup
from admin_views.filters import (
    BetweenDaysFilter, OnOrAfterDayFilter, OnOrBeforeDayFilter, StaffFilter, TrailRecordFilter, UUIDEqualFilter,
)
from app.choices import (
    AUDIT_ACTIONS, DEFAULT_OPTIONS, EMAIL_TYPE_NAMES, REPORT_FREQUENCIES, SOURCE_SYSTEMS,
)
from app.extensions import db
from app.labels import ENTITY_LABELS, code_label, entity_label
from app.models import AuditLog, Client
from app.services import history
from app.services.audit_names import actor_with_requester, approval_requesters, record_names
from app.services.scope import acting_staff


def _entity(view, context, model, name):
    return entity_label(model.entity)


def _entity_options():
    return sorted(((table, entity_label(table)) for table in ENTITY_LABELS), key=lambda option: option[1])


AUDIT_ACTION_OPTIONS = [(a, code_label("audit_action", a)) for a in AUDIT_ACTIONS]


def _trail_names(rows) -> dict:
    """Names of the records and of the requesters behind a page of trail rows, read once per page."""
    rows = list(rows)
    return {
        "records": record_names([(row.entity, row.entity_id) for row in rows]
                                + [("clients", row.client_id) for row in rows if row.client_id], acting_staff()),
        "requesters": approval_requesters(rows),
    }


def _names_of(row) -> dict:
    names = g.get("ccd_trail_names")
    if names is None or (row.entity_id is not None and (row.entity, str(row.entity_id)) not in names["records"]):
        names = _trail_names([row])
    return names


def _record_name(row) -> str:
    if row.entity_id is None:
        return ""
    return _names_of(row)["records"].get((row.entity, str(row.entity_id)), str(row.entity_id))


def _who(row) -> str:
    return actor_with_requester(row, _names_of(row)["requesters"])


class AuditLogView(CCDModelView):
    """The audit trail, read-only for everyone (SYSTEM_WRITTEN), readable without knowing the schema."""

    details_template = "admin/audit/details.html"
    column_list = ("changed_at", "who", "action", "entity", "record", "summary")
    column_labels = {"who": "Who", "summary": "What changed", "client_id": "Client", "record": "Record"}
    column_sortable_list = ("changed_at", "action", "entity")
    column_default_sort = ("changed_at", True)
    # Ten years of trail: counting every matching row on each page costs more than the page.
    simple_list_pager = True
    column_searchable_list = ("actor_name",)  # the search itself is _apply_search below
    named_filter_urls = True
    column_filters = (
        FilterEqual(AuditLog.entity, "Record type", options=_entity_options),
        TrailRecordFilter(AuditLog.entity_id, "Record"),
        UUIDEqualFilter(AuditLog.client_id, "Client"),
        FilterEqual(AuditLog.action, "Action", options=AUDIT_ACTION_OPTIONS),
        StaffFilter(AuditLog.changed_by_id, "Changed by"),
        FilterLike(AuditLog.actor_name, "Person or system job"),
        OnOrAfterDayFilter(AuditLog.changed_at, "When"),
        OnOrBeforeDayFilter(AuditLog.changed_at, "When"),
        BetweenDaysFilter(AuditLog.changed_at, "When"),
    )
    column_formatters = {
        "entity": _entity,
        "who": lambda view, context, model, name: _who(model),
        "action": lambda view, context, model, name: code_label("audit_action", model.action),
        "record": lambda view, context, model, name: _record_name(model),
        "summary": lambda view, context, model, name: history.change_summary(model),
    }
    column_export_list = ("changed_at", "who", "action", "entity", "entity_id", "client_id", "summary", "changes")
    column_formatters_export = {
        "entity": _entity,
        "action": lambda view, context, model, name: code_label("audit_action", model.action),
        "who": lambda view, context, model, name: history.actor_of(model),
        "summary": lambda view, context, model, name: history.change_summary(model),
        "changes": lambda view, context, model, name: history.diff_as_text(model),
    }

    def search_placeholder(self):
        return "Person, record type, record id, client name or a changed value"

    def get_invalid_value_msg(self, value, filter):
        hint = getattr(filter, "hint", None)
        return f"“{value}” is not a valid {filter.name} filter" + (f": give {hint}." if hint else ".")

    # -- who reads what: the same rule for the list, its count, one record and the export --
    def _visible(self):
        return history.visible_rows(current_user.staff if current_user.is_authenticated else None)

    def get_query(self):
        return super().get_query().filter(self._visible())

    def get_count_query(self):
        return super().get_count_query().filter(self._visible())

    def _find_one(self, id):
        key = self._parse_key(id)
        if key is None:
            return None
        return self.get_query().filter(AuditLog.id == key).one_or_none()

    # -- search -----------------------------------------------------------------------------
    def _apply_search(self, query, count_query, joins, count_joins, search):
        for term in search.split():
            condition = _search_condition(term)
            query = query.filter(condition)
            if count_query is not None:
                count_query = count_query.filter(condition)
        return query, count_query, joins, count_joins

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        """A page's records and requesters are named in one go (not one look-up per row)."""
        count, rows = super().get_list(page, sort_column, sort_desc, search, filters, execute, page_size)
        if execute:
            rows = list(rows)
            g.ccd_trail_names = _trail_names(rows)
        return count, rows

    # -- details ------------------------------------------------------------------------------
    def render(self, template, **kwargs):
        row = kwargs.get("model")
        if template == self.details_template and row is not None:
            names = _trail_names([row])
            g.ccd_trail_names = names
            kwargs.update(
                record_name=_record_name(row),
                client_name=names["records"].get(("clients", str(row.client_id)), "") if row.client_id else "",
                action_name=code_label("audit_action", row.action),
                changes=history.readable_changes([row])[row.id], who=_who(row),
                record_url=_record_url(row), client_url=_client_url(row),
                as_of_url=_as_of_url(row), changed_at=history.local_time(row.changed_at),
            )
        return super().render(template, **kwargs)


def _search_condition(term: str):
    """One search word: a record or client id, or a person, record type, client name or value it mentions."""
    try:
        key = uuid.UUID(term)
    except ValueError:
        pass
    else:
        return sa.or_(AuditLog.entity_id == key, AuditLog.client_id == key)
    pattern = f"%{term}%"
    tables = [table for table, caption in ENTITY_LABELS.items() if term.lower() in caption.lower()]
    named_clients = sa.select(Client.id).where(sa.or_(
        Client.last_name.ilike(pattern), Client.first_name.ilike(pattern), Client.preferred_name.ilike(pattern)))
    return sa.or_(
        AuditLog.actor_name.ilike(pattern), AuditLog.entity.in_(tables), AuditLog.client_id.in_(named_clients),
        sa.cast(AuditLog.diff_json, sa.Text).ilike(pattern),
    )


def _screen_url(table: str, record_id) -> str | None:
    """The details page of a record that still exists and has a screen, else None."""
    model = history.model_for(table)
    if model is None or record_id is None or db.session.get(model, record_id) is None:
        return None
    try:
        return url_for(f"{table}.details_view", id=record_id)
    except BuildError:  # a table without a screen of its own
        return None


def _record_url(row):
    return _screen_url(row.entity, row.entity_id)


def _client_url(row):
    return _screen_url("clients", row.client_id) if row.client_id is not None else None


def _as_of_url(row):
    """The client as it was just after this change (to the minute)."""
    if row.client_id is None:
        return None
    day, minute = history.local_time(row.changed_at).split(" ")
    return url_for("clients.as_of_view", id=row.client_id, date=day, time=minute)


class EmailRecipientView(CCDModelView):
    column_list = ("name", "email", "frequency", "department", "is_active")
    column_default_sort = "name"
    column_searchable_list = ("name", "email")
    column_filters = ("frequency", "is_active", "department.name")
    form_columns = ("name", "email", "frequency", "department", "is_active", "notes")
    form_choices = {"frequency": [(f, f.capitalize()) for f in REPORT_FREQUENCIES]}


class EmailLogView(CCDModelView):
    column_list = ("created_at", "sent_at", "email_type", "recipient_email", "subject", "period_end", "status",
                   "attempts")
    column_default_sort = ("created_at", True)
    column_searchable_list = ("recipient_email", "subject")
    column_filters = ("status", "email_type", "frequency", "period_end", "sent_at")
    column_choices = {"email_type": list(EMAIL_TYPE_NAMES.items())}
    # The stored message (kept until sent) holds client details: the log shows who, what and when, not it.
    column_details_exclude_list = ("message",)
    column_export_exclude_list = ("message",)


class UploadLogView(CCDModelView):
    column_list = ("started_at", "source", "file_name", "status", "total_rows", "records_created",
                   "records_updated", "records_skipped", "duplicates_flagged", "errors_count", "uploaded_by")
    column_default_sort = ("started_at", True)
    column_searchable_list = ("file_name",)
    column_filters = ("source", "status", "started_at")


class ChoiceOptionView(CCDModelView):
    column_list = ("list_key", "value", "sort_order", "is_active")
    column_default_sort = [("list_key", False), ("sort_order", False)]
    column_searchable_list = ("value",)
    column_filters = ("list_key", "is_active")
    column_editable_list = ("sort_order", "is_active")
    form_columns = ("list_key", "value", "sort_order", "is_active")
    form_choices = {"list_key": [(key, key.replace("_", " ").capitalize()) for key in sorted(DEFAULT_OPTIONS)]}
    column_choices = form_choices


class SubscriptionView(CCDModelView):
    column_list = ("staff", "notify_new", "notify_expiring", "expiring_within_days", "by_email", "in_app")
    form_columns = ("staff", "email", "notify_new", "notify_expiring", "expiring_within_days", "by_email",
                    "in_app")
    form_ajax_refs = {"staff": staff_lookup("staff")}


class NotificationView(CCDModelView):
    column_list = ("created_at", "staff", "category", "title", "is_read")
    column_default_sort = ("created_at", True)
    column_filters = ("category", "is_read")


class ImportRowView(CCDModelView):
    """Rows an import staged; what stays are the rejected rows and those waiting for duplicate review."""

    column_list = ("upload_log", "row_number", "status", "reason", "client")
    column_default_sort = [("created_at", True), ("row_number", False)]
    column_sortable_list = ("row_number", "status")
    column_searchable_list = ("reason",)
    column_filters = ("status", "upload_log.file_name", "upload_log.source")
    column_details_list = ("upload_log", "row_number", "status", "reason", "client", "cells", "details",
                           "created_at")


def _import_field_choices():
    from app.services.ingest.column_maps import IMPORT_FIELDS

    return [(name, name) for name in IMPORT_FIELDS]


class ImportSourceSettingView(CCDModelView):
    column_list = ("source_system", "date_order", "notes", "updated_at")
    form_columns = ("source_system", "date_order", "notes")
    form_choices = {"source_system": [(s, s) for s in SOURCE_SYSTEMS],
                    "date_order": [("YMD", "Year first (2024-03-04) only"),
                                   ("MDY", "Month first (03/04/2024 is 4 March)"),
                                   ("DMY", "Day first (03/04/2024 is 3 April)")]}
    column_descriptions = {"date_order": "How this source writes dates with slashes. ISO dates and Excel dates are "
                                         "always read correctly."}


class ImportColumnTitleView(CCDModelView):
    column_list = ("source_system", "field", "titles", "updated_at")
    column_default_sort = [("source_system", False), ("field", False)]
    column_filters = ("source_system", "field")
    form_columns = ("source_system", "field", "titles")
    form_choices = {"source_system": [(s, s) for s in SOURCE_SYSTEMS], "field": _import_field_choices()}
    form_widget_args = {"titles": {"rows": 3}}
    column_descriptions = {"titles": "The column titles this field may have in the source's files, one per line. "
                                     "They replace the built-in titles for this field; case, surrounding spaces "
                                     "and punctuation are ignored."}

    def render(self, template, **kwargs):
        from app.services.ingest.column_maps import default_titles

        kwargs.setdefault("default_titles", {source: default_titles(source) for source in SOURCE_SYSTEMS})
        return super().render(template, **kwargs)


class LinkageModelView(CCDModelView):
    """The matching models training stored (``ccd train-matcher``, weekly): when, by what, from how much."""

    column_list = ("trained_at", "trained_by", "is_active", "client_count", "seed")
    column_default_sort = ("trained_at", True)
    column_filters = ("is_active", "trained_at")
    column_details_list = ("trained_at", "trained_by", "is_active", "client_count", "seed", "figures")
