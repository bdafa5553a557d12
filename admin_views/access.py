"""Who looked at whom: the access log screen (Audit Log › Access log), read-only for everyone."""

from flask_admin.contrib.sqla.filters import FilterEqual, FilterLike

from admin_views.base import CCDModelView
from admin_views.filters import (
    BetweenDaysFilter, OnOrAfterDayFilter, OnOrBeforeDayFilter, StaffFilter, UUIDEqualFilter,
)
from app.choices import ACCESS_KIND_NAMES
from app.models import ClientAccess
from app.services import access_log


def _who(view, context, model, name):
    return access_log.reader_name(model)


def _kind(view, context, model, name):
    return ACCESS_KIND_NAMES.get(model.kind, model.kind)


def _client(view, context, model, name):
    """An export's row lists its clients: it shows how many (the Access report names each)."""
    if model.client_ids is not None:
        return f"{len(model.client_ids)} clients"
    return model.client_id


class ClientReadFilter(UUIDEqualFilter):
    """The reads of one client, whether the row names it or lists it among an export's clients."""

    def apply(self, query, value, alias=None):
        return query.filter(access_log.read_of(value))


class AccessLogView(CCDModelView):
    """The log, newest first; nobody writes it from a screen (SYSTEM_WRITTEN)."""

    column_list = ("accessed_at", "who", "kind", "client_id", "address", "path", "detail")
    column_labels = {"accessed_at": "When", "who": "Who", "kind": "What", "client_id": "Client",
                     "address": "From address", "path": "Page", "detail": "File or email"}
    column_sortable_list = ("accessed_at", "kind")
    column_default_sort = ("accessed_at", True)
    simple_list_pager = True
    named_filter_urls = True
    column_filters = (
        ClientReadFilter(ClientAccess.client_id, "Client"),
        StaffFilter(ClientAccess.staff_id, "Who"),
        FilterEqual(ClientAccess.kind, "What", options=list(ACCESS_KIND_NAMES.items())),
        FilterLike(ClientAccess.actor_name, "Email or job"),
        OnOrAfterDayFilter(ClientAccess.accessed_at, "When"),
        OnOrBeforeDayFilter(ClientAccess.accessed_at, "When"),
        BetweenDaysFilter(ClientAccess.accessed_at, "When"),
    )
    column_formatters = {"who": _who, "kind": _kind, "client_id": _client}
    column_export_list = column_list
    column_formatters_export = column_formatters
