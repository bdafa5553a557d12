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
        (["--email", "a@b.example", "--role", "Staff", "--password", "short1"], "at least 10"),
        (["--email", "not-an-email", "--role", "Staff", "--password", "long-enough-1"], "not a valid email"),
    ]:
        result = runner.invoke(args=["ccd", "create-user", *args])
        assert result.exit_code != 0
        assert message in result.output and "Nothing was changed" in result.output
    assert _staff_count() == before


def test_ingest_prints_the_summary_and_writes_rejects(app, db_session, tmp_path):
    from tests import factories

    program = factories.create("programs")
    path = tmp_path / "smis.csv"
    path.write_text("Client No.,Last Name,First Name,DOB,Admission Date\n1,Roy,Luc,1970-01-01,2024-01-01\n"
                    "2,Roy,Ann,1970-13-01,2024-01-01\n", encoding="cp1252")
    rejects = tmp_path / "rejects.csv"
    result = app.test_cli_runner().invoke(args=["ccd", "ingest", "--src", str(path), "--source", "smis",
                                                "--program", program.name, "--rejects", str(rejects)])
    assert result.exit_code == 0, result.output
    assert "rows read: 2" in result.output and "clients inserted: 1" in result.output
    assert "enrollments written: 1" in result.output and "1 rejected row(s)" in result.output
    assert "not a real date" in rejects.read_text(encoding="utf-8-sig")


def test_ingest_exits_non_zero_when_the_file_is_refused(app, db_session, tmp_path):
    path = tmp_path / "smis.csv"
    path.write_text("Last Name\nRoy\n")
    result = app.test_cli_runner().invoke(args=["ccd", "ingest", "--src", str(path), "--source", "SMIS"])
    assert result.exit_code == 1 and "missing required columns" in result.output
