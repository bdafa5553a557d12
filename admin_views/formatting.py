"""How values look in lists, details pages and exports: dates as YYYY-MM-DD, lists joined."""

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from flask import current_app

from flask_admin.model import typefmt
from markupsafe import Markup

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value):
    """Make a cell that a spreadsheet would run as a formula read as text instead."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


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
    rows = Markup("").join(Markup("<tr><th>{}</th><td>{}</td></tr>").format(k, v) for k, v in value.items())
    return Markup('<table class="table table-sm mb-0">{}</table>').format(rows)


def _dict_plain(view, value, name=None):
    return "; ".join(f"{k}: {v}" for k, v in value.items())


LIST_FORMATTERS = dict(typefmt.BASE_FORMATTERS)
LIST_FORMATTERS.update({date: _date, datetime: _datetime, list: _list, dict: _dict})

EXPORT_FORMATTERS = dict(typefmt.EXPORT_FORMATTERS)
EXPORT_FORMATTERS.update({date: _date, datetime: _datetime, list: _list, dict: _dict_plain})
