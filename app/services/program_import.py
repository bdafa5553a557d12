"""Programs from a CSV: read the file, show each row as it would be saved or why it cannot be, then save.

A small importer of its own (the client importer matches people; this only adds
programs): the columns are found through the one column registry
(ingest/column_maps.PROGRAM_COLUMN_TITLES), the file is decoded like every import
(ingest/reading.py), and every row is checked before anything is written. Saving checks
the rows again (the database may have changed since the preview) and writes each valid
row in its own savepoint, so a row the database refuses is reported and the others are
saved; programs are written through the session, which audits and guards each one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.exc import DataError, IntegrityError

from app.choices import PROGRAM_STATUSES
from app.constraints import explain
from app.extensions import db
from app.guard import WriteNotPermitted
from app.models import Department, Program, ProgramCapacity
from app.permissions import Action, Grant, grant
from app.services.ingest.column_maps import program_column_map
from app.services.ingest.reading import FileRefused, as_text, read_csv

MAX_ROWS = 2000
MAX_BYTES = 256 << 10
YES, NO = frozenset({"yes", "y", "true", "1", "x"}), frozenset({"no", "n", "false", "0", ""})
TEXT_LIMITS = {"name": 255, "location": 255}


class ProgramImportRefused(ValueError):
    """The whole file, or the person, cannot import programs; the message says why."""


@dataclass
class ProgramRow:
    """One row of the file: what it would save, or the errors that stop it."""

    number: int
    values: dict
    errors: list[str] = field(default_factory=list)
    department: Department | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class ProgramPreview:
    rows: list[ProgramRow]
    not_read: list[list[str]]

    @property
    def valid(self) -> list[ProgramRow]:
        return [row for row in self.rows if row.ok]


def check_permission(staff) -> None:
    """Importing writes programs directly: only those who create programs without approval may."""
    roles = staff.role_names if staff is not None else frozenset()
    if grant(roles, "programs", Action.CREATE) is not Grant.ALLOW:
        raise ProgramImportRefused("Only a Coordinator or an Administrator can import programs.")


def read_rows(data: bytes) -> tuple[list[tuple[int, dict]], list[list[str]]]:
    """The file's rows as {field: text}, and the columns it has that are not read."""
    if len(data) > MAX_BYTES:
        raise ProgramImportRefused(f"The file is larger than {MAX_BYTES >> 10} KB; a programs file is a short list.")
    column_map = program_column_map()

    def headers_known(cells) -> bool:
        return not column_map.resolve([as_text(c) for c in cells]).missing

    try:
        sheet = read_csv(data, headers_known)
    except FileRefused as exc:
        raise ProgramImportRefused(str(exc)) from None
    columns = column_map.resolve(sheet.headers)
    problem = columns.problem()
    if problem:
        raise ProgramImportRefused(problem)
    rows = []
    try:
        for number, cells in sheet.rows:
            if len(rows) >= MAX_ROWS:
                raise ProgramImportRefused(f"The file has more than {MAX_ROWS} rows.")
            rows.append((number, {name: as_text(cells[index]) if index < len(cells) else ""
                                  for name, index in columns.positions.items()}))
    except FileRefused as exc:
        raise ProgramImportRefused(str(exc)) from None
    if not rows:
        raise ProgramImportRefused("The file has a header but no programs.")
    return rows, columns.not_read()


def _check(number: int, cells: dict, departments: dict, taken: set[str]) -> ProgramRow:
    row = ProgramRow(number, {})
    values, errors = row.values, row.errors
    name = " ".join(cells.get("name", "").split())
    if not name:
        errors.append("The program name is empty.")
    elif name.casefold() in taken:
        errors.append(f"A program called {name!r} already exists (in CCD or earlier in this file).")
    values["name"] = name
    department_name = cells.get("department", "").strip()
    row.department = departments.get(department_name.casefold())
    if row.department is None:
        errors.append(f"No department called {department_name!r}; create it first (Departments)."
                      if department_name else "The department is empty.")
    values["department"] = department_name
    for text_field, limit in TEXT_LIMITS.items():
        if len(cells.get(text_field, "")) > limit:
            errors.append(f"The {text_field} is longer than {limit} characters.")
    values["location"] = cells.get("location", "") or None
    values["description"] = cells.get("description", "") or None
    capacity = cells.get("capacity_current", "")
    try:
        values["capacity_current"] = int(capacity) if capacity else 0
        if values["capacity_current"] < 0:
            raise ValueError
    except ValueError:
        errors.append(f"The capacity {capacity!r} is not a whole number of places (0 or more).")
    limitless = cells.get("no_capacity_limit", "").casefold()
    if limitless not in YES | NO:
        errors.append(f"No capacity limit must be Yes or No, not {cells['no_capacity_limit']!r}.")
    values["no_capacity_limit"] = limitless in YES
    status = cells.get("status", "").casefold() or "active"
    if status not in PROGRAM_STATUSES:
        errors.append(f"The status must be one of {', '.join(PROGRAM_STATUSES)}, not {cells['status']!r}.")
    values["status"] = status
    effective = cells.get("capacity_effective_date", "")
    try:
        values["capacity_effective_date"] = date.fromisoformat(effective) if effective else None
    except ValueError:
        errors.append(f"The capacity date {effective!r} is not a date written YYYY-MM-DD.")
    if not errors:
        taken.add(name.casefold())
    return row


def preview(staff, data: bytes) -> ProgramPreview:
    """Every row of the file checked against CCD as it is now; nothing is written."""
    check_permission(staff)
    rows, not_read = read_rows(data)
    departments = {d.name.casefold(): d for d in db.session.scalars(
        sa.select(Department).where(Department.is_archived.is_(False)))}
    taken = {name.casefold() for name in db.session.scalars(sa.select(Program.name))}
    return ProgramPreview([_check(number, cells, departments, taken) for number, cells in rows], not_read)


def save(staff, data: bytes) -> tuple[list[ProgramRow], list[ProgramRow]]:
    """Check the file again and save each valid row: (saved rows, rows not saved with their errors)."""
    result = preview(staff, data)
    saved, refused = [], [row for row in result.rows if not row.ok]
    for row in result.valid:
        values = row.values
        try:
            with db.session.begin_nested():
                program = Program(name=values["name"], department=row.department, location=values["location"],
                                  capacity_current=values["capacity_current"],
                                  capacity_effective_date=values["capacity_effective_date"],
                                  no_capacity_limit=values["no_capacity_limit"], status=values["status"],
                                  description=values["description"])
                db.session.add(program)
                if values["capacity_effective_date"] is not None:
                    db.session.add(ProgramCapacity(program=program, effective_date=values["capacity_effective_date"],
                                                   capacity=values["capacity_current"]))
                db.session.flush()
        except IntegrityError as exc:
            row.errors.append(explain(exc))
        except (DataError, WriteNotPermitted) as exc:
            row.errors.append(str(exc) if isinstance(exc, WriteNotPermitted)
                              else "The database could not store a value of this row.")
        (refused if row.errors else saved).append(row)
    return saved, refused

