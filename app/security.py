"""Protections every request gets, enforced once, below the views.

- CSRF: every POST, PUT, PATCH and DELETE needs the session's CSRF token (the same token
  Flask-Admin's SecureForm uses), checked before any view runs, so a screen added later
  cannot forget it. GET, HEAD and OPTIONS never change state.
- Security headers on every response: a Content-Security-Policy with a fresh nonce per
  request, no framing, no MIME sniffing, a referrer policy, and no caching of pages that
  carry personal data.
- Signed-in sessions end after a fixed lifetime and after an idle timeout, checked on the
  server against timestamps in the signed session (not left to the browser's cookie expiry).
  Each session also carries its account's session generation: signing out, a new password
  or deactivation raises it, and every session (or copied cookie) of the account ends.
- The sign-in throttle's limiter (memory storage by default, Redis when REDIS_URL is set).
- Text on pages never reorders itself: bidirectional overrides in a stored value are shown as codes.
- Logs without personal data: a formatter that masks emails, query strings and the values
  database errors quote, and engine errors that leave out row values (config).

Times come from ``utcnow()`` so tests can move the clock instead of sleeping.
"""

import base64
import hashlib
import hmac
import logging
import re
import secrets
from datetime import datetime, timezone

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_admin.form import SecureForm
from flask_limiter.util import get_remote_address
from flask_login import current_user, logout_user
from wtforms.csrf.session import SessionCSRF
from werkzeug.datastructures import MultiDict
from werkzeug.middleware.proxy_fix import ProxyFix

from app import audit
from app.extensions import db, limiter
from app.plain_text import neutralise_bidi

log = logging.getLogger("ccd.security")

STATE_CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_REFUSED = (
    "This form has expired or did not come from a CCD page, so nothing was saved. "
    "Go back, reload the page and try again."
)
SIGN_IN_FORM_EXPIRED = "Your sign-in form expired. Please try again."

SIGNED_IN_AT = "ccd_signed_in_at"
LAST_SEEN_AT = "ccd_last_seen_at"
# The account's session generation when this session signed in (see session_is_current).
SESSION_GENERATION = "ccd_session_generation"

# Endpoints that serve files only: no session checks, and a browser may cache them.
_STATIC_ENDPOINTS = frozenset({"static", "admin.static"})


def utcnow() -> datetime:
    """The current time; tests replace this to move the clock."""
    return datetime.now(timezone.utc)


def init_app(app) -> None:
    """Wire every protection into the app (called once by create_app)."""
    if app.config.get("TRUSTED_PROXY_COUNT"):
        hops = app.config["TRUSTED_PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    limiter.init_app(app)
    app.extensions["ccd_inline_handler_sources"] = []
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.jinja_env.finalize = shown_text
    app.before_request(_enforce_session_age)
    app.before_request(_protect_state_changes)
    app.after_request(_set_security_headers)
    configure_logging(app)
    if app.config.get("CCD_ENV") == "production" and app.config["RATELIMIT_STORAGE_URI"].startswith("memory"):
        log.warning("REDIS_URL is not set: sign-in throttling counts per process, not across workers.")


# --- CSRF ---------------------------------------------------------------------------------

class _SessionCSRF(SessionCSRF):
    """wtforms' session CSRF on the app's clock, so tests move it like every other timeout."""

    def now(self):
        return utcnow().replace(tzinfo=None)


class CSRFForm(SecureForm):
    """The base of every CCD form (the admin's included): its token lives as long as the session can.

    wtforms' default of 30 minutes would refuse a form left open in one tab while the
    person works in another; the session's own idle timeout and lifetime already bound it,
    and the token's secret is dropped with the session at sign-out.
    """

    class Meta:
        csrf_class = _SessionCSRF

        @property
        def csrf_time_limit(self):
            return current_app.config["PERMANENT_SESSION_LIFETIME"]


class _CSRFCheck(CSRFForm):
    """Only the CSRF token, validated exactly as every CCD form validates it."""


def csrf_token_is_valid(token: str | None) -> bool:
    """True when ``token`` was issued to this session and has not expired."""
    if not token or "csrf" not in session:
        # No token was ever issued to this session (wtforms would fail with a KeyError).
        return False
    form = _CSRFCheck(MultiDict({"csrf_token": token}))
    return form.validate()


def _protect_state_changes():
    if request.method not in STATE_CHANGING_METHODS:
        return None
    token = request.form.get("csrf_token") or request.headers.get(CSRF_HEADER)
    if csrf_token_is_valid(token):
        return None
    log.warning("Refused %s %s: no valid CSRF token.", request.method, request.path)
    if request.endpoint == "auth.login":
        flash(SIGN_IN_FORM_EXPIRED, "error")
        target = request.args.get("next")
        return redirect(url_for("auth.login", next=target) if target else url_for("auth.login"))
    if not current_user.is_authenticated:
        # Typically a form left open past the idle timeout: signing in again is the way forward.
        return current_app.login_manager.unauthorized()
    return render_template("errors/refused.html", title="Form expired", message=CSRF_REFUSED), 400


# --- Sessions -----------------------------------------------------------------------------

def start_session() -> None:
    """Stamp a new signed-in session; call right after login_user (and after a password change,
    which ended every other session: this one carries on)."""
    session.permanent = True
    stamp = utcnow().timestamp()
    session[SIGNED_IN_AT] = stamp
    session[LAST_SEEN_AT] = stamp
    session[SESSION_GENERATION] = current_user.session_generation


def session_is_current(user) -> bool:
    """True when the signed session was started in the account's current generation.

    The session lives in a signed cookie, so clearing it at sign-out cannot reach a copy of
    it; raising the account's generation (sign-out, new password, deactivation) does, since
    every request's user loader compares the two.
    """
    return session.get(SESSION_GENERATION) == user.session_generation


def end_session(*, everywhere: bool = False) -> None:
    """Sign out (recorded in the audit trail) and forget everything the session held, its CSRF
    secret included; ``everywhere`` (a person signing out) also ends the account's other sessions
    and any copy of this one, where a timeout ends only this one."""
    user = current_user._get_current_object()
    if user is not None and user.is_authenticated:
        if everywhere:
            user.end_sessions()
        audit.record(db.session, "users", user.id, "logout")
        db.session.commit()
    logout_user()
    session.clear()


def _session_end_reason(now: float) -> str | None:
    signed_in_at, last_seen_at = session.get(SIGNED_IN_AT), session.get(LAST_SEEN_AT)
    if signed_in_at is None or last_seen_at is None:
        return "Your session has ended. Please sign in again."
    if now - signed_in_at >= current_app.config["PERMANENT_SESSION_LIFETIME"].total_seconds():
        return "Your session has reached its time limit. Please sign in again."
    idle = current_app.config["SESSION_IDLE_TIMEOUT"]
    if now - last_seen_at >= idle.total_seconds():
        minutes = int(idle.total_seconds() // 60)
        return f"You were signed out after {minutes} minutes without activity. Please sign in again."
    return None


def _enforce_session_age():
    if request.endpoint in _STATIC_ENDPOINTS or not current_user.is_authenticated:
        return None
    now = utcnow().timestamp()
    reason = _session_end_reason(now)
    if reason is not None:
        end_session()
        flash(reason, "info")
        if request.method == "GET" and request.endpoint != "auth.login":
            return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))
        return redirect(url_for("auth.login"))
    session[LAST_SEEN_AT] = now
    return None


# --- Sign-in throttling keys ----------------------------------------------------------------

def account_key() -> str:
    """The throttle key for the email a sign-in names, from this address: a keyed hash, so storage
    holds no emails. Per address too, or anyone failing on purpose would keep the owner out."""
    email = request.form.get("email", "").strip().lower()
    return "account:" + pseudonym(email + "\n" + address_key())


def address_key() -> str:
    return "address:" + (get_remote_address() or "unknown")


def address_pseudonym() -> str:
    """The client address as the lockout stores it: a keyed hash, so the database holds no addresses."""
    return pseudonym(address_key())


def pseudonym(value: str) -> str:
    """A stable, non-reversible stand-in for a personal value, for logs and counters."""
    digest = hmac.new(current_app.secret_key.encode(), value.encode(), hashlib.sha256).hexdigest()
    return digest[:16]


# --- Headers and the Content-Security-Policy -------------------------------------------------

def csp_nonce() -> str:
    """This request's nonce: every inline <script> and <style> must carry it.

    Kept on the request itself, not on ``g``: an app context can outlive one request.
    """
    environ = request.environ
    if "ccd.csp_nonce" not in environ:
        environ["ccd.csp_nonce"] = secrets.token_urlsafe(18)
    return environ["ccd.csp_nonce"]


def shown_text(value):
    """Every value a page prints: text with its bidirectional controls shown as codes (app/plain_text.py).

    Markup (a form's input, a link a formatter built) is left whole, so an edit form still holds the
    value as stored and saving it changes nothing.
    """
    if isinstance(value, str) and not hasattr(value, "__html__"):
        return neutralise_bidi(value)
    return value


def allow_inline_handlers(app, source) -> None:
    """Register a callable returning inline event-handler strings (onclick="...") the app renders.

    Nonces do not cover event-handler attributes; the exact strings are allowed by hash
    ('unsafe-hashes'), so an injected handler still cannot run. Sources are read on the
    first response, after every screen has been added.
    """
    app.extensions["ccd_inline_handler_sources"].append(source)
    app.extensions.pop("ccd_inline_handler_hashes", None)


def inline_handler_hashes(app) -> tuple[str, ...]:
    cached = app.extensions.get("ccd_inline_handler_hashes")
    if cached is None:
        handlers = sorted({handler for source in app.extensions["ccd_inline_handler_sources"] for handler in source()})
        cached = tuple(source_hash(handler) for handler in handlers)
        app.extensions["ccd_inline_handler_hashes"] = cached
    return cached


def source_hash(text: str) -> str:
    """The CSP hash-source for an inline script or handler."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def content_security_policy(nonce: str, handler_hashes=()) -> str:
    scripts = ["'self'", f"'nonce-{nonce}'"]
    if handler_hashes:
        scripts += ["'unsafe-hashes'", *handler_hashes]
    directives = {
        "default-src": ["'self'"],
        "script-src": scripts,
        "style-src": ["'self'", f"'nonce-{nonce}'"],
        # Bootstrap draws checkboxes and select arrows with data: SVG images.
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def _set_security_headers(response):
    app = current_app._get_current_object()
    headers = response.headers
    headers["Content-Security-Policy"] = content_security_policy(csp_nonce(), inline_handler_hashes(app))
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
    if app.config.get("SESSION_COOKIE_SECURE"):
        headers["Strict-Transport-Security"] = "max-age=31536000"
    if request.endpoint not in _STATIC_ENDPOINTS:
        # Pages and exports hold clients' personal data: never keep them in a shared or back-button cache.
        headers["Cache-Control"] = "no-store"
    return response


# --- Logging ------------------------------------------------------------------------------

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_QUERY_STRING = re.compile(r"(/[^\s?\"']*)\?[^\s\"']*")
# What PostgreSQL quotes back in an error's DETAIL: the key values, or the whole failing row.
_DATABASE_KEY_VALUE = re.compile(r"(Key \(.*?\))=\(.*?\)( already exists| is not present| is still referenced)")
_DATABASE_FAILING_ROW = re.compile(r"Failing row contains \(.*\)")


def redact(text: str) -> str:
    """Mask personal data a log line can pick up: emails, URL query strings (searches carry
    names and birth dates) and the values a database error quotes."""
    text = _DATABASE_KEY_VALUE.sub(r"\1=([redacted])\2", text)
    text = _DATABASE_FAILING_ROW.sub("Failing row contains ([redacted])", text)
    text = _EMAIL.sub("[email]", text)
    return _QUERY_STRING.sub(r"\1?[redacted]", text)


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then redacts the whole line, tracebacks included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(app) -> None:
    """One stderr handler, with personal data masked, unless the host already set up logging."""
    from flask.logging import default_handler

    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(app.config.get("LOG_LEVEL", "INFO"))
    app.logger.removeHandler(default_handler)
