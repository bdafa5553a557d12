"""A program's record page: occupancy and the newest current enrollments, read one part of "active" at a time."""

from datetime import date

import sqlalchemy as sa

from app.extensions import db
from app.models import Enrollment, ProgramManagerAssignment
from app.services import programs
from app.services.reports import enrollment_active_on
from app.services.scope import restrict
from tests import factories
from tests.conftest import make_staff

TODAY = date(2024, 5, 1)


def _plain(program, viewer, limit):
    """What the page showed before: one query over the program's whole history with the OR of "active"."""
    active = sa.and_(Enrollment.program_id == program.id, enrollment_active_on(TODAY))
    occupied = db.session.scalar(sa.select(sa.func.count()).select_from(Enrollment).where(active))
    newest = db.session.scalars(restrict(
        sa.select(Enrollment).where(active).order_by(Enrollment.start_date.desc(), Enrollment.id).limit(limit),
        Enrollment, viewer)).all()
    return occupied, [e.id for e in newest]


def test_occupancy_and_newest_enrollments_match_the_plain_query_for_each_viewer(db_session, monkeypatch):
    program, other = factories.program(), factories.program()
    db.session.add_all([program, other])
    rows = [
        (date(2024, 1, 1), None, False), (date(2024, 2, 1), None, False), (date(2024, 2, 1), None, False),
        (date(2024, 3, 1), TODAY, False), (date(2024, 4, 1), date(2024, 9, 1), False),
        (date(2024, 4, 15), date(2024, 4, 30), False), (date(2024, 5, 2), None, False),
        (date(2024, 4, 20), None, True), (date(2024, 3, 10), date(2024, 12, 1), False),
    ]
    for start, end, archived in rows:
        db.session.add(factories.enrollment(program=program, start_date=start, end_date=end, is_archived=archived))
    shared = factories.enrollment(program=program, start_date=date(2024, 4, 25))
    db.session.add_all([shared, factories.enrollment(client=shared.client, program=other)])
    db.session.commit()
    manager = make_staff("Manager")
    db.session.add(ProgramManagerAssignment(staff=manager, program=other))
    db.session.commit()

    monkeypatch.setattr(programs, "RECENT_ENROLLMENTS_LIMIT", 4)
    for viewer in (make_staff("Coordinator"), manager):
        summary = programs.program_record_summary(program, viewer, today=TODAY)
        occupied, newest = _plain(program, viewer, 4)
        assert (summary["occupied"], [e.id for e in summary["current_enrollments"]]) == (occupied, newest)
    assert occupied == 7
    assert [e.id for e in programs.program_record_summary(program, manager, today=TODAY)["current_enrollments"]] \
        == [shared.id], "a manager of another program sees only the client they share"


def test_an_enrollment_that_ended_today_as_finished_is_not_current(db_session):
    program = factories.program()
    db.session.add(program)
    rows = {
        "open": factories.enrollment(program=program, start_date=date(2024, 1, 1)),
        "ends today, still active": factories.enrollment(program=program, start_date=date(2024, 2, 1),
                                                         end_date=TODAY),
        "ends later": factories.enrollment(program=program, start_date=date(2024, 3, 1), end_date=date(2024, 6, 1)),
    }
    for status in programs.FINISHED_STATUSES:
        rows[f"{status} today"] = factories.enrollment(program=program, start_date=date(2024, 2, 1),
                                                       end_date=TODAY, status=status)
    rows["completed yesterday"] = factories.enrollment(program=program, start_date=date(2024, 2, 1),
                                                       end_date=date(2024, 4, 30), status="completed")
    db.session.add_all(rows.values())
    db.session.commit()
    expected = {row.id for row in rows.values()
                if row.start_date <= TODAY and (row.end_date is None or row.end_date > TODAY
                                                or (row.end_date == TODAY and row.status not in
                                                    ("completed", "discharged", "cancelled")))}
    assert len(expected) == 3

    summary = programs.program_record_summary(program, make_staff("Coordinator"), today=TODAY)
    assert {e.id for e in summary["current_enrollments"]} == expected
    assert summary["occupied"] == len(expected)
