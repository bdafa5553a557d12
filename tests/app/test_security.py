"""The protections every request gets (app/security.py).

The CSRF and GET crawls walk the app's URL map, so an endpoint another screen or
blueprint adds later is covered without editing this file.
"""

import logging
import re
import uuid
from contextlib import contextmanager
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import url_for
from flask_admin.contrib.sqla import tools as sqla_tools
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from app import create_app, security
from app.extensions import db
from app.services.data_quality import SERVED_PAIRS_TABLE
from app.services.reports import SERVED_TABLE
from tests import factories
from tests.admin_views.forms import form_data
from tests.conftest import TEST_PASSWORD, csrf_token, make_staff, sign_in

# --- helpers ------------------------------------------------------------------------------

WRITE_STATEMENT = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
# Reading a record may be audited (the lead's audit trail); that is the only write a GET may make.
AUDIT_INSERT = re.compile(r"^\s*INSERT INTO audit_logs\b", re.IGNORECASE)
# Reading a client's data is itself recorded (app/services/access_log.py): an append-only log, like the trail.
ACCESS_LOG_INSERT = re.compile(r"^\s*INSERT INTO client_access_log\b", re.IGNORECASE)
# The Organizational Summary's and the Data quality report's scratch tables are temporary, private to
# the request's connection and dropped before the report returns: filling them changes nothing anyone
# else can see.
REPORT_SCRATCH_INSERT = re.compile(rf"^\s*INSERT INTO ({SERVED_TABLE}|{SERVED_PAIRS_TABLE})\b", re.IGNORECASE)
STATIC_ENDPOINTS = {"static", "admin.static"}


@contextmanager
def recorded_writes():
    """Every INSERT, UPDATE and DELETE any connection sends while the block runs."""
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if WRITE_STATEMENT.match(statement):
            statements.append(" ".join(statement.split())[:100])

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def _model_views(app) -> dict:
    return {view.endpoint: view for view in app.extensions["ccd_admin"]._views if hasattr(view, "model")}


def _url_id(view, row) -> str:
    pk = view.get_pk_value(row)
    return sqla_tools.iterencode(pk) if isinstance(pk, tuple) else str(pk)


def _one_row_per_screen(app) -> dict[str, str]:
    """Screen endpoint -> the URL id of a committed row shown on it."""
    ids = {}
    for endpoint, view in _model_views(app).items():
        table = view.model.__tablename__
        if table in factories.BUILDERS:
            ids[endpoint] = _url_id(view, factories.create(table))
    return ids


def _urls(app, methods: set[str], ids: dict[str, str]) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) for every URL rule accepting one of ``methods``; ids fill ?id=."""
    found = []
    with app.test_request_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.endpoint):
            if rule.endpoint in STATIC_ENDPOINTS:
                continue
            blueprint = rule.endpoint.rpartition(".")[0]
            args = {name: "csv" if name == "export_type" else str(uuid.uuid4()) for name in rule.arguments}
            url = url_for(rule.endpoint, **args, id=ids.get(blueprint, str(uuid.uuid4())))
            found += [(rule.endpoint, method, url) for method in sorted((rule.methods or set()) & methods)]
    return found


def _payload(app, endpoint: str, row_id: str | None, staff) -> dict:
    """What a real submission to this endpoint would carry, except the CSRF token."""
    if endpoint == "auth.login":
        return {"email": staff.email, "password": TEST_PASSWORD}
    data = {"id": row_id or "", "rowid": row_id or "", "list_form_pk": row_id or "", "action": "delete",
            "url": "/admin/"}
    view = _model_views(app).get(endpoint.rpartition(".")[0])
    if view is not None and endpoint.endswith(("create_view", "edit_view")):
        data.update(form_data(view, "", staff))
        data.pop("csrf_token")
    return data


class _PageParts(HTMLParser):
    """The parts of a page a Content-Security-Policy governs."""

    def __init__(self):
        super().__init__()
        self.scripts, self.styles, self.handlers, self.style_attributes = [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts.append(attrs)
        if tag == "style":
            self.styles.append(attrs)
        if "style" in attrs:
            self.style_attributes.append((tag, attrs["style"]))
        self.handlers += [value for name, value in attrs.items() if name.startswith("on")]
        if (attrs.get("href") or "").startswith("javascript:"):
            self.handlers.append(attrs["href"])


def _page_parts(response) -> _PageParts:
    parts = _PageParts()
    parts.feed(response.get_data(as_text=True))
    return parts


def _csp(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {name: values for name, *values in (d.split() for d in policy.split(";") if d.strip())}


def _nonce(response) -> str:
    return next(v[len("'nonce-"):-1] for v in _csp(response)["script-src"] if v.startswith("'nonce-"))


def _assert_security_headers(response):
    headers = response.headers
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    policy = _csp(response)
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["script-src"] + policy["style-src"]


# --- CSRF -----------------------------------------------------------------------------------

@pytest.mark.parametrize("signed_in", [True, False], ids=["signed-in", "anonymous"])
def test_every_state_changing_url_refuses_a_request_without_csrf_token(client, app, signed_in):
    staff = make_staff("Administrator")
    if signed_in:
        sign_in(client, staff)
    ids = _one_row_per_screen(app)
    requests = [(endpoint, method, url, _payload(app, endpoint, ids.get(endpoint.rpartition(".")[0]), staff))
                for endpoint, method, url in _urls(app, security.STATE_CHANGING_METHODS, ids)]
    endpoints = {endpoint for endpoint, *_ in requests}
    assert {"auth.login", "auth.logout", "clients.create_view", "clients.delete_view", "clients.action_view",
            "programs.ajax_update"} <= endpoints, "the crawl must find the sign-in and the admin's forms"

    for endpoint, method, url, payload in requests:
        with recorded_writes() as writes:
            response = client.open(url, method=method, data=payload)
        assert writes == [], f"{method} {url} wrote without a CSRF token: {writes}"
        if endpoint == "auth.login" or not signed_in:
            assert response.status_code == 302, f"{method} {url}: {response.status_code}"
            assert "/login" in response.headers["Location"]
        else:
            assert response.status_code == 400, f"{method} {url}: {response.status_code}"
            assert security.CSRF_REFUSED in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == (200 if signed_in else 302), "no refused request signed anyone in or out"


def test_the_crawl_payload_does_write_when_the_token_is_valid(client, app, sign_in_as):
    """Control for the crawl: the same delete, with the session's token, deletes and is recorded."""
    sign_in_as("Administrator")
    department = factories.create("departments")
    with recorded_writes() as writes:
        response = client.post("/admin/departments/delete/", data={
            "id": str(department.id), "url": "/admin/", "csrf_token": csrf_token(client, "/admin/")})
    assert response.status_code == 302
    assert any(statement.upper().startswith("DELETE FROM DEPARTMENTS") for statement in writes)


@pytest.mark.parametrize("token", [
    "",
    "no-separator",
    "20991231235959##" + "0" * 40,
    "foreign",
    "tampered-expiry",
])
def test_forged_or_stale_tokens_are_refused(client, app, sign_in_as, token):
    sign_in_as("Administrator")
    department = factories.create("departments")
    if token == "foreign":
        token = csrf_token(app.test_client())
    if token == "tampered-expiry":
        expires, signature = csrf_token(client, "/admin/").split("##")
        token = "20991231235959##" + signature
    with recorded_writes() as writes:
        response = client.post("/admin/departments/delete/", data={"id": str(department.id), "csrf_token": token})
    assert response.status_code == 400
    assert writes == []


def test_a_form_left_open_stays_valid_while_the_session_lives(client, app, sign_in_as, clock):
    """wtforms' 30-minute token would refuse a form left in one tab while the person works in another."""
    sign_in_as("Administrator")
    department = factories.create("departments")
    token = csrf_token(client, "/admin/departments/")
    for _ in range(4):
        clock.advance(minutes=20)
        assert client.get("/admin/").status_code == 200
    response = client.post("/admin/departments/delete/", data={"id": str(department.id), "csrf_token": token})
    assert response.status_code == 302
    assert db.session.get(type(department), department.id) is None


def test_a_token_expires_with_the_session_lifetime(app, db_session, clock):
    with app.test_request_context():
        token = security.CSRFForm().csrf_token.current_token
        clock.advance(seconds=app.config["PERMANENT_SESSION_LIFETIME"].total_seconds() - 60)
        assert security.csrf_token_is_valid(token)
        clock.advance(seconds=120)
        assert not security.csrf_token_is_valid(token)


def test_a_session_that_was_never_given_a_token_is_refused_not_crashed(app, db_session):
    """wtforms raises KeyError when the session has no CSRF secret; the check must refuse instead."""
    staff = make_staff("Administrator")
    fresh = app.test_client()
    response = fresh.post("/login", data={"email": staff.email, "password": TEST_PASSWORD,
                                          "csrf_token": "20991231235959##" + "0" * 40})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")


def test_token_may_come_in_a_header_for_scripted_requests(client, sign_in_as):
    sign_in_as("Staff")
    token = csrf_token(client, "/admin/")
    response = client.post("/logout", headers={security.CSRF_HEADER: token})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 302, "signed out"


def test_get_requests_never_change_state(client, app, sign_in_as):
    sign_in_as("Administrator")
    ids = _one_row_per_screen(app)
    visited = 0
    for endpoint, method, url in _urls(app, {"GET"}, ids):
        with recorded_writes() as writes:
            response = client.get(url)
        assert response.status_code < 500, f"GET {url}: {response.status_code}"
        assert [w for w in writes if not (AUDIT_INSERT.match(w) or ACCESS_LOG_INSERT.match(w)
                                          or REPORT_SCRATCH_INSERT.match(w))] == [], \
            f"GET {url} wrote: {writes}"
        visited += 1
    assert visited > 100, "the crawl must reach every screen's pages"


# --- Headers and the Content-Security-Policy --------------------------------------------------

def test_security_headers_on_every_kind_of_response(client, app):
    responses = {
        "sign-in page": client.get("/login"),
        "redirect": client.get("/admin/clients/"),
        "not found": client.get("/no-such-page"),
        "static file": client.get("/static/css/ccd.css"),
        "admin static file": client.get("/admin/static/admin/js/helpers.js"),
        "refused post": client.post("/admin/clients/new/"),
    }
    for kind, response in responses.items():
        _assert_security_headers(response)
    assert responses["sign-in page"].headers["Cache-Control"] == "no-store"
    assert responses["static file"].headers.get("Cache-Control") != "no-store", "static files may be cached"


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(database_url, tmp_path):
    """Behind nginx every request comes from the proxy; without this the per-address throttle is global."""
    behind_proxy = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url,
                               "SECRET_KEY": "test-secret-key-" + "x" * 32, "TRUSTED_PROXY_COUNT": 1})
    behind_proxy.add_url_rule("/throttle-key", "throttle_key", security.address_key)
    response = behind_proxy.test_client().get("/throttle-key", headers={"X-Forwarded-For": "203.0.113.5"},
                                              environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert response.get_data(as_text=True) == "address:203.0.113.5"


def test_production_adds_strict_transport_security(client, app, monkeypatch):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    assert client.get("/login").headers["Strict-Transport-Security"].startswith("max-age=")


def test_each_response_gets_a_fresh_nonce(client):
    assert _nonce(client.get("/login")) != _nonce(client.get("/login"))


def test_sign_in_page_needs_no_inline_script_or_style(client):
    parts = _page_parts(client.get("/login"))
    assert parts.scripts == [] and parts.handlers == [] and parts.style_attributes == []
    assert all(style.get("nonce") for style in parts.styles)


def test_every_admin_page_puts_the_nonce_on_its_scripts_and_uses_only_allowed_handlers(client, app, sign_in_as):
    """Renders list, create, edit and details of every screen; Flask-Admin's own scripts included."""
    sign_in_as("Administrator")
    ids = _one_row_per_screen(app)
    seen_handlers = set()
    pages = ["/admin/"]
    for endpoint in _model_views(app):
        pages += [f"/admin/{endpoint}/", f"/admin/{endpoint}/new/"]
        if endpoint in ids:
            pages += [f"/admin/{endpoint}/edit/?id={ids[endpoint]}", f"/admin/{endpoint}/details/?id={ids[endpoint]}"]
    checked = 0
    for page in pages:
        response = client.get(page)
        if response.status_code == 403:
            continue  # a page the rule table keeps from everyone (creating system-written rows)
        assert response.status_code == 200, page
        checked += 1
        _assert_security_headers(response)
        nonce, policy = _nonce(response), _csp(response)
        parts = _page_parts(response)
        assert parts.scripts, f"{page}: Flask-Admin pages load their scripts"
        assert [s for s in parts.scripts if s.get("nonce") != nonce] == [], f"{page}: a script without the nonce"
        assert [s for s in parts.styles if s.get("nonce") != nonce] == [], f"{page}: a <style> without the nonce"
        assert parts.style_attributes == [], f"{page}: style attributes are refused by the CSP"
        for handler in parts.handlers:
            assert security.source_hash(handler) in policy["script-src"], f"{page}: handler not allowed: {handler}"
        seen_handlers.update(parts.handlers)
    assert checked > 80
    assert "return faHelpers.safeConfirm('Are you sure you want to delete this record?');" in seen_handlers
    assert "return modelActions.execute('delete');" in seen_handlers
    assert "faForm.addInlineField(this, 'source_ids');" in seen_handlers
    assert "javascript:void(0)" in seen_handlers


def test_policy_allows_no_handler_it_was_not_told_about(client):
    policy = _csp(client.get("/login"))
    assert security.source_hash("alert(document.cookie)") not in policy["script-src"]
    assert security.source_hash("return modelActions.execute('delete');") in policy["script-src"]


# --- Sessions ---------------------------------------------------------------------------------

def _session_cookie(response, app) -> str:
    name = app.config["SESSION_COOKIE_NAME"]
    return next(value for value in response.headers.getlist("Set-Cookie") if value.startswith(name + "="))


def test_session_cookie_is_httponly_and_samesite_lax_and_secure_when_configured(client, app, monkeypatch):
    staff = make_staff("Staff")
    cookie = _session_cookie(sign_in(client, staff), app)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    assert "Secure" not in cookie, "the embedded default serves plain http on localhost"

    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    secure_client = app.test_client()
    assert "Secure" in _session_cookie(sign_in(secure_client, staff), app)


def test_idle_session_is_signed_out_on_the_server(client, app, sign_in_as, clock):
    sign_in_as("Staff")
    idle = app.config["SESSION_IDLE_TIMEOUT"]
    for _ in range(3):
        clock.advance(seconds=idle.total_seconds() - 60)
        assert client.get("/admin/").status_code == 200, "activity keeps the session alive"
    clock.advance(seconds=idle.total_seconds())
    response = client.get("/admin/clients/?search=x")
    location = urlsplit(response.headers["Location"])
    assert response.status_code == 302 and location.path == "/login"
    assert parse_qs(location.query)["next"] == ["/admin/clients/?search=x"], "back to the same page after signing in"
    assert "minutes without activity" in client.get("/login").get_data(as_text=True)
    clock.advance(seconds=1)
    assert client.get("/admin/").status_code == 302, "the session itself was ended, not just one page refused"


def test_session_ends_at_its_lifetime_even_when_active(client, app, sign_in_as, clock):
    sign_in_as("Staff")
    lifetime = app.config["PERMANENT_SESSION_LIFETIME"]
    step = app.config["SESSION_IDLE_TIMEOUT"] / 2
    elapsed = step
    while elapsed < lifetime:
        clock.advance(seconds=step.total_seconds())
        assert client.get("/admin/").status_code == 200
        elapsed += step
    clock.advance(seconds=step.total_seconds())
    assert client.get("/admin/").status_code == 302
    assert "time limit" in client.get("/login").get_data(as_text=True)


def test_idle_post_signs_out_without_running_the_view(client, app, sign_in_as, clock):
    sign_in_as("Administrator")
    department = factories.create("departments")
    token = csrf_token(client, "/admin/")
    clock.advance(seconds=app.config["SESSION_IDLE_TIMEOUT"].total_seconds() + 1)
    with recorded_writes() as writes:
        response = client.post("/admin/departments/delete/", data={"id": str(department.id), "csrf_token": token})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert [w for w in writes if not w.startswith("INSERT INTO audit_logs")] == []
    assert [w for w in writes if w.startswith("INSERT INTO audit_logs")], "the timed-out sign-out is audited"


def test_session_without_sign_in_stamps_is_ended(client, sign_in_as):
    """A session from before this check (or a hand-made one) is treated as expired, never as endless."""
    sign_in_as("Staff")
    with client.session_transaction() as stored:
        del stored[security.SIGNED_IN_AT]
    assert client.get("/admin/").status_code == 302


# --- Logs ---------------------------------------------------------------------------------------

def _formatted(message, *args, exc_info=None) -> str:
    record = logging.LogRecord("ccd", logging.ERROR, __file__, 1, message, args, exc_info)
    return security.RedactingFormatter("%(message)s").format(record)


def test_logs_mask_emails_and_query_strings():
    line = _formatted('%s - "GET /admin/clients/?search=Tremblay+1984-02-29 HTTP/1.1" 200 for %s',
                      "127.0.0.1", "marie.tremblay@example.org")
    assert "Tremblay" not in line and "marie.tremblay@example.org" not in line
    assert "/admin/clients/?[redacted]" in line and "[email]" in line


def test_database_errors_reach_the_logs_without_row_values(app, db_session):
    """The engine hides statement parameters; the formatter masks what the database itself quotes."""
    db_session.add(factories.client(uid_external="EMH-4417"))
    db_session.commit()
    db_session.add(factories.client(uid_external="EMH-4417", first_name="Genevieve"))
    with pytest.raises(IntegrityError) as failure:
        db_session.flush()
    db_session.rollback()
    assert "Genevieve" not in str(failure.value), "statement parameters are hidden"
    line = _formatted("Failed to save", exc_info=(failure.type, failure.value, failure.tb))
    assert "IntegrityError" in line
    assert "EMH-4417" not in line and "Genevieve" not in line


def test_database_failing_row_detail_is_masked():
    detail = ('new row for relation "clients" violates check constraint "ck_clients_name_not_blank"\n'
              'DETAIL:  Failing row contains (Genevieve, Tremblay, 1984-02-29).')
    assert "Genevieve" not in _formatted(detail) and "Failing row contains ([redacted])" in _formatted(detail)
