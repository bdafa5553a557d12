"""Audit trail, approvals, reports set-up and logs, and settings."""

from admin_views.base import CCDModelView
from admin_views.clients import staff_lookup
from app.choices import (
    AUDIT_ACTIONS, DEFAULT_OPTIONS, EMAIL_TYPE_NAMES, PENDING_CHANGE_STATUSES, REPORT_FREQUENCIES,
)
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
