"""The base every CCD screen inherits: permissions from the rule table on every request.

Flask-Admin leaves several doors open by default (class-wide ``can_*`` flags, inline
edit that ignores ``can_edit``, actions that run for anyone, string ids against UUID
keys, CSV exports that carry formulas and load every row). Each is closed here, once.

Rows are limited to the signed-in person's scope (app/services/scope.py) in the three
places every list, count, export, search, details page, edit page, inline edit and bulk
action reads through: ``get_query``, ``get_count_query`` and ``get_one``. A record out of
scope answers 404, exactly like one that does not exist.
"""

import uuid
from datetime import datetime, timezone

from flask import abort, current_app, flash, has_request_context, redirect, request, url_for
from flask_admin.actions import action
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla import tools as sqla_tools
from flask_admin.form import SecureForm
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from wtforms.fields.core import UnboundField

from admin_views.fields import OptionMultiSelectField, OptionSelectField
from admin_views.formatting import EXPORT_FORMATTERS, LIST_FORMATTERS, neutralise_formula
from app.choices import OPTION_FIELDS
from app.constraints import explain
from app.extensions import db
from app.guard import WriteNotPermitted
from app.labels import label
from app.permissions import Action, Grant, grant
from app.services.scope import acting_staff, restrict, scope_condition

# Flask-Admin endpoint -> the action it performs. Endpoints not listed need only LIST.
ENDPOINT_ACTIONS = {
    "index_view": Action.LIST,
    "details_view": Action.DETAILS,
    "create_view": Action.CREATE,
    "edit_view": Action.EDIT,
    "delete_view": Action.DELETE,
    "export": Action.EXPORT,
    "ajax_update": Action.EDIT,
}

# Endpoints that open one record by id: a record out of scope (or missing) is a 404 there.
ONE_RECORD_ENDPOINTS = frozenset({"details_view", "edit_view", "delete_view", "ajax_update"})

PROPOSAL_REFUSED = (
    "Your role submits changes for approval and cannot change records directly. "
    "Approval requests are not available yet, so nothing was saved."
)


def scoped_query_factory(factory):
    """A form drop-down's query, limited to the rows the person filling in the form may see."""
    def scoped():
        query = factory()
        return restrict(query, query.column_descriptions[0]["entity"], acting_staff())
    return scoped


def current_roles() -> frozenset[str]:
    user = current_user._get_current_object() if current_user else None
    if user is None or not user.is_authenticated:
        return frozenset()
    return user.role_names


class CCDModelView(ModelView):
    form_base_class = SecureForm
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

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))
        abort(403)

    def _handle_view(self, name, **kwargs):
        refused = super()._handle_view(name, **kwargs)
        if refused is not None:
            return refused
        needed = ENDPOINT_ACTIONS.get(name, Action.LIST)
        if not self.may(needed):
            abort(403)
        if name == "ajax_update" and self.grant_for(Action.EDIT) is not Grant.ALLOW:
            abort(403)
        if name == "action_view":
            requested = request.form.get("action", "")
            if requested not in self._actions_data or not self.is_action_allowed(requested):
                abort(403)
        return None

    def is_action_allowed(self, name):
        needed = self.action_permissions.get(name)
        return needed is not None and self.may(needed) and super().is_action_allowed(name)

    def _refuse_proposal(self, action: Action) -> bool:
        """True (and the person told why) when this save would be a proposal, not a write."""
        if self.grant_for(action) is Grant.PROPOSE:
            flash(PROPOSAL_REFUSED, "warning")
            return True
        return False

    # -- writes --------------------------------------------------------------------------
    def create_model(self, form):
        if self._refuse_proposal(Action.CREATE):
            return False
        return super().create_model(form)

    def update_model(self, form, model):
        if self._refuse_proposal(Action.EDIT):
            return False
        return super().update_model(form, model)

    def delete_model(self, model):
        if self._refuse_proposal(Action.DELETE):
            return False
        return super().delete_model(model)

    def handle_view_exception(self, exc):
        if isinstance(exc, IntegrityError):
            if current_app.config.get("FLASK_ADMIN_RAISE_ON_INTEGRITY_ERROR"):
                raise exc
            flash(explain(exc), "error")
            return True
        if isinstance(exc, WriteNotPermitted):
            flash(str(exc), "error")
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
        query = super().get_count_query()
        condition = self._scope()
        return query if condition is None else query.filter(condition)

    def scaffold_form(self):
        """Relation drop-downs list only rows in scope (ajax pickers are scoped in their loaders)."""
        form_class = super().scaffold_form()
        for field in list(vars(form_class).values()):
            if isinstance(field, UnboundField) and field.kwargs.get("query_factory") is not None:
                field.kwargs["query_factory"] = scoped_query_factory(field.kwargs["query_factory"])
        return form_class

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

    @action("delete", "Delete", "Delete the selected records? This cannot be undone.")
    def action_delete(self, ids):
        if self._refuse_proposal(Action.DELETE):
            return
        deleted = sum(1 for row in self.records_for_ids(ids) if self.delete_model(row))
        if deleted:
            flash(f"{deleted} record(s) deleted.", "success")

    def _get_filter_groups(self):
        """Drop-down filter options come from the database, so read them for each page, not once at start-up."""
        self._refresh_filters_cache()
        return super()._get_filter_groups()

    # -- labels --------------------------------------------------------------------------
    def _prettify_name(self, name):
        return label(name)

    prettify_name = _prettify_name

    # -- export --------------------------------------------------------------------------
    def _export_data(self):
        """Stream the filtered, sorted rows in batches instead of loading them all."""
        view_args = self._get_list_extra_args()
        sort_column = self._get_column_by_idx(view_args.sort)
        count, query = self.get_list(
            0, sort_column[0] if sort_column else None, view_args.sort_desc,
            view_args.search, view_args.filters, execute=False, page_size=0,
        )
        return count, query.yield_per(500)

    def get_export_value(self, model, name):
        return neutralise_formula(super().get_export_value(model, name))

    def get_export_name(self, export_type="csv"):
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d_%H%M")
        return f"ccd_{self.rule_key}_{stamp}.{export_type}"


class ArchivableView(CCDModelView):
    """Records that are archived rather than deleted, with bulk archive and restore."""

    action_permissions = {"delete": Action.DELETE, "archive": Action.EDIT, "restore": Action.EDIT}
    form_excluded_columns = ("created_at", "updated_at", "archived_at")

    def _set_archived(self, ids, archived: bool):
        if self._refuse_proposal(Action.EDIT):
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
