"""Staging a file: its columns resolved, every row copied into ``import_rows`` before anything is matched.

Staging also loads what reading the rows needs (the programs and their aliases, the option
lists), so a file naming a program CCD does not have is refused before any row is looked at.
A row the file itself garbled is rejected here, naming its column: a CSV row whose cells do not
line up with the header (a missing separator, an unclosed quote), control characters (PostgreSQL
cannot store NUL; they are removed from the stored copy), bytes that are not UTF-8 in a UTF-8
file, and Excel formulas saved without their value.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import sqlalchemy as sa

from app.models import ImportRow, Program, ProgramAlias
from app.plain_text import CONTROL_CHARACTERS, control_characters, without_control_characters
from app.services.ingest import column_maps
from app.services.ingest.column_maps import PROGRAM_DATED_FIELDS, ResolvedColumns
from app.services.ingest.parse import OPTION_LIST_OF
from app.services.ingest.reading import FORMULA_WITHOUT_VALUE, UNREADABLE, FileRefused, as_text, read_sheet

STAGE_CHUNK = 2000


class Staging:
    """The staging half of an import run (``ImportRun`` in importer.py)."""

    def stage(self) -> None:
        session, log = self.session, self.log
        path = Path(self.details.get("path", ""))
        if not path.is_file():
            raise FileRefused(f"The uploaded file is no longer at {path}; upload it again.")
        from flask import current_app

        max_rows = int(current_app.config.get("INGEST_MAX_ROWS") or 0)
        column_map = column_maps.column_map_for(session, self.source)
        sheet = read_sheet(path, is_header=lambda cells: not column_map.resolve(
            [without_control_characters(str(c or "")) for c in cells]).missing,
            max_unpacked_bytes=int((current_app.config.get("INGEST_MAX_XLSX_UNPACKED_MB") or 0) * (1 << 20)),
            max_shared_strings=int(current_app.config.get("INGEST_MAX_XLSX_SHARED_STRINGS") or 0))
        headers = [without_control_characters(h) for h in sheet.headers]
        try:
            self.prepare(column_map, headers)
        except FileRefused as exc:
            raise FileRefused(" ".join(filter(None, (str(exc), sheet.sheets_note)))) from None
        self.details.update({"encoding": sheet.encoding, "header_row": sheet.header_row, "headers": headers,
                             "columns": self.resolved.describe(), "date_order": self.date_order})
        if sheet.sheets_note:
            self.details["sheets"] = sheet.sheets_note
        total = 0
        chunk = []
        for count, (number, cells) in enumerate(sheet.rows, start=1):
            if max_rows and count > max_rows:
                raise FileRefused(f"The file has more than {max_rows:,} rows, the limit (INGEST_MAX_ROWS); split it "
                                  "into smaller files.")
            texts = ["" if c is FORMULA_WITHOUT_VALUE else as_text(c) for c in cells]
            reason = garbled(headers, cells, texts, sheet.file_type == "csv")
            if reason:
                texts = [without_control_characters(t) for t in texts]
            chunk.append({"id": uuid.uuid4(), "upload_log_id": log.id, "row_number": number, "cells": texts,
                          "status": "rejected" if reason else "staged", "reason": reason})
            if reason:
                self._rejected_in_staging(number, reason)
            if len(chunk) >= STAGE_CHUNK:
                total += self._stage_chunk(chunk)
                chunk = []
                self.heartbeat()
        total += self._stage_chunk(chunk)
        log.total_rows = total
        self.details["rows_done"] = self.counters.done
        log.upload_details = dict(self.details)
        session.commit()

    def prepare(self, column_map, headers: list) -> None:
        """Resolve the columns and load what parsing rows needs; refuses the file when it cannot be read."""
        resolved = column_map.resolve(headers)
        problem = resolved.problem()
        if problem:
            raise FileRefused(problem)
        self.resolved = resolved
        self.date_order = column_map.date_order
        self.details["columns_not_read"] = resolved.not_read()
        self._load_programs(resolved)
        self._load_options()

    def _stage_chunk(self, chunk) -> int:
        """Staged rows go in with COPY on PostgreSQL (the same transaction), plain INSERTs elsewhere."""
        if not chunk:
            return 0
        connection = self.session.connection()
        if connection.dialect.name == "postgresql":
            import json

            cursor = connection.connection.driver_connection.cursor()
            with cursor.copy("COPY import_rows (id, upload_log_id, row_number, cells, status, reason) "
                             "FROM STDIN") as copy:
                for row in chunk:
                    copy.write_row((row["id"], row["upload_log_id"], row["row_number"], json.dumps(row["cells"]),
                                    row["status"], row["reason"]))
        else:
            self.session.execute(sa.insert(ImportRow), chunk)
        return len(chunk)

    def _load_programs(self, resolved: ResolvedColumns) -> None:
        """Programs by exact name and configured alias, compared ignoring case and surrounding spaces only."""
        self.programs: dict[str, uuid.UUID] = {}
        for program_id, name in self.session.execute(sa.select(Program.id, Program.name)):
            self.programs[" ".join(name.split()).casefold()] = program_id
        for program_id, alias in self.session.execute(sa.select(ProgramAlias.program_id, ProgramAlias.alias)):
            self.programs.setdefault(" ".join(alias.split()).casefold(), program_id)
        self.file_program: uuid.UUID | None = None
        name = self.details.get("program")
        if name:
            self.file_program = self.programs.get(" ".join(name.split()).casefold())
            if self.file_program is None:
                raise FileRefused(f"There is no program called {name!r} (nor an alias of that name); check the "
                                  "spelling or add the alias in Programs & Services › Program aliases.")
        dated = [f for f in PROGRAM_DATED_FIELDS if resolved.has(f)]
        if dated and not resolved.has("program") and self.file_program is None:
            raise FileRefused(f"This file has {', '.join(dated)} columns but no Program column; choose the program "
                              "the file is for (SMIS reports are per program).")

    def _load_options(self) -> None:
        from app.services.options import active_options

        self.options = {key: active_options(key) for key in set(OPTION_LIST_OF.values())}
        self.options_seen: dict[tuple[str, str], str | None] = {}



def column_name(headers: list[str], index: int) -> str:
    """A column as a person finds it in the file: its title and its place."""
    title = headers[index].strip() if index < len(headers) else ""
    return f"{title} (column {index + 1})" if title else f"column {index + 1}"


def garbled(headers: list[str], cells: list, texts: list[str], is_csv: bool) -> str | None:
    """Why a row cannot be trusted as the file holds it, naming the column; None when it can."""
    if is_csv and len(cells) < len(headers):
        return (f"The row has {len(cells)} cells but the header has {len(headers)}: a separator is missing or "
                "a quote is not closed, so its values cannot be told apart")
    if is_csv and any(texts[len(headers):]):
        return (f"The row has {len(cells)} cells but the header has {len(headers)}: a separator too many or "
                "a quote is not closed, so its values cannot be told apart")
    joined = "\t".join(texts)  # one look at the whole row first: nearly every row is clean
    if CONTROL_CHARACTERS.search(joined) is None and UNREADABLE not in joined and \
            not any(cell is FORMULA_WITHOUT_VALUE for cell in cells):
        return None
    for index, (cell, text) in enumerate(zip(cells, texts)):
        if cell is FORMULA_WITHOUT_VALUE:
            return (f"{column_name(headers, index)} is a formula whose value the file does not hold; open the "
                    "file in Excel and save it again, or replace the formula by its value")
        found = control_characters(text)
        if found:
            return (f"{column_name(headers, index)} holds control characters ({', '.join(found)}), which "
                    "no name or value may hold; correct the row in the source system")
        if UNREADABLE in text:
            return (f"{column_name(headers, index)} holds bytes that are not UTF-8 while the rest of the file "
                    "is UTF-8; correct the row and save the file again as CSV UTF-8")
    return None
