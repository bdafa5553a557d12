"""The emailed reports: what happened in a day, week or month, sent to each active recipient.

A report covers a whole, finished period in the agency's time zone: the day before
(daily), Monday to Sunday of the week before (weekly, sent on Mondays) or the month
before (monthly, sent on the 1st). A recipient with a department sees only that
department's programs, their clients and restrictions. Each recipient gets one email
per period: the send is keyed by recipient, frequency and period in email_logs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Callable

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload

from app.choices import REPORT_FREQUENCIES
from app.exports import csv_bytes
from app.extensions import db
from app.labels import label
from app.models import (
    Client, Department, Discharge, EmailLog, EmailRecipient, Enrollment, Intake, PendingChange, Program,
    ServiceRestriction,
)
from app.services import access_log, mail
from app.services.clock import agency_date, day_bounds_utc
from app.services.links import record_url
from app.services.reports import vacancy_report

# Restrictions ending within this many days after the period are listed as expiring.
EXPIRING_WITHIN_DAYS = 7
# Rows shown in the email body per section; the attachment always has them all.
BODY_ROW_LIMIT = 20
LINK = "Link"


class ReportError(ValueError):
    """Bad input for a report run; the message says what to change."""


@dataclass(frozen=True)
class Period:
    frequency: str
    start: date
    end: date

    @property
    def label(self) -> str:
        if self.frequency == "daily":
            return f"{self.start:%A} {self.start.isoformat()}"
        if self.frequency == "weekly":
            return f"week of {self.start.isoformat()} to {self.end.isoformat()}"
        return f"{self.start:%B %Y}"


def report_period(frequency: str, run_date: date) -> Period:
    """The finished period a report sent on ``run_date`` covers."""
    if frequency == "daily":
        day = run_date - timedelta(days=1)
        return Period(frequency, day, day)
    if frequency == "weekly":
        sunday = run_date - timedelta(days=run_date.isoweekday())
        return Period(frequency, sunday - timedelta(days=6), sunday)
    if frequency == "monthly":
        last = run_date.replace(day=1) - timedelta(days=1)
        return Period(frequency, last.replace(day=1), last)
    raise ReportError(f"Unknown report frequency {frequency!r}; use one of: {', '.join(REPORT_FREQUENCIES)}.")


def due_frequencies(run_date: date) -> list[str]:
    """Daily every day, weekly on Mondays, monthly on the 1st."""
    due = ["daily"]
    if run_date.isoweekday() == 1:
        due.append("weekly")
    if run_date.day == 1:
        due.append("monthly")
    return due


# --- content ----------------------------------------------------------------------------

@dataclass
class Section:
    key: str
    title: str
    header: list[str]
    rows: list[list] = field(default_factory=list)
    # The clients the rows name (never sent): the access log records who was told about whom.
    client_ids: list[uuid.UUID] = field(default_factory=list)

    @property
    def filename(self) -> str:
        return f"{self.key}.csv"

    @property
    def has_link(self) -> bool:
        return bool(self.header) and self.header[-1] == LINK

    @property
    def shown_header(self) -> list[str]:
        return self.header[:-1] if self.has_link else self.header

    def shown_rows(self, limit: int):
        """(cells, link) for the first ``limit`` rows, as the email body shows them."""
        for row in self.rows[:limit]:
            cells = ["" if cell is None else cell for cell in row]
            yield (cells[:-1], cells[-1]) if self.has_link else (cells, None)


@dataclass
class ReportContent:
    period: Period
    department: Department | None
    sections: list[Section]
    pending_approvals: int
    vacancy_totals: dict

    def client_ids(self) -> list[uuid.UUID]:
        """Every client the email names, once each."""
        return list(dict.fromkeys(c for section in self.sections for c in section.client_ids))

    def counts(self) -> dict[str, int]:
        counts = {section.key: len(section.rows) for section in self.sections if section.key != "vacancy"}
        counts["pending_approvals"] = self.pending_approvals
        return counts


def _client_name(client: Client) -> str:
    preferred = f" ({client.preferred_name})" if client.preferred_name else ""
    return f"{client.last_name}, {client.first_name}{preferred}"


def _yes_no(value: bool) -> str:
    return "Yes" if value else "No"


def _department_programs(department_id):
    return sa.select(Program.id).where(Program.department_id == department_id)


def _department_clients(department_id):
    return sa.select(Enrollment.client_id).where(
        Enrollment.program_id.in_(_department_programs(department_id)), Enrollment.is_archived.is_(False))


def _restriction_in_department(department_id):
    """Program restrictions in the department's programs, and organisation-wide ones on its clients."""
    return sa.or_(
        sa.and_(ServiceRestriction.scope == "program",
                ServiceRestriction.program_id.in_(_department_programs(department_id))),
        sa.and_(ServiceRestriction.scope == "org",
                ServiceRestriction.client_id.in_(_department_clients(department_id))),
    )


def _new_clients(period: Period, department_id) -> Section:
    start, end = day_bounds_utc(period.start, period.end)
    query = (sa.select(Client).where(Client.created_at >= start, Client.created_at < end,
                                     Client.is_archived.is_(False))
             .order_by(Client.last_name, Client.first_name, Client.id))
    if department_id is not None:
        query = query.where(Client.id.in_(_department_clients(department_id)))
    clients = db.session.scalars(query).all()
    return Section("new_clients", "New clients",
                   [label("client"), label("source_system"), label("uid_external"), "Added on", LINK],
                   [[_client_name(c), c.source_system, c.uid_external, agency_date(c.created_at).isoformat(),
                     record_url("clients", c.id)] for c in clients], [c.id for c in clients])


def _program_events(model, day_column: str, extra_columns: tuple[str, ...], key: str, title: str,
                    period: Period, department_id) -> Section:
    """A section of dated events at a program (intakes, discharges): who, where, when, and the
    event's own columns, in date then name order."""
    day = getattr(model, day_column)
    query = (sa.select(model).join(model.program).join(model.client)
             .where(day.between(period.start, period.end))
             .options(joinedload(model.client), joinedload(model.program).joinedload(Program.department))
             .order_by(day, Client.last_name, Client.first_name, model.id))
    if department_id is not None:
        query = query.where(Program.department_id == department_id)
    events = db.session.scalars(query).all()
    return Section(key, title,
                   [label("client"), label("program"), label("department"), label(day_column),
                    *(label(column) for column in extra_columns)],
                   [[_client_name(event.client), event.program.name, event.program.department.name,
                     getattr(event, day_column).isoformat(), *(getattr(event, column) for column in extra_columns)]
                    for event in events], [event.client_id for event in events])


def _intakes(period: Period, department_id) -> Section:
    return _program_events(Intake, "intake_date", ("source_system", "referral_source"), "intakes", "Intakes",
                           period, department_id)


def _discharges(period: Period, department_id) -> Section:
    return _program_events(Discharge, "discharge_date", ("reason",), "discharges", "Discharges",
                           period, department_id)


RESTRICTION_HEADER = [label("client"), label("scope"), label("program"), label("start_date"), label("end_date"),
                      label("is_bill_168"), label("is_no_trespass"), LINK]


def _restriction_row(r: ServiceRestriction) -> list:
    end = r.end_date.isoformat() if r.end_date else ("Indefinite" if r.is_indefinite else "No end date")
    return [_client_name(r.client), "Organisation-wide" if r.scope == "org" else "Program",
            r.program.name if r.program else "", r.start_date.isoformat(), end, _yes_no(r.is_bill_168),
            _yes_no(r.is_no_trespass), record_url("service_restrictions", r.id)]


def _restrictions(condition, department_id, order_by) -> tuple[list[list], list[uuid.UUID]]:
    query = (sa.select(ServiceRestriction).join(ServiceRestriction.client)
             .where(ServiceRestriction.is_archived.is_(False), condition)
             .options(joinedload(ServiceRestriction.client), joinedload(ServiceRestriction.program))
             .order_by(order_by, Client.last_name, Client.first_name, ServiceRestriction.id))
    if department_id is not None:
        query = query.where(_restriction_in_department(department_id))
    restrictions = db.session.scalars(query).all()
    return [_restriction_row(r) for r in restrictions], [r.client_id for r in restrictions]


def _new_restrictions(period: Period, department_id) -> Section:
    start, end = day_bounds_utc(period.start, period.end)
    created = sa.and_(ServiceRestriction.created_at >= start, ServiceRestriction.created_at < end)
    return Section("new_restrictions", "New restrictions", RESTRICTION_HEADER,
                   *_restrictions(created, department_id, ServiceRestriction.start_date))


def _expiring_restrictions(period: Period, department_id) -> Section:
    window = ServiceRestriction.end_date.between(period.end + timedelta(days=1),
                                                  period.end + timedelta(days=EXPIRING_WITHIN_DAYS))
    return Section("expiring_restrictions", f"Restrictions ending in the {EXPIRING_WITHIN_DAYS} days after the period",
                   RESTRICTION_HEADER, *_restrictions(window, department_id, ServiceRestriction.end_date))


VACANCY_TOTALS = (("programs", "programs"), ("capacity", "places"), ("occupied", "occupied"),
                  ("vacant", "vacant"), ("occupancy_pct", "occupancy %"), ("over_capacity_programs", "over capacity"))


def _vacancy(period: Period, department_id) -> tuple[Section, dict]:
    """The vacancy tracker on the period's last day, from the reports service (one definition of occupied)."""
    snapshot = vacancy_report(period.end, department_id=department_id)
    header = [label("program"), label("department"), label("capacity"), "Occupied", "Vacant", "Occupancy %",
              "Over capacity"]
    rows = []
    for row in snapshot["rows"]:
        no_limit = row["no_capacity_limit"]
        rows.append([row["program"], row["department"], "No limit" if no_limit else row["capacity"],
                     row["occupied"], "" if no_limit else row["vacant"],
                     "" if row["occupancy_pct"] is None else row["occupancy_pct"], _yes_no(row["over_capacity"])])
    overall = snapshot["totals"]["overall"]
    totals = {caption: overall[key] for key, caption in VACANCY_TOTALS if overall.get(key) is not None}
    return Section("vacancy", f"Vacancy on {period.end.isoformat()}", header, rows), totals


def gather_report(period: Period, department: Department | None = None) -> ReportContent:
    """Everything one report email says, for the agency or for one department."""
    department_id = department.id if department is not None else None
    vacancy, vacancy_totals = _vacancy(period, department_id)
    sections = [
        _new_clients(period, department_id), _intakes(period, department_id), _discharges(period, department_id),
        _new_restrictions(period, department_id), _expiring_restrictions(period, department_id), vacancy,
    ]
    pending = db.session.scalar(
        sa.select(sa.func.count()).select_from(PendingChange).where(PendingChange.status == "pending"))
    return ReportContent(period, department, sections, pending, vacancy_totals)


def report_subject(content: ReportContent) -> str:
    agency = current_app.config["AGENCY_NAME"]
    department = f" – {content.department.name}" if content.department is not None else ""
    return f"{agency}: {content.period.frequency} report, {content.period.label}{department}"


def compose_report(content: ReportContent, to: str):
    """The email: an HTML summary (autoescaped), a plain-text alternative, one CSV per section."""
    env = current_app.jinja_env
    context = {"content": content, "agency": current_app.config["AGENCY_NAME"], "row_limit": BODY_ROW_LIMIT,
               "base_url": current_app.config["BASE_URL"]}
    attachments = [mail.Attachment(f"{content.period.frequency}-{content.period.end.isoformat()}-{s.filename}",
                                   csv_bytes(s.header, s.rows)) for s in content.sections]
    return mail.build_message(
        to=to, subject=report_subject(content),
        text=env.get_template("email/report.txt").render(**context),
        html=env.get_template("email/report.html").render(**context),
        attachments=attachments,
    )


# --- sending ----------------------------------------------------------------------------

@dataclass
class RecipientOutcome:
    email: str
    subject: str
    status: str  # sent, queued, failed, already sent, being sent, dry run
    counts: dict[str, int]


def report_key(recipient: EmailRecipient, period: Period) -> str:
    return f"report:{recipient.id}:{period.frequency}:{period.start.isoformat()}:{period.end.isoformat()}"


def _log_reads(recipient: EmailRecipient, content: ReportContent, key: str) -> None:
    """The access log's rows for one report email: its reader (the staff member at that address when
    CCD knows one) was told about every client it names."""
    reader = access_log.staff_by_email(db.session, recipient.email)
    access_log.record_reads("emailed_report", content.client_ids(), actor=(reader, f"email to {recipient.email}"),
                            detail=key)


def send_reports(frequency: str, run_date: date, dispatch: Callable[[uuid.UUID], object],
                 dry_run: bool = False) -> list[RecipientOutcome]:
    """Queue this period's report for every active recipient of ``frequency`` and hand each to ``dispatch``.

    ``dispatch`` receives the id of each newly queued email after it is committed (the
    delivery task's ``delay``). A recipient already sent this period's report, or
    being sent it, gets nothing new. ``dry_run`` builds every email and stores nothing.
    """
    period = report_period(frequency, run_date)
    recipients = db.session.scalars(
        sa.select(EmailRecipient).where(EmailRecipient.is_active.is_(True), EmailRecipient.frequency == frequency)
        .options(joinedload(EmailRecipient.department)).order_by(EmailRecipient.email)
    ).all()
    contents: dict = {}
    outcomes = []
    for recipient in recipients:
        if recipient.department_id not in contents:
            contents[recipient.department_id] = gather_report(period, recipient.department)
        content = contents[recipient.department_id]
        outcome = RecipientOutcome(recipient.email, report_subject(content), "dry run", content.counts())
        outcomes.append(outcome)
        if dry_run:
            compose_report(content, recipient.email)  # a dry run still proves the email can be built
            continue
        key = report_key(recipient, period)
        log = mail.queue_email(key=key, email_type="report", build=lambda: compose_report(content, recipient.email),
                               recipient_id=recipient.id, frequency=frequency, period_start=period.start,
                               period_end=period.end)
        log_id = log.id if log is not None else None
        if log is not None:
            _log_reads(recipient, content, key)
        # Committed, and no transaction left open while the delivery runs (in-process it
        # uses its own session, and SQLite lets only one connection write at a time).
        db.session.commit()
        if log_id is None:
            status = db.session.scalar(sa.select(EmailLog.status).where(EmailLog.idempotency_key == key))
            outcome.status = "already sent" if status == "sent" else "being sent"
            continue
        dispatch(log_id)
        # Run in-process (no Redis) the send is over by now; with a worker it is still queued.
        outcome.status = db.session.scalar(sa.select(EmailLog.status).where(EmailLog.id == log_id))
    return outcomes
