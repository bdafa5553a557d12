"""Turning the text of a cell into a CCD value, or a reason it cannot be one."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

EXCEL_EPOCH = date(1899, 12, 30)  # Excel's 1900 date system, counting its phantom 29 Feb 1900
_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_SLASHED = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?: \d{1,2}:\d{2}(?::\d{2})?(?: ?[AaPp][Mm])?)?$")
_NAMED_MONTH_FORMATS = ("%d-%b-%Y", "%d %b %Y", "%b %d, %Y", "%B %d, %Y", "%d %B %Y", "%d-%b-%y")


class BadValue(ValueError):
    """A cell that cannot be used; the message is the row's reject reason."""


def shown(text: str, limit: int = 60) -> str:
    """A cell quoted in a reason: whole when short, its start when long (a reason is read, not a copy)."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}…"


def parse_date(text: str, order: str = "YMD", *, label: str = "date") -> date | None:
    """A date from ISO text, an Excel serial number, a named-month date, or a slash date read in ``order``.

    Slash dates such as 03/04/2024 are read day-first or month-first only as the source is
    configured (``order`` MDY or DMY). With no setting (YMD), a slash date is accepted only
    when it cannot be read two ways (a part above 12).
    """
    text = (text or "").strip()
    if not text:
        return None
    match = _ISO.match(text)
    if match:
        return _make(int(match[1]), int(match[2]), int(match[3]), text, label)
    if text.isdigit() and len(text) == 8:
        return _make(int(text[:4]), int(text[4:6]), int(text[6:]), text, label)
    if text.replace(".", "", 1).isdigit() and float(text) < 2958466:
        serial = float(text)
        if serial < 1:
            raise BadValue(f"{label} {shown(text)} is not a date")
        return EXCEL_EPOCH + timedelta(days=int(serial))
    match = _SLASHED.match(text)
    if match:
        first, second, year = int(match[1]), int(match[2]), int(match[3])
        if order == "MDY":
            return _make(year, first, second, text, label)
        if order == "DMY":
            return _make(year, second, first, text, label)
        if first > 12 >= second:
            return _make(year, second, first, text, label)
        if second > 12 >= first:
            return _make(year, first, second, text, label)
        if first == second:
            return _make(year, first, second, text, label)
        raise BadValue(f"{label} {shown(text)} could be day-first or month-first; set the date order for this source "
                       "in Settings › Import settings")
    for fmt in _NAMED_MONTH_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise BadValue(f"{label} {shown(text)} is not a date")


def _make(year, month, day, text, label) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise BadValue(f"{label} {shown(text)} is not a real date") from None


def clean_text(text: str | None, limit: int | None = None, label: str | None = None) -> str | None:
    """Trimmed text with inner runs of spaces collapsed; None when empty. ``label`` names the column
    in the reason a value is refused."""
    if text is None:
        return None
    value = " ".join(str(text).split())
    if not value:
        return None
    if limit is not None and len(value) > limit:
        raise BadValue(f"{label + ': ' if label else ''}{shown(value, 30)} is {len(value):,} characters long, "
                       f"more than the {limit} it may have")
    return value


def clean_name(text: str | None, limit: int = 100, label: str | None = None) -> str | None:
    """A name as written, without stray spaces; ALL-CAPS or all-lower names get capitalised. A name on
    several lines is refused: it is what an unclosed quote makes of the rest of a row."""
    if text and ("\n" in str(text) or "\r" in str(text)):
        raise BadValue(f"{label or 'A name'} runs over several lines (is a quote not closed?)")
    value = clean_text(text, limit, label)
    if value and (value.isupper() or value.islower()):
        value = re.sub(r"[^\W\d_]+", lambda m: m[0].capitalize(), value.lower())
    return value


def split_multi(text: str | None) -> list[str]:
    """Several values in one cell, separated by new lines or semicolons."""
    if not text:
        return []
    parts = re.split(r"[\r\n;]+", str(text))
    return [" ".join(p.split()) for p in parts if p.strip()]


def split_programs(text: str | None) -> list[str]:
    """Programs in one cell are on separate lines (commas belong to program names)."""
    if not text:
        return []
    return [" ".join(p.split()) for p in re.split(r"[\r\n]+", str(text)) if p.strip()]


# Words the source systems use for values CCD's option lists spell differently.
OPTION_SYNONYMS: dict[str, dict[str, str]] = {
    "gender": {"male": "Man", "m": "Man", "female": "Woman", "f": "Woman", "trans female": "Transgender woman",
               "trans male": "Transgender man", "transgender female": "Transgender woman",
               "transgender male": "Transgender man", "two spirit": "Two-Spirit", "2s": "Two-Spirit",
               "nonbinary": "Non-binary", "non binary": "Non-binary", "declined": "Prefer not to answer",
               "refused": "Prefer not to answer"},
    "indigenous_status": {"metis": "Métis", "first nation": "First Nations", "non indigenous": "Non-Indigenous",
                          "no": "Non-Indigenous", "not indigenous": "Non-Indigenous"},
    "citizenship_status": {"citizen": "Canadian citizen", "pr": "Permanent resident",
                           "refugee claimant": "Refugee claimant"},
}


def _key(text: str) -> str:
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", plain).split())


def canonical_option(value: str | None, options: list[str], list_key: str) -> str | None:
    """The option list's own spelling of ``value`` when it is one of them (ignoring case and accents),
    else the value as the source wrote it: nothing the source said is dropped."""
    value = clean_text(value)
    if value is None:
        return None
    wanted = _key(value)
    for option in options:
        if _key(option) == wanted:
            return option
    synonym = OPTION_SYNONYMS.get(list_key, {}).get(wanted)
    return synonym or value
