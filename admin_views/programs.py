"""Departments, programs and their subprograms, capacity history and staff."""

from flask_admin.actions import action
from flask_admin.model.form import InlineFormAdmin

from admin_views.base import ArchivableView, CCDModelView
from admin_views.bulk_actions import BulkActions
from admin_views.clients import staff_lookup
from app.choices import PROGRAM_STATUSES
from app.models import ProgramCapacity, ProgramStaff, SubProgram
from app.services.programs import program_record_summary
from app.services.scope import acting_staff

STATUS_CHOICES = [(s, s.capitalize()) for s in PROGRAM_STATUSES]


class DepartmentView(ArchivableView):
    column_list = ("name", "owner", "is_archived", "updated_at")
    column_default_sort = "name"
    column_searchable_list = ("name",)
    column_filters = ("is_archived",)
    form_columns = ("name", "owner", "description", "is_archived")
    form_ajax_refs = {"owner": staff_lookup("owner")}


class ProgramStaffInline(InlineFormAdmin):
    form_columns = ("id", "staff", "is_manager")
    form_ajax_refs = {"staff": staff_lookup("staff")}


class ProgramView(BulkActions, ArchivableView):
    details_template = "admin/programs/details.html"
    column_list = ("name", "department", "location", "capacity_current", "no_capacity_limit", "status",
                   "is_archived")
    column_default_sort = "name"
    column_sortable_list = ("name", ("department", "department.name"), "location", "capacity_current", "status",
                            "is_archived")
    column_searchable_list = ("name", "location")
    column_filters = ("department.name", "status", "location", "no_capacity_limit", "is_archived")
    column_editable_list = ("capacity_current", "status")
    column_details_exclude_list = ("staff_links", "subprograms", "capacities", "aliases")
    form_columns = ("name", "department", "location", "status", "capacity_current", "capacity_effective_date",
                    "no_capacity_limit", "description", "staff_links", "subprograms", "capacities", "is_archived")
    form_choices = {"status": STATUS_CHOICES}
    inline_models = (
        ProgramStaffInline(ProgramStaff),
        (SubProgram, {"form_columns": ("id", "name", "description", "is_active")}),
        (ProgramCapacity, {"form_columns": ("id", "effective_date", "capacity", "notes")}),
    )

    @action("move", "Move to another department…")
    def action_move(self, ids):
        return self.ask("move", ids)

    @action("manager", "Assign a manager…")
    def action_manager(self, ids):
        return self.ask("manager", ids)

    def render(self, template, **kwargs):
        if template == self.details_template and kwargs.get("model") is not None:
            kwargs["summary"] = program_record_summary(kwargs["model"], acting_staff())
        return super().render(template, **kwargs)


class SubProgramView(CCDModelView):
    column_list = ("name", "program", "is_active")
    column_default_sort = "name"
    column_searchable_list = ("name",)
    column_filters = ("program.name", "is_active")
    form_columns = ("program", "name", "description", "is_active")


class ProgramCapacityView(CCDModelView):
    column_list = ("program", "effective_date", "capacity", "notes")
    column_default_sort = ("effective_date", True)
    column_filters = ("program.name", "effective_date")
    form_columns = ("program", "effective_date", "capacity", "notes")


class ProgramStaffView(CCDModelView):
    column_list = ("program", "staff", "is_manager")
    column_filters = ("program.name", "is_manager")
    column_searchable_list = ("staff.last_name", "staff.first_name", "program.name")
    form_columns = ("program", "staff", "is_manager")
    form_ajax_refs = {"staff": staff_lookup("staff")}


class ProgramAliasView(CCDModelView):
    """Names a source system uses for a program; imports find programs by exact name or one of these."""

    column_list = ("alias", "program", "updated_at")
    column_default_sort = "alias"
    column_searchable_list = ("alias", "program.name")
    column_labels = {"alias": "Name in the source system"}
    form_columns = ("program", "alias")
    column_descriptions = {"alias": "Exactly as the export writes it (case and surrounding spaces are ignored)."}
