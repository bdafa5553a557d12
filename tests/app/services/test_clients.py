"""What a client's record page shows besides the client's own fields: its tabs."""

from datetime import date

from app.extensions import db
from app.services.clients import client_record_tabs
from tests import factories
from tests.conftest import make_staff


def test_tabs_show_the_newest_rows_and_count_them_all(db_session):
    client, program = factories.client(), factories.program(name="Harbour Shelter")
    db.session.add_all(factories.enrollment(client=client, program=program, start_date=date(2024, month, 1))
                       for month in (1, 5, 3))
    db.session.commit()

    tabs = client_record_tabs(client, make_staff("Coordinator"), limit=2)

    rows, total = tabs["enrollments"]
    assert total == 3
    assert [row.start_date for row in rows] == [date(2024, 5, 1), date(2024, 3, 1)]
    assert {row.program.name for row in rows} == {"Harbour Shelter"}
    assert tabs["intakes"] == ([], 0)
