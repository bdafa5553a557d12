"""Which column of a source system's file holds which CCD field: the one place these titles live.

The defaults come from the agency's column-mapping workbook and real exports
(shared/source-formats.md). An administrator can replace the titles of any field for a
source (Settings › Import column titles) and set how the source writes slash dates
(Settings › Import settings); ``column_map_for`` merges those over the defaults.

Titles are compared ignoring case, surrounding spaces and punctuation, so SMIS's
``Client No. `` (trailing space, in its discharge report) is the same column as
``Client No.``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa

from app.choices import SOURCE_SYSTEMS
from app.models.clients import EXTENDED_FIELDS

# CCD import fields: what an import can read from a row, and what each becomes.
CLIENT_FIELDS = (
    "first_name", "middle_name", "last_name", "preferred_name", "alias", "dob", "gender", "sexual_orientation",
    "citizenship_status", "indigenous_status", "official_language", "preferred_language", "ethnicity", "race",
    "phone", "email", "address_line1", "city", "province", "postal_code", "emergency_contact_name",
    "health_card_issuing_province", "no_health_card_reason",
)
SERVICE_FIELDS = ("program", "enrollment_start", "intake_date", "discharge_date", "discharge_reason",
                  "referral_source")
# The client's extended fields (one JSON column): read only when an administrator names their column titles,
# or, for FFAI, when a column carries the field's own name or label.
EXTENDED_IMPORT_FIELDS = tuple(EXTENDED_FIELDS)
IMPORT_FIELDS = ("source_client_id",) + CLIENT_FIELDS + SERVICE_FIELDS + EXTENDED_IMPORT_FIELDS
DATE_FIELDS = frozenset({"dob", "enrollment_start", "intake_date", "discharge_date"})
# Fields that need a program: an import either reads it per row or is told which program the file is for.
PROGRAM_DATED_FIELDS = ("enrollment_start", "intake_date", "discharge_date")

FIELD_DESCRIPTIONS = {
    "source_client_id": "the client's id in the source system (never compared with another system's ids)",
    "enrollment_start": "start of an enrollment (admission / receiving services date)",
    "intake_date": "date of an intake",
    "discharge_date": "ends the enrollment and records a discharge",
    "discharge_reason": "reason recorded with the discharge",
    "program": "program name, matched exactly or through a program alias; several may be on separate lines",
    "referral_source": "recorded on the enrollment, and on the intake when the row writes one",
}

# Where each import field lands, so a person can see it ("table.column"; tests check these columns exist).
FIELD_STORED_IN: dict[str, str] = {
    **{name: f"clients.{name}" for name in CLIENT_FIELDS},
    **{name: "clients.extended" for name in EXTENDED_IMPORT_FIELDS},
    "source_client_id": "client_source_ids.source_client_id",
    "program": "client_program_enrollments.program_id",
    "enrollment_start": "client_program_enrollments.start_date",
    "intake_date": "intakes.intake_date",
    "discharge_date": "discharges.discharge_date",
    "discharge_reason": "discharges.reason",
    "referral_source": "client_program_enrollments.referral_source",
}

# Columns the sources' known reports carry that an import deliberately does not read, and why. A
# column of a file that is neither a field's title nor listed here is shown as "not read" on the import.
IGNORED_COLUMNS: dict[str, dict[str, str]] = {
    "EMHware": {
        "Age": "worked out from the birth date (DOB), which is kept",
        "Days Elapsed": "worked out from the admission date, which is kept on the enrollment",
        "Sub-program": "EMHware's sub-programs are not set up as CCD sub-programs; the enrollment keeps the program",
        "Worker": "an EMHware worker's name, not a CCD staff account; assignments are made in CCD",
        "Level of Support": "an EMHware rating with no CCD field",
        "Location/County": "the region of the program's site, not the client's; the client's City is kept",
    },
    "SMIS": {},
    "FFAI": {},
}

DEFAULT_COLUMN_TITLES: dict[str, dict[str, tuple[str, ...]]] = {
    "EMHware": {
        "source_client_id": ("ID", "Client ID"),
        "last_name": ("Last Name",),
        "first_name": ("First Name",),
        "dob": ("DOB",),
        "gender": ("Gender",),
        "sexual_orientation": ("LGBTQ?",),
        "citizenship_status": ("Citizenship Status",),
        "indigenous_status": ("Aboriginal Status",),
        "official_language": ("Official Language",),
        "preferred_language": ("Language",),
        "ethnicity": ("Ethnicity",),
        "phone": ("Phone",),
        "email": ("Email",),
        "address_line1": ("Address",),
        "city": ("City",),
        "emergency_contact_name": ("Emergency Contact",),
        "health_card_issuing_province": ("HC Issuing Province",),
        "no_health_card_reason": ("No HC Reason",),
        "program": ("Program",),
        "enrollment_start": ("Admission Date", "Receiving Services Date"),
        "intake_date": ("Screening Result Date",),
        "discharge_date": ("Discharge Date",),
        "discharge_reason": ("Reason",),
        "referral_source": ("Referral Source",),
    },
    "SMIS": {
        "source_client_id": ("Client No.",),
        "last_name": ("Last Name",),
        "first_name": ("First Name",),
        "dob": ("DOB",),
        "gender": ("Gender",),
        "citizenship_status": ("Refugee Status",),
        "indigenous_status": ("Indigenous Identity",),
        "program": ("Program",),
        "enrollment_start": ("Admission Date",),
        "intake_date": ("Intake Date",),
        "discharge_date": ("Discharge Date",),
        "discharge_reason": ("Discharge Reason",),
    },
    # No FFAI titles are known yet: its files start from CCD's own field names and labels.
    "FFAI": {},
}

# A file is refused unless it has these columns. SMIS and EMHware put their id in every
# client report; FFAI has no known id, so it needs names (a row is then matched by name and birth date).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "SMIS": ("source_client_id",),
    "EMHware": ("source_client_id",),
    "FFAI": ("first_name", "last_name"),
    "programs": ("name", "department"),
}

# Programs from a CSV (app/services/program_import.py): not a source system's export but the
# agency's own list of programs, read by the same column matching.
PROGRAM_SOURCE = "programs"
PROGRAM_COLUMN_TITLES: dict[str, tuple[str, ...]] = {
    "name": ("Program", "Program name", "Name"),
    "department": ("Department", "Department name"),
    "location": ("Location", "Address"),
    "capacity_current": ("Capacity",),
    "capacity_effective_date": ("Capacity effective from", "Capacity date"),
    "no_capacity_limit": ("No capacity limit",),
    "status": ("Status",),
    "description": ("Description",),
}
PROGRAM_FIELDS = tuple(PROGRAM_COLUMN_TITLES)

DEFAULT_DATE_ORDER = "YMD"

_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalize_title(title) -> str:
    """'  Client No. ' -> 'client no'; 'LGBTQ?' -> 'lgbtq'; 'first_name' -> 'first name'."""
    return _NOT_WORD.sub(" ", str(title or "").casefold()).strip()


def _ffai_defaults() -> dict[str, tuple[str, ...]]:
    from app.labels import label

    titles = {field: (field, label(field)) for field in IMPORT_FIELDS}
    titles["source_client_id"] = ("source_client_id", "FFAI ID", "Client ID", "ID")
    return titles


def default_titles(source: str) -> dict[str, tuple[str, ...]]:
    if source not in SOURCE_SYSTEMS:
        raise ValueError(f"Unknown source system {source!r}; expected one of {', '.join(SOURCE_SYSTEMS)}.")
    return _ffai_defaults() if source == "FFAI" else dict(DEFAULT_COLUMN_TITLES[source])


@dataclass(frozen=True)
class ColumnMap:
    """The titles each field may have in one source's files, and how that source writes dates."""

    source: str
    titles: dict[str, tuple[str, ...]]
    date_order: str = DEFAULT_DATE_ORDER

    @property
    def required(self) -> tuple[str, ...]:
        return REQUIRED_FIELDS[self.source]

    def resolve(self, headers: list) -> "ResolvedColumns":
        """Which column index holds which field, for a file with these header cells."""
        by_title: dict[str, str] = {}
        for field, titles in self.titles.items():
            for title in titles:
                by_title.setdefault(normalize_title(title), field)
        positions: dict[str, int] = {}
        doubled: dict[str, list[str]] = {}
        for index, header in enumerate(headers):
            field = by_title.get(normalize_title(header))
            if field is None:
                continue
            if field in positions:
                doubled.setdefault(field, [str(headers[positions[field]])]).append(str(header))
                continue
            positions[field] = index
        missing = [field for field in self.required if field not in positions]
        return ResolvedColumns(self, positions, missing, doubled, [str(h) for h in headers])


@dataclass(frozen=True)
class ResolvedColumns:
    column_map: ColumnMap
    positions: dict[str, int]
    missing: list[str]
    doubled: dict[str, list[str]]
    headers: list[str]

    def problem(self) -> str | None:
        """Why the whole file is refused, in words an operator can act on; None when it can be read."""
        if self.missing:
            wanted = "; ".join(
                f"{field} (a column titled " + " or ".join(f'"{t}"' for t in self.column_map.titles.get(field, ()))
                + ")" for field in self.missing)
            found = ", ".join(f'"{h}"' for h in self.headers if str(h).strip()) or "none"
            if self.positions == {} and found != "none":
                # No title it knows: the row taken for the header may be a client's row; its cells are not quoted.
                found = (f"none CCD knows in the first rows (the first row, {len(self.headers)} cells, is not "
                         "quoted here: it may hold a client's details)")
            return (f"This {self.column_map.source} file is missing required columns: {wanted}. "
                    f"Columns found: {found}. Check the source system and report, or set the column titles "
                    f"in Settings › Import column titles.")
        if self.doubled:
            which = "; ".join(f"{field}: " + ", ".join(f'"{t}"' for t in titles)
                              for field, titles in self.doubled.items())
            return f"Several columns of this file hold the same field, so CCD cannot tell which to use: {which}."
        return None

    def has(self, field: str) -> bool:
        return field in self.positions

    def describe(self) -> dict[str, str]:
        """Field -> the title it was read from (kept in the upload log)."""
        return {field: self.headers[index] for field, index in self.positions.items()}

    def not_read(self) -> list[list[str]]:
        """[title, why] for each column the import does not read (declared ignored, or not in the column
        map), in the file's order."""
        read = set(self.positions.values())
        ignored = {normalize_title(title): reason
                   for title, reason in IGNORED_COLUMNS.get(self.column_map.source, {}).items()}
        return [[str(header), ignored.get(normalize_title(header), "not in the column map for this source")]
                for index, header in enumerate(self.headers) if index not in read and str(header).strip()]


def program_column_map() -> ColumnMap:
    """The columns of a programs file (its titles are CCD's own, not set per source)."""
    return ColumnMap(PROGRAM_SOURCE, dict(PROGRAM_COLUMN_TITLES))


def column_map_for(session, source: str) -> ColumnMap:
    """The defaults for ``source`` with the administrator's titles and date order applied."""
    from app.models import ImportColumnTitle, ImportSourceSetting

    titles = default_titles(source)
    for row in session.scalars(sa.select(ImportColumnTitle).where(ImportColumnTitle.source_system == source)):
        if row.field in IMPORT_FIELDS and row.title_list:
            titles[row.field] = tuple(row.title_list)
    setting = session.scalar(sa.select(ImportSourceSetting).where(ImportSourceSetting.source_system == source))
    return ColumnMap(source, titles, setting.date_order if setting else DEFAULT_DATE_ORDER)
