"""The agency's calendar: "today" and day boundaries in its own time zone, not the server's.

Reports cover whole agency days and alerts fire on agency dates, so a server running in
UTC must not shift a Toronto evening into tomorrow.
"""

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app


def agency_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def agency_today() -> date:
    return datetime.now(agency_zone()).date()


def day_bounds_utc(first: date, last: date) -> tuple[datetime, datetime]:
    """The UTC instants from the start of ``first`` to the end of ``last`` (exclusive), agency time."""
    zone = agency_zone()
    start = datetime.combine(first, time.min, tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def agency_date(moment: datetime) -> date:
    """The agency's calendar date of a stored timestamp (stored in UTC; SQLite hands it back naive)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(agency_zone()).date()


def agency_time_text(moment: datetime | None) -> str:
    """A stored timestamp as the agency reads it: YYYY-MM-DD HH:MM, its own time zone."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(agency_zone()).strftime("%Y-%m-%d %H:%M")
