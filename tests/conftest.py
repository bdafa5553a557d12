"""Shared fixtures: one app and one migrated schema per run, each test inside a rolled-back transaction.

The database is ``TEST_DATABASE_URL`` (PostgreSQL in CI, see scripts/test) or, when unset, a
fresh SQLite file. The schema is built by the Alembic migrations, not ``create_all``, so
every run also proves the migrations work.
"""

import re
import uuid
from datetime import datetime, timedelta, timezone

import flask_migrate
from flask import g
import pytest
import sqlalchemy as sa

from app import create_app, security
from app.extensions import db, limiter
from app.models import Role as RoleRow
from app.models import Staff, User
from app.services.accounts import ensure_roles
from app.services.options import ensure_default_options

TEST_PASSWORD = "test-password-123"


def on_postgres() -> bool:
    import os

    return os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres_only") and not on_postgres():
        pytest.skip("PostgreSQL-only behaviour (set TEST_DATABASE_URL)")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    import os

    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'ccd-test.sqlite3'}"


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "MAIL_OUTBOX_DIR": str(tmp_path_factory.mktemp("outbox")),
    })
    # Tests hold one app context open (db_session), and Flask reuses it for every request
    # they make; forget the signed-in user after each request, as a fresh context would.
    app.teardown_request(lambda error: g.pop("_login_user", None))
    with app.app_context():
        _reset_schema()
        flask_migrate.upgrade()
        ensure_roles()
        ensure_default_options()
        db.session.commit()
        db.session.remove()
    return app


def _reset_schema():
    """Start from an empty database even when a previous run was killed half-way."""
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
        else:
            db.metadata.drop_all(conn)
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


@pytest.fixture
def db_session(app):
    """Everything a test writes, commits included, is rolled back when it ends.

    Flask-SQLAlchemy ignores a session-level bind, so the app's engine entry is pointed
    at one connection with an open transaction, and the session joins it through
    savepoints (commit releases one, rollback returns to one).
    """
    with app.app_context():
        engines = db._app_engines[app]
        saved_engines = dict(engines)
        connection = saved_engines[None].connect()
        outer = connection.begin()
        for key in engines:
            engines[key] = connection
        factory_kw = db.session.session_factory.kw
        saved_mode = factory_kw.get("join_transaction_mode")
        factory_kw["join_transaction_mode"] = "create_savepoint"
        db.session.remove()
        try:
            yield db.session
        finally:
            db.session.remove()
            if saved_mode is None:
                factory_kw.pop("join_transaction_mode", None)
            else:
                factory_kw["join_transaction_mode"] = saved_mode
            engines.update(saved_engines)
            outer.rollback()
            connection.close()


@pytest.fixture
def client(app, db_session):
    """A browser with no cookies; sign-in throttle counters start from zero for each test."""
    limiter.reset()
    return app.test_client()


def make_staff(*roles: str, email: str | None = None, password: str = TEST_PASSWORD) -> Staff:
    """A staff member who can sign in with the given roles (committed inside the test's transaction)."""
    role_rows = {row.name: row for row in db.session.scalars(sa.select(RoleRow))}
    email = email or f"{'-'.join(r.lower().replace(' ', '-') for r in roles) or 'nobody'}-{uuid.uuid4().hex[:8]}@test.example"
    staff = Staff(first_name="Test", last_name=" ".join(roles) or "Nobody", email=email, user=User())
    staff.user.set_password(password)
    staff.roles = [role_rows[name] for name in roles]
    db.session.add(staff)
    db.session.commit()
    return staff


CSRF_PATTERN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(client, path="/login") -> str:
    """A CSRF token of this client's session, read from a page that carries one."""
    page = client.get(path)
    match = CSRF_PATTERN.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path} (status {page.status_code})"
    return match.group(1)


def sign_in(client, staff: Staff, password: str = TEST_PASSWORD):
    response = client.post("/login", data={
        "email": staff.email, "password": password, "csrf_token": csrf_token(client),
    })
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


@pytest.fixture
def request_as(app, db_session):
    """Run the test inside a request signed in as a new staff member with these roles; returns the staff member."""
    from flask_login import login_user

    contexts = []

    def _request_as(*roles: str) -> Staff:
        staff = make_staff(*roles)
        context = app.test_request_context()
        context.push()
        contexts.append(context)
        login_user(staff.user)
        return staff

    yield _request_as
    db.session.rollback()
    for context in reversed(contexts):
        context.pop()


@pytest.fixture
def sign_in_as(client):
    """Sign the test client in as a new staff member with these roles; returns the staff member."""
    def _sign_in(*roles: str) -> Staff:
        staff = make_staff(*roles)
        sign_in(client, staff)
        return staff
    return _sign_in


class Clock:
    """The app's clock (app.security.utcnow), moved by the test instead of sleeping."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    fixed = Clock(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))
    monkeypatch.setattr(security, "utcnow", fixed)
    return fixed


class SMTPInbox:
    """What a real local SMTP server (aiosmtpd) received, as parsed messages."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted"

    @property
    def messages(self):
        import email
        import email.policy

        return [email.message_from_bytes(envelope.content, policy=email.policy.default) for envelope in self.envelopes]


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(app, monkeypatch):
    """A real SMTP server on 127.0.0.1 that CCD's mail settings point at for this test."""
    from aiosmtpd.controller import Controller

    inbox = SMTPInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", controller.port)
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def smtp_down(app, monkeypatch):
    """Mail settings that point at a port where no server listens."""
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())
    monkeypatch.setitem(app.config, "MAIL_TIMEOUT", 2)
