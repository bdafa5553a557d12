"""The demo seed: safe to run again, one sign-in per role, never in production, consistent histories."""

import pytest
import sqlalchemy as sa

from app.auth import authenticate
from app.extensions import db
from app.models import Discharge, Enrollment, Staff, SubProgram
from app.permissions import Role
from app.services.demo import organisation
from app.services.demo import CLIENT_COUNT, DEMO_LOGINS, DEMO_PASSWORD, DemoRefused, seed_demo

DEVELOPMENT = {"CCD_ENV": "development"}


def table_counts() -> dict[str, int]:
    return {
        table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


def test_seeding_twice_adds_nothing_the_second_time(app, db_session):
    before = table_counts()
    first = seed_demo(DEVELOPMENT)
    after_first = table_counts()
    second = seed_demo(DEVELOPMENT)
    after_second = table_counts()

    assert first.created and not second.created
    assert after_first["clients"] - before["clients"] == CLIENT_COUNT
    assert after_second == after_first
    assert (second.clients, second.enrollments, second.discharges) == (
        after_first["clients"], after_first["client_program_enrollments"], after_first["discharges"])


def test_one_sign_in_per_role_and_each_signs_in(app, db_session):
    seed_demo(DEVELOPMENT)

    assert sorted(role for _, role in DEMO_LOGINS) == sorted(Role)
    demo_sign_ins = db.session.scalars(
        sa.select(Staff).where(Staff.user_id.is_not(None), Staff.email.like("%@ccd.demo"))
    ).all()
    for role in Role:
        assert sum(role.value in member.role_names for member in demo_sign_ins) == 1, role
    for email, role in DEMO_LOGINS:
        user = authenticate(email, DEMO_PASSWORD)
        assert user is not None, email
        assert role.value in user.role_names
        assert authenticate(email, DEMO_PASSWORD + "x") is None
    without_sign_in = db.session.scalars(sa.select(Staff).where(Staff.email.like("%@agency.demo"))).all()
    assert without_sign_in and all(member.user_id is None for member in without_sign_in)


def test_refuses_in_production_and_writes_nothing(app, db_session):
    before = table_counts()

    with pytest.raises(DemoRefused, match="refuses to run with CCD_ENV=production"):
        seed_demo({"CCD_ENV": "production"})

    assert table_counts() == before


def test_failure_part_way_leaves_nothing(app, db_session, monkeypatch):
    before = table_counts()

    def broken() -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(organisation, "ensure_recipient", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        seed_demo(DEVELOPMENT)

    assert table_counts() == before


def test_enrollment_histories_are_consistent(app, db_session):
    seed_demo(DEVELOPMENT)

    with_subprogram = db.session.scalar(
        sa.select(sa.func.count()).select_from(Enrollment).where(Enrollment.subprogram_id.is_not(None))
    )
    foreign_subprogram = db.session.scalar(
        sa.select(sa.func.count()).select_from(Enrollment)
        .join(SubProgram, SubProgram.id == Enrollment.subprogram_id)
        .where(SubProgram.program_id != Enrollment.program_id)
    )
    ended = db.session.scalar(
        sa.select(sa.func.count()).select_from(Enrollment).where(Enrollment.end_date.is_not(None))
    )
    has_discharge = (
        sa.select(Discharge.id)
        .where(Discharge.client_id == Enrollment.client_id, Discharge.program_id == Enrollment.program_id,
               Discharge.discharge_date == Enrollment.end_date)
        .exists()
    )
    ended_without_discharge = db.session.scalar(
        sa.select(sa.func.count()).select_from(Enrollment).where(Enrollment.end_date.is_not(None), ~has_discharge)
    )

    assert with_subprogram > 0
    assert foreign_subprogram == 0
    assert ended > 0
    assert ended_without_discharge == 0
