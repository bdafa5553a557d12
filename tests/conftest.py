"""Shared fixtures: one app and one migrated schema per run, each test inside a rolled-back transaction.

The database is ``TEST_DATABASE_URL`` (PostgreSQL in CI, see scripts/test) or, when unset, a
fresh SQLite file. The schema is built by the Alembic migrations, not ``create_all``, so
every run also proves the migrations work.
"""

import re
import uuid

import flask_migrate
import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.models import Role as RoleRow
from app.models import Staff, User
from app.services.accounts import ensure_roles
from app.services.options import ensure_default_options

TEST_PASSWORD = "test-password-123"


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
def sign_in_as(client):
    """Sign the test client in as a new staff member with these roles; returns the staff member."""
    def _sign_in(*roles: str) -> Staff:
        staff = make_staff(*roles)
        sign_in(client, staff)
        return staff
    return _sign_in
