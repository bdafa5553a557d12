"""Audit trail, approvals, reports set-up and logs, and settings."""

from admin_views.base import CCDModelView
from admin_views.clients import staff_lookup
from app.choices import AUDIT_ACTIONS, DEFAULT_OPTIONS, PENDING_CHANGE_STATUSES, REPORT_FREQUENCIES, SOURCE_SYSTEMS
from app.labels import entity_label


def _entity(view, context, model, name):
    return entity_label(model.entity)


class AuditLogView(CCDModelView):
    column_list = ("changed_at", "entity", "entity_id", "action", "changed_by", "actor_name")
    column_default_sort = ("changed_at", True)
    column_searchable_list = ("entity", "actor_name")
    column_filters = ("entity", "action", "changed_at", "changed_by.email", "entity_id")
    column_formatters = {"entity": _entity}
    column_choices = {"action": [(a, a.capitalize()) for a in AUDIT_ACTIONS]}


class PendingChangeView(CCDModelView):
    column_list = ("created_at", "entity", "operation", "entity_id", "requested_by", "status", "reviewed_by",
                   "reviewed_at")
    column_default_sort = ("created_at", True)
    column_filters = ("entity", "status", "requested_by.email", "created_at")
    column_formatters = {"entity": _entity}
    column_choices = {"status": [(s, s.capitalize()) for s in PENDING_CHANGE_STATUSES]}


class EmailRecipientView(CCDModelView):
    column_list = ("name", "email", "frequency", "department", "is_active")
    column_default_sort = "name"
    column_searchable_list = ("name", "email")
    column_filters = ("frequency", "is_active", "department.name")
    form_columns = ("name", "email", "frequency", "department", "is_active", "notes")
    form_choices = {"frequency": [(f, f.capitalize()) for f in REPORT_FREQUENCIES]}


class EmailLogView(CCDModelView):
    column_list = ("sent_at", "recipient_email", "subject", "frequency", "period_end", "status", "attempts")
    column_default_sort = ("created_at", True)
    column_searchable_list = ("recipient_email", "subject")
    column_filters = ("status", "frequency", "period_end", "sent_at")


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
