"""Sign-in and sign-out.

Messages never say whether an email exists; the ``next`` target must stay on this
site; the session is renewed on sign-in and cleared on sign-out.
"""

import secrets
import uuid
from datetime import datetime, timezone
from functools import cache
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_admin.form import SecureForm
from flask_login import current_user, login_required, login_user, logout_user
from wtforms import EmailField, PasswordField
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms.validators import DataRequired, Email, Length

from app import audit
from app.extensions import db, login_manager
from app.models import Staff, User

bp = Blueprint("auth", __name__)

login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to continue."
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    try:
        key = uuid.UUID(user_id)
    except ValueError:
        return None
    return db.session.get(User, key)


class SignInForm(SecureForm):
    email = EmailField("Email", validators=[DataRequired(), Email(check_deliverability=False), Length(max=255)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class SignOutForm(SecureForm):
    """Only a CSRF token: signing out is a POST so a link or image cannot do it."""


def is_safe_next(target: str | None) -> bool:
    """Relative paths on this site only: no scheme, no host, no protocol-relative ``//``."""
    if not target:
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//") \
        and "\\" not in target


def authenticate(email: str, password: str) -> User | None:
    """The account for these credentials, or None; the same answer for every kind of failure."""
    staff = db.session.scalar(sa.select(Staff).where(sa.func.lower(Staff.email) == email.strip().lower()))
    if staff is None or staff.user is None or not staff.active:
        # Spend the same effort as a real check so timing does not reveal which emails exist.
        check_password_hash(_dummy_hash(), password)
        return None
    return staff.user if staff.user.check_password(password) else None


@cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_hex(16))


@bp.app_context_processor
def sign_out_form():
    """Every page's top bar carries the Sign out button, so every page gets its token."""
    return {"sign_out_form": SignOutForm() if current_user.is_authenticated else None}


@bp.route("/login", methods=["GET", "POST"])
def login():
    target = request.args.get("next")
    if current_user.is_authenticated:
        return redirect(target if is_safe_next(target) else url_for("admin.index"))
    form = SignInForm(request.form)
    if request.method == "POST" and form.validate():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            session.clear()
            login_user(user)
            user.last_login_at = datetime.now(timezone.utc)
            audit.record(db.session, "users", user.id, "login")
            db.session.commit()
            return redirect(target if is_safe_next(target) else url_for("admin.index"))
        flash("Email or password is incorrect.", "error")
    elif request.method == "POST" and form.csrf_token.errors:
        flash("Your sign-in form expired. Please try again.", "error")
    return render_template("auth/login.html", form=form, next=target if is_safe_next(target) else None), \
        (401 if request.method == "POST" else 200)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    form = SignOutForm(request.form)
    if not form.validate():
        flash("Sign-out was not confirmed. Please use the Sign out button.", "error")
        return redirect(url_for("admin.index"))
    audit.record(db.session, "users", current_user.id, "logout")
    db.session.commit()
    logout_user()
    session.clear()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.login"))
