"""Sign-in and sign-out.

Messages never say whether an email exists: an unknown email, a wrong password and a
locked account get the same answer after the same amount of hashing work. Failed
sign-ins are throttled per submitted email and address and per client address, and an
account is locked for a while for the address that failed repeatedly, so nobody can lock
its owner out by failing on purpose from elsewhere. The ``next`` target must stay on this site;
the session is renewed on sign-in, and signing out ends every session of the account (its
session generation, app/security.py), copies of the cookie included. Logs name accounts by id
(or a keyed hash of an unknown email), never by email.
"""

import logging
import secrets
import uuid
from functools import cache
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user
from sqlalchemy.orm import joinedload
from wtforms import EmailField, PasswordField
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms.validators import DataRequired, Email, Length

from app import audit, security
from app.extensions import db, limiter, login_manager
from app.models import Staff, User
from app.services.accounts import is_locked, record_failed_sign_in, record_sign_in

log = logging.getLogger("ccd.auth")

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
    # The staff record and roles every page's permission checks read, in the same statement.
    user = db.session.get(User, key, options=[joinedload(User.staff).joinedload(Staff.roles)])
    if user is None or not user.is_active or not security.session_is_current(user):
        return None  # signed out, password changed or deactivated since this session began
    return user


class SignInForm(security.CSRFForm):
    email = EmailField("Email", validators=[DataRequired(), Email(check_deliverability=False), Length(max=255)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class SignOutForm(security.CSRFForm):
    """Only a CSRF token: signing out is a POST so a link or image cannot do it."""


def is_safe_next(target: str | None) -> bool:
    """Relative paths on this site only: no scheme, no host, no protocol-relative ``//``."""
    if not target:
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//") \
        and "\\" not in target


SIGN_IN_FAILED = "Email or password is incorrect."
THROTTLED = "Too many failed sign-in attempts from this address or for this email. Wait a few minutes and try again."


def lockout_notice() -> str:
    """Shown with every failed sign-in, so a locked-out person knows why without it revealing who is locked."""
    config = current_app.config
    minutes = int(config["SIGN_IN_LOCKOUT_DURATION"].total_seconds() // 60)
    return (f"After {config['SIGN_IN_LOCKOUT_FAILURES']} failed attempts in a row, "
            f"an account is locked for {minutes} minutes from where they were made.")


def authenticate(email: str, password: str, address: str = "") -> User | None:
    """The account for these credentials, or None; the same answer for every kind of failure.
    ``address`` is the client address as lockouts count it (security.address_pseudonym).

    Every path hashes the password once, so response times do not tell known emails apart.
    """
    config = current_app.config
    staff = db.session.scalar(sa.select(Staff).where(sa.func.lower(Staff.email) == email.strip().lower()))
    if staff is None or staff.user is None or not staff.active:
        check_password_hash(_dummy_hash(config["PASSWORD_HASH_METHOD"]), password)
        log.info("Sign-in failed: no active account for email %s.", security.pseudonym(email.strip().lower()))
        return None
    user, now = staff.user, security.utcnow()
    if is_locked(user, now, address):
        check_password_hash(_dummy_hash(config["PASSWORD_HASH_METHOD"]), password)
        log.warning("Sign-in refused: account %s is locked for this address.", user.id)
        return None
    if user.check_password(password):
        record_sign_in(user, now, address)
        return user
    locked_now = record_failed_sign_in(user, now, config["SIGN_IN_LOCKOUT_FAILURES"],
                                       config["SIGN_IN_LOCKOUT_DURATION"], address)
    db.session.commit()
    if locked_now:
        log.warning("Account %s locked for one address after %d failed sign-ins.", user.id,
                    config["SIGN_IN_LOCKOUT_FAILURES"])
    else:
        log.info("Sign-in failed: wrong password for account %s.", user.id)
    return None


@cache
def _dummy_hash(method: str) -> str:
    return generate_password_hash(secrets.token_hex(16), method=method)


def _failed_sign_in(response) -> bool:
    """Only failed sign-ins count towards the throttle; signing in successfully costs nothing."""
    return response.status_code == 401


@bp.app_context_processor
def sign_out_form():
    """Every page's top bar carries the Sign out button, so every page gets its token."""
    return {"sign_out_form": SignOutForm() if current_user.is_authenticated else None}


def _render_login(form, status: int):
    target = request.args.get("next")
    return render_template("auth/login.html", form=form, next=target if is_safe_next(target) else None), status


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["SIGN_IN_LIMIT_PER_ADDRESS"], key_func=security.address_key,
               methods=["POST"], deduct_when=_failed_sign_in, error_message=THROTTLED)
@limiter.limit(lambda: current_app.config["SIGN_IN_LIMIT_PER_ACCOUNT"], key_func=security.account_key,
               methods=["POST"], deduct_when=_failed_sign_in, error_message=THROTTLED)
def login():
    target = request.args.get("next")
    if current_user.is_authenticated:
        return redirect(target if is_safe_next(target) else url_for("admin.index"))
    form = SignInForm(request.form)
    if request.method == "POST" and form.validate():
        user = authenticate(form.email.data, form.password.data, security.address_pseudonym())
        if user is not None:
            session.clear()
            login_user(user)
            security.start_session()
            audit.record(db.session, "users", user.id, "login")
            db.session.commit()
            log.info("Account %s signed in.", user.id)
            return redirect(target if is_safe_next(target) else url_for("admin.index"))
        flash(f"{SIGN_IN_FAILED} {lockout_notice()}", "error")
    return _render_login(form, 401 if request.method == "POST" else 200)


@bp.errorhandler(429)
def too_many_attempts(error):
    """The sign-in page again, saying why and for how long (Retry-After carries the seconds)."""
    flash(error.description or THROTTLED, "error")
    return _render_login(SignInForm(), 429)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """A POST whose CSRF token app.security has already checked, like every POST."""
    account_id = current_user.id
    security.end_session(everywhere=True)
    log.info("Account %s signed out.", account_id)
    flash("You have signed out.", "info")
    return redirect(url_for("auth.login"))
