"""Staff, sign-in accounts, roles and who is assigned to which program, department and client."""

from flask_login import current_user
from wtforms import PasswordField
from wtforms.validators import Optional, ValidationError

from admin_views.base import CCDModelView
from admin_views.clients import client_lookup, staff_lookup
from app.models import User
from app.services.accounts import AccountError, check_password_rule


def _apply_new_password(form, account: User, email: str, required: bool) -> None:
    password = form.new_password.data
    if not password:
        if required:
            raise ValidationError("Give the new sign-in account a password.")
        return
    try:
        check_password_rule(password, email)
    except AccountError as exc:
        raise ValidationError(str(exc)) from None
    account.set_password(password)


class StaffView(CCDModelView):
    column_list = ("last_name", "first_name", "email", "roles", "active", "user.last_login_at")
    column_labels = {"user.last_login_at": "Last sign-in"}
    column_default_sort = [("last_name", False), ("first_name", False)]
    column_searchable_list = ("last_name", "first_name", "email")
    column_filters = ("active", "roles.name")
    column_details_exclude_list = ("user", "role_links")
    form_columns = ("first_name", "last_name", "email", "phone", "active", "roles", "new_password")
    form_extra_fields = {"new_password": PasswordField(
        "Set password", validators=[Optional()],
        description="Leave empty to keep the current password. Setting one gives this person a sign-in.")}

    def on_model_change(self, form, model, is_created):
        if form.new_password.data and model.user is None:
            model.user = User()
        if model.user is not None:
            _apply_new_password(form, model.user, model.email, required=model.user.password_hash is None)
        super().on_model_change(form, model, is_created)


class UserView(CCDModelView):
    column_list = ("staff", "last_login_at", "locked_until", "created_at")
    column_details_list = ("staff", "last_login_at", "failed_sign_ins", "locked_until", "created_at", "updated_at")
    column_default_sort = ("last_login_at", True)
    column_searchable_list = ("staff.email", "staff.last_name")
    form_columns = ("staff", "new_password")
    form_extra_fields = {"new_password": PasswordField(
        "Set password", validators=[Optional()],
        description="Leave empty to keep the current password. A new password also lifts a sign-in lockout.")}
    form_ajax_refs = {"staff": staff_lookup("staff")}

    def edit_form(self, obj=None):
        """An account stays with its person; editing one only sets a new password."""
        form = super().edit_form(obj)
        del form.staff
        return form

    def on_model_change(self, form, model, is_created):
        email = model.staff.email if model.staff is not None else ""
        _apply_new_password(form, model, email, required=is_created)
        super().on_model_change(form, model, is_created)


class RoleView(CCDModelView):
    column_list = ("name", "description")
    form_columns = ("name", "description")


class StaffRoleView(CCDModelView):
    column_list = ("staff", "role", "created_at")
    column_filters = ("role.name",)
    column_searchable_list = ("staff.last_name", "staff.email")
    form_columns = ("staff", "role")
    form_ajax_refs = {"staff": staff_lookup("staff")}


class AssignmentView(CCDModelView):
    """Program manager, department leader, staff-program and staff-client assignments."""

    target = "program"
    column_filters = ("is_active",)
    column_default_sort = ("assigned_at", True)

    def __init__(self, model, *args, **kwargs):
        self.column_list = ("staff", self.target, "is_active", "assigned_by", "assigned_at")
        self.form_columns = ("staff", self.target, "is_active", "notes")
        self.column_searchable_list = ("staff.last_name", "staff.first_name", "staff.email")
        refs = {"staff": staff_lookup("staff")}
        if self.target == "client":
            refs["client"] = client_lookup("client")
        self.form_ajax_refs = refs
        super().__init__(model, *args, **kwargs)

    def on_model_change(self, form, model, is_created):
        if is_created and model.assigned_by is None:
            model.assigned_by = current_user.staff
        super().on_model_change(form, model, is_created)
