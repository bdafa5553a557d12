"""How values look in lists, details pages and exports: dates as YYYY-MM-DD, lists joined."""

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from flask import current_app

from flask_admin.model import typefmt
from markupsafe import Markup

from app.exports import FORMULA_PREFIXES, neutralise_formula  # noqa: F401  (one rule for every export)
from app.plain_text import neutralise_bidi


def _date(view, value, name=None):
    return value.strftime("%Y-%m-%d")


def local_datetime(value: datetime | None) -> str:
    """A timestamp stored in UTC as the agency reads it, in its own time zone (pages that build their own tables)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).strftime("%Y-%m-%d %H:%M")


def _datetime(view, value, name=None):
    """Stored in UTC, shown in the agency's time zone."""
    return local_datetime(value)


def _list(view, value, name=None):
    return ", ".join(str(item) for item in value)


def _dict(view, value, name=None):
    if not value:
        return ""
    row = Markup("<tr><th>{}</th><td>{}</td></tr>")
    rows = Markup("").join(row.format(neutralise_bidi(str(k)), neutralise_bidi(str(v))) for k, v in value.items())
    return Markup('<table class="table table-sm mb-0">{}</table>').format(rows)


def _dict_plain(view, value, name=None):
    return "; ".join(f"{k}: {v}" for k, v in value.items())


# Flask-Admin uses the first type the value is an instance of, and a datetime is also a
# date: datetime must come first or every timestamp loses its time (and its time zone).
LIST_FORMATTERS = {datetime: _datetime, **typefmt.BASE_FORMATTERS}
LIST_FORMATTERS.update({date: _date, list: _list, dict: _dict})

EXPORT_FORMATTERS = {datetime: _datetime, **typefmt.EXPORT_FORMATTERS}
EXPORT_FORMATTERS.update({date: _date, list: _list, dict: _dict_plain})
