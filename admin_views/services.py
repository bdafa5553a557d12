"""Enrollments, intakes, discharges, service restrictions and the door-side restriction check."""

from contextlib import nullcontext

from flask import abort, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_admin.actions import action
from flask_admin.form import SecureForm
from flask_admin.helpers import get_form_data
from flask_login import current_user
from wtforms import StringField, TextAreaField
from wtforms.validators import Length, Optional

from admin_views.base import ArchivableView, CCDModelView
from admin_views.bulk_actions import BulkActions
from admin_views.clients import ClientPrefill, ClientRecordSearch, client_lookup, staff_lookup
from admin_views.fields import IsoDateField
from admin_views.filters import (
    DataQualityFilter, EnrollmentReportFilter, JsonListContainsFilter, RestrictionStateFilter,
)
from admin_views.roles import current_roles
from app.choices import ENROLLMENT_STATUSES, INTAKE_DATABASES
from app.extensions import db
from app.labels import CODE_LABELS, code_label, label
from app.models import Enrollment, ServiceRestriction
from app.permissions import may_check_restrictions, may_override_restriction
from app.services.clock import agency_today
from app.services.restrictions import allow_restricted_enrollment, check_at_the_door, status_on
from app.services.scope import acting_staff

CLIENT_SEARCH = ("client.last_name", "client.first_name", "client.preferred_name", "client.uid_external")


class OverrideReasonField(TextAreaField):
    """Why to enroll despite a restriction: handed to the restriction service, never copied onto the record
    by the form (the service keeps it, and only when a restriction really was overridden)."""

    def populate_obj(self, obj, name):
        pass


class EnrollmentView(BulkActions, ClientRecordSearch, ClientPrefill, ArchivableView):
    column_list = ("client", "program", "subprogram", "start_date", "end_date", "status", "flagged_for_review",
                   "is_archived")
    column_default_sort = ("start_date", True)
    column_sortable_list = (("client", "client.last_name"), ("program", "program.name"), "start_date", "end_date",
                            "status", "flagged_for_review", "is_archived")
    column_searchable_list = CLIENT_SEARCH + ("program.name",)
    column_filters = ("program.name", "status", "start_date", "end_date", "flagged_for_review", "is_archived",
                      DataQualityFilter(Enrollment.id, "enrollment"), EnrollmentReportFilter())
    column_editable_list = ("status",)
    form_columns = ("client", "program", "subprogram", "start_date", "end_date", "status",
                    "receiving_services_date", "referral_source", "notes", "flagged_for_review", "is_archived")
    form_choices = {"status": [(s, s.capitalize()) for s in ENROLLMENT_STATUSES]}
    form_ajax_refs = {"client": client_lookup("client")}

    @action("end", "End enrollments…")
    def action_end(self, ids):
        return self.ask("end", ids)

    def __init__(self, *args, **kwargs):
        self._override_forms = {}
        super().__init__(*args, **kwargs)

    def _offering_override(self, form_class):
        """The form with the override reason (last), for the people who may override a restriction."""
        if not may_override_restriction(current_roles()):
            return form_class
        if form_class not in self._override_forms:
            field = OverrideReasonField(
                label("restriction_override_reason"), validators=[Optional(), Length(max=2000)],
                description="Only when a service restriction refuses this enrollment: the reason is kept on the "
                            "enrollment and in the audit trail.")
            self._override_forms[form_class] = type(form_class.__name__, (form_class,),
                                                    {"restriction_override_reason": field})
        return self._override_forms[form_class]

    def create_form(self, obj=None):
        return self.prefill(self._offering_override(self._create_form_class)(get_form_data(), obj=obj))

    def edit_form(self, obj=None):
        return self.opened_as(self._offering_override(self._edit_form_class)(get_form_data(), obj=obj), obj)

    def _override(self, form):
        field = getattr(form, "restriction_override_reason", None)
        reason = (field.data or "").strip() if field is not None else ""
        return allow_restricted_enrollment(reason) if reason else nullcontext()

    def create_model(self, form):
        with self._override(form):
            return super().create_model(form)

    def update_model(self, form, model):
        with self._override(form):
            return super().update_model(form, model)


class IntakeView(ClientRecordSearch, ClientPrefill, CCDModelView):
    column_list = ("client", "program", "intake_date", "source_system", "referral_source", "housing_status")
    column_default_sort = ("intake_date", True)
    column_searchable_list = CLIENT_SEARCH + ("program.name",)
    column_filters = ("program.name", "intake_date", "source_system", "referral_source", "housing_status")
    form_columns = ("client", "program", "intake_date", "source_system", "referral_source", "housing_status",
                    "notes")
    form_choices = {"source_system": [(s, s) for s in INTAKE_DATABASES]}
    form_ajax_refs = {"client": client_lookup("client")}


class DischargeView(ClientRecordSearch, ClientPrefill, CCDModelView):
    column_list = ("client", "program", "discharge_date", "reason")
    column_default_sort = ("discharge_date", True)
    column_searchable_list = CLIENT_SEARCH + ("program.name",)
    column_filters = ("program.name", "discharge_date", "reason")
    form_columns = ("client", "program", "discharge_date", "reason", "notes")
    form_ajax_refs = {"client": client_lookup("client")}


class RestrictionView(ClientRecordSearch, ClientPrefill, ArchivableView):
    """Restrictions in force unless the Status filter asks for others (the list is what applies at the door now)."""

    column_list = ("client", "restriction_status", "scope", "program", "start_date", "end_date", "is_indefinite",
                   "is_bill_168", "is_no_trespass", "is_archived")
    list_template = "admin/restrictions/list.html"
    column_labels = {"restriction_status": "Status"}
    column_formatters = {
        "restriction_status": lambda view, context, model, name:
            code_label("restriction_status", status_on(model, agency_today())),
        "scope": lambda view, context, model, name: code_label("scope", model.scope),
    }
    column_formatters_export = column_formatters
    column_default_sort = ("start_date", True)
    column_sortable_list = (("client", "client.last_name"), "scope", ("program", "program.name"), "start_date",
                            "end_date", "is_bill_168", "is_no_trespass", "is_archived")
    column_searchable_list = CLIENT_SEARCH
    column_filters = (
        RestrictionStateFilter(ServiceRestriction), "scope", "program.name", "is_bill_168", "is_no_trespass",
        JsonListContainsFilter(ServiceRestriction.restriction_types, "restriction_type"),
        "start_date", "end_date",
    )
    form_columns = ("client", "scope", "program", "restriction_types", "behaviours", "is_bill_168",
                    "is_no_trespass", "start_date", "end_date", "is_indefinite", "reason", "notes", "entered_by",
                    "affected_staff", "is_archived")
    form_choices = {"scope": list(CODE_LABELS["scope"].items())}
    form_ajax_refs = {"client": client_lookup("client"), "entered_by": staff_lookup("entered_by"),
                      "affected_staff": staff_lookup("affected_staff")}
    form_widget_args = {"scope": {"data-role": "restriction-scope"}}

    def prefill(self, form):
        """A new restriction is entered by the person signed in unless they choose someone else."""
        form = super().prefill(form)
        if request.method == "GET" and getattr(form, "entered_by", None) is not None and form.entered_by.data is None:
            form.entered_by.data = acting_staff()
        return form

    def render(self, template, **kwargs):
        if template == self.list_template:
            kwargs["status_shown"] = ", ".join(
                RestrictionStateFilter.caption(value).lower() for index, _, value in self._get_list_filter_args()
                if isinstance(self._filters[index], RestrictionStateFilter))
        return super().render(template, **kwargs)

    def get_list(self, page, sort_column, sort_desc, search, filters, *args, **kwargs):
        filters = list(filters or [])
        status_index = next(i for i, flt in enumerate(self._filters) if isinstance(flt, RestrictionStateFilter))
        if not any(index == status_index for index, *_ in filters):
            filters.append((status_index, "Status", "in_force"))
        return super().get_list(page, sort_column, sort_desc, search, filters, *args, **kwargs)

    def on_model_change(self, form, model, is_created):
        if is_created and model.entered_by is None:
            model.entered_by = current_user.staff
        super().on_model_change(form, model, is_created)



class RestrictionCheckForm(SecureForm):
    """A name and birth date, or anything else that names one person (the client search reads it)."""

    first_name = StringField("First or preferred name", validators=[Optional(), Length(max=100)])
    last_name = StringField("Last name", validators=[Optional(), Length(max=100)])
    dob = IsoDateField("Date of birth", validators=[Optional()])
    search = StringField("Or: phone, email, postal code, source id, birth date in any form",
                         validators=[Optional(), Length(max=200)])


class RestrictionCheckView(BaseView):
    """At the door: is this person restricted here? Only the answer, never the record; every check audited.

    A POST, so the name and birth date asked about stay out of URLs and server logs.
    """

    def is_accessible(self):
        return current_user.is_authenticated and may_check_restrictions(current_roles())

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.path))
        abort(403)

    @expose("/", methods=("GET", "POST"))
    def index(self):
        form = RestrictionCheckForm(request.form)
        answers = None
        if request.method == "POST" and form.validate():
            try:
                answers = check_at_the_door(db.session, acting_staff(), last_name=form.last_name.data,
                                            dob=form.dob.data, first_name=form.first_name.data,
                                            search=form.search.data)
            except ValueError as problem:
                form.search.errors = [str(problem)]
            else:
                db.session.commit()
        return self.render("admin/restriction_check.html", form=form, answers=answers)
