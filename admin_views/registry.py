"""Every screen and where it sits in the sidebar; the sidebar follows the build spec."""

from flask import current_app, redirect, request, url_for
from flask_admin import Admin, AdminIndexView, expose
from flask_admin.theme import Bootstrap4Theme
from flask_login import current_user

from admin_views import access, account, approvals, clients, duplicates, imports, people, programs, services, system
from admin_views.csp import flask_admin_inline_handlers
from admin_views.reports import REPORT_PAGES
from app import models, security
from app.labels import code_label, entity_label, label
from app.services import dashboard
from app.services.clock import agency_time_text
from app.services.scope import acting_staff


class HomeView(AdminIndexView):
    """The page after sign-in: a client search, the figures of the person's scope, and what waits for them."""

    def is_accessible(self):
        return current_user.is_authenticated

    def inaccessible_callback(self, name, **kwargs):
        return redirect(url_for("auth.login", next=request.path))

    @expose("/")
    def index(self):
        staff = acting_staff()
        soon_days = current_app.config["CCD_RESTRICTION_ENDING_SOON_DAYS"]
        return self.render(
            "admin/ccd_index.html", figures=dashboard.visible_figures(staff), figure_screens=dashboard.FIGURE_SCREENS,
            pending_approvals=dashboard.pending_approvals(staff), recent_imports=dashboard.recent_imports(staff),
            ending_soon=dashboard.restrictions_ending_soon(staff, soon_days),
            program_clients=dashboard.program_clients(staff), waiting_items_url=duplicates.waiting_items_url,
            when=agency_time_text, search_placeholder=clients.SEARCH_PLACEHOLDER,
        )


class ProgramManagerAssignmentView(people.AssignmentView):
    target = "program"


class DepartmentLeaderAssignmentView(people.AssignmentView):
    target = "department"


class StaffProgramAssignmentView(people.AssignmentView):
    target = "program"


class StaffClientAssignmentView(people.AssignmentView):
    target = "client"


# (category, view class, model); the screen's name is the table's label.
SCREENS = (
    ("Clients", clients.ClientView, models.Client),
    ("Clients", clients.ClientSourceIdView, models.ClientSourceId),
    ("Clients", duplicates.ClientDuplicateView, models.ClientDuplicate),
    ("Clients", system.UploadLogView, models.ClientUploadLog),
    ("Clients", system.ImportRowView, models.ImportRow),
    ("Programs & Services", programs.ProgramView, models.Program),
    ("Programs & Services", programs.SubProgramView, models.SubProgram),
    ("Programs & Services", programs.ProgramCapacityView, models.ProgramCapacity),
    ("Programs & Services", programs.ProgramStaffView, models.ProgramStaff),
    ("Programs & Services", programs.ProgramAliasView, models.ProgramAlias),
    ("Departments", programs.DepartmentView, models.Department),
    ("Enrollments", services.EnrollmentView, models.Enrollment),
    ("Enrollments", services.IntakeView, models.Intake),
    ("Enrollments", services.DischargeView, models.Discharge),
    ("Restrictions", services.RestrictionView, models.ServiceRestriction),
    ("Approvals", approvals.PendingChangeView, models.PendingChange),
    ("Reports", system.EmailRecipientView, models.EmailRecipient),
    ("Reports", system.EmailLogView, models.EmailLog),
    ("Audit Log", system.AuditLogView, models.AuditLog),
    ("Audit Log", access.AccessLogView, models.ClientAccess),
    ("Staff", people.StaffView, models.Staff),
    ("Staff", people.UserView, models.User),
    ("Staff", people.RoleView, models.Role),
    ("Staff", people.StaffRoleView, models.StaffRole),
    ("Staff", ProgramManagerAssignmentView, models.ProgramManagerAssignment),
    ("Staff", DepartmentLeaderAssignmentView, models.DepartmentLeaderAssignment),
    ("Staff", StaffProgramAssignmentView, models.StaffProgramAssignment),
    ("Staff", StaffClientAssignmentView, models.StaffClientAssignment),
    ("Settings", system.ChoiceOptionView, models.ChoiceOption),
    ("Settings", system.SubscriptionView, models.RestrictionNotificationSubscription),
    ("Settings", system.NotificationView, models.Notification),
    ("Settings", system.ImportSourceSettingView, models.ImportSourceSetting),
    ("Settings", system.ImportColumnTitleView, models.ImportColumnTitle),
    ("Settings", system.LinkageModelView, models.LinkageModelRecord),
)
# Tables no person reads or writes as records, each with why it has no screen.
NO_SCREEN = {
    "client_search_keys": "the client search's keys, derived from each client on every write (app/models/search.py)",
}
SIDEBAR = ("Clients", "Programs & Services", "Departments", "Enrollments", "Restrictions", "Approvals", "Reports",
           "Audit Log", "Staff", "Settings")


def _add_page(admin: Admin, category: str, view_class, rule_key: str, url: str) -> None:
    admin.add_view(view_class(name=entity_label(rule_key), category=category, endpoint=rule_key, url=url))


def build_admin(app) -> Admin:
    """Create the admin for this app (never module-level: tests build several apps)."""
    admin = Admin(
        app, name="CCD", url="/admin",
        index_view=HomeView(name="Home", url="/admin"),
        theme=Bootstrap4Theme(base_template="admin/ccd_base.html", fluid=True),
        csp_nonce_generator=security.csp_nonce,
    )
    pages_waiting = list(REPORT_PAGES)
    for category, view_class, model in SCREENS:
        # Pages that are not tables come first in their sidebar category.
        for page in [page for page in pages_waiting if page[0] == category]:
            pages_waiting.remove(page)
            _add_page(admin, *page)
        admin.add_view(view_class(model, name=entity_label(model.__tablename__), category=category))
        if view_class is approvals.PendingChangeView:
            admin.add_view(approvals.MyRequestsView(name="My requests", category=category, endpoint="my_requests",
                                                    url="my-requests"))
    # Pages that are not one table's screen.
    admin.add_view(imports.ImportsView(name="Imports", endpoint="imports", url="/admin/imports", category="Clients"))
    admin.add_view(services.RestrictionCheckView(name="Restriction check", endpoint="restriction_check",
                                                 url="/admin/restriction-check", category="Restrictions"))
    for page in pages_waiting:
        _add_page(admin, *page)
    account.add_personal_views(admin)
    app.extensions["ccd_admin"] = admin
    app.jinja_env.filters["code_label"] = lambda code, kind: code_label(kind, code)
    app.jinja_env.filters["field_label"] = label
    security.allow_inline_handlers(app, lambda: flask_admin_inline_handlers(admin))
    return admin
