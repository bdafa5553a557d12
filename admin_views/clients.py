"""Client screens: the client list and record, their source-system ids and possible duplicates."""

import uuid
from datetime import datetime

from flask import abort, current_app, flash, request
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader
from flask_admin.form import rules
from flask_admin.model.form import InlineFormAdmin
from flask_login import current_user
from wtforms.validators import ValidationError

from admin_views.base import ArchivableView, CCDModelView
from admin_views.bulk_actions import BulkActions
from admin_views.client_photos import ClientPhotos
from admin_views.counts import capped
from admin_views.fields import EXTENDED_PREFIX, extended_form_fields
from admin_views.locking import KeepOpenedField
from admin_views.front_desk import FrontDeskCheck
from admin_views.filters import (
    AgeBandFilter, DataQualityFilter, EnrolledInProgramFilter, JsonListContainsFilter, ServedFilter, option_filter,
)
from admin_views.roles import current_roles
from app.choices import SOURCE_SYSTEMS
from app.extensions import db
from app.labels import CLIENT_SECTIONS, label
from app.models import EXTENDED_FIELDS, Client, ClientSourceId, Staff
from app.permissions import Action, may, may_see_who_has_looked
from app.services import access_log, history
from app.services.client_search import (
    client_records_condition, find_clients, is_narrow, page_and_total, search_condition,
)
from app.services.clients import client_header, client_record_tabs
from app.services.clock import agency_today
from app.services.reports import DIMENSIONS
from app.services.scope import acting_staff, may_look_up, may_see_client, restrict, visible_client_count


class UUIDAjaxLoader(QueryAjaxModelLoader):
    """Type-ahead picker limited to the rows the person may see; a submitted id becomes a UUID first.

    Both the suggestions and the check of a submitted id go through the scope, so a
    client out of scope can neither be found nor chosen by posting its id; suggestions come
    only from a table the person could list (scope.may_look_up).
    """

    def get_query(self):
        return restrict(super().get_query(), self.model, acting_staff())

    def get_list(self, term, offset=0, limit=10):
        if not may_look_up(self.model, acting_staff()):
            return []
        return super().get_list(term, offset, limit)

    def get_one(self, pk):
        try:
            key = uuid.UUID(str(pk))
        except ValueError:
            return None
        with db.session.no_autoflush:
            return self.get_query().filter(self.model.id == key).one_or_none()


SEARCH_PLACEHOLDER = "Name, birth date, phone, email, postal code or id"


class ClientAjaxLoader(UUIDAjaxLoader):
    """Type-ahead client picker: the client search itself, within the person's scope, never merged-away records.

    Forms never load the whole client table into a drop-down, and what finds a client in
    the list finds it here ("Alexander, Lori", as the picker shows a client, included).
    """

    def get_query(self):
        return super().get_query().filter(~merged_away())

    def get_list(self, term, offset=0, limit=10):
        return find_clients(db.session, self.get_query(), term or "", staff=acting_staff(), offset=offset or 0,
                            limit=min(limit or 10, 50))


def client_lookup(name: str) -> QueryAjaxModelLoader:
    return ClientAjaxLoader(name, db.session, Client, fields=["last_name"], page_size=10,
                            placeholder=SEARCH_PLACEHOLDER)


def staff_lookup(name: str) -> QueryAjaxModelLoader:
    return UUIDAjaxLoader(name, db.session, Staff, fields=["last_name", "first_name", "email"],
                                order_by="last_name", page_size=10, placeholder="Type a name or email")


class ClientRecordSearch:
    """Mix in to a list of clients' records: its search box finds the client as the client list does
    (either name order, accents, birth dates, ids, typos), or the program by name."""

    def search_placeholder(self):
        return "Client (name, birth date, id) or program"

    def _apply_search(self, query, count_query, joins, count_joins, search):
        condition = client_records_condition(db.session, self.model, search, acting_staff())
        return (query.filter(condition), None if count_query is None else count_query.filter(condition), joins,
                count_joins)


class ClientPrefill:
    """Mix into a screen whose records belong to a client: ``?client_id=`` on its create link (the
    record's "Add …" buttons) fills in the client, looked up through the person's own scope."""

    def create_form(self, obj=None):
        return self.prefill(super().create_form(obj))

    def prefill(self, form):
        raw = request.args.get("client_id", "") if request.method == "GET" else ""
        field = getattr(form, "client", None)
        if raw and field is not None and hasattr(field, "loader"):
            field.data = field.loader.get_one(raw)
        return form


# The record's tabs of related rows: (tab, the screen that opens and adds them).
RECORD_TABS = (("enrollments", "client_program_enrollments"), ("intakes", "intakes"), ("discharges", "discharges"),
               ("restrictions", "service_restrictions"), ("source_ids", "client_source_ids"))


def _tab_screens(roles) -> dict[str, dict[str, bool]]:
    """For each tab, whether its rows may be opened and new ones added by this person."""
    return {tab: {"table": table, "open": may(roles, table, Action.DETAILS), "add": may(roles, table, Action.CREATE)}
            for tab, table in RECORD_TABS}


class SourceIdInline(InlineFormAdmin):
    form_columns = ("id", "source_system", "source_client_id")
    form_choices = {"source_system": [(s, s) for s in SOURCE_SYSTEMS]}


def _demographic_filter(dimension):
    if dimension.key == "age_band":
        return AgeBandFilter()
    column = getattr(Client, dimension.key)
    if dimension.multi_valued:
        return JsonListContainsFilter(column, dimension.list_key, with_not_stated=True)
    return option_filter(column, dimension.list_key, with_not_stated=True)


# The filters a report's drill-down link sets (admin_views/reports.py finds them here):
# one per report breakdown, and who was served, new or continuing in a period and where.
DEMOGRAPHIC_FILTERS = {dimension.key: _demographic_filter(dimension) for dimension in DIMENSIONS}
SERVED_FILTERS = {
    (kind, coverage): ServedFilter(kind, coverage)
    for kind in ServedFilter.KINDS for coverage in ServedFilter.COVERAGES
}


class FieldIfPresent(rules.Field):
    """A field of a section, left out when this person's form has none (a proposer's has no inline lists)."""

    def __call__(self, form, form_opts=None, field_args=None):
        if getattr(form, self.field_name, None) is None:
            return ""
        return super().__call__(form, form_opts, field_args)


def client_form_rules() -> list:
    """The client form in the sections of app/labels.py, then the extended fields, instead of one long column."""
    sections = [(header, fields) for header, fields in CLIENT_SECTIONS]
    sections.append((label("extended"), tuple(EXTENDED_PREFIX + key for key in EXTENDED_FIELDS)))
    return [*(rules.FieldSet([FieldIfPresent(name) for name in fields], header) for header, fields in sections),
            KeepOpenedField()]


def merged_away(client=Client):
    """Records merged into another client: gone from the list, their page still reachable by link."""
    return client.merged_into_id.is_not(None)


class ClientView(BulkActions, ClientPhotos, FrontDeskCheck, ArchivableView):
    details_template = "admin/clients/details.html"
    edit_template = "admin/clients/edit.html"
    column_list = ("last_name", "first_name", "preferred_name", "dob", "gender", "uid_external",
                   "source_system", "is_inactive", "is_archived")
    column_default_sort = [("last_name", False), ("first_name", False)]
    column_sortable_list = ("last_name", "first_name", "preferred_name", "dob", "gender", "uid_external",
                            "source_system", "is_inactive", "is_archived")
    column_searchable_list = ("last_name", "first_name", "preferred_name", "alias", "uid_external")
    column_filters = (
        EnrolledInProgramFilter(Client.id),
        *DEMOGRAPHIC_FILTERS.values(),
        option_filter(Client.preferred_language, "language"),
        *SERVED_FILTERS.values(),
        "dob", "source_system", "is_inactive", "is_archived",
        DataQualityFilter(Client.id, "client"),
    )
    column_details_exclude_list = ("source_ids", "block_last_key", "block_names_key", "block_prefix_key",
                                   "photo_file")
    form_columns = (
        "first_name", "middle_name", "last_name", "preferred_name", "alias", "dob",
        "gender", "gender_identity", "pronoun", "sexual_orientation", "citizenship_status",
        "indigenous_status", "country_of_birth", "marital_status", "languages_spoken", "preferred_language",
        "official_language", "interpreter_needed", "ethnicity", "race",
        "phone", "phone_alt", "email", "permission_to_phone", "permission_to_email",
        "address_line1", "address_line2", "city", "province", "postal_code",
        "emergency_contact_name", "emergency_contact_relationship", "emergency_contact_phone",
        "health_card_number", "health_card_version", "health_card_exp_date", "health_card_issuing_province",
        "no_health_card_reason", "uid_external", "source_system", "source_ids", "comments",
        "is_inactive", "is_archived",
    )
    form_rules = client_form_rules()
    form_choices = {"source_system": [("CCD", "CCD")] + [(s, s) for s in SOURCE_SYSTEMS]}
    inline_models = (SourceIdInline(ClientSourceId),)
    history_page_size = history.HISTORY_PAGE_SIZE

    @action("enroll", "Enroll in a program…")
    def action_enroll(self, ids):
        return self.ask("enroll", ids)

    def search_placeholder(self):
        return SEARCH_PLACEHOLDER

    def _apply_search(self, query, count_query, joins, count_joins, search):
        """The one client search (app/services/client_search.py): names, birth dates, phones, emails,
        postal codes and ids, typos forgiven. A narrow search's matches are counted with the page
        (get_list): it returns no count query."""
        condition = search_condition(db.session, query, search, acting_staff())
        query = query.filter(condition)
        if is_narrow(search):
            count_query = None
        elif count_query is not None:
            count_query = count_query.filter(condition)
        return query, count_query, joins, count_joins

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        """A narrow search's page and count come from one statement: its matches are read once, not twice
        (counted in full, as they are read anyway, and shown capped like every list's count)."""
        if not (search and execute):
            return super().get_list(page, sort_column, sort_desc, search, filters, execute, page_size)
        count, query = super().get_list(page, sort_column, sort_desc, search, filters, execute=False,
                                        page_size=page_size)
        if count is not None:
            return count, query.all()
        total, clients = page_and_total(query)
        return capped(total), clients

    def get_query(self):
        """Records merged into another are gone from the list; their page stays reachable by link."""
        return super().get_query().filter(~merged_away())

    def get_count_query(self):
        """Unfiltered, a restricted person's list is counted from the enrollment index (their scope less
        the merged-away records); a search or filter narrows it back to counting its own query."""
        query = super().get_count_query().filter(~merged_away())
        staff = acting_staff()
        return query.known_total(lambda: visible_client_count(staff, not_counted=merged_away))

    def scaffold_form(self):
        """The model's columns, plus one field per extended key (stored in the ``extended`` JSON column)."""
        form_class = super().scaffold_form()
        for name, field in extended_form_fields(EXTENDED_FIELDS).items():
            setattr(form_class, name, field)
        return form_class

    # Flask-Admin drops every field of a form its sections do not name, hidden ones too (the CSRF token, a
    # proposal's signed base); the sections name every field the person fills in, so nothing is dropped.
    def create_form(self, obj=None):
        form = super().create_form(obj)
        form._validated_ruleset = True
        return form

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        form._validated_ruleset = True
        return form

    def on_form_prefill(self, form, id):
        """The extended fields show the stored values when the form opens (a refused save keeps what was typed)."""
        record = self.get_one(id) if request.method == "GET" else None
        if record is not None:
            for field in form:
                if field.name.startswith(EXTENDED_PREFIX):
                    field.load(record.extended)
        super().on_form_prefill(form, id)

    def _header(self, client):
        return client_header(client, acting_staff(), agency_today(),
                             current_app.config["CCD_RESTRICTION_ENDING_SOON_DAYS"])

    def render(self, template, **kwargs):
        if template in (self.details_template, self.edit_template) and kwargs.get("model") is not None:
            kwargs["header"] = self._header(kwargs["model"])
            kwargs["proposing"] = self.proposing(Action.EDIT)
        if template == self.details_template and kwargs.get("model") is not None:
            from admin_views.duplicates import merged_away_notice

            kwargs["tabs"] = client_record_tabs(kwargs["model"], acting_staff())
            kwargs["tab_screens"] = _tab_screens(current_roles())
            kwargs["history"] = history.client_history(kwargs["model"].id, current_user.staff,
                                                       page=request.args.get("history_page", 1, type=int),
                                                       page_size=self.history_page_size)
            kwargs["active_tab"] = "history" if "history_page" in request.args else "demographics"
            kwargs["merged_away"] = merged_away_notice(kwargs["model"])
            if may_see_who_has_looked(current_user.staff.role_names if current_user.staff else ()):
                kwargs["who_has_looked"] = access_log.who_has_looked(kwargs["model"].id)
        return super().render(template, **kwargs)

    # -- the client as it was on a past date -----------------------------------------------------
    def _handle_view(self, name, **kwargs):
        refused = super()._handle_view(name, **kwargs)
        if refused is None and name == "as_of_view" and not self.may(Action.DETAILS):
            abort(403)
        return refused

    def _may_read_history_of(self, client_id) -> bool:
        """A client on file is read through this screen's own rules; a removed one through the visibility rule."""
        if self.get_one(str(client_id)) is not None:
            return True
        return db.session.get(Client, client_id) is None and may_see_client(db.session, current_user.staff, client_id)

    @expose("/as-of/")
    def as_of_view(self):
        client_id = self._parse_key(request.args.get("id", ""))
        if client_id is None or not self._may_read_history_of(client_id):
            abort(404)
        today = datetime.now(history.agency_zone()).date().isoformat()
        day, minute = request.args.get("date") or today, request.args.get("time") or ""
        then = None
        try:
            then = history.client_then(client_id, history.parse_moment(day, minute))
        except ValueError as problem:
            flash(str(problem), "error")
        if then is not None:
            access_log.record_reads("as_of", [client_id])
            access_log.commit_reads()
        return self.render("admin/clients/as_of.html", client_id=client_id, then=then, day=day, minute=minute,
                           moment_text=history.local_time(then.moment) if then else "",
                           return_url=self.get_url(".details_view", id=client_id))

    def on_model_change(self, form, model, is_created):
        if model.merged_into_id is not None and not model.is_archived:
            raise ValidationError("This record was merged into another; undo the merge to bring it back.")
        for field in ("uid_external", "email", "preferred_name", "alias", "middle_name"):
            value = getattr(model, field)
            if isinstance(value, str):
                setattr(model, field, value.strip() or None)
        super().on_model_change(form, model, is_created)


class ClientSourceIdView(ClientPrefill, CCDModelView):
    column_list = ("client", "source_system", "source_client_id", "created_at")
    column_searchable_list = ("source_client_id",)
    column_filters = ("source_system",)
    form_columns = ("client", "source_system", "source_client_id")
    form_choices = {"source_system": [(s, s) for s in SOURCE_SYSTEMS]}
    form_ajax_refs = {"client": client_lookup("client")}
