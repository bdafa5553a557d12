"""Enrollments, intakes, discharges and service restrictions."""

from flask_login import current_user

from admin_views.base import ArchivableView, CCDModelView
from admin_views.clients import client_lookup, staff_lookup
from admin_views.filters import JsonListContainsFilter, RestrictionStateFilter
from app.choices import ENROLLMENT_STATUSES, INTAKE_DATABASES
from app.models import ServiceRestriction

CLIENT_SEARCH = ("client.last_name", "client.first_name", "client.preferred_name", "client.uid_external")


class EnrollmentView(ArchivableView):
    column_list = ("client", "program", "subprogram", "start_date", "end_date", "status", "is_archived")
    column_default_sort = ("start_date", True)
    column_sortable_list = (("client", "client.last_name"), ("program", "program.name"), "start_date", "end_date",
                            "status", "is_archived")
    column_searchable_list = CLIENT_SEARCH + ("program.name",)
    column_filters = ("program.name", "status", "start_date", "end_date", "is_archived")
    column_editable_list = ("status",)
    form_columns = ("client", "program", "subprogram", "start_date", "end_date", "status",
                    "receiving_services_date", "notes", "is_archived")
    form_choices = {"status": [(s, s.capitalize()) for s in ENROLLMENT_STATUSES]}
    form_ajax_refs = {"client": client_lookup("client")}


class IntakeView(CCDModelView):
    column_list = ("client", "program", "intake_date", "source_system", "referral_source", "housing_status")
    column_default_sort = ("intake_date", True)
    column_searchable_list = CLIENT_SEARCH + ("program.name",)
    column_filters = ("program.name", "intake_date", "source_system", "referral_source", "housing_status")
    form_columns = ("client", "program", "intake_date", "source_system", "referral_source", "housing_status",
                    "notes")
    form_choices = {"source_system": [(s, s) for s in INTAKE_DATABASES]}
    form_ajax_refs = {"client": client_lookup("client")}


class DischargeView(CCDModelView):
    column_list = ("client", "program", "discharge_date", "reason")
    column_default_sort = ("discharge_date", True)
    column_searchable_list = CLIENT_SEARCH + ("program.name",)
    column_filters = ("program.name", "discharge_date", "reason")
    form_columns = ("client", "program", "discharge_date", "reason", "notes")
    form_ajax_refs = {"client": client_lookup("client")}


class RestrictionView(ArchivableView):
    column_list = ("client", "scope", "program", "start_date", "end_date", "is_indefinite", "is_bill_168",
                   "is_no_trespass", "is_archived")
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
    form_choices = {"scope": [("org", "Organisation-wide"), ("program", "One program")]}
    form_ajax_refs = {"client": client_lookup("client"), "entered_by": staff_lookup("entered_by"),
                      "affected_staff": staff_lookup("affected_staff")}
    form_widget_args = {"scope": {"data-role": "restriction-scope"}}

    def on_model_change(self, form, model, is_created):
        if is_created and model.entered_by is None:
            model.entered_by = current_user.staff
        super().on_model_change(form, model, is_created)

