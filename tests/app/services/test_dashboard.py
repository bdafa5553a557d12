"""The home page figures count only what the person may see."""

from datetime import date

from app.extensions import db
from app.models import StaffProgramAssignment
from app.services.dashboard import dashboard_figures
from tests import factories
from tests.conftest import make_staff


def test_figures_count_only_the_persons_programs_and_clients(db_session):
    mine, theirs = factories.program(), factories.program()
    in_mine = factories.enrollment(program=mine, start_date=date(2024, 1, 1))
    in_theirs = factories.enrollment(program=theirs, start_date=date(2024, 1, 1))
    db.session.add_all([mine, theirs, in_mine, in_theirs,
                        factories.restriction(client=in_mine.client), factories.restriction(client=in_theirs.client)])
    staff, nobody, coordinator = make_staff("Staff"), make_staff("Staff"), make_staff("Coordinator")
    db.session.add(StaffProgramAssignment(staff=staff, program=mine))
    db.session.commit()

    assert dashboard_figures(staff) == {"clients": 1, "programs": 1, "active_enrollments": 1,
                                        "active_restrictions": 1}
    assert dashboard_figures(nobody) == {"clients": 0, "programs": 0, "active_enrollments": 0,
                                         "active_restrictions": 0}
    everything = dashboard_figures(coordinator)
    assert everything["clients"] >= 2 and everything["active_restrictions"] >= 2
