"""The embedded default as a newcomer runs it: the real threaded server over a SQLite file.

The rest of the suite drives the app through Flask's test client, one request at a time,
inside one rolled-back transaction; locks between connections never show there. These
tests serve the app with werkzeug's threaded server (what ``flask run`` in scripts/run
uses) over a committed SQLite file of their own, whatever TEST_DATABASE_URL says, and send
requests from several browsers at once.
"""

import http.cookiejar
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import flask_migrate
import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db
from app.models import Client, ClientDuplicate, Enrollment
from app.services.accounts import create_or_update_user, ensure_roles
from app.services.options import ensure_default_options
from tests.conftest import CSRF_PATTERN

PASSWORD = "embedded-password-123"
ACCOUNTS = {  # email -> role
    "admin@embedded.example": "Administrator",
    "coordinator@embedded.example": "Coordinator",
    "manager@embedded.example": "Manager",
    "staff@embedded.example": "Staff",
    "analyst@embedded.example": "Analyst",
}
TIMEOUT = 90


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """A browser of its own (cookie jar, no redirect following) against the served app."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirects())

    def request(self, path: str, form: dict | None = None) -> tuple[int, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self.opener.open(self.base_url + path, data, timeout=TIMEOUT) as response:
                return response.status, response.read().decode("utf-8-sig", "replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace")

    def upload(self, path: str, fields: dict, file_name: str, content: bytes) -> tuple[int, str]:
        """A multipart form post with one file, as the browser sends the Imports page's form."""
        boundary = uuid.uuid4().hex
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
                 for name, value in fields.items()]
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
                     f"Content-Type: text/csv\r\n\r\n".encode() + content + b"\r\n")
        request = urllib.request.Request(self.base_url + path, b"".join(parts) + f"--{boundary}--\r\n".encode(),
                                         {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        try:
            with self.opener.open(request, timeout=TIMEOUT) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace")

    def csrf_token(self, path: str) -> str:
        status, page = self.request(path)
        match = CSRF_PATTERN.search(page)
        assert match, f"no CSRF token on {path} (status {status})"
        return match.group(1)

    def sign_in(self, email: str) -> int:
        token = self.csrf_token("/login")
        status, _ = self.request("/login", {"email": email, "password": PASSWORD, "csrf_token": token})
        return status


def _seed():
    ensure_roles()
    ensure_default_options()
    for email, role in ACCOUNTS.items():
        create_or_update_user(email, [role], PASSWORD, "Embedded", role)
    for number in range(60):
        db.session.add(Client(first_name=f"Person{number:02d}", last_name=f"Family{number:02d}",
                              dob=date(1960 + number % 30, 1 + number % 12, 1 + number % 28)))
    # One pair the duplicate scan must flag: the same person entered twice.
    for _ in range(2):
        db.session.add(Client(first_name="Rebecca", last_name="Zwolinski", dob=date(1971, 5, 5)))
    db.session.commit()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The app under the real threaded server over a migrated SQLite file, and its base URL."""
    tmp = tmp_path_factory.mktemp("embedded")
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'ccd.sqlite3'}",
        "SECRET_KEY": "embedded-test-secret-" + "z" * 32,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "MAIL_OUTBOX_DIR": str(tmp / "outbox"),
    })
    with app.app_context():
        flask_migrate.upgrade()
        _seed()
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.engine.dispose()


def _signed_in(base_url: str, email: str) -> Browser:
    browser = Browser(base_url)
    assert browser.sign_in(email) == 302
    return browser


def test_sign_ins_keep_working_after_a_client_export(served):
    app, base_url = served
    admin = _signed_in(base_url, "admin@embedded.example")
    status, csv_text = admin.request("/admin/clients/export/csv/")
    assert status == 200
    with app.app_context():
        clients = db.session.scalar(sa.select(sa.func.count()).select_from(Client))
    assert len(csv_text.strip().splitlines()) == clients + 1

    for email in ("coordinator@embedded.example", "manager@embedded.example", "staff@embedded.example"):
        assert Browser(base_url).sign_in(email) == 302, email
    assert admin.request("/admin/clients/")[0] == 200


def test_a_scan_that_flags_a_pair_answers_and_the_next_page_works(served):
    app, base_url = served
    coordinator = _signed_in(base_url, "coordinator@embedded.example")
    token = coordinator.csrf_token("/admin/client_duplicates/")
    status, _ = coordinator.request("/admin/client_duplicates/scan/", {"csrf_token": token})
    assert status == 302

    status, page = coordinator.request("/admin/client_duplicates/")
    assert status == 200
    assert "Zwolinski" in page
    with app.app_context():
        flagged = db.session.scalar(sa.select(sa.func.count()).select_from(ClientDuplicate))
    assert flagged >= 1
    assert Browser(base_url).sign_in("analyst@embedded.example") == 302


def test_exports_and_a_scan_while_others_sign_in_and_browse(served):
    """Everything at once, as on a busy morning: nothing waits forever and nothing answers 500."""
    _, base_url = served
    admin = _signed_in(base_url, "admin@embedded.example")
    coordinator = _signed_in(base_url, "coordinator@embedded.example")
    scan_token = coordinator.csrf_token("/admin/client_duplicates/")

    def export():
        return "export", admin.request("/admin/clients/export/csv/")[0]

    def scan():
        return "scan", coordinator.request("/admin/client_duplicates/scan/", {"csrf_token": scan_token})[0]

    def sign_in_and_browse(email):
        browser = Browser(base_url)
        signed_in = browser.sign_in(email)
        return email, (signed_in, browser.request("/admin/clients/")[0], browser.request("/admin/")[0])

    jobs = [export, scan, export]
    jobs += [lambda email=email: sign_in_and_browse(email) for email in ACCOUNTS for _ in range(2)]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        outcomes = list(pool.map(lambda job: job(), jobs))

    expected = {"export": 200, "scan": 302}
    for what, status in outcomes:
        if what in expected:
            assert status == expected[what], what
        else:
            signed_in, client_list, home = status
            assert signed_in == 302, what
            assert home == 200, what
            assert client_list in (200, 403), what
    assert Browser(base_url).sign_in("manager@embedded.example") == 302


def test_a_transaction_that_read_first_waits_for_the_write_lock(served):
    """Two sessions read, then both write: the second waits its turn instead of 'database is locked'."""
    app, _ = served
    with app.app_context():
        engine = db.engine
        with engine.connect() as first, engine.connect() as second:
            first.execute(sa.select(sa.func.count()).select_from(Client))
            second.execute(sa.select(sa.func.count()).select_from(Client))
            first.execute(sa.update(Client).where(Client.first_name == "Person00").values(alias="first"))
            done = threading.Event()

            def write_second():
                second.execute(sa.update(Client).where(Client.first_name == "Person01").values(alias="second"))
                second.commit()
                done.set()

            writer = threading.Thread(target=write_second)
            writer.start()
            assert not done.wait(0.5), "the second writer must wait for the first to commit"
            first.commit()
            writer.join(timeout=30)
            assert done.is_set()
        aliases = dict(db.session.execute(sa.select(Client.first_name, Client.alias).where(
            Client.first_name.in_(["Person00", "Person01"]))).all())
        db.session.remove()
    assert aliases == {"Person00": "first", "Person01": "second"}


def test_a_failed_commit_does_not_leave_its_transaction_on_the_pooled_connection(served):
    """A COMMIT SQLite refuses keeps its transaction open while SQLAlchemy counts it as ended;
    handed to the next request, that connection failed every BEGIN and held the write lock."""
    app, _ = served
    with app.app_context():
        connection = db.engine.connect()
        connection.execute(sa.update(Client).where(Client.first_name == "Person02").values(alias="never kept"))
        connection.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
        connection.execute(sa.insert(Enrollment).values(id=uuid.uuid4(), client_id=uuid.uuid4(),
                                                        program_id=uuid.uuid4(), start_date=date(2024, 1, 1)))
        with pytest.raises(sa.exc.IntegrityError):
            connection.commit()
        connection.close()
        with db.engine.connect() as again:
            assert not again.connection.dbapi_connection.in_transaction
            again.execute(sa.update(Client).where(Client.first_name == "Person03").values(alias="kept"))
            again.commit()
            aliases = dict(again.execute(sa.select(Client.first_name, Client.alias).where(
                Client.first_name.in_(["Person02", "Person03"]))).all())
    assert aliases == {"Person02": None, "Person03": "kept"}


def test_an_import_uploaded_while_others_browse_answers_them_all_and_leaves_the_collector_on(served, tmp_path):
    """The Imports page runs the file in the request (Celery eager) and pauses automatic garbage collection
    process-wide while it links: the other requests of the same process must still answer meanwhile, and
    afterwards the collector must be running again with nothing left frozen."""
    import gc

    from app.models import ClientUploadLog, Department, Program

    app, base_url = served
    with app.app_context():
        db.session.add(Program(name="Embedded Shelter", department=Department(name="Embedded")))
        db.session.commit()
        db.session.remove()
    app.config["INGEST_UPLOAD_DIR"] = str(tmp_path / "uploads")
    lines = ["ID,Last Name,First Name,Program,DOB,Admission Date"]
    lines += [f"EMB{number:05d},Walker{number % 97},Sam{number},Embedded Shelter,"
              f"{1950 + number % 50}-{1 + number % 12:02d}-{1 + number % 28:02d},2024-01-15" for number in range(3000)]
    coordinator = _signed_in(base_url, "coordinator@embedded.example")
    token = coordinator.csrf_token("/admin/imports/")
    browsers = [_signed_in(base_url, email) for email in ("admin@embedded.example", "analyst@embedded.example")]
    uploading, uploaded = threading.Event(), threading.Event()

    def upload():
        uploading.set()
        try:
            return coordinator.upload("/admin/imports/", {"csrf_token": token, "source": "EMHware", "program": ""},
                                      "embedded-export.csv", ("\r\n".join(lines) + "\r\n").encode())
        finally:
            uploaded.set()

    def browse(browser):
        """Pages until the upload has answered; how many answered while it was still running."""
        uploading.wait(TIMEOUT)
        codes, during = [], 0
        while not uploaded.is_set():
            for path in ("/admin/clients/", "/admin/"):
                codes.append(browser.request(path)[0])
                during += not uploaded.is_set()
        return codes, during

    with ThreadPoolExecutor(max_workers=3) as pool:
        upload_answer = pool.submit(upload)
        browsed = [pool.submit(browse, browser) for browser in browsers]
        status, _ = upload_answer.result(timeout=TIMEOUT * 2)
        answers = [future.result(timeout=TIMEOUT * 2) for future in browsed]
    assert status == 302  # to the import's page
    assert all(code == 200 for codes, _ in answers for code in codes), answers
    assert sum(during for _, during in answers) >= 4, answers  # answered while the import ran, not after it
    with app.app_context():
        log = db.session.scalar(sa.select(ClientUploadLog).where(ClientUploadLog.file_name == "embedded-export.csv"))
        assert (log.status, log.records_created) == ("success", 3000)
        db.session.remove()
    assert gc.isenabled() and gc.get_freeze_count() == 0
