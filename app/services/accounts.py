"""Staff accounts and roles: creating sign-ins, the role table, the password rule, lockout."""

import re
from datetime import datetime, timedelta

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from app.extensions import db
from app.guard import also_allow
from app.models import Role as RoleRow
from app.models import Staff, User
from app.permissions import ROLE_DESCRIPTIONS, Role

MIN_PASSWORD_LENGTH = 12
# Long enough for any passphrase; bounded so hashing a pasted novel cannot tie up a worker.
MAX_PASSWORD_LENGTH = 128

# The words people build weak passwords around ("Welcome2026!", "P@ssw0rd123"). Kept short on
# purpose: length and the rules below do most of the work; this catches the obvious patterns.
COMMON_PASSWORD_WORDS = frozenset({
    "password", "passw", "pass", "passwd", "welcome", "letmein", "admin", "administrator", "changeme",
    "iloveyou", "monkey", "dragon", "sunshine", "princess", "football", "baseball", "hockey", "soccer",
    "master", "shadow", "superman", "batman", "trustno", "whatever", "freedom", "hello", "login",
    "access", "secret", "summer", "winter", "spring", "autumn", "qwerty", "qwertyuiop", "asdf",
    "asdfgh", "asdfghjkl", "zxcvbn", "abc", "abcd", "abcdef", "toronto", "ontario", "canada",
    "ccd", "client", "clients", "agency", "community", "shelter", "staff", "user", "test", "guest",
    "default", "demo", "temp", "temporary",
})
COMMON_PASSWORDS = frozenset({
    "1q2w3e4r5t6y", "q1w2e3r4t5y6", "1qaz2wsx3edc", "1qazxsw23edc", "qazwsxedcrfv", "zaq12wsxcde3",
    "zaq1zaq1zaq1", "a1b2c3d4e5f6", "abc123abc123", "123qweasdzxc", "qwe123qwe123",
})
_LOOKALIKES = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_EDGE_NON_LETTERS = re.compile(r"^[^a-z@$]+|[^a-z]+$")


class AccountError(ValueError):
    """Bad input for an account; the message says what to change."""


def _core_word(password: str) -> str:
    """The word a password is built around: digits and symbols at the ends removed, look-alikes undone."""
    return _EDGE_NON_LETTERS.sub("", password.lower()).translate(_LOOKALIKES)


def check_password_rule(password: str, email: str = "") -> None:
    """Refuse a password that is short, built from the email, repetitive or common; say what to change."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"The password must be at most {MAX_PASSWORD_LENGTH} characters long.")
    lowered = password.lower()
    email = email.strip().lower()
    if email:
        local_part = email.split("@")[0]
        if email in lowered or (len(local_part) >= 4 and local_part in lowered):
            raise AccountError("The password cannot contain the email address or its name part.")
    if password.isalpha() or password.isdigit():
        raise AccountError("The password must mix letters with digits or symbols.")
    if len(set(lowered)) < 5:
        raise AccountError("The password repeats too few different characters.")
    if lowered in COMMON_PASSWORDS or _core_word(password) in COMMON_PASSWORD_WORDS:
        raise AccountError("The password is too common. A few unrelated words make a strong, memorable one.")


# --- Sign-in lockout --------------------------------------------------------------------------

# Addresses followed per account at most, the most recent kept: failing from thousands of
# addresses cannot grow the account's row without bound (the per-address throttle still holds).
MAX_TRACKED_ADDRESSES = 200


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _entries(user: User, now: datetime, lock_for: timedelta | None = None) -> dict[str, dict]:
    """The account's per-address failure counts, without those that no longer matter: a lockout
    that has run out, or failures older than a lockout would last."""
    kept = {}
    for address, entry in (user.sign_in_lockouts or {}).items():
        until, last = _moment(entry.get("until")), _moment(entry.get("last"))
        if until is not None and now >= until:
            continue
        if until is None and lock_for is not None and last is not None and now - last >= lock_for:
            continue
        kept[address] = entry
    return kept


def _store(user: User, entries: dict[str, dict]) -> None:
    """Save the counts, and the summary an administrator sees: the most failures in a row from one
    address, and the latest time a lockout of some address ends."""
    if len(entries) > MAX_TRACKED_ADDRESSES:
        latest = sorted(entries.items(), key=lambda item: item[1]["last"], reverse=True)
        entries = dict(latest[:MAX_TRACKED_ADDRESSES])
    user.sign_in_lockouts = entries
    user.failed_sign_ins = max((entry["failures"] for entry in entries.values()), default=0)
    ends = [_moment(entry.get("until")) for entry in entries.values() if entry.get("until")]
    user.locked_until = max(ends) if ends else None


def is_locked(user: User, now: datetime, address: str) -> bool:
    """True while a lockout from repeated failed sign-ins *from this address* lasts.

    Locking per account and address (as django-axes does by default) slows whoever guesses
    without locking the owner out: someone failing on purpose from elsewhere locks only
    their own address, and the owner signs in from theirs.
    """
    until = _moment(_entries(user, now).get(address, {}).get("until"))
    return until is not None and now < until


def record_failed_sign_in(user: User, now: datetime, max_failures: int, lock_for: timedelta, address: str) -> bool:
    """Count a wrong password from ``address``; lock that address out of the account after
    ``max_failures`` in a row. True when it locks now.

    A lockout that has run out starts a fresh count. The caller commits.
    """
    entries = _entries(user, now, lock_for)
    entry = dict(entries.get(address, {"failures": 0}))
    entry["failures"] += 1
    entry["last"] = now.isoformat()
    locked_now = entry["failures"] >= max_failures and not entry.get("until")
    if locked_now:
        entry["until"] = (now + lock_for).isoformat()
    entries[address] = entry
    _store(user, entries)
    return locked_now


def record_sign_in(user: User, now: datetime, address: str) -> None:
    """A successful sign-in clears this address's failure count (others' lockouts stay). The caller commits."""
    entries = _entries(user, now)
    entries.pop(address, None)
    _store(user, entries)
    user.last_login_at = now


def ensure_roles() -> dict[str, RoleRow]:
    """Make sure every role of the rule table exists; returns them by name."""
    rows = {row.name: row for row in db.session.scalars(sa.select(RoleRow))}
    for role in Role:
        if role.value not in rows:
            rows[role.value] = RoleRow(name=role.value, description=ROLE_DESCRIPTIONS[role])
            db.session.add(rows[role.value])
    return rows


def parse_roles(names) -> list[Role]:
    roles = []
    for name in names:
        match = next((role for role in Role if role.value.lower() == name.strip().lower()), None)
        if match is None:
            raise AccountError(f"Unknown role {name!r}. Roles: {', '.join(r.value for r in Role)}.")
        roles.append(match)
    if not roles:
        raise AccountError("Give at least one role.")
    return roles


def normalise_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise AccountError(f"{email!r} is not a valid email address: {exc}") from None


def create_or_update_user(email: str, role_names, password: str, first_name: str | None = None,
                          last_name: str | None = None) -> Staff:
    """Create a staff member with a sign-in (or update an existing one's roles and password).

    The caller commits; nothing is flushed if any input is refused.
    """
    email = normalise_email(email)
    roles = parse_roles(role_names)
    check_password_rule(password, email)
    role_rows = ensure_roles()
    staff = db.session.scalar(sa.select(Staff).where(sa.func.lower(Staff.email) == email.lower()))
    if staff is None:
        local = email.split("@")[0]
        staff = Staff(email=email, first_name=first_name or local.split(".")[0].capitalize(),
                      last_name=last_name or (local.split(".")[1].capitalize() if "." in local else "Staff"))
        db.session.add(staff)
    else:
        staff.active = True
    if staff.user is None:
        staff.user = User()
    if staff.user.password_hash is None or not staff.user.check_password(password):
        staff.user.set_password(password)  # re-hashing the same password would be a change that changes nothing
    for role in roles:
        if role_rows[role.value] not in staff.roles:
            staff.roles.append(role_rows[role.value])
    return staff


# --- Self-service -----------------------------------------------------------------------------

def change_own_password(user: User, current_password: str, new_password: str, confirmation: str, *,
                        now: datetime, max_failures: int, lock_for: timedelta, address: str) -> None:
    """A person's own new password: the current one is required and counts towards the sign-in lockout,
    the password rule applies, and an account locked from this address stays locked. Raises AccountError saying what to
    change; the caller commits either way (a wrong current password is a counted failure)."""
    if is_locked(user, now, address):
        raise AccountError("This account is locked after repeated failed attempts; try again later or ask an "
                           "administrator to set a new password.")
    if not user.check_password(current_password or ""):
        locked_now = record_failed_sign_in(user, now, max_failures, lock_for, address)
        raise AccountError("Your current password is not right." + (
            " The account is now locked after repeated failed attempts." if locked_now else ""))
    if new_password != confirmation:
        raise AccountError("The new password and its confirmation differ.")
    if new_password == current_password:
        raise AccountError("The new password must differ from the current one.")
    check_password_rule(new_password, user.staff.email if user.staff else "")
    # The session guard refuses a hand-made change of any account's password; this one proved the
    # current password above, so its own account may take the new one.
    with also_allow("users"):
        user.set_password(new_password)
        db.session.flush()
