"""Audit trail, reports set-up and logs, and settings (the approvals inbox is in admin_views/approvals.py)."""

from admin_views.base import CCDModelView
from admin_views.clients import staff_lookup
from app.choices import AUDIT_ACTIONS, DEFAULT_OPTIONS, REPORT_FREQUENCIES
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
