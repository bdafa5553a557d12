"""A sample file for each kind of import, made from the column registry so it never drifts from it.

The columns are the first title of every field in the source's column map as it is now
(ingest/column_maps.py, with an administrator's titles applied), so the sample is a file
the import reads column for column. Each field's example value lives here, once; a field
added to the registry without one fails the tests, not a person's download.
"""

from __future__ import annotations

import csv
import io

from app.choices import SOURCE_SYSTEMS
from app.models import EXTENDED_FIELDS
from app.services.ingest.column_maps import PROGRAM_SOURCE, column_map_for, program_column_map

SAMPLE_SOURCES = SOURCE_SYSTEMS + (PROGRAM_SOURCE,)

SAMPLE_VALUES: dict[str, str] = {
    # clients (SMIS, EMHware, FFAI)
    "source_client_id": "100234", "first_name": "Alex", "middle_name": "Jordan", "last_name": "Sample",
    "preferred_name": "AJ", "alias": "", "dob": "1985-04-12", "gender": "Woman",
    "sexual_orientation": "Prefer not to answer", "citizenship_status": "Canadian citizen",
    "indigenous_status": "Non-Indigenous", "official_language": "English", "preferred_language": "English",
    "ethnicity": "Other", "race": "Prefer not to answer", "phone": "416-555-0100", "email": "alex@example.org",
    "address_line1": "100 Queen St W", "city": "Toronto", "province": "ON", "postal_code": "M5H 2N2",
    "emergency_contact_name": "Sam Sample", "health_card_issuing_province": "ON", "no_health_card_reason": "",
    "program": "Program name as in CCD", "enrollment_start": "2025-01-15", "intake_date": "2025-01-10",
    "discharge_date": "2025-03-31", "discharge_reason": "Completed program", "referral_source": "Self",
    # programs
    "name": "Drop-in Centre", "department": "Department name as in CCD", "location": "100 Queen St W",
    "capacity_current": "40", "capacity_effective_date": "2025-01-01", "no_capacity_limit": "No",
    "status": "active", "description": "Daytime drop-in with meals",
}
# The extended fields (FFAI's program-specific columns) by the type they are stored as.
EXTENDED_SAMPLES = {"int": "2", "bool": "No", "text": "Example"}
SAMPLE_VALUES.update({name: EXTENDED_SAMPLES[kind] for name, kind in EXTENDED_FIELDS.items()})


def sample_columns(session, source: str) -> list[tuple[str, str]]:
    """(column title, field) of a sample file for ``source``, in the registry's order."""
    if source not in SAMPLE_SOURCES:
        raise ValueError(f"No sample for {source!r}; expected one of {', '.join(SAMPLE_SOURCES)}.")
    column_map = program_column_map() if source == PROGRAM_SOURCE else column_map_for(session, source)
    return [(titles[0], field) for field, titles in column_map.titles.items() if titles]


def sample_csv(session, source: str) -> str:
    """The sample file's text: a header row and one example row."""
    columns = sample_columns(session, source)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([title for title, _ in columns])
    writer.writerow([SAMPLE_VALUES[field] for _, field in columns])
    return out.getvalue()


def sample_name(source: str) -> str:
    return f"ccd_sample_{source.lower()}.csv"
