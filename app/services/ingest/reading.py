"""Reading export files: CSV in the encodings real exports use, and Excel workbooks.

Encodings are detected, not guessed: a file that decodes as strict UTF-8 (with or
without a byte-order mark) is UTF-8; otherwise it must decode as Windows-1252, Excel's
CSV encoding on Windows; a file that is neither is refused with the position of the
first bad byte. XLSX cells keep their types, so real Excel dates stay dates.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Callable, Iterator

HEADER_SEARCH_ROWS = 20
ZIP_SIGNATURE = b"PK\x03\x04"
OLE_SIGNATURE = b"\xd0\xcf\x11\xe0"


class FileRefused(ValueError):
    """The whole file cannot be imported; the message says why and what to do."""


@dataclass
class Sheet:
    file_type: str  # "csv" or "xlsx"
    encoding: str | None
    header_row: int  # 1-based, as a spreadsheet shows it
    headers: list[str]
    rows: Iterator[tuple[int, list]]  # (row number, cells) after the header; blank rows skipped


def decode_text(data: bytes) -> tuple[str, str]:
    """The text of a CSV file and the name of the encoding it was in."""
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8):].decode("utf-8"), "UTF-8 with BOM"
        except UnicodeDecodeError as exc:
            raise FileRefused(f"The file starts with a UTF-8 mark but byte {exc.start + 3} is not UTF-8; "
                              "save it again as CSV UTF-8.") from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            raise FileRefused("The file starts with a UTF-16 mark but is not valid UTF-16.") from None
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError as exc:
        raise FileRefused(f"The file is neither UTF-8 nor Windows-1252 (byte {exc.start} cannot be read); "
                          "save it again as CSV UTF-8.") from None


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _blank(cells) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def _find_header(rows: Iterator[tuple[int, list]], is_header: Callable[[list], bool] | None):
    """The header row: the first row the column map recognises (a report may open with title lines),
    else the first non-blank row."""
    seen = []
    for number, cells in rows:
        if _blank(cells):
            continue
        seen.append((number, cells))
        if is_header is None or is_header(cells) or len(seen) >= HEADER_SEARCH_ROWS:
            break
    if not seen:
        raise FileRefused("The file has no rows.")
    if is_header is not None:
        for index, (number, cells) in enumerate(seen):
            if is_header(cells):
                return number, cells, seen[index + 1:]
    number, cells = seen[0]
    return number, cells, seen[1:]


def _rows_after(header_number, pending, rows):
    for number, cells in pending:
        yield number, cells
    for number, cells in rows:
        if not _blank(cells):
            yield number, cells


def read_csv(data: bytes, is_header=None) -> Sheet:
    text, encoding = decode_text(data)
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line))
    numbered = enumerate(reader, start=1)  # records, not lines: a cell may hold several lines
    try:
        header_number, headers, pending = _find_header(numbered, is_header)
    except csv.Error as exc:
        raise FileRefused(f"The file is not valid CSV: {exc}.") from None
    return Sheet("csv", encoding, header_number, [str(h) for h in headers],
                 _checked_csv_rows(_rows_after(header_number, pending, numbered)))


def _checked_csv_rows(rows):
    try:
        yield from rows
    except csv.Error as exc:
        raise FileRefused(f"The file is not valid CSV: {exc}.") from None


def _cell(value):
    """An XLSX cell as a plain value: datetime at midnight becomes a date; everything else as stored."""
    if isinstance(value, datetime) and value.time() == time(0, 0):
        return value.date()
    return value


def read_xlsx(path_or_file, is_header=None) -> Sheet:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path_or_file, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged or wrong file
        raise FileRefused(f"The Excel file cannot be opened ({exc.__class__.__name__}); save it again as .xlsx.") \
            from None
    sheet = workbook.active if workbook.active is not None else workbook.worksheets[0]
    numbered = ((number, [_cell(v) for v in values])
                for number, values in enumerate(sheet.iter_rows(values_only=True), start=1))
    header_number, headers, pending = _find_header(numbered, is_header)
    return Sheet("xlsx", None, header_number, ["" if h is None else str(h) for h in headers],
                 _rows_after(header_number, pending, numbered))


def file_type_of(data_start: bytes, file_name: str) -> str:
    """'csv' or 'xlsx' from the content (a renamed file is still read right), refusing old .xls."""
    if data_start.startswith(ZIP_SIGNATURE):
        return "xlsx"
    if data_start.startswith(OLE_SIGNATURE):
        raise FileRefused("Excel 97-2003 (.xls) files cannot be read; save the file as .xlsx or CSV.")
    suffix = Path(file_name).suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        raise FileRefused("The file is named .xlsx but is not an Excel workbook.")
    return "csv"


def read_sheet(path: Path, is_header=None) -> Sheet:
    path = Path(path)
    with path.open("rb") as handle:
        start = handle.read(8)
    if file_type_of(start, path.name) == "xlsx":
        return read_xlsx(path, is_header)
    return read_csv(path.read_bytes(), is_header)


def as_text(value) -> str:
    """A cell as the text the import works with: dates ISO, whole numbers without '.0', trimmed."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
