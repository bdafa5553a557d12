"""The signed-in person's own pages: notifications (the top bar's bell), restriction alerts, their account
(profile, roles, programs, own password) and the Help for their roles.

Anyone signed in has these, whatever their role; every read and write is limited to the
person's own rows (app/services/inbox.py; the session guard's self-service rule for the
subscription). Administrators manage anyone's subscription on the Settings screen.
"""

import sqlalchemy as sa
from flask import current_app, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user
from wtforms import BooleanField, EmailField, IntegerField, PasswordField
from wtforms.validators import Email, InputRequired, Length, NumberRange, Optional

from admin_views.base import page_argument
from app import security
from app.extensions import db
from app.models import Program
from app.permissions import ROLE_DESCRIPTIONS, Role
from app.security import CSRFForm
from app.labels import label
from app.services import help as help_service
from app.services import inbox, restriction_notices
from app.services.accounts import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, AccountError, change_own_password
from app.services.clock import agency_time_text
from app.services.scope import visible_program_ids


class ConfirmForm(CSRFForm):
    """Only a CSRF token: the mark-read and unsubscribe buttons."""


class AlertSettingsForm(CSRFForm):
    notify_new = BooleanField(label("notify_new"))
    notify_expiring = BooleanField(label("notify_expiring"))
    expiring_within_days = IntegerField(label("expiring_within_days"),
                                        validators=[InputRequired(), NumberRange(min=1, max=365)])
    in_app = BooleanField(label("in_app"))
    by_email = BooleanField(label("by_email"))
    email = EmailField("Send alert emails to (leave empty for your sign-in email)",
                       validators=[Optional(), Email(check_deliverability=False), Length(max=255)])


class PasswordChangeForm(CSRFForm):
    current_password = PasswordField("Current password", validators=[InputRequired(), Length(max=MAX_PASSWORD_LENGTH)])
    new_password = PasswordField("New password", validators=[InputRequired(), Length(max=MAX_PASSWORD_LENGTH)])
    confirmation = PasswordField("New password again", validators=[InputRequired(),
                                                                   Length(max=MAX_PASSWORD_LENGTH)])


def _staff():
    return current_user.staff


class PersonalView(BaseView):
    """Reached from the top bar, not the sidebar; open to every signed-in person with a staff record."""

    def is_visible(self):
        return False

    def is_accessible(self):
        return current_user.is_authenticated and current_user.staff is not None

    def inaccessible_callback(self, name, **kwargs):
        return redirect(url_for("auth.login", next=request.path))


class InboxView(PersonalView):
    @expose("/")
    def index(self):
        page = page_argument(first=1)
        notices, total = inbox.page_of(_staff().id, page)
        pages = max((total + inbox.PAGE_SIZE - 1) // inbox.PAGE_SIZE, 1)
        return self.render("admin/inbox.html", notices=notices, total=total, page=page, pages=pages,
                           form=ConfirmForm(), when=agency_time_text)

    def _confirmed(self) -> bool:
        if ConfirmForm(request.form).validate():
            return True
        flash("That form had expired; nothing was changed. Please try again.", "error")
        return False

    @expose("/read", methods=["POST"])
    def mark_read(self):
        if self._confirmed():
            inbox.mark_read(_staff().id, request.form.getlist("id"))
            db.session.commit()
        return redirect(url_for(".index", page=request.form.get("page", 1, type=int)))

    @expose("/read-all", methods=["POST"])
    def mark_all_read(self):
        if self._confirmed():
            marked = inbox.mark_all_read(_staff().id)
            db.session.commit()
            flash(f"{marked} notification(s) marked read.", "success")
        return redirect(url_for(".index"))


class AlertSettingsView(PersonalView):
    @expose("/", methods=["GET", "POST"])
    def index(self):
        staff = _staff()
        subscription = restriction_notices.subscription_for(staff)
        form = AlertSettingsForm(request.form if request.method == "POST" else None, obj=subscription)
        if request.method == "GET" and subscription is None:
            form.notify_new.data = form.notify_expiring.data = form.in_app.data = form.by_email.data = True
            form.expiring_within_days.data = 7
        if request.method == "POST" and form.validate():
            try:
                restriction_notices.save_subscription(
                    staff, notify_new=form.notify_new.data, notify_expiring=form.notify_expiring.data,
                    expiring_within_days=form.expiring_within_days.data, by_email=form.by_email.data,
                    in_app=form.in_app.data, email=form.email.data)
                db.session.commit()
            except restriction_notices.SubscriptionError as exc:
                db.session.rollback()
                flash(f"{exc} Nothing was saved.", "error")
            else:
                flash("Your restriction alert settings are saved.", "success")
                return redirect(url_for(".index"))
        elif request.method == "POST":
            flash("Please correct the highlighted fields; nothing was saved.", "error")
        return self.render("admin/my_alerts.html", form=form, subscription=subscription,
                           unsubscribe_form=ConfirmForm(), sign_in_email=staff.email)

    @expose("/unsubscribe", methods=["POST"])
    def unsubscribe(self):
        if not ConfirmForm(request.form).validate():
            flash("That form had expired; nothing was changed. Please try again.", "error")
            return redirect(url_for(".index"))
        subscription = restriction_notices.subscription_for(_staff())
        if subscription is not None:
            db.session.delete(subscription)
            db.session.commit()
        flash("You will no longer receive restriction alerts.", "success")
        return redirect(url_for(".index"))


class MyAccountView(PersonalView):
    """Who CCD thinks you are: roles and what they mean, the programs whose clients you see; your password."""

    @expose("/", methods=["GET"])
    def index(self):
        return self._render(PasswordChangeForm())

    def _render(self, form, status: int = 200):
        staff = _staff()
        held = [role for role in Role if role.value in staff.role_names]
        visible = visible_program_ids(staff)
        programs = None if visible is None else db.session.scalars(
            sa.select(Program.name).where(Program.id.in_(visible)).order_by(Program.name)).all()
        return self.render("admin/my_account.html", staff=staff, form=form, programs=programs,
                           min_length=MIN_PASSWORD_LENGTH,
                           roles=[(role.value, ROLE_DESCRIPTIONS[role]) for role in held]), status

    @expose("/password", methods=["POST"])
    def change_password(self):
        form = PasswordChangeForm(request.form)
        if not form.validate():
            flash("Please fill in every password field; nothing was changed.", "error")
            return self._render(form, 400)
        config = current_app.config
        try:
            change_own_password(current_user._get_current_object(), form.current_password.data,
                                form.new_password.data, form.confirmation.data, now=security.utcnow(),
                                max_failures=config["SIGN_IN_LOCKOUT_FAILURES"],
                                lock_for=config["SIGN_IN_LOCKOUT_DURATION"], address=security.address_pseudonym())
        except AccountError as exc:
            db.session.commit()  # a wrong current password is a counted failure
            flash(f"{exc} Your password was not changed.", "error")
            return self._render(PasswordChangeForm(), 400)
        db.session.commit()
        security.start_session()
        flash("Your password is changed.", "success")
        return redirect(url_for(".index"))


class HelpView(PersonalView):
    """Help for the roles the person holds: the agency's guide, and what the rules let the role do."""

    @expose("/")
    def index(self):
        return self.render("admin/help.html", guides=help_service.help_for(current_user.role_names))


def unread_notification_count() -> int:
    """For the top bar's bell; zero for anyone not signed in."""
    if not current_user.is_authenticated or current_user.staff is None:
        return 0
    return inbox.unread_count(current_user.staff.id)


def add_personal_views(admin) -> None:
    admin.add_view(InboxView(name="Notifications", endpoint="inbox", url="inbox"))
    admin.add_view(AlertSettingsView(name="My restriction alerts", endpoint="my_alerts", url="my-alerts"))
    admin.add_view(MyAccountView(name="My account", endpoint="my_account", url="my-account"))
    admin.add_view(HelpView(name="Help", endpoint="help", url="help"))
    admin.app.context_processor(lambda: {"unread_notification_count": unread_notification_count})
