"""The column maps: every column a source's real export carries is kept somewhere a person sees it,
or declared ignored with a reason."""

import re
import uuid
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Client, ClientUploadLog, Enrollment
from app.services.ingest import import_file
from app.services.ingest.column_maps import FIELD_STORED_IN, IGNORED_COLUMNS, IMPORT_FIELDS, default_titles
from tests import factories

SOURCE_FORMATS = Path("/work/shared/source-formats.md")
# The header of EMHware's "Current Client List - Receiving Services" export, as shared/source-formats.md quotes it.
RECEIVING_SERVICES_HEADER = ["ID", "Last Name", "First Name", "Program", "DOB", "Age", "Gender", "City",
                             "Sub-program", "Worker", "Level of Support", "Admission Date", "Days Elapsed",
                             "Location/County", "Referral Source"]


@pytest.mark.skipif(not SOURCE_FORMATS.is_file(), reason="the shared source formats are not on this machine")
def test_the_header_here_is_the_one_the_source_formats_quote():
    text = SOURCE_FORMATS.read_text(encoding="utf-8")
    quoted = re.search(r'Receiving Services" has exactly this header row:\s*```\s*\n(.+)\n', text)
    assert quoted and quoted.group(1).strip().split(",") == RECEIVING_SERVICES_HEADER


def test_every_receiving_services_column_is_stored_or_declared_ignored(db_session):
    from app.services.ingest.column_maps import ColumnMap

    resolved = ColumnMap("EMHware", default_titles("EMHware")).resolve(RECEIVING_SERVICES_HEADER)
    assert resolved.problem() is None
    stored = {RECEIVING_SERVICES_HEADER[index]: field for field, index in resolved.positions.items()}
    ignored = IGNORED_COLUMNS["EMHware"]
    assert set(stored) | set(ignored) == set(RECEIVING_SERVICES_HEADER), "every column is accounted for"
    assert not set(stored) & set(ignored), "a column is either read or ignored, not both"
    assert stored["Referral Source"] == "referral_source"
    assert all(reason.strip() for reason in ignored.values())
    assert [title for title, _ in resolved.not_read()] == [h for h in RECEIVING_SERVICES_HEADER if h in ignored]


def test_every_import_field_names_a_real_column_it_lands_in():
    tables = db.metadata.tables
    assert set(FIELD_STORED_IN) == set(IMPORT_FIELDS)
    for field, place in FIELD_STORED_IN.items():
        table, column = place.split(".")
        assert column in tables[table].c, f"{field} is said to land in {place}, which does not exist"


def test_a_receiving_services_row_keeps_its_referral_source_on_the_enrollment(tmp_path, db_session):
    program = factories.create("programs")
    path = tmp_path / f"{uuid.uuid4().hex[:6]}-receiving.csv"
    path.write_text(",".join(RECEIVING_SERVICES_HEADER) + "\r\n"
                    f'CLI000001,Tremblay,Marie,"{program.name}",1980-02-03,44,Female,Toronto,Intake,J. Doe,High,'
                    '2024-01-15,10,Toronto,"Self,  Family or Friend"\r\n', encoding="utf-8")
    summary = import_file(path, "EMHware")
    client = db.session.scalar(sa.select(Client).where(Client.last_name == "Tremblay"))
    enrollment = db.session.scalar(sa.select(Enrollment).where(Enrollment.client_id == client.id))
    assert (client.dob, client.gender, client.city) == (date(1980, 2, 3), "Woman", "Toronto")
    assert enrollment.referral_source == "Self, Family or Friend" and enrollment.start_date == date(2024, 1, 15)
    log = db.session.get(ClientUploadLog, summary.upload_log_id)
    not_read = dict(log.upload_details["columns_not_read"])
    assert list(not_read) == [title for title in RECEIVING_SERVICES_HEADER if title in IGNORED_COLUMNS["EMHware"]]
    assert not_read["Age"] == IGNORED_COLUMNS["EMHware"]["Age"]
