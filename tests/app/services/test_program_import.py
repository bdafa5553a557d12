"""Programs from a CSV: every row checked before anything is saved, each saved row audited."""

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditLog, Program, ProgramCapacity
from app.services import program_import
from app.services.program_import import ProgramImportRefused
from tests import factories
from tests.conftest import make_staff

HEADER = "Program,Department,Location,Capacity,Capacity effective from,No capacity limit,Status,Description\r\n"


def _file(*rows: str) -> bytes:
    return (HEADER + "".join(row + "\r\n" for row in rows)).encode("utf-8")


@pytest.fixture
def department(db_session):
    return factories.create("departments")


def test_the_preview_checks_every_row_and_writes_nothing(request_as, department):
    coordinator = request_as("Coordinator")
    existing = factories.create("programs")
    data = _file(f"Night Shelter,{department.name},12 King St,30,2025-01-01,No,active,Beds",
                 f"{existing.name.upper()},{department.name},,,,,,",
                 f"Outreach,No Such Department,,ten,,maybe,closed,",
                 f",{department.name},,,01/02/2025,,,",
                 f"night shelter,{department.name},,,,,,")
    result = program_import.preview(coordinator, data)
    assert [row.number for row in result.rows] == [2, 3, 4, 5, 6]
    first, dup, bad, blank, repeated = result.rows
    assert first.ok and first.values["capacity_current"] == 30 and first.department.id == department.id
    assert "already exists" in dup.errors[0]
    assert len(bad.errors) == 4
    assert any("No department called 'No Such Department'" in e for e in bad.errors)
    assert any("'ten' is not a whole number" in e for e in bad.errors)
    assert any("Yes or No" in e for e in bad.errors) and any("status must be one of" in e for e in bad.errors)
    assert "name is empty" in blank.errors[0] and any("YYYY-MM-DD" in e for e in blank.errors)
    assert "earlier in this file" in repeated.errors[0]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Program).where(
        Program.name == "Night Shelter")) == 0


def test_saving_writes_the_valid_rows_with_their_capacity_and_audit(request_as, department):
    coordinator = request_as("Coordinator")
    data = _file(f"Night Shelter,{department.name},12 King St,30,2025-01-01,No,Active,Beds",
                 f"Drop-in,{department.name},,,,Yes,,",
                 f"Broken,{department.name},,-3,,,,")
    saved, refused = program_import.save(coordinator, data)
    db.session.commit()
    assert [row.values["name"] for row in saved] == ["Night Shelter", "Drop-in"]
    assert [row.number for row in refused] == [4]
    shelter = db.session.scalar(sa.select(Program).where(Program.name == "Night Shelter"))
    assert (shelter.department_id, shelter.capacity_current, shelter.status, shelter.location) == (
        department.id, 30, "active", "12 King St")
    [capacity] = db.session.scalars(sa.select(ProgramCapacity).where(ProgramCapacity.program_id == shelter.id)).all()
    assert capacity.capacity == 30
    drop_in = db.session.scalar(sa.select(Program).where(Program.name == "Drop-in"))
    assert drop_in.no_capacity_limit is True
    [audit] = db.session.scalars(sa.select(AuditLog).where(AuditLog.entity == "programs",
                                                           AuditLog.entity_id == shelter.id)).all()
    assert audit.action == "create" and audit.changed_by_id == coordinator.id


@pytest.mark.parametrize("role", ["Manager", "Analyst"])
def test_only_those_who_create_programs_directly_import_them(db_session, department, role):
    person = make_staff(role)
    with pytest.raises(ProgramImportRefused, match="Coordinator or an Administrator"):
        program_import.preview(person, _file(f"Night Shelter,{department.name},,,,,,"))


@pytest.mark.parametrize("data, message", [
    (b"Name of thing,Where\r\nA,B\r\n", "missing required columns"),
    (HEADER.encode(), "no programs"),
    (b"Program,Department\r\n\x81\x8d,x\r\n", "neither UTF-8 nor Windows-1252"),
    (HEADER.encode() + b"x" * program_import.MAX_BYTES, "larger than"),
])
def test_a_file_that_cannot_be_read_is_refused_with_the_reason(request_as, data, message):
    coordinator = request_as("Coordinator")
    with pytest.raises(ProgramImportRefused, match=message):
        program_import.preview(coordinator, data)
