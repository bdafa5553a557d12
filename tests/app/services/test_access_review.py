"""The Access report and the nightly check for unusual access, against reads planted in the log."""

import random
import uuid
from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from app import bulk
from app.choices import ACCESS_KINDS
from app.extensions import db
from app.models import ClientAccess, Notification, StaffProgramAssignment
from app.services import access_log, access_review
from app.services.clock import agency_zone
from app.services.reports import ReportError
from tests import factories
from tests.conftest import make_staff

DAY = date(2026, 3, 10)


def at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=agency_zone())


def plant(staff, day: date, clients, kind: str = "details", hour: int = 12, minute: int = 0) -> list[dict]:
    """Reads of ``clients`` (ids, or a number of new ids) by ``staff`` at that agency time; returns the rows."""
    ids = [uuid.uuid4() for _ in range(clients)] if isinstance(clients, int) else list(clients)
    rows = access_log.access_rows(kind, ids, actor=(staff.id if staff else None, "planted"),
                                  at=at(day, hour, minute))
    bulk.insert_rows(db.session, ClientAccess.__table__, rows)
    return rows


def clients_in(rows: list[dict]) -> list[uuid.UUID]:
    """The clients planted rows show: one each, or an export's list."""
    return [client for row in rows for client in (row.get("client_ids") or [row["client_id"]])]


def notices(admin):
    db.session.expire_all()
    return db.session.scalars(sa.select(Notification).where(Notification.staff_id == admin.id,
                                                            Notification.category == "access_alert")).all()


# -- the nightly check ---------------------------------------------------------------------------
def test_a_person_opening_far_more_records_than_usual_is_flagged_and_a_steady_one_is_not(db_session):
    spiky, steady, newcomer, exporting = (make_staff("Coordinator") for _ in range(4))
    admin = make_staff("Administrator")
    for days_ago in range(1, 31):
        if days_ago % 3:  # active on two days in three, ten clients a day
            plant(spiky, DAY - timedelta(days=days_ago), 10)
            plant(exporting, DAY - timedelta(days=days_ago), 10, kind="export")
        plant(steady, DAY - timedelta(days=days_ago), 60)
    plant(spiky, DAY - timedelta(days=31), 5000)  # older than the 30 days: not part of the usual day
    plant(spiky, DAY, 200)
    plant(exporting, DAY, 200, kind="export")  # one listing row, two hundred clients
    plant(steady, DAY, 170)  # busy, but under three times a usual 60
    plant(newcomer, DAY, access_review.SPIKE_MINIMUM)  # no history, but not past the minimum
    db_session.commit()

    flags = access_review.unusual_access(DAY)
    assert sorted((f.staff_id, f.clients, f.usual) for f in flags) == sorted([(spiky.id, 200, 10),
                                                                               (exporting.id, 200, 10)])
    assert {tuple(f.reasons) for f in flags} == {("200 clients, against a usual day of 10",)}

    run = access_review.check_access(DAY)
    db_session.commit()
    assert run.notices == 2
    notice, = [n for n in notices(admin) if n.link.endswith(str(spiky.id))]
    assert spiky.full_name in notice.title and DAY.isoformat() in notice.title
    assert notice.link == f"/admin/reports/access/?date_from={DAY}&date_to={DAY}&staff={spiky.id}"
    assert access_review.check_access(DAY).notices == 0, "told once per person and day"
    assert len(notices(admin)) == 2


def test_the_same_clients_opened_again_count_once_a_day(db_session):
    reader = make_staff("Coordinator")
    same = [uuid.uuid4() for _ in range(access_review.SPIKE_MINIMUM + 10)]
    for hour in range(8, 18):
        plant(reader, DAY, same, hour=hour)
    db_session.commit()
    assert access_review.daily_clients(DAY)[reader.id] == {0: len(same)}


def test_reads_outside_a_persons_programs_are_flagged_through_any_path(db_session):
    admin = make_staff("Administrator")
    curious, careful, exporter = make_staff("Staff"), make_staff("Staff"), make_staff("Staff")
    mine = factories.program()
    inside = factories.client()
    outsider = factories.client()
    db_session.add_all([mine, inside, outsider, factories.enrollment(client=inside, program=mine),
                        factories.enrollment(client=outsider),
                        StaffProgramAssignment(staff=curious, program=mine),
                        StaffProgramAssignment(staff=careful, program=mine),
                        StaffProgramAssignment(staff=exporter, program=mine)])
    db_session.commit()
    plant(curious, DAY, [inside.id])
    plant(curious, DAY, [outsider.id], kind="emailed_report")
    plant(careful, DAY, [inside.id], kind="export")
    plant(exporter, DAY, [inside.id, outsider.id], kind="export")
    plant(careful, DAY - timedelta(days=1), [outsider.id])  # another day: not this check's
    db_session.commit()

    flags = access_review.unusual_access(DAY)
    assert sorted((f.staff_id, f.outside_scope, f.reasons) for f in flags) == sorted([
        (curious.id, 1, ["1 client(s) outside their programs"]),
        (exporter.id, 1, ["1 client(s) outside their programs"])])
    access_review.check_access(DAY)
    assert len(notices(admin)) == 2


def test_every_active_administrator_is_told(db_session):
    admins = [make_staff("Administrator") for _ in range(2)]
    gone = make_staff("Administrator")
    gone.active = False
    reader = make_staff("Coordinator")
    plant(reader, DAY, access_review.SPIKE_MINIMUM + 1)
    db_session.commit()
    assert access_review.check_access(DAY).notices == 2
    assert [len(notices(a)) for a in admins] == [1, 1] and notices(gone) == []


def test_the_nightly_task_checks_yesterday(app, db_session):
    from tasks.access import check_access

    admin = make_staff("Administrator")
    reader = make_staff("Coordinator")
    plant(reader, DAY, access_review.SPIKE_MINIMUM + 1)
    db_session.commit()
    assert "nothing unusual" in check_access.delay(day=(DAY + timedelta(days=1)).isoformat()).get()
    summary = check_access.delay(day=DAY.isoformat()).get()
    assert "1 unusual" in summary and reader.full_name in summary
    assert len(notices(admin)) == 1


def test_the_beat_runs_the_check_every_night(app):
    schedule = app.config["CELERY"]["beat_schedule"]
    assert any(entry["task"] == "ccd.check_access" for entry in schedule.values())


# -- the report ----------------------------------------------------------------------------------
def test_the_report_counts_match_the_planted_reads(db_session):
    random.seed(16)
    readers = [make_staff("Coordinator") for _ in range(3)]
    clients = [uuid.uuid4() for _ in range(40)]
    planted = []
    for day_offset in range(-2, 9):  # two days before the period, and after it
        day = date(2026, 3, 1) + timedelta(days=day_offset)
        for reader in readers:
            for _ in range(random.randint(0, 4)):
                kind = random.choice(ACCESS_KINDS)
                rows = plant(reader, day, random.sample(clients, random.randint(1, 5)), kind=kind,
                             hour=random.randint(0, 23), minute=random.randint(0, 59))
                planted += [(reader.id, day, kind, client) for client in clients_in(rows)]
    plant(None, date(2026, 3, 3), clients[:2], kind="emailed_report")
    db_session.commit()
    first, last = date(2026, 3, 1), date(2026, 3, 6)
    report = access_review.access_report(first, last)

    in_period = [p for p in planted if first <= p[1] <= last]
    expected = {}
    for reader in readers:
        mine = [p for p in in_period if p[0] == reader.id]
        if mine:
            expected[str(reader.id)] = (len(mine), len({p[3] for p in mine}),
                                        {k: sum(1 for p in mine if p[2] == k) for k in ACCESS_KINDS})
    expected[None] = (2, 2, {k: 2 if k == "emailed_report" else 0 for k in ACCESS_KINDS})
    assert {r["staff_id"]: (r["reads"], r["clients"], r["kinds"]) for r in report["readers"]} == expected
    assert report["totals"] == {"reads": len(in_period) + 2,
                                "clients": len({p[3] for p in in_period} | set(clients[:2]))}
    assert report["reads"] is None

    one = access_review.access_report(first, last, staff_id=str(readers[0].id))
    assert [r["staff_id"] for r in one["readers"]] == [str(readers[0].id)]
    assert len(one["reads"]) == sum(1 for p in in_period if p[0] == readers[0].id)


def test_a_period_is_whole_agency_days(db_session):
    reader = make_staff("Coordinator")
    plant(reader, DAY, 1, hour=0, minute=5)
    plant(reader, DAY, 1, hour=23, minute=55)
    plant(reader, DAY + timedelta(days=1), 1, hour=0, minute=5)
    plant(reader, DAY - timedelta(days=1), 1, hour=23, minute=55)
    db_session.commit()
    assert access_review.access_report(DAY, DAY)["totals"]["reads"] == 2


@pytest.mark.parametrize("args, message", [
    ((DAY, DAY - timedelta(days=1)), "ends before it starts"),
    ((DAY, DAY, "not-an-id"), "is not a staff id"),
    ((DAY, DAY, str(uuid.uuid4())), "no staff member has that id"),
])
def test_bad_report_input_is_a_clear_error(db_session, args, message):
    with pytest.raises(ReportError, match=message):
        access_review.access_report(*args)
