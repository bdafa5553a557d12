"""Signing in and out: hashed passwords, no user enumeration, safe redirects, CSRF, lockout, throttling."""

import logging
import re

import pytest

from app import auth
from app.auth import is_safe_next
from app.models import people
from tests.conftest import TEST_PASSWORD, csrf_token, make_staff, sign_in


def test_password_is_stored_hashed(db_session):
    staff = make_staff("Staff")
    assert TEST_PASSWORD not in staff.user.password_hash
    assert staff.user.check_password(TEST_PASSWORD)
    assert not staff.user.check_password("wrong-password-1")


def test_sign_in_lands_on_admin_and_shows_person(client):
    staff = make_staff("Coordinator")
    response = sign_in(client, staff)
    assert response.headers["Location"].endswith("/admin/")
    page = client.get("/admin/").get_data(as_text=True)
    assert staff.full_name in page
    assert "Sign out" in page


@pytest.mark.parametrize("email,password", [
    ("known", "wrong-password-1"),
    ("nobody@test.example", TEST_PASSWORD),
])
def test_failed_sign_in_says_the_same_whatever_failed(client, email, password):
    staff = make_staff("Staff")
    response = client.post("/login", data={
        "email": staff.email if email == "known" else email, "password": password,
        "csrf_token": csrf_token(client),
    })
    assert response.status_code == 401
    assert "Email or password is incorrect." in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_inactive_staff_cannot_sign_in(client, db_session):
    staff = make_staff("Administrator")
    staff.active = False
    db_session.commit()
    response = client.post("/login", data={"email": staff.email, "password": TEST_PASSWORD,
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 401


def test_sign_in_without_csrf_token_is_refused(client):
    staff = make_staff("Administrator")
    response = client.post("/login", data={"email": staff.email, "password": TEST_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert "Your sign-in form expired" in client.get("/login").get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_sign_out_needs_post_with_token_and_ends_session(client):
    sign_in(client, make_staff("Staff"))
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/admin/").status_code == 200, "a POST without token must not sign out"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    assert client.get("/admin/").status_code == 302


def test_next_redirect_stays_on_site(client):
    staff = make_staff("Staff")
    token = csrf_token(client)
    response = client.post("/login?next=https://evil.example/", data={
        "email": staff.email, "password": TEST_PASSWORD, "csrf_token": token})
    assert response.headers["Location"].endswith("/admin/")


@pytest.mark.parametrize("target,safe", [
    ("/admin/clients/", True), ("https://evil.example/", False), ("//evil.example/", False),
    ("/\\evil.example", False), ("javascript:alert(1)", False), ("", False), (None, False),
])
def test_is_safe_next(target, safe):
    assert is_safe_next(target) is safe


def test_next_redirect_returns_to_requested_page(client):
    staff = make_staff("Staff")
    first = client.get("/admin/clients/")
    assert first.status_code == 302 and "/login" in first.headers["Location"]
    response = client.post(first.headers["Location"], data={
        "email": staff.email, "password": TEST_PASSWORD, "csrf_token": csrf_token(client)})
    assert response.headers["Location"].endswith("/admin/clients/")


# --- Lockout, throttling, enumeration, logs -------------------------------------------------------

def _attempt(client, email, password, next_path=None):
    return client.post("/login" + (f"?next={next_path}" if next_path else ""), data={
        "email": email, "password": password, "csrf_token": csrf_token(client)})


def _alert(response) -> str:
    match = re.search(r'<div class="alert[^"]*" role="alert">(.*?)</div>', response.get_data(as_text=True), re.S)
    assert match, response.get_data(as_text=True)[:500]
    return match.group(1).strip()


@pytest.fixture
def generous_throttle(app, monkeypatch):
    """Lift the throttle so a test can reach the account lockout behind it."""
    monkeypatch.setitem(app.config, "SIGN_IN_LIMIT_PER_ACCOUNT", "1000 per minute")
    monkeypatch.setitem(app.config, "SIGN_IN_LIMIT_PER_ADDRESS", "1000 per minute")


def test_account_locks_after_repeated_failures_and_unlocks_after_the_duration(
        client, app, clock, generous_throttle, db_session):
    staff = make_staff("Staff")
    failures = app.config["SIGN_IN_LOCKOUT_FAILURES"]
    for _ in range(failures):
        assert _attempt(client, staff.email, "wrong-password-1").status_code == 401
    db_session.refresh(staff.user)
    assert staff.user.locked_until is not None

    locked = _attempt(client, staff.email, TEST_PASSWORD)
    assert locked.status_code == 401, "the right password does not get in while locked"
    clock.advance(seconds=app.config["SIGN_IN_LOCKOUT_DURATION"].total_seconds() - 1)
    assert _attempt(client, staff.email, TEST_PASSWORD).status_code == 401

    clock.advance(seconds=1)
    assert _attempt(client, staff.email, TEST_PASSWORD).status_code == 302
    db_session.refresh(staff.user)
    assert staff.user.failed_sign_ins == 0 and staff.user.locked_until is None


def test_a_successful_sign_in_resets_the_failure_count(client, app, clock, generous_throttle, db_session):
    staff = make_staff("Staff")
    for _ in range(app.config["SIGN_IN_LOCKOUT_FAILURES"] - 1):
        _attempt(client, staff.email, "wrong-password-1")
    sign_in(client, staff)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    assert _attempt(client, staff.email, "wrong-password-1").status_code == 401
    assert _attempt(client, staff.email, TEST_PASSWORD).status_code == 302, "one failure after a success is not a lockout"


def test_setting_a_new_password_unlocks_the_account(client, app, clock, generous_throttle, db_session):
    staff = make_staff("Staff")
    for _ in range(app.config["SIGN_IN_LOCKOUT_FAILURES"]):
        _attempt(client, staff.email, "wrong-password-1")
    staff.user.set_password("a-fresh-start-42")
    db_session.commit()
    assert _attempt(client, staff.email, "a-fresh-start-42").status_code == 302


@pytest.mark.parametrize("case", ["unknown email", "wrong password", "inactive staff", "locked account"])
def test_every_failure_gives_the_same_answer_after_the_same_hashing(
        client, app, clock, generous_throttle, db_session, monkeypatch, case):
    """No user enumeration: same status and words, and every path hashes the password exactly once."""
    staff = make_staff("Staff")
    email, password = staff.email, TEST_PASSWORD
    if case == "unknown email":
        email = "nobody-here@test.example"
    elif case == "wrong password":
        password = "wrong-password-1"
    elif case == "inactive staff":
        staff.active = False
        db_session.commit()
    else:
        for _ in range(app.config["SIGN_IN_LOCKOUT_FAILURES"]):
            _attempt(client, email, "wrong-password-1")

    hashed = []
    for module in (auth, people):
        real = module.check_password_hash
        monkeypatch.setattr(module, "check_password_hash",
                            lambda stored, given, real=real: hashed.append(stored) or real(stored, given))
    response = _attempt(client, email, password)

    assert response.status_code == 401
    assert _alert(response) == f"{auth.SIGN_IN_FAILED} {auth.lockout_notice()}"
    assert len(hashed) == 1
    method = app.config["PASSWORD_HASH_METHOD"].split(":")[0]
    assert hashed[0].startswith(method), "the stand-in hash costs the same as a real one"


def test_failed_sign_ins_are_throttled_per_email_with_a_clear_429(client, app):
    staff = make_staff("Staff")
    allowed = int(app.config["SIGN_IN_LIMIT_PER_ACCOUNT"].split()[0])
    for _ in range(allowed):
        assert _attempt(client, staff.email, "wrong-password-1").status_code == 401
    throttled = _attempt(client, staff.email.upper(), TEST_PASSWORD)
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 0
    assert "Too many failed sign-in attempts" in _alert(throttled)
    assert _attempt(client, "someone-else@test.example", "wrong-password-1").status_code == 401, \
        "another email is not held back by this one's failures"


def test_unknown_emails_are_throttled_exactly_like_known_ones(client, app):
    allowed = int(app.config["SIGN_IN_LIMIT_PER_ACCOUNT"].split()[0])
    for _ in range(allowed):
        assert _attempt(client, "ghost@test.example", "wrong-password-1").status_code == 401
    assert _attempt(client, "ghost@test.example", "wrong-password-1").status_code == 429


def test_failing_on_purpose_from_elsewhere_locks_out_neither_the_owner_nor_the_throttle(client, app, clock, db_session):
    """Someone who knows an administrator's email fails past the throttle and the lockout from their
    own address; the administrator, signing in from theirs, gets in at once."""
    admin = make_staff("Administrator")
    attacker = app.test_client()
    elsewhere = {"REMOTE_ADDR": "203.0.113.50"}
    for _ in range(app.config["SIGN_IN_LOCKOUT_FAILURES"] + 2):
        attacker.post("/login", environ_base=elsewhere, data={
            "email": admin.email, "password": "wrong-password-1", "csrf_token": csrf_token(attacker)})
    right_password = attacker.post("/login", environ_base=elsewhere, data={
        "email": admin.email, "password": TEST_PASSWORD, "csrf_token": csrf_token(attacker)})
    assert right_password.status_code in (401, 429), "the address that kept failing stays held back"
    assert _attempt(client, admin.email, TEST_PASSWORD).status_code == 302, "the owner signs in from their address"


def test_failed_sign_ins_are_throttled_per_address_whatever_email_or_forwarded_header(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "SIGN_IN_LIMIT_PER_ADDRESS", "3 per minute")
    for n in range(3):
        assert _attempt(client, f"guess-{n}@test.example", "wrong-password-1").status_code == 401
    response = client.post("/login", headers={"X-Forwarded-For": "203.0.113.9"}, data={
        "email": "guess-9@test.example", "password": "wrong-password-1", "csrf_token": csrf_token(client)})
    assert response.status_code == 429, "a forged X-Forwarded-For does not reset the count (no trusted proxy)"
    other_address = app.test_client()
    staff = make_staff("Staff")
    response = other_address.post("/login", environ_base={"REMOTE_ADDR": "198.51.100.7"}, data={
        "email": staff.email, "password": TEST_PASSWORD,
        "csrf_token": csrf_token(other_address)})
    assert response.status_code == 302, "another address signs in normally"


def test_successful_sign_ins_do_not_count_towards_the_throttle(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "SIGN_IN_LIMIT_PER_ADDRESS", "2 per minute")
    staff = make_staff("Staff")
    for _ in range(4):
        sign_in(client, staff)
        client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")})


def test_sign_in_logs_name_accounts_by_id_never_by_email(client, app, clock, generous_throttle, caplog):
    staff = make_staff("Staff")
    caplog.set_level(logging.INFO, logger="ccd")
    _attempt(client, "nobody-here@test.example", "wrong-password-1")
    for _ in range(app.config["SIGN_IN_LOCKOUT_FAILURES"]):
        _attempt(client, staff.email, "wrong-password-1")
    clock.advance(hours=1)
    sign_in(client, staff)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")})

    text = caplog.text
    assert str(staff.user_id) in text
    assert "locked" in text and "signed in" in text and "signed out" in text
    assert staff.email not in text and "nobody-here" not in text
    assert TEST_PASSWORD not in text and "wrong-password-1" not in text


def test_administrator_sees_a_lockout_and_lifts_it_with_a_new_password(
        client, app, clock, generous_throttle, db_session):
    locked = make_staff("Staff")
    for _ in range(app.config["SIGN_IN_LOCKOUT_FAILURES"]):
        _attempt(client, locked.email, "wrong-password-1")
    admin = app.test_client()
    sign_in(admin, make_staff("Administrator"))
    details = admin.get(f"/admin/users/details/?id={locked.user_id}").get_data(as_text=True)
    assert "Locked until" in details and "Failed sign-ins in a row" in details

    response = admin.post(f"/admin/users/edit/?id={locked.user_id}", data={
        "new_password": "unlocked-again-77", "csrf_token": csrf_token(admin, "/admin/")})
    assert response.status_code == 302
    assert _attempt(client, locked.email, "unlocked-again-77").status_code == 302


# --- Ending sessions everywhere -----------------------------------------------------------------

def _copy_of(browser, app):
    """A second browser holding a copy of ``browser``'s session cookie (a stolen or shared cookie)."""
    name = app.config["SESSION_COOKIE_NAME"]
    copy = app.test_client()
    copy.set_cookie(name, browser.get_cookie(name).value)
    return copy


def _signed_in(browser) -> bool:
    response = browser.get("/admin/")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def test_a_copied_cookie_replayed_after_sign_out_is_signed_out(client, app, db_session):
    staff = make_staff("Staff")
    sign_in(client, staff)
    copy = _copy_of(client, app)
    elsewhere = app.test_client()
    sign_in(elsewhere, staff)
    assert _signed_in(copy) and _signed_in(elsewhere)

    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    assert not _signed_in(copy), "the cookie copied before sign-out no longer signs anyone in"
    assert not _signed_in(elsewhere), "signing out ends every session of the account"
    sign_in(client, staff)
    assert _signed_in(client) and not _signed_in(copy)


def test_my_new_password_ends_my_other_sessions_and_keeps_this_one(client, app, db_session):
    staff = make_staff("Staff")
    sign_in(client, staff)
    copy = _copy_of(client, app)
    response = client.post("/admin/my-account/password", data={
        "csrf_token": csrf_token(client, "/admin/my-account/"), "current_password": TEST_PASSWORD,
        "new_password": "walnut-harbour-47-kettle", "confirmation": "walnut-harbour-47-kettle"})
    assert response.status_code == 302
    assert _signed_in(client) and not _signed_in(copy)


def test_an_administrators_password_reset_ends_the_accounts_sessions(client, app, db_session):
    staff = make_staff("Staff")
    sign_in(client, staff)
    admin = app.test_client()
    sign_in(admin, make_staff("Administrator"))
    response = admin.post(f"/admin/users/edit/?id={staff.user_id}", data={
        "new_password": "reset-by-admin-77", "csrf_token": csrf_token(admin, "/admin/")})
    assert response.status_code == 302
    assert not _signed_in(client) and _signed_in(admin)


def test_deactivation_ends_the_sessions_and_reactivation_revives_none(client, app, db_session):
    staff = make_staff("Staff")
    sign_in(client, staff)
    staff.active = False
    db_session.commit()
    assert not _signed_in(client)
    staff.active = True
    db_session.commit()
    assert not _signed_in(client)
    sign_in(client, staff)
    assert _signed_in(client)
