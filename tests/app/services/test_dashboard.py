"""The home page figures and lists count only what the person may see, and only for the roles they serve."""

import uuid
from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa

from app.extensions import db
from app.models import ClientUploadLog, PendingChange, ServiceRestriction, StaffProgramAssignment
from app.services import dashboard
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


def _pending(**kw) -> PendingChange:
    return PendingChange(entity="clients", entity_id=uuid.uuid4(), operation="update", diff_json={"first_name": "B"},
                         requested_by=factories.staff_member(), **kw)


def test_pending_approvals_are_counted_for_the_people_who_decide_them(db_session):
    db.session.add_all([_pending(), _pending(), _pending(status="approved", reviewed_by=factories.staff_member(),
                                                                reviewed_at=datetime.now(timezone.utc))])
    db.session.commit()
    expected = db.session.scalar(sa.select(sa.func.count()).select_from(PendingChange)
                                 .where(PendingChange.status == "pending"))

    assert dashboard.pending_approvals(make_staff("Coordinator")) == expected >= 2
    assert dashboard.pending_approvals(make_staff("Administrator")) == expected
    for role in ("Manager", "Leader", "Staff", "Analyst", "Report viewer"):
        assert dashboard.pending_approvals(make_staff(role)) is None, role


def test_ending_soon_lists_restrictions_in_force_ending_within_the_days_in_scope(db_session):
    today = date(2026, 3, 2)
    mine = factories.program()
    staff = make_staff("Staff")
    factories.give_program(staff, mine)
    ends = {}
    for label, start, end, archived in (("in 3 days", -10, 3, False), ("today", -10, 0, False),
                                        ("in 20 days", -10, 20, False), ("ended", -10, -1, False),
                                        ("indefinite", -10, None, False), ("archived", -10, 2, True),
                                        ("not started", 1, 5, False)):
        enrollment = factories.enrollment(program=mine)
        row = factories.restriction(client=enrollment.client, start_date=today + timedelta(days=start),
                                    end_date=None if end is None else today + timedelta(days=end),
                                    is_archived=archived)
        db.session.add_all([enrollment, row])
        ends[label] = row
    elsewhere = factories.restriction(start_date=today - timedelta(days=5), end_date=today + timedelta(days=1))
    db.session.add(elsewhere)
    db.session.commit()

    soon = dashboard.restrictions_ending_soon(staff, 14, today=today)
    assert [row.id for row in soon.rows] == [ends["today"].id, ends["in 3 days"].id]
    assert soon.total == 2 and soon.days == 14

    everything = dashboard.restrictions_ending_soon(make_staff("Coordinator"), 14, today=today)
    expected = db.session.scalar(sa.select(sa.func.count()).select_from(ServiceRestriction).where(
        ServiceRestriction.is_archived.is_(False), ServiceRestriction.start_date <= today,
        ServiceRestriction.end_date.between(today, today + timedelta(days=14))))
    assert everything.total == expected and elsewhere.id in {row.id for row in everything.rows}
    assert dashboard.restrictions_ending_soon(make_staff("Report viewer"), 14, today=today) is None


def test_recent_imports_name_what_each_still_waits_on_for_the_people_who_import(db_session):
    row, pairs, _ = factories.held_row()
    pairs[1][1].status = "not_duplicate"
    db.session.commit()

    imports = dashboard.recent_imports(make_staff("Coordinator"), limit=50)
    waiting = {item.log.id: item.waiting_items for item in imports}
    assert waiting[row.upload_log_id] == 1
    assert len(imports) == min(50, db.session.scalar(sa.select(sa.func.count()).select_from(ClientUploadLog)))
    for role in ("Manager", "Leader", "Staff", "Analyst"):
        assert dashboard.recent_imports(make_staff(role)) is None, role


def test_staff_see_the_current_clients_of_their_programs_only(db_session):
    today = date(2026, 3, 2)
    mine, other_of_mine, theirs = factories.program(), factories.program(), factories.program()
    staff = make_staff("Staff")
    factories.give_program(staff, mine)
    factories.give_program(staff, other_of_mine)
    twice = factories.client()
    rows = [
        factories.enrollment(program=mine, client=twice, start_date=date(2025, 1, 1)),
        factories.enrollment(program=other_of_mine, client=twice, start_date=date(2025, 6, 1)),
        factories.enrollment(program=mine, start_date=date(2025, 1, 1), end_date=today + timedelta(days=30)),
        factories.enrollment(program=mine, start_date=date(2025, 1, 1), end_date=date(2026, 1, 1),
                             status="completed"),
        factories.enrollment(program=mine, start_date=date(2025, 1, 1), end_date=today, status="discharged"),
        factories.enrollment(program=theirs, start_date=date(2025, 1, 1)),
    ]
    db.session.add_all(rows)
    db.session.commit()

    current = dashboard.program_clients(staff, today=today)
    assert current.total == 2  # the client enrolled in both programs counts once
    assert {row.id for row in current.rows} == {rows[0].id, rows[1].id, rows[2].id}
    assert dashboard.program_clients(make_staff("Coordinator"), today=today) is None
    assert dashboard.program_clients(make_staff("Staff"), today=today).total == 0


def test_figures_shown_are_the_ones_whose_list_the_person_may_open(db_session):
    assert set(dashboard.visible_figures(make_staff("Staff"))) == {"clients", "programs", "active_enrollments",
                                                                   "active_restrictions"}
    assert dashboard.visible_figures(make_staff("Report viewer")) == {}
