"""Staff accounts and roles: creating sign-ins, the role table, the password rule."""

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from app.extensions import db
from app.models import Role as RoleRow
from app.models import Staff, User
from app.permissions import ROLE_DESCRIPTIONS, Role

MIN_PASSWORD_LENGTH = 10


class AccountError(ValueError):
    """Bad input for an account; the message says what to change."""


def check_password_rule(password: str, email: str = "") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.")
    if email and password.strip().lower() == email.strip().lower():
        raise AccountError("The password cannot be the email address.")
    if password.isalpha() or password.isdigit():
        raise AccountError("The password must mix letters with digits or symbols.")


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
