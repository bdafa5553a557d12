"""Every screen and where it sits in the sidebar; the sidebar follows the build spec."""

from flask import redirect, request, url_for
from flask_admin import Admin, AdminIndexView, expose
from flask_admin.theme import Bootstrap4Theme
from flask_login import current_user

from admin_views import clients, people, programs, services, system
from app import models
from app.labels import entity_label
from app.services.dashboard import dashboard_figures
from app.services.scope import acting_staff


class HomeView(AdminIndexView):
    """The page after sign-in: who you are, what you may do, and a client search."""

    def is_accessible(self):
        return current_user.is_authenticated

    def inaccessible_callback(self, name, **kwargs):
        return redirect(url_for("auth.login", next=request.path))

    @expose("/")
    def index(self):
        return self.render("admin/ccd_index.html", figures=dashboard_figures(acting_staff()))


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
    ("Clients", clients.ClientDuplicateView, models.ClientDuplicate),
    ("Clients", system.UploadLogView, models.ClientUploadLog),
    ("Programs & Services", programs.ProgramView, models.Program),
    ("Programs & Services", programs.SubProgramView, models.SubProgram),
    ("Programs & Services", programs.ProgramCapacityView, models.ProgramCapacity),
    ("Programs & Services", programs.ProgramStaffView, models.ProgramStaff),
    ("Departments", programs.DepartmentView, models.Department),
    ("Enrollments", services.EnrollmentView, models.Enrollment),
    ("Enrollments", services.IntakeView, models.Intake),
    ("Enrollments", services.DischargeView, models.Discharge),
    ("Restrictions", services.RestrictionView, models.ServiceRestriction),
    ("Approvals", system.PendingChangeView, models.PendingChange),
    ("Reports", system.EmailRecipientView, models.EmailRecipient),
    ("Reports", system.EmailLogView, models.EmailLog),
    ("Audit Log", system.AuditLogView, models.AuditLog),
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
)
SIDEBAR = ("Clients", "Programs & Services", "Departments", "Enrollments", "Restrictions", "Approvals", "Reports",
           "Audit Log", "Staff", "Settings")


def build_admin(app) -> Admin:
    """Create the admin for this app (never module-level: tests build several apps)."""
    admin = Admin(
        app, name="CCD", url="/admin",
        index_view=HomeView(name="Home", url="/admin"),
        theme=Bootstrap4Theme(base_template="admin/ccd_base.html", fluid=True),
    )
    for category, view_class, model in SCREENS:
        admin.add_view(view_class(model, name=entity_label(model.__tablename__), category=category))
    admin.add_view(services.RestrictionCheckView(name="Restriction check", endpoint="restriction_check",
                                                 url="/admin/restriction-check", category="Restrictions"))
    app.extensions["ccd_admin"] = admin
    return admin
