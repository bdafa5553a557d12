"""Reading one staged row: its cells become CCD values, or the reason they cannot (``BadValue``)."""

from __future__ import annotations

import sys

import hashlib
import uuid
from dataclasses import dataclass
from datetime import date

from app.models import EXTENDED_FIELDS, Client
from app.services import matching
from app.services.ingest.column_maps import CLIENT_FIELDS, EXTENDED_IMPORT_FIELDS
from app.services.ingest.values import BadValue, canonical_option, clean_name, clean_text, parse_date, shown, \
    split_multi, split_programs

NAME_FIELDS = frozenset({"first_name", "middle_name", "last_name", "preferred_name", "alias"})
LIST_FIELDS = {"ethnicity": "ethnicity"}
OPTION_LIST_OF = {"gender": "gender", "sexual_orientation": "sexual_orientation",
                  "citizenship_status": "citizenship_status", "indigenous_status": "indigenous_status",
                  "official_language": "official_language", "preferred_language": "language", "race": "race",
                  "province": "province", "ethnicity": "ethnicity"}
CLIENT_COLUMN_LIMITS = {name: Client.__table__.c[name].type.length for name in CLIENT_FIELDS
                        if name != "dob" and getattr(Client.__table__.c[name].type, "length", None)}


EXTENDED_TEXT_LIMIT = 500
_YES, _NO = frozenset({"yes", "y", "true", "1"}), frozenset({"no", "n", "false", "0"})


def extended_value(name: str, text: str):
    """An extended field's cell as the type app/models/clients.py gives it (None: empty)."""
    value = clean_text(text, EXTENDED_TEXT_LIMIT)
    if value is None:
        return None
    kind = EXTENDED_FIELDS[name]
    if kind == "int":
        if not value.isdigit():
            raise BadValue(f"{name} {value!r} is not a whole number")
        return int(value)
    if kind == "bool":
        if value.lower() not in _YES | _NO:
            raise BadValue(f"{name} {value!r} is not yes or no")
        return value.lower() in _YES
    return value


def _shared(value):
    return sys.intern(value) if isinstance(value, str) else value


@dataclass
class ParsedRow:
    staged_id: uuid.UUID
    number: int
    source_id: str | None
    client: dict
    programs: list[uuid.UUID]
    enrollment_start: date | None
    intake_date: date | None
    discharge_date: date | None
    discharge_reason: str | None
    referral_source: str | None

    @property
    def person(self) -> matching.Person:
        """The row as matching reads it. Its strings are shared with every other row spelling them alike (a
        file's names, genders and cities repeat, and linking holds every person of the file at once)."""
        client = self.client
        return matching.Person(_shared(client.get("first_name")), _shared(client.get("last_name")), client.get("dob"),
                               _shared(client.get("preferred_name")), _shared(client.get("alias")),
                               _shared(client.get("gender")),
                               (self.source_id,) if self.source_id else (),
                               _shared(client.get("city")), _shared(client.get("address_line1")))

    @property
    def has_names(self) -> bool:
        return bool(self.client.get("first_name") and self.client.get("last_name"))



_DOB, _NAME, _LIST, _TEXT = "dob", "name", "list", "text"


class _RowPlan:
    """The client fields a file has, each with its cell's position, how it is read, its length limit and the
    title its errors name; the extended fields it has; the titles of the other fields a row reads."""

    def __init__(self, resolved, title_of):
        self.resolved = resolved
        positions = resolved.positions
        self.client = []
        for name in CLIENT_FIELDS:
            if name not in positions:
                continue
            if name == "dob":
                kind, option_list = _DOB, None
            elif name in NAME_FIELDS:
                kind, option_list = _NAME, None
            elif name in LIST_FIELDS:
                kind, option_list = _LIST, LIST_FIELDS[name]
            else:
                kind, option_list = _TEXT, OPTION_LIST_OF.get(name)
            self.client.append((name, positions[name], kind, CLIENT_COLUMN_LIMITS.get(name), title_of(name),
                                option_list))
        self.extended = [(name, positions[name]) for name in EXTENDED_IMPORT_FIELDS if name in positions]
        self.titles = {name: title_of(name) for name in ("source_client_id", "discharge_reason", "referral_source")}


class RowParsing:
    """The row-reading half of an import run: needs ``resolved``, ``date_order``, ``options``,
    ``options_seen`` and ``programs`` (stage.py loads them)."""

    def _cell(self, cells: list, field_name: str) -> str:
        index = self.resolved.positions.get(field_name)
        if index is None or index >= len(cells):
            return ""
        return cells[index] or ""

    def _title(self, field_name: str) -> str:
        """The column a field was read from, as the file titles it."""
        index = self.resolved.positions.get(field_name)
        headers = self.resolved.headers
        return str(headers[index]).strip() if index is not None and index < len(headers) else field_name

    def _option(self, value: str, list_key: str) -> str | None:
        """``canonical_option``, remembered for the run: a file repeats the same few values on every row,
        and each look-up compares the value with every option of the list."""
        key = (list_key, value)
        found = self.options_seen.get(key, self.options_seen)
        if found is self.options_seen:
            found = self.options_seen[key] = canonical_option(value, self.options[list_key], list_key)
        return found

    def _plan(self) -> "_RowPlan":
        """How this file's cells become values, worked out once per run: a file repeats its columns on every
        row, and asking the column map for each field of each row cost more than reading the cells."""
        plan = getattr(self, "_row_plan", None)
        if plan is None or plan.resolved is not self.resolved:
            plan = self._row_plan = _RowPlan(self.resolved, self._title)
        return plan

    def _parse(self, row) -> ParsedRow:
        cells = row.cells
        width = len(cells)
        plan = self._plan()
        client: dict = {}
        for name, index, kind, limit, title, option_list in plan.client:
            text = (cells[index] or "") if index < width else ""
            if kind is _DOB:
                value = parse_date(text, self.date_order, label="DOB")
                if value is not None and value > self.today:
                    raise BadValue(f"DOB {value:%Y-%m-%d} is in the future")
                if value is not None and value < date(1900, 1, 1):
                    raise BadValue(f"DOB {value:%Y-%m-%d} is before 1900")
            elif kind is _NAME:
                value = clean_name(text, limit, title)
            elif kind is _LIST:
                value = [self._option(v, option_list) for v in split_multi(text)] or None
            else:
                value = clean_text(text, limit, title)
                if value is not None and option_list is not None:
                    value = self._option(value, option_list)
                if name == "email" and value is not None:
                    if "@" not in value.strip("@"):
                        raise BadValue(f"Email {value!r} is not an email address")
            if value is not None:
                client[name] = value
        if plan.extended:
            extended = {name: value for name, index in plan.extended
                        for value in [extended_value(name, (cells[index] or "") if index < width else "")]
                        if value is not None}
            if extended:
                client["extended"] = extended
        source_id = clean_text(self._cell(cells, "source_client_id"), 100, plan.titles["source_client_id"])
        dates = {}
        for name, label in (("enrollment_start", "Admission date"), ("intake_date", "Intake date"),
                            ("discharge_date", "Discharge date")):
            value = parse_date(self._cell(cells, name), self.date_order, label=label)
            if value is not None and value > self.today:
                raise BadValue(f"{label} {value:%Y-%m-%d} is in the future")
            dates[name] = value
        start, discharge = dates["enrollment_start"], dates["discharge_date"]
        if start and discharge and discharge < start:
            raise BadValue(f"Discharge date {discharge:%Y-%m-%d} is before the admission date {start:%Y-%m-%d}")
        programs = self._programs(cells) if any(dates.values()) else []
        return ParsedRow(row.id, row.row_number, source_id, client, programs, start, dates["intake_date"], discharge,
                         clean_text(self._cell(cells, "discharge_reason"), 255, plan.titles["discharge_reason"]),
                         clean_text(self._cell(cells, "referral_source"), 255, plan.titles["referral_source"]))

    def _programs(self, cells) -> list[uuid.UUID]:
        names = split_programs(self._cell(cells, "program"))
        if not names:
            if self.file_program is None:
                raise BadValue("No program: the Program cell is empty")
            return [self.file_program]
        found = []
        for name in names:
            program_id = self.programs.get(name.casefold())
            if program_id is None:
                raise BadValue(f"Unknown program {shown(name)}: add it, or add it as an alias of a program "
                               "(Programs & Services › Program aliases)")
            if program_id not in found:
                found.append(program_id)
        return found

    def incoming_key(self, row: ParsedRow) -> str:
        if row.source_id:
            return f"{self.source}:{row.source_id}"[:200]
        person = row.person
        basis = "|".join((matching.normalize_name(person.first_name), matching.normalize_name(person.last_name),
                          person.dob.isoformat() if person.dob else ""))
        return f"{self.source}:row:{hashlib.sha1(basis.encode()).hexdigest()[:20]}"

