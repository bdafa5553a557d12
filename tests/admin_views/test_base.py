"""What every screen inherits from CCDModelView: exports and user input that cannot break a page."""

import csv
import io
from itertools import cycle

import sqlalchemy as sa

from admin_views.base import CCDModelView
from app.exports import FORMULA_PREFIXES
from app.models import Client, Department, Program, Staff
from app.permissions import Action, Grant, grant
from tests import factories

# Every way a cell starts a formula in Excel or LibreOffice (issue 16, leak 2).
FORMULAS = ('=HYPERLINK("http://x","y")', "=1+2", "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3", "\t=1+2", "\r=1+2")
NAME_FIELDS = {Client: ("first_name", "last_name", "preferred_name"), Program: ("name",),
               Staff: ("first_name", "last_name"), Department: ("name",)}


def exportable_views(app):
    """Every admin screen an Administrator may export (the role that may export the most)."""
    return [view for view in app.extensions["admin"][0]._views
            if isinstance(view, CCDModelView)
            and grant(frozenset({"Administrator"}), view.rule_key, Action.EXPORT) is not Grant.DENY]


def _rename(record, formulas) -> None:
    for field in NAME_FIELDS[type(record)]:
        # A unique tail keeps names unique; the cell still starts like a formula.
        setattr(record, field, f"{next(formulas)} {factories.unique('x')[2:]}")


def _plant_formula_names(view, row, formulas) -> bool:
    """Give the row, and every client, program, staff member or department its export shows, a
    formula for a name; True when at least one of them is in the export's columns."""
    columns = [name for name, _ in view._export_columns]
    shown = False
    if type(row) in NAME_FIELDS:
        _rename(row, formulas)
        shown = any(field in columns for field in NAME_FIELDS[type(row)])
    relationships = sa.inspect(view.model).relationships
    for name in columns:
        related = getattr(row, name) if name in relationships else None
        if type(related) in NAME_FIELDS:
            _rename(related, formulas)
            shown = True
    return shown


def test_no_export_lets_a_formula_through_and_related_records_are_neutralised(app, client, db_session, sign_in_as):
    views = exportable_views(app)
    assert len(views) > 20
    sign_in_as("Administrator")
    formulas = cycle(FORMULAS)
    problems = []
    for view in views:
        row = factories.BUILDERS[view.rule_key]()
        shown = _plant_formula_names(view, row, formulas)
        db_session.add(row)
        db_session.commit()
        response = client.get(f"/admin/{view.endpoint}/export/csv/")
        if response.status_code != 200:
            problems.append(f"{view.endpoint}: export answered {response.status_code}")
            continue
        cells = [cell for line in csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")))
                 for cell in line]
        raw = [cell for cell in cells if cell.startswith(FORMULA_PREFIXES)]
        if raw:
            problems.append(f"{view.endpoint}: formula cells {raw[:3]}")
        if shown and not any(cell.startswith("'") and cell[1:].startswith(FORMULA_PREFIXES)
                                            for cell in cells):
            problems.append(f"{view.endpoint}: the formula-named record is missing from the export")
    assert not problems, "\n".join(problems)


def test_a_client_with_a_formula_name_is_text_in_the_enrollments_export(client, db_session, sign_in_as):
    enrollment = factories.enrollment(client=factories.client(last_name='=HYPERLINK("http://x","y")',
                                                              first_name="Mia"),
                                      program=factories.program(name="@SUM(1) Shelter"))
    db_session.add(enrollment)
    db_session.commit()
    sign_in_as("Administrator")
    rows = list(csv.reader(io.StringIO(client.get("/admin/client_program_enrollments/export/csv/")
                                       .get_data(as_text=True).lstrip("\ufeff"))))
    header = rows[0]
    mine = next(row for row in rows[1:] if "HYPERLINK" in row[header.index("Client")])
    assert mine[header.index("Client")].startswith("'=HYPERLINK")
    assert mine[header.index("Program")] == "'@SUM(1) Shelter"
