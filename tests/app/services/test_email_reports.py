"""The emailed reports: right period, right counts, department filter, once per period, safe content."""

import csv
import uuid
import io
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Client, Discharge, EmailLog, EmailRecipient, Intake, PendingChange
from app.services import email_reports
from tasks.reports import send_reports
from app.services.restrictions import allow_restricted_enrollment
from tests import factories

TORONTO = ZoneInfo("America/Toronto")
RUN_DATE = date(2026, 3, 10)  # a Tuesday: the daily report covers Monday 2026-03-09
REPORT_DAY = date(2026, 3, 9)


def at(day: date, hour: int) -> datetime:
    """A moment on an agency day, as CCD stores it (UTC)."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=TORONTO).astimezone(timezone.utc)


@pytest.mark.parametrize("frequency,run_date,start,end", [
    ("daily", date(2026, 3, 10), date(2026, 3, 9), date(2026, 3, 9)),
    ("daily", date(2026, 1, 1), date(2025, 12, 31), date(2025, 12, 31)),
    ("weekly", date(2026, 3, 9), date(2026, 3, 2), date(2026, 3, 8)),  # sent on a Monday
    ("weekly", date(2026, 3, 11), date(2026, 3, 2), date(2026, 3, 8)),  # run by hand mid-week: last full week
    ("weekly", date(2026, 3, 8), date(2026, 2, 23), date(2026, 3, 1)),  # on a Sunday: that week is not over
    ("monthly", date(2026, 3, 1), date(2026, 2, 1), date(2026, 2, 28)),
    ("monthly", date(2028, 3, 1), date(2028, 2, 1), date(2028, 2, 29)),
    ("monthly", date(2026, 1, 1), date(2025, 12, 1), date(2025, 12, 31)),
])
def test_each_report_covers_the_finished_period_before_it_is_sent(frequency, run_date, start, end):
    period = email_reports.report_period(frequency, run_date)
    assert (period.start, period.end) == (start, end)


def test_weekly_reports_are_due_on_mondays_and_monthly_on_the_first():
    assert email_reports.due_frequencies(date(2026, 3, 10)) == ["daily"]
    assert email_reports.due_frequencies(date(2026, 3, 9)) == ["daily", "weekly"]
    assert email_reports.due_frequencies(date(2026, 4, 1)) == ["daily", "monthly"]
    assert email_reports.due_frequencies(date(2026, 6, 1)) == ["daily", "weekly", "monthly"]


def test_unknown_frequency_is_a_clear_error():
    with pytest.raises(email_reports.ReportError, match="daily, weekly, monthly"):
        email_reports.report_period("hourly", RUN_DATE)


@pytest.fixture
def report_world(db_session):
    """Two departments with one program each, and what happened on the report day in each."""
    housing = factories.program(capacity_current=10)
    shelter = factories.program(capacity_current=5)
    alex = factories.client(first_name="Alex", last_name="=HYPERLINK(\"http://x\")", created_at=at(REPORT_DAY, 9))
    blair = factories.client(first_name="Blair", last_name="<b>Bold</b>", created_at=at(REPORT_DAY, 23))
    old = factories.client(first_name="Casey", last_name="Before", created_at=at(date(2026, 3, 8), 23))
    db.session.add_all([
        factories.enrollment(client=alex, program=housing, start_date=REPORT_DAY),
        factories.enrollment(client=blair, program=shelter, start_date=REPORT_DAY),
        factories.enrollment(client=old, program=housing, start_date=date(2026, 3, 8)),
        Intake(client=alex, program=housing, intake_date=REPORT_DAY),
        Intake(client=old, program=housing, intake_date=REPORT_DAY),
        Intake(client=blair, program=shelter, intake_date=REPORT_DAY),
        Intake(client=old, program=housing, intake_date=date(2026, 3, 8)),
        Discharge(client=blair, program=shelter, discharge_date=REPORT_DAY, reason="Completed program"),
        factories.restriction(client=alex, scope="program", program=housing, start_date=REPORT_DAY,
                              created_at=at(REPORT_DAY, 10)),
        factories.restriction(client=blair, scope="org", start_date=REPORT_DAY, created_at=at(REPORT_DAY, 11)),
        factories.restriction(client=old, scope="org", start_date=date(2026, 1, 1), end_date=date(2026, 3, 12),
                              created_at=at(date(2026, 1, 1), 10)),
        PendingChange(entity="clients", entity_id=uuid.uuid4(), operation="update", diff_json={"first_name": "Al"},
                      requested_by=factories.staff_member()),
    ])
    everyone = EmailRecipient(name="Director", email="director@agency.example", frequency="daily")
    housing_only = EmailRecipient(name="Housing lead", email="housing@agency.example", frequency="daily",
                                  department=housing.department)
    db.session.add_all([
        everyone, housing_only,
        EmailRecipient(name="Weekly", email="weekly@agency.example", frequency="weekly"),
        EmailRecipient(name="Gone", email="gone@agency.example", frequency="daily", is_active=False),
    ])
    # The restrictions came later the same day; the enrollments were already recorded.
    with allow_restricted_enrollment("Enrolled before the restriction was entered"):
        db.session.commit()
    return {"housing": housing, "shelter": shelter, "everyone": everyone, "housing_only": housing_only}


def _attachments(message) -> dict[str, list[dict]]:
    found = {}
    for part in message.iter_attachments():
        name = part.get_filename().split("-", 4)[-1]  # daily-2026-03-09-intakes.csv -> intakes.csv
        content = part.get_payload(decode=True).decode("utf-8-sig")
        found[name] = list(csv.DictReader(io.StringIO(content)))
    return found


def _body(message, subtype):
    return message.get_body(preferencelist=(subtype,)).get_content()


def test_daily_report_reaches_a_real_smtp_server_with_attachments_and_the_right_counts(
        app, report_world, smtp_server):
    send_reports.delay(frequency="daily", run_date=RUN_DATE.isoformat())

    received = {message["To"]: message for message in smtp_server.messages}
    assert sorted(received) == ["director@agency.example", "housing@agency.example"]
    director = received["director@agency.example"]
    subject = director["Subject"]
    assert app.config["AGENCY_NAME"] in subject and "daily" in subject and "2026-03-09" in subject
    rows = _attachments(director)
    assert sorted(rows) == ["discharges.csv", "expiring_restrictions.csv", "intakes.csv", "new_clients.csv",
                            "new_restrictions.csv", "vacancy.csv"]
    assert len(rows["intakes.csv"]) == 3 and len(rows["discharges.csv"]) == 1
    assert len(rows["new_clients.csv"]) == 2, "the client added the evening before is not new"
    assert len(rows["new_restrictions.csv"]) == 2 and len(rows["expiring_restrictions.csv"]) == 1
    text = _body(director, "plain")
    assert "Intakes: 3" in text and "Changes waiting for approval (agency-wide): 1" in text

    logs = db.session.scalars(sa.select(EmailLog).where(EmailLog.email_type == "report")).all()
    assert {(log.recipient_email, log.status, log.period_start, log.period_end) for log in logs} == {
        ("director@agency.example", "sent", REPORT_DAY, REPORT_DAY),
        ("housing@agency.example", "sent", REPORT_DAY, REPORT_DAY),
    }
    assert all(log.attachment_bytes > 0 and log.body_bytes > 0 for log in logs)


def test_department_recipient_sees_only_that_department(app, report_world, smtp_server):
    send_reports.delay(frequency="daily", run_date=RUN_DATE.isoformat())
    housing = next(m for m in smtp_server.messages if m["To"] == "housing@agency.example")
    rows = _attachments(housing)
    assert report_world["housing"].department.name in housing["Subject"]
    assert {row["Program"] for row in rows["intakes.csv"]} == {report_world["housing"].name}
    assert len(rows["intakes.csv"]) == 2 and rows["discharges.csv"] == []
    assert [row["Client"] for row in rows["new_clients.csv"]] == ["'=HYPERLINK(\"http://x\"), Alex"]
    assert len(rows["new_restrictions.csv"]) == 1, "the other department's client's org-wide restriction is not theirs"
    assert len(rows["expiring_restrictions.csv"]) == 1
    vacancy = {row["Program"]: row for row in rows["vacancy.csv"]}
    assert list(vacancy) == [report_world["housing"].name]
    assert (vacancy[report_world["housing"].name]["Occupied"], vacancy[report_world["housing"].name]["Vacant"]) \
        == ("2", "8")
    assert "Totals: programs 1, places 10, occupied 2, vacant 8" in _body(housing, "plain")


def test_values_are_escaped_in_html_and_neutralised_in_csv(app, report_world, smtp_server):
    send_reports.delay(frequency="daily", run_date=RUN_DATE.isoformat())
    director = next(m for m in smtp_server.messages if m["To"] == "director@agency.example")
    html = _body(director, "html")
    assert "&lt;b&gt;Bold&lt;/b&gt;" in html and "<b>Bold</b>" not in html
    clients = [row["Client"] for row in _attachments(director)["new_clients.csv"]]
    assert "'=HYPERLINK(\"http://x\"), Alex" in clients, "a formula reaches the spreadsheet as text"


def test_same_period_twice_sends_one_email_per_recipient(app, report_world, smtp_server):
    send_reports.delay(frequency="daily", run_date=RUN_DATE.isoformat())
    second = email_reports.send_reports("daily", RUN_DATE, dispatch=lambda log_id: pytest.fail("sent twice"))
    assert {outcome.status for outcome in second} == {"already sent"}
    assert len(smtp_server.messages) == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EmailLog)) == 2


def test_dry_run_builds_the_emails_and_stores_and_sends_nothing(app, report_world, smtp_server):
    outcomes = email_reports.send_reports("daily", RUN_DATE, dispatch=lambda log_id: pytest.fail("dispatched"),
                                          dry_run=True)
    assert {(o.email, o.status) for o in outcomes} == {("director@agency.example", "dry run"),
                                                      ("housing@agency.example", "dry run")}
    director = next(o for o in outcomes if o.email == "director@agency.example")
    assert director.counts["intakes"] == 3 and director.counts["pending_approvals"] == 1
    assert smtp_server.messages == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EmailLog)) == 0


def test_send_reports_command_reports_each_recipient(app, report_world, smtp_server):
    result = app.test_cli_runner().invoke(args=["ccd", "send-reports", "--frequency", "daily",
                                                "--date", RUN_DATE.isoformat()])
    assert result.exit_code == 0, result.output
    assert "director@agency.example: sent" in result.output and "intakes 3" in result.output
    assert len(smtp_server.messages) == 2
    again = app.test_cli_runner().invoke(args=["ccd", "send-reports", "--frequency", "daily",
                                               "--date", RUN_DATE.isoformat()])
    assert "director@agency.example: already sent" in again.output and len(smtp_server.messages) == 2


def test_send_reports_command_refuses_a_bad_date(app, db_session):
    result = app.test_cli_runner().invoke(args=["ccd", "send-reports", "--date", "10/03/2026"])
    assert result.exit_code != 0 and "does not match the format '%Y-%m-%d'" in result.output


def _report_reads():
    from app.models import ClientAccess

    db.session.expire_all()
    return {(row.actor_name, row.staff_id, row.client_id, row.kind, row.detail)
            for row in db.session.scalars(sa.select(ClientAccess))}


def test_each_report_email_logs_its_reader_and_every_client_it_names(app, report_world):
    """Who was told about whom: the director's email names all three clients, the housing lead's
    only the housing department's two; a reader CCD knows by email is logged as that staff member."""
    director = factories.staff_member(email="Director@agency.example")
    db.session.add(director)
    db.session.commit()
    names = {c.first_name: c.id for c in db.session.scalars(sa.select(Client))}
    email_reports.send_reports("daily", RUN_DATE, dispatch=lambda log_id: None)
    key = {r.email: email_reports.report_key(r, email_reports.report_period("daily", RUN_DATE))
           for r in (report_world["everyone"], report_world["housing_only"])}
    expected = {("email to director@agency.example", director.id, names[n], "emailed_report",
                 key["director@agency.example"]) for n in ("Alex", "Blair", "Casey")}
    expected |= {("email to housing@agency.example", None, names[n], "emailed_report",
                  key["housing@agency.example"]) for n in ("Alex", "Casey")}
    assert _report_reads() == expected

    email_reports.send_reports("daily", RUN_DATE, dispatch=lambda log_id: None)
    assert _report_reads() == expected, "an email not sent again tells nobody anything new"


def test_a_dry_run_sends_nothing_and_logs_nothing(app, report_world):
    email_reports.send_reports("daily", RUN_DATE, dispatch=lambda log_id: None, dry_run=True)
    assert _report_reads() == set()
