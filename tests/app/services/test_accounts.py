"""The password rule and the sign-in lockout arithmetic."""

from datetime import datetime, timedelta, timezone

import pytest

from app.models import User
from app.services.accounts import (
    MAX_PASSWORD_LENGTH, AccountError, check_password_rule, is_locked, record_failed_sign_in, record_sign_in,
)

EMAIL = "marie.tremblay@agency.example"


@pytest.mark.parametrize("password", [
    "correct horse battery 7",
    "Tuesday-lentil-soup-9",
    "ccd-demo-2026",
    "k8#Vq2!mZp0w",
])
def test_reasonable_passwords_pass(password):
    check_password_rule(password, EMAIL)


@pytest.mark.parametrize("password,reason", [
    ("short-1", "at least 12"),
    ("x1" * (MAX_PASSWORD_LENGTH // 2 + 1), "at most"),
    ("marie.tremblay@agency.example", "email"),
    ("Marie.Tremblay-2026", "name part"),
    ("onlylettershere", "mix letters"),
    ("123456789012345", "mix letters"),
    ("aaaa1111aaaa1111", "too few different"),
    ("Password2026!", "too common"),
    ("P@ssw0rd123456", "too common"),
    ("Welcome12345!", "too common"),
    ("Summer2025!!!", "too common"),
    ("qwertyuiop123", "too common"),
    ("1q2w3e4r5t6y", "too common"),
])
def test_weak_passwords_are_refused_with_the_reason(password, reason):
    with pytest.raises(AccountError, match=reason):
        check_password_rule(password, EMAIL)


NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
LOCK = timedelta(minutes=15)


HERE, ELSEWHERE = "address-here", "address-elsewhere"


def test_lockout_after_the_given_number_of_failures_in_a_row():
    account = User(failed_sign_ins=0)
    assert [record_failed_sign_in(account, NOW, 3, LOCK, HERE) for _ in range(3)] == [False, False, True]
    assert is_locked(account, NOW + LOCK - timedelta(seconds=1), HERE)
    assert not is_locked(account, NOW + LOCK, HERE)


def test_a_lockout_binds_the_address_that_failed_not_the_owner_elsewhere():
    account = User(failed_sign_ins=0)
    for _ in range(3):
        record_failed_sign_in(account, NOW, 3, LOCK, ELSEWHERE)
    assert is_locked(account, NOW, ELSEWHERE) and not is_locked(account, NOW, HERE)
    record_sign_in(account, NOW, HERE)
    assert is_locked(account, NOW, ELSEWHERE), "the owner's sign-in lifts no other address's lockout"
    assert account.locked_until == NOW + LOCK and account.failed_sign_ins == 3


def test_an_expired_lockout_starts_a_fresh_count():
    account = User(failed_sign_ins=0)
    for _ in range(3):
        record_failed_sign_in(account, NOW, 3, LOCK, HERE)
    assert record_failed_sign_in(account, NOW + LOCK, 3, LOCK, HERE) is False
    assert account.failed_sign_ins == 1 and account.locked_until is None


def test_old_failures_are_forgotten_after_a_lockouts_length():
    account = User(failed_sign_ins=0)
    for _ in range(2):
        record_failed_sign_in(account, NOW, 3, LOCK, HERE)
    assert record_failed_sign_in(account, NOW + LOCK, 3, LOCK, HERE) is False
    assert account.failed_sign_ins == 1


def test_failing_from_many_addresses_keeps_only_the_most_recent_ones():
    from app.services.accounts import MAX_TRACKED_ADDRESSES

    account = User(failed_sign_ins=0)
    for n in range(MAX_TRACKED_ADDRESSES + 5):
        record_failed_sign_in(account, NOW + timedelta(seconds=n), 3, LOCK, f"address-{n}")
    assert len(account.sign_in_lockouts) == MAX_TRACKED_ADDRESSES
    assert f"address-{MAX_TRACKED_ADDRESSES + 4}" in account.sign_in_lockouts and "address-0" not in account.sign_in_lockouts


def test_a_sign_in_clears_failures_and_records_the_time():
    account = User(failed_sign_ins=0)
    for _ in range(2):
        record_failed_sign_in(account, NOW, 3, LOCK, HERE)
    record_sign_in(account, NOW, HERE)
    assert account.failed_sign_ins == 0 and account.locked_until is None and account.last_login_at == NOW
