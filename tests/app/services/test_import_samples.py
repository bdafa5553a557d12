"""The sample files are read by their own import, column for column."""

import pytest

from app.extensions import db
from app.models import ImportColumnTitle
from app.services import import_samples, program_import
from app.services.ingest.column_maps import IMPORT_FIELDS, PROGRAM_FIELDS, column_map_for, program_column_map
from app.services.ingest.reading import read_csv


@pytest.mark.parametrize("source", import_samples.SAMPLE_SOURCES)
def test_every_column_of_a_sample_is_read_by_its_import(db_session, source):
    sheet = read_csv(import_samples.sample_csv(db.session, source).encode("utf-8"))
    column_map = program_column_map() if source == "programs" else column_map_for(db.session, source)
    columns = column_map.resolve(sheet.headers)
    assert columns.problem() is None
    assert set(columns.positions) == set(column_map.titles)
    assert columns.not_read() == []
    [(number, cells)] = list(sheet.rows)
    assert number == 2 and len(cells) == len(sheet.headers)


def test_every_field_of_the_registry_has_a_sample_value():
    assert set(IMPORT_FIELDS) | set(PROGRAM_FIELDS) <= set(import_samples.SAMPLE_VALUES)


def test_a_sample_follows_the_titles_an_administrator_set(db_session):
    db.session.add(ImportColumnTitle(source_system="SMIS", field="first_name", titles="Given Name"))
    db.session.flush()
    assert "Given Name" in import_samples.sample_csv(db.session, "SMIS").splitlines()[0].split(",")


def test_the_programs_sample_previews_clean_once_its_department_exists(request_as):
    from app.models import Department

    coordinator = request_as("Coordinator")
    db.session.add(Department(name=import_samples.SAMPLE_VALUES["department"]))
    db.session.flush()
    result = program_import.preview(coordinator, import_samples.sample_csv(db.session, "programs").encode())
    assert [row.errors for row in result.rows] == [[]]


def test_an_unknown_source_has_no_sample(db_session):
    with pytest.raises(ValueError, match="No sample"):
        import_samples.sample_csv(db.session, "Other")
