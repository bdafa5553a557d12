"""The base every CCD screen inherits: permissions from the rule table on every request.

Flask-Admin leaves several doors open by default (class-wide ``can_*`` flags, inline
edit that ignores ``can_edit``, actions that run for anyone, string ids against UUID
keys, CSV exports that carry formulas and load every row). Each is closed here, once.

Where the rule table says PROPOSE (Managers and Leaders on canonical records), every save
path of a screen -- create, edit, delete, inline edit, bulk delete, archive and restore --
stores a PendingChange through app/services/approvals.py instead of writing the record.

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
from decimal import Decimal

from flask import abort, current_app, flash, g, has_request_context, jsonify, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla import tools as sqla_tools
from flask_admin.contrib.sqla.fields import InlineModelFormList, QuerySelectField
from flask_admin.helpers import get_form_data, get_redirect_target
from flask_login import current_user
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError
from wtforms import FieldList, FormField, StringField
from wtforms.fields.core import UnboundField
from wtforms.validators import ValidationError

from admin_views import locking
from admin_views.counts import LIST_COUNT_CAP, capped_count_query
from admin_views.fields import OptionMultiSelectField, OptionSelectField, PlainText
from admin_views.formatting import EXPORT_FORMATTERS, LIST_FORMATTERS, neutralise_formula
from admin_views.locking import OPENED_FIELD, RECORD_CHANGED
from admin_views.reads import LogsReads
from app.choices import OPTION_FIELDS
from app.constraints import explain
from app.extensions import db
from app.guard import WriteNotPermitted
from app.labels import label
from app.models.base import VERSION_FIELD
from app.permissions import Action, Grant, grant
from app.plain_text import without_control_characters
from app.security import CSRFForm
from app.services import approvals
from app.services.scope import acting_staff, restrict, scope_condition

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

PROPOSAL_SUBMITTED = (
    "Submitted for approval: a coordinator will review it, and the record stays as it is until then. "
    "You can follow it under Approvals › My requests."
)
PROPOSALS_SUBMITTED = (
    "{count} changes submitted for approval: a coordinator will review them, and the records stay as they are "
    "until then. You can follow them under Approvals › My requests."
)
NOTHING_PROPOSED = "Nothing was changed, so nothing was submitted for approval."
DATABASE_REFUSED = ("The database could not store this record, so nothing was saved. Check the values for "
                    "unusual characters or lengths and try again; if it keeps happening, tell your administrator.")
DATABASE_FAILED = ("The database could not save this record just now, so nothing was saved. Try again in a moment; "
                   "if it keeps happening, tell your administrator.")
BLANK_CHOICE = "— none —"


class ProposalStored(Exception):
    """A save became a proposal (or changed nothing); the view answers with this message instead of saving."""

    def __init__(self, message: str, category: str = "success"):
        super().__init__(message)
        self.message, self.category = message, category


def _drop_inline_lists(form) -> None:
    """Proposals cover one record; child rows are proposed from their own screens."""
    for field in list(form):
        if isinstance(field, InlineModelFormList):
            del form[field.name]


def _drop_inline_lists_not_writable(form, roles) -> None:
    """Child rows the person may not write leave the form (a program's staff list, for whoever may not
    grant visibility): the save would be refused for them anyway."""
    for field in list(form):
        if isinstance(field, InlineModelFormList) and \
                grant(roles, field.model.__tablename__, Action.CREATE) is Grant.DENY:
            del form[field.name]


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


def page_argument(name: str = "page", first: int = 0) -> int:
    """A page number from the query string, from the first page up to the pager's cap (a larger one
    overflows the database's integers; nobody pages that far)."""
    return min(max(request.args.get(name, first, type=int), first), LIST_COUNT_CAP)


def refuse():
    """A visitor who is not signed in goes to sign-in; a signed-in one without the right gets 403."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))
    abort(403)


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


class CCDModelView(LogsReads, ModelView):
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

    # -- proposals -------------------------------------------------------------------------
    def create_form(self, obj=None):
        form = super().create_form(obj)
        if self.proposing(Action.CREATE):
            _drop_inline_lists(form)
        _drop_inline_lists_not_writable(form, current_roles())
        return form

    def get_edit_form(self):
        """Every edit form has the hidden field holding the record as it was opened (admin_views/locking.py)."""
        form_class = super().get_edit_form()
        return type(f"Opened{form_class.__name__}", (form_class,), {OPENED_FIELD: locking.OpenedField()})

    def edit_form(self, obj=None):
        form = self.opened_as(super().edit_form(obj), obj)
        if obj is not None and self.proposing(Action.EDIT):
            _drop_inline_lists(form)
        else:
            _drop_inline_lists_not_writable(form, current_roles())
        return form

    def opened_as(self, form, obj):
        """A screen that builds its own edit form passes it through here (admin_views/locking.py)."""
        if obj is not None and get_form_data() is None:
            locking.fill(form, self.rule_key, obj)
        return form

    def _propose(self, operation: str, entity_id=None, values=None, base=None, base_version=None):
        return approvals.propose(current_user.staff, self.rule_key, operation, entity_id=entity_id,
                                 values=values, base=base, base_version=base_version)

    def _propose_from_form(self, form, model) -> bool:
        """Read what the form would write, forget it, and store it as a proposal.

        The form fills a record in memory (with the screen's own on_model_change rules),
        under no_autoflush; the session is then rolled back, so nothing canonical reaches
        the database. Raises ProposalStored on success; returns False (message flashed,
        form kept) when the proposal is refused.
        """
        is_created = model is None
        try:
            opened = None if is_created else locking.submitted(form, self.rule_key, model)
            target = self.build_new_instance() if is_created else model
            entity_id = None if is_created else model.id
            current = {} if is_created else approvals.record_values(model)
            with db.session.no_autoflush:
                form.populate_obj(target)
                self._on_model_change(form, target, is_created)
                submitted = approvals.record_values(target)
        except (ValidationError, ValueError) as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return False
        db.session.rollback()
        covered = approvals.columns_of(self.model, [field.name for field in form])
        covered |= {key for key, value in submitted.items()
                    if not approvals.same(value, current.get(key), self.rule_key, key)}
        values = {key: submitted[key] for key in covered}
        try:
            change = self._propose("create" if is_created else "update", entity_id, values,
                                   None if opened is None else opened.values,
                                   None if opened is None else opened.version)
        except approvals.ApprovalError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return False
        if change is None:
            raise ProposalStored(NOTHING_PROPOSED, "info")
        db.session.commit()
        raise ProposalStored(PROPOSAL_SUBMITTED)

    def _propose_rows(self, rows, operation: str, values=None) -> None:
        """One proposal per selected record (bulk actions, the delete button), and one message."""
        submitted, refused = 0, []
        for row in rows:
            try:
                if self._propose(operation, row.id, values) is not None:
                    submitted += 1
            except approvals.ApprovalError as exc:
                refused.append(str(exc))
        db.session.commit()
        if submitted:
            flash(PROPOSAL_SUBMITTED if submitted == 1 else PROPOSALS_SUBMITTED.format(count=submitted), "success")
        for message in sorted(set(refused)):
            flash(message, "error")
        if not submitted and not refused:
            flash(NOTHING_PROPOSED, "info")

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self):
        try:
            return super().create_view()
        except ProposalStored as outcome:
            flash(outcome.message, outcome.category)
            return redirect(get_redirect_target() or self.get_url(".index_view"))

    @expose("/edit/", methods=("GET", "POST"))
    def edit_view(self):
        try:
            return super().edit_view()
        except ProposalStored as outcome:
            flash(outcome.message, outcome.category)
            return redirect(get_redirect_target() or self.get_url(".index_view"))

    @expose("/ajax/update/", methods=("POST",))
    def ajax_update(self):
        """Inline edits by proposers become proposals too; the answer says so and the list keeps the old value
        (static/js/ccd-inline-proposals.js shows the message in the editor). A record out of scope is a
        404 before its value is even looked at."""
        self.get_one(locking.split_list_key(request.form.get("list_form_pk"))[0])
        try:
            return super().ajax_update()
        except ProposalStored as outcome:
            return jsonify(proposal=True, message=outcome.message)

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

    # -- writes --------------------------------------------------------------------------
    def create_model(self, form):
        if self.proposing(Action.CREATE):
            return self._propose_from_form(form, None)
        return super().create_model(form)

    def update_model(self, form, model):
        if self.proposing(Action.EDIT):
            return self._propose_from_form(form, model)
        # A change committed after this check is caught by the version in the UPDATE (handle_view_exception).
        if hasattr(form, "ccd_seen_version"):  # an inline list edit
            refused = locking.refusal_of_stale_list_edit(form.ccd_seen_version, self.rule_key, model)
        else:
            refused = locking.refusal_of_stale_save(form, self.rule_key, model)
        if refused:
            flash(refused, "error")
            return False
        return super().update_model(form, model)

    def delete_model(self, model):
        if self.proposing(Action.DELETE):
            self._propose_rows([model], "delete")
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
        """Relation drop-downs list only rows in scope (ajax pickers are scoped in their loaders); the
        version is the database's to raise, never a form's to set."""
        form_class = super().scaffold_form()
        if hasattr(form_class, VERSION_FIELD):
            delattr(form_class, VERSION_FIELD)
        for field in list(vars(form_class).values()):
            if isinstance(field, UnboundField) and field.kwargs.get("query_factory") is not None:
                field.kwargs["query_factory"] = scoped_query_factory(field.kwargs["query_factory"])
                if issubclass(field.field_class, QuerySelectField) and field.kwargs.get("allow_blank"):
                    # WTForms shows a blank choice without text by its value, "__None".
                    field.kwargs.setdefault("blank_text", BLANK_CHOICE)
        return form_class

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

    @action("delete", "Delete", "Delete the selected records? This cannot be undone.")
    def action_delete(self, ids):
        if self.proposing(Action.DELETE):
            self._propose_rows(self.records_for_ids(ids), "delete")
            return
        deleted = sum(1 for row in self.records_for_ids(ids) if self.delete_model(row))
        if deleted:
            flash(f"{deleted} record(s) deleted.", "success")

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

    # -- export --------------------------------------------------------------------------
    def _export_data(self):
        """Stream the filtered, sorted rows in batches instead of loading them all."""
        view_args = self._get_list_extra_args()
        sort_column = self._get_column_by_idx(view_args.sort)
        count, query = self.get_list(
            0, sort_column[0] if sort_column else None, view_args.sort_desc,
            view_args.search, view_args.filters, execute=False, page_size=0,
        )
        # Flask-Admin joins in the collections a list shows (a staff member's roles), and
        # SQLAlchemy cannot read such rows in batches; those screens are small, read at once.
        batched = not any(relationship.property.uselist for relationship in self._auto_joins)
        rows = _rows_of_this_context(query, EXPORT_BATCH_SIZE if batched else None)
        return count, self._export_rows(rows, self.get_export_name((request.view_args or {}).get("export_type", "csv")))

    def get_export_value(self, model, name):
        """The cell as the CSV will hold it (related records as their text), formula-neutralised.

        Flask-Admin turns a related record into text only when writing the row, after this
        method: so the text is made here, where the formula check can see it. Numbers stay
        numbers (a negative amount is not a formula).
        """
        value = super().get_export_value(model, name)
        if value is None or isinstance(value, (bool, int, float, Decimal)):
            return value
        return neutralise_formula(value.decode("utf-8") if isinstance(value, bytes) else str(value))

    def get_export_name(self, export_type="csv"):
        """The file's name, the same each time one export asks (the access log records it)."""
        if "ccd_export_stamp" not in g:
            g.ccd_export_stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d_%H%M")
        return f"ccd_{self.rule_key}_{g.ccd_export_stamp}.{export_type}"


def _plain_filter_value(value):
    if isinstance(value, str):
        return without_control_characters(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_plain_filter_value(item) for item in value)
    return value


EXPORT_BATCH_SIZE = 500


def _rows_of_this_context(query, batch_size: int | None):
    """The export's rows, read through the session of the context the stream runs in.

    Flask-Admin streams a CSV after the view has returned: by then the request's session has
    been closed and dropped by Flask-SQLAlchemy's teardown, and a query still bound to it
    would reopen that orphaned session, whose transaction nobody ends (on SQLite a lock held
    until restart, on PostgreSQL a connection idle in transaction). Bound here, when the rows
    are first read, the stream uses the context's own session, which its teardown closes when
    the stream ends or the download is abandoned.
    """
    query = query.with_session(db.session())
    yield from query if batch_size is None else query.yield_per(batch_size)


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
