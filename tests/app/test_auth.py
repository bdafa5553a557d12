"""Signing in and out: hashed passwords, no user enumeration, safe redirects, CSRF."""

import pytest

from app.auth import is_safe_next
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
    assert response.status_code == 401
    assert client.get("/admin/").status_code == 302


def test_sign_out_needs_post_with_token_and_ends_session(client):
    sign_in(client, make_staff("Staff"))
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 302
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
