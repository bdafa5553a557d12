"""Real-browser tests: the app served on localhost over a real, committed database, driven by Chromium.

The served app gets its own database (never the one the other tests roll back), built by
the migrations and filled by the demo seed, so every flow starts from the data a
newcomer sees. Debian's Chromium is used because browser downloads do not work here.
Screenshots of each step go to ``test-artifacts/browser/<test name>/``.
"""

import os
import re
import shutil
import threading
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import flask_migrate
import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db
from app.services.demo import DEMO_PASSWORD, seed_demo

CHROMIUM = os.environ.get("CCD_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


def pytest_collection_modifyitems(config, items):
    """Browser tests need Chromium and Playwright; CI installs both and insists (CCD_REQUIRE_BROWSER=1)."""
    missing = None
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        missing = f"Chromium not found at {CHROMIUM}"
    else:
        try:
            import playwright  # noqa: F401
        except ImportError:
            missing = "playwright is not installed"
    if missing is None:
        return
    if os.environ.get("CCD_REQUIRE_BROWSER") == "1":
        raise pytest.UsageError(f"{missing}, and CCD_REQUIRE_BROWSER=1.")
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason=missing))


def _own_database(base_url: str | None, tmp_path) -> tuple[str, callable]:
    """A database for the served app only: a new PostgreSQL database beside the test one, or a SQLite file."""
    if not base_url or not base_url.startswith("postgresql"):
        return f"sqlite:///{tmp_path / 'browser.sqlite3'}", lambda: None
    parts = urlsplit(base_url)
    name = f"{parts.path.lstrip('/')}_browser_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(urlunsplit(parts._replace(path="/postgres")), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def drop():
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    return urlunsplit(parts._replace(path=f"/{name}")), drop


@pytest.fixture(scope="session")
def served_app(tmp_path_factory):
    """The app served in a thread over a migrated, demo-seeded database of its own, and its base URL."""
    tmp = tmp_path_factory.mktemp("browser")
    url, drop = _own_database(os.environ.get("TEST_DATABASE_URL"), tmp)
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": "browser-test-secret-" + "y" * 32,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "MAIL_OUTBOX_DIR": str(tmp / "outbox"),
    })
    with app.app_context():
        flask_migrate.upgrade()
        seed_demo(app.config)
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        with app.app_context():
            db.engine.dispose()
        drop()


@pytest.fixture(scope="session")
def live_server(served_app):
    return served_app[1]


@pytest.fixture(scope="session")
def live_app(served_app):
    """The served app, to look up in its database what a flow needs (never to change it behind the browser)."""
    return served_app[0]


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, request):
    """A fresh browser context (no cookies) per test, and a ``shot(name)`` helper saving step screenshots."""
    context = chromium.new_context(accept_downloads=True, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    steps = iter(range(1, 1000))
    page.shot = lambda name: page.screenshot(path=str(folder / f"{next(steps):02d}-{name}.png"), full_page=True)
    yield page
    context.close()


@pytest.fixture
def sign_in(page, live_server):
    """Sign in through the login form as one of the demo accounts."""
    def _sign_in(email: str):
        page.goto(f"{live_server}/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/admin/?$"))
        return page
    return _sign_in
