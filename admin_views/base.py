"""The base every CCD screen inherits: permissions from the rule table on every request.

Flask-Admin leaves several doors open by default (class-wide ``can_*`` flags, inline
edit that ignores ``can_edit``, actions that run for anyone, string ids against UUID
keys, CSV exports that carry formulas and load every row). Each is closed here, once.

Where the rule table says PROPOSE (Managers and Leaders on canonical records), every save
path of a screen -- create, edit, delete, inline edit, bulk delete, archive and restore --
stores a PendingChange through app/services/approvals.py instead of writing the record
(admin_views/proposals.py). Forms are admin_views/model_forms.py's, exports stream
(admin_views/exports.py) and reads are logged (admin_views/reads.py).

Every edit form carries the version and values of the record as it was opened
(admin_views/locking.py): a direct save over a record changed since is refused with the
values now, never "successfully saved" over someone else's change; a proposal keeps them
as its base.

Rows are limited to the signed-in person's scope (app/services/scope.py) in the three
places every list, count, export, search, details page, edit page, inline edit and bulk
action reads through: ``get_query``, ``get_count_query`` and ``get_one``. A record out of
scope answers 404, exactly like one that does not exist.
"""

import logging
import uuid
from datetime import datetime, timezone

from flask import abort, current_app, flash, has_request_context, request
from flask_admin.actions import action
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla import tools as sqla_tools
from flask_admin.helpers import get_form_data
from flask_login import current_user
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError

from admin_views import locking
from admin_views.counts import LIST_COUNT_CAP, capped_count_query
from admin_views.exports import StreamsExports
from admin_views.fields import OptionMultiSelectField, OptionSelectField
from admin_views.formatting import EXPORT_FORMATTERS, LIST_FORMATTERS
from admin_views.locking import OPENED_FIELD, RECORD_CHANGED
from admin_views.model_forms import ModelForm, scoped_form
from admin_views.proposals import ProposesChanges
from admin_views.reads import LogsReads
from admin_views.roles import current_roles, refuse
from app.choices import OPTION_FIELDS
from app.constraints import explain
from app.extensions import db
from app.guard import WriteNotPermitted
from app.labels import label
from app.models.base import VERSION_FIELD
from app.permissions import Action, Grant, grant
from app.plain_text import without_control_characters
from app.services.scope import acting_staff, scope_condition

log = logging.getLogger(__name__)


# Flask-Admin endpoint -> the action it performs. Endpoints not listed need only LIST.
ENDPOINT_ACTIONS = {
    "index_view": Action.LIST,
    "details_view": Action.DETAILS,
    "create_view": Action.CREATE,
    "edit_view": Action.EDIT,
    "delete_view": Action.DELETE,
    "export": Action.EXPORT,
    "ajax_update": Action.EDIT,
    "approve_view": Action.REVIEW,
    "decline_view": Action.REVIEW,
}

# Endpoints that open one record by id: a record out of scope (or missing) is a 404 there.
ONE_RECORD_ENDPOINTS = frozenset({"details_view", "edit_view", "delete_view", "ajax_update"})

DATABASE_REFUSED = ("The database could not store this record, so nothing was saved. Check the values for "
                    "unusual characters or lengths and try again; if it keeps happening, tell your administrator.")
DATABASE_FAILED = ("The database could not save this record just now, so nothing was saved. Try again in a moment; "
                   "if it keeps happening, tell your administrator.")


def page_argument(name: str = "page", first: int = 0) -> int:
    """A page number from the query string, from the first page up to the pager's cap (a larger one
    overflows the database's integers; nobody pages that far)."""
    return min(max(request.args.get(name, first, type=int), first), LIST_COUNT_CAP)


class CCDModelView(LogsReads, ProposesChanges, StreamsExports, ModelView):
    form_base_class = ModelForm
    list_template = "admin/ccd_list.html"
    can_view_details = True
    can_set_page_size = True
    page_size = 25
    page_size_options = (10, 25, 50, 100)
    export_types = ["csv"]
    column_display_pk = False
    column_type_formatters = LIST_FORMATTERS
    column_type_formatters_detail = LIST_FORMATTERS
    column_type_formatters_export = EXPORT_FORMATTERS
    form_excluded_columns = ("created_at", "updated_at")
    # Which actions each bulk action needs; an action missing here is refused to everyone.
    action_permissions: dict[str, Action] = {"delete": Action.DELETE}

    def __init__(self, model, session_or_db=db, **kwargs):
        self.rule_key = model.__tablename__
        overrides = dict(self.form_overrides or {})
        args = {name: dict(value) for name, value in (self.form_args or {}).items()}
        for (table, column), (list_key, multiple) in OPTION_FIELDS.items():
            if table == self.rule_key:
                overrides.setdefault(column, OptionMultiSelectField if multiple else OptionSelectField)
                args.setdefault(column, {})["list_key"] = list_key
        self.form_overrides, self.form_args = overrides, args
        kwargs.setdefault("endpoint", self.rule_key)
        super().__init__(model, session_or_db, **kwargs)

    # -- permissions -------------------------------------------------------------------
    def grant_for(self, action: Action) -> Grant:
        return grant(current_roles(), self.rule_key, action)

    def may(self, action: Action) -> bool:
        return self.grant_for(action) is not Grant.DENY

    @property
    def can_create(self):
        return self.may(Action.CREATE)

    @property
    def can_edit(self):
        return self.may(Action.EDIT)

    @property
    def can_delete(self):
        return self.may(Action.DELETE)

    @property
    def can_export(self):
        return self.may(Action.EXPORT)

    def is_accessible(self):
        return current_user.is_authenticated and self.may(Action.LIST)

    def sidebar_badge(self) -> int | None:
        """A count shown next to the screen's name in the sidebar (the approvals inbox has one)."""
        return None

    def inaccessible_callback(self, name, **kwargs):
        return refuse()

    def _handle_view(self, name, **kwargs):
        refused = super()._handle_view(name, **kwargs)
        if refused is not None:
            return refused
        needed = ENDPOINT_ACTIONS.get(name, Action.LIST)
        if not self.may(needed):
            abort(403)
        if name == "action_view":
            requested = request.form.get("action", "")
            if requested not in self._actions_data or not self.is_action_allowed(requested):
                abort(403)
        return None

    def is_action_allowed(self, name):
        needed = self.action_permissions.get(name)
        return needed is not None and self.may(needed) and super().is_action_allowed(name)

    def proposing(self, action: Action) -> bool:
        """True when this person's save of ``action`` becomes a proposal, not a write."""
        return self.grant_for(action) is Grant.PROPOSE

    # -- the record as it was opened (admin_views/locking.py) -------------------------------
    def get_edit_form(self):
        """Every edit form has the hidden field holding the record as it was opened (admin_views/locking.py)."""
        form_class = super().get_edit_form()
        return type(f"Opened{form_class.__name__}", (form_class,), {OPENED_FIELD: locking.OpenedField()})

    def opened_as(self, form, obj):
        """A screen that builds its own edit form passes it through here (admin_views/locking.py)."""
        if obj is not None and get_form_data() is None:
            locking.fill(form, self.rule_key, obj)
        return form

    def scaffold_inline_form_models(self, form_class):
        """Inline child rows carry the version each was shown at, checked by the UPDATE (admin_views/locking.py)."""
        self.inline_models = locking.with_seen_versions(self.inline_models)
        return super().scaffold_inline_form_models(form_class)

    def get_list_form(self):
        """The inline editors name their row with the version the list showed (admin_views/locking.py)."""
        validators = {key: {"validators": value["validators"]} for key, value in (self.form_args or {}).items()
                      if value.get("validators")} or None
        return self.scaffold_list_form(widget=locking.VersionedXEditableWidget(), validators=validators)

    def list_form(self, obj=None):
        form = super().list_form(obj)
        if obj is not None:
            locking.mark_list_form(form, obj)
        elif "list_form_pk" in form:  # an inline edit posted back: "<id>@<version>"
            form.list_form_pk.data, form.ccd_seen_version = locking.split_list_key(form.list_form_pk.data)
        return form

    # -- a save the database refused ---------------------------------------------------
    def handle_view_exception(self, exc):
        if isinstance(exc, IntegrityError):
            if current_app.config.get("FLASK_ADMIN_RAISE_ON_INTEGRITY_ERROR"):
                raise exc
            flash(explain(exc), "error")
            return True
        if isinstance(exc, WriteNotPermitted):
            flash(str(exc), "error")
            return True
        if isinstance(exc, StaleDataError):
            flash(RECORD_CHANGED.format(changes=""), "error")
            return True
        if isinstance(exc, SQLAlchemyError) and not current_app.config.get("FLASK_ADMIN_RAISE_ON_VIEW_EXCEPTION"):
            # The driver's message quotes the statement and the row's values: logged, never shown.
            log.exception("A save on %s was refused by the database", self.rule_key)
            flash(DATABASE_REFUSED if isinstance(exc, DataError) else DATABASE_FAILED, "error")
            return True
        return super().handle_view_exception(exc)

    # -- rows within the person's scope --------------------------------------------------
    def _scope(self):
        return scope_condition(self.model, acting_staff())

    def get_query(self):
        query = super().get_query()
        condition = self._scope()
        return query if condition is None else query.filter(condition)

    def get_count_query(self):
        query = capped_count_query(db.session, self.model)
        condition = self._scope()
        return query if condition is None else query.filter(condition)

    def scaffold_form(self):
        return scoped_form(super().scaffold_form())

    def scaffold_list_columns(self):
        """Lists, details and exports show what a person reads, not the optimistic-lock version."""
        return [name for name in super().scaffold_list_columns() if name != VERSION_FIELD]

    # -- keys ----------------------------------------------------------------------------
    def _parse_key(self, raw):
        """A URL or form id as the primary key's type; None when it cannot be one."""
        parts = sqla_tools.iterdecode(raw) if sqla_tools.has_multiple_pks(self.model) else (raw,)
        try:
            keys = tuple(uuid.UUID(str(part)) for part in parts)
        except (ValueError, TypeError):
            return None
        return keys if len(keys) > 1 else keys[0]

    def _find_one(self, id):
        """The record with this id if it exists and is in scope, else None."""
        key = self._parse_key(id)
        if key is None:
            return None
        condition = self._scope()
        if condition is None:
            return db.session.get(self.model, key)
        pk_columns = sqla_tools.get_primary_key(self.model)
        names = pk_columns if isinstance(pk_columns, tuple) else (pk_columns,)
        values = key if isinstance(key, tuple) else (key,)
        matches = [getattr(self.model, n) == v for n, v in zip(names, values)]
        return self.get_query().filter(*matches).one_or_none()

    def get_one(self, id):
        row = self._find_one(id)
        if row is None and has_request_context():
            if (request.endpoint or "").rsplit(".", 1)[-1] in ONE_RECORD_ENDPOINTS:
                abort(404)
        return row

    def records_for_ids(self, ids):
        """The rows behind a bulk action's ids, looked up through this screen's own query."""
        keys = [key for key in (self._parse_key(raw) for raw in ids) if key is not None]
        if not keys:
            return []
        if sqla_tools.has_multiple_pks(self.model):
            return [row for row in (self._find_one(raw) for raw in ids) if row is not None]
        return self.get_query().filter(self.model.id.in_(keys)).all()

    def _get_list_extra_args(self):
        """The list's query string made safe for the database: no control characters in the search
        or filter values (PostgreSQL refuses NUL), and a page number the pager could offer."""
        args = super()._get_list_extra_args()
        args.page = page_argument()
        if args.search:
            args.search = without_control_characters(args.search).strip() or None
        if args.filters:
            args.filters = [(index, name, _plain_filter_value(value)) for index, name, value in args.filters]
        return args

    def _get_filter_groups(self):
        """Drop-down filter options come from the database, so read them for each page, not once at start-up."""
        self._refresh_filters_cache()
        return super()._get_filter_groups()

    # -- labels --------------------------------------------------------------------------
    def _prettify_name(self, name):
        return label(name)

    prettify_name = _prettify_name


def _plain_filter_value(value):
    if isinstance(value, str):
        return without_control_characters(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_plain_filter_value(item) for item in value)
    return value


class ArchivableView(CCDModelView):
    """Records that are archived rather than deleted, with bulk archive and restore."""

    action_permissions = {"delete": Action.DELETE, "archive": Action.EDIT, "restore": Action.EDIT}
    form_excluded_columns = ("created_at", "updated_at", "archived_at")

    def _set_archived(self, ids, archived: bool):
        if self.proposing(Action.EDIT):
            rows = [row for row in self.records_for_ids(ids) if row.is_archived != archived]
            self._propose_rows(rows, "update", {"is_archived": archived})
            return
        changed = 0
        try:
            for row in self.records_for_ids(ids):
                if row.is_archived != archived:
                    row.is_archived = archived
                    row.archived_at = datetime.now(timezone.utc) if archived else None
                    changed += 1
            db.session.commit()
        except Exception as exc:
            db.session.rollback()
            if not self.handle_view_exception(exc):
                raise
            return
        flash(f"{changed} record(s) {'archived' if archived else 'restored'}.", "success")

    @action("archive", "Archive", "Archive the selected records? They stay in the history and can be restored.")
    def action_archive(self, ids):
        self._set_archived(ids, True)

    @action("restore", "Restore", "Restore the selected archived records?")
    def action_restore(self, ids):
        self._set_archived(ids, False)

    def on_model_change(self, form, model, is_created):
        if model.is_archived and model.archived_at is None:
            model.archived_at = datetime.now(timezone.utc)
        elif not model.is_archived:
            model.archived_at = None
        super().on_model_change(form, model, is_created)
