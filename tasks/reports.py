"""The scheduled report emails (beat: daily, weekly on Mondays, monthly on the 1st)."""

from datetime import date

from celery import shared_task

from app.services import email_reports
from app.services.clock import agency_today
from tasks.mail import dispatch_email


@shared_task(name="ccd.send_reports")
def send_reports(frequency: str | None = None, run_date: str | None = None) -> dict:
    """Send the reports due on ``run_date`` (ISO date; default today in the agency's time zone)."""
    day = date.fromisoformat(run_date) if run_date else agency_today()
    frequencies = [frequency] if frequency else email_reports.due_frequencies(day)
    sent = {}
    for each in frequencies:
        outcomes = email_reports.send_reports(each, day, dispatch_email)
        sent[each] = {outcome.email: outcome.status for outcome in outcomes}
    return sent
