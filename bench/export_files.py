"""Bench data sets written as the files source systems really send, with the truth kept aside.

A data set is one or more files (a first import, then a second day's file), each a list of
``ExportRow``. Every row knows the person it really is (``truth``), which is never written
to the file. Every row gets its own (program, admission date) pair, unique in the set: an
import writes one enrollment per row with exactly that key, so the enrollment tells which
client each row ended on, whatever the importer's summary or row outcomes say.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

# The EMHware "Current Client List - Receiving Services" header, exactly (shared/source-formats.md).
EMHWARE_HEADER = ["ID", "Last Name", "First Name", "Program", "DOB", "Age", "Gender", "City", "Sub-program", "Worker",
                  "Level of Support", "Admission Date", "Days Elapsed", "Location/County", "Referral Source"]
# An SMIS "Program Client Occupancy Report": no program column, the file is for one program.
SMIS_HEADER = ["Client No.", "Last Name", "First Name", "DOB", "Gender", "Admission Date", "Discharge Date"]
EMHWARE_PROGRAMS = ("Bridging Steps to Support", "Somali Program", "ETS SSTEP", "Support within Housing")
SMIS_PROGRAM = "1Housing - 145 Queen"
PROGRAMS = EMHWARE_PROGRAMS + (SMIS_PROGRAM,)
LAST_ADMISSION = date.today() - timedelta(days=1)
REFERRALS = ("Self,  Family or Friend", "Hospital", "Community Agency", "Shelter", "")


@dataclass
class ExportRow:
    truth: str               # the person this row really is (never written)
    source_id: str           # the source's id for the person ("" when the variant has none)
    first_name: str
    last_name: str
    dob: str                 # as the file carries it: YYYY-MM-DD or empty
    gender: str = ""
    city: str = ""
    program: str = ""
    admission: date | None = None
    referral: str = ""
    address: str = ""        # written only by sets that carry one (an "Address" column after the export's own)

    @property
    def key(self) -> tuple[str, date]:
        """What identifies the row in the database afterwards: the enrollment it writes."""
        return self.program, self.admission


@dataclass
class ExportFile:
    source: str              # "EMHware" or "SMIS"
    rows: list[ExportRow]
    program: str | None = None  # --program for SMIS files

    def name(self, day: int) -> str:
        return f"day{day}-{self.source.lower()}.csv"


@dataclass
class DataSet:
    name: str
    files: list[ExportFile]
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def rows(self) -> list[ExportRow]:
        return [row for export in self.files for row in export.rows]

    def without_ids(self, name: str) -> "DataSet":
        return DataSet(name, [ExportFile(f.source, [replace(r, source_id="") for r in f.rows], f.program)
                              for f in self.files], self.note.replace("every record its own id",
                                                                      "no ids: matched by name and birth date only"))

    def without_addresses(self, name: str) -> "DataSet":
        """The same rows as a Receiving Services export writes them: no Address column."""
        return DataSet(name, [ExportFile(f.source, [replace(r, address="") for r in f.rows], f.program)
                              for f in self.files], self.note)

    def reordered(self, order: str) -> "DataSet":
        """The same rows in another order: "file" (as generated), "reversed", or "shuffled"."""
        def arrange(rows):
            if order == "reversed":
                return rows[::-1]
            if order == "shuffled":
                rows = list(rows)
                random.Random(20261202).shuffle(rows)
                return rows
            return rows
        return DataSet(self.name, [ExportFile(f.source, arrange(f.rows), f.program) for f in self.files], self.note)


def assign_admissions(data: DataSet, seed: int = 1) -> DataSet:
    """Give every row a program and an admission date such that no two rows share both."""
    rng = random.Random(seed)
    next_day: dict[str, int] = {}
    for export in data.files:
        for row in export.rows:
            if export.source == "SMIS":
                row.program = export.program or SMIS_PROGRAM
            elif not row.program:
                row.program = rng.choice(EMHWARE_PROGRAMS)
            offset = next_day.get(row.program, 0)
            next_day[row.program] = offset + 1
            # Counted back from yesterday: recent admissions, later than most birth dates, never in the future.
            row.admission = LAST_ADMISSION - timedelta(days=offset)
            if not row.referral:
                row.referral = rng.choice(REFERRALS)
    return data


def write(export: ExportFile, path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        if export.source == "SMIS":
            out.writerow(SMIS_HEADER)
            for r in export.rows:
                out.writerow([r.source_id, r.last_name, r.first_name, r.dob, r.gender, r.admission.isoformat(), ""])
        else:
            # With addresses, the Address column of EMHware's Contact Information Summary after the export's own.
            addressed = any(r.address for r in export.rows)
            out.writerow(EMHWARE_HEADER + ["Address"] * addressed)
            for r in export.rows:
                out.writerow([r.source_id, r.last_name, r.first_name, r.program, r.dob, "", r.gender, r.city, "", "",
                              "", r.admission.isoformat(), "", "Toronto", r.referral] + [r.address] * addressed)
    return path
