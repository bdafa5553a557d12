"""Operator commands: clear errors for bad input, and nothing half-written."""

import sqlalchemy as sa

from app.auth import authenticate
from app.extensions import db
from app.models import Staff


def _staff_count():
    return db.session.scalar(sa.select(sa.func.count()).select_from(Staff))


def test_create_user_then_sign_in(app, db_session):
    result = app.test_cli_runner().invoke(args=[
        "ccd", "create-user", "--email", "New.Person@Agency.example", "--role", "coordinator",
        "--password", "long-enough-1"])
    assert result.exit_code == 0, result.output
    user = authenticate("new.person@agency.example", "long-enough-1")
    assert user is not None and user.role_names == {"Coordinator"}


def test_create_user_refuses_bad_input_and_writes_nothing(app, db_session):
    before = _staff_count()
    runner = app.test_cli_runner()
    for args, message in [
        (["--email", "a@b.example", "--role", "Wizard", "--password", "long-enough-1"], "Unknown role"),
        (["--email", "a@b.example", "--role", "Staff", "--password", "short1"], "at least 12"),
        (["--email", "not-an-email", "--role", "Staff", "--password", "long-enough-1"], "not a valid email"),
        (["--email", "a@b.example", "--role", "Staff", "--password", "Password2026!"], "too common"),
    ]:
        result = runner.invoke(args=["ccd", "create-user", *args])
        assert result.exit_code != 0
        assert message in result.output and "Nothing was changed" in result.output
    assert _staff_count() == before


def test_demo_seed_refuses_production_from_the_command_line(app, db_session, monkeypatch):
    """The demo seed's published password must never reach a production database."""
    monkeypatch.setitem(app.config, "CCD_ENV", "production")
    before = _staff_count()
    result = app.test_cli_runner().invoke(args=["ccd", "seed-demo"])
    assert result.exit_code != 0
    assert "refuses to run with CCD_ENV=production" in result.output
    assert _staff_count() == before
