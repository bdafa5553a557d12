"""Reading export files: CSV in the encodings real exports use, and Excel workbooks.

Encodings are detected, not guessed: a file that decodes as strict UTF-8 (with or
without a byte-order mark) is UTF-8; UTF-16 is known by its mark, or without one by its
zero bytes; a file with no UTF-8 at all must decode as Windows-1252, Excel's CSV
encoding on Windows. A UTF-8 file with a few bytes that are not UTF-8 is never read
whole as Windows-1252 (every accent would be garbled): the bad bytes become U+FFFD and
staging refuses the rows that hold them (``UNREADABLE``). XLSX cells keep their types,
so real Excel dates stay dates; a formula Excel saved without its value is marked
(``FormulaWithoutValue``) for staging to refuse by column.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from itertools import zip_longest
from typing import Callable, Iterator

HEADER_SEARCH_ROWS = 20
ZIP_SIGNATURE = b"PK\x03\x04"
OLE_SIGNATURE = b"\xd0\xcf\x11\xe0"
# Longer cells reach staging, which rejects their row naming the column; beyond this the
# file is refused naming the line (an unclosed quote can swallow the rest of a file).
MAX_CELL_CHARACTERS = 1_000_000
UNREADABLE = "\ufffd"  # what bytes that are not UTF-8 become in a UTF-8 file
UTF16_SAMPLE = 4096
READ_CHUNK_BYTES = 1 << 20

csv.field_size_limit(max(csv.field_size_limit(), MAX_CELL_CHARACTERS))


class FileRefused(ValueError):
    """The whole file cannot be imported; the message says why and what to do."""


class FormulaWithoutValue:
    """An XLSX cell holding a formula whose value Excel did not save (files written by other programs)."""

    def __repr__(self) -> str:
        return "FormulaWithoutValue()"


FORMULA_WITHOUT_VALUE = FormulaWithoutValue()


@dataclass
class Sheet:
    file_type: str  # "csv" or "xlsx"
    encoding: str | None
    header_row: int  # 1-based, as a spreadsheet shows it
    headers: list[str]
    rows: Iterator[tuple[int, list]]  # (row number, cells) after the header; blank rows skipped
    sheets_note: str = ""  # for a workbook: which sheets it has, said when the file is refused


def decode_text(data: bytes) -> tuple[str, str]:
    """The text of a CSV file and the name of the encoding it was in."""
    stream = io.BytesIO(data)
    codec, errors, encoding = detect_encoding(stream)
    return data.decode(codec, errors=errors), encoding


def detect_encoding(stream) -> tuple[str, str, str]:
    """(Python codec, its error handling, the encoding's name as said to a person) of a seekable binary
    stream, read in chunks: a file is never held whole (a million-row export is hundreds of megabytes)."""
    stream.seek(0)
    start = stream.read(UTF16_SAMPLE)
    if start.startswith(codecs.BOM_UTF8):
        if _decodes(stream, "utf-8-sig"):
            return "utf-8-sig", "strict", "UTF-8 with BOM"
        return "utf-8-sig", "replace", _mostly_utf8(stream, "UTF-8 with BOM")
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        if not _decodes(stream, "utf-16"):
            raise FileRefused("The file starts with a UTF-16 mark but is not valid UTF-16.")
        return "utf-16", "strict", "UTF-16"
    utf16 = _utf16_without_mark(start)
    if utf16:
        if not _decodes(stream, utf16):
            raise FileRefused("The file looks like UTF-16 (every other byte is zero) but is not valid UTF-16; "
                              "save it again as CSV UTF-8.")
        return utf16, "strict", "UTF-16"
    if _decodes(stream, "utf-8"):
        return "utf-8", "strict", "UTF-8"
    if _has_utf8(stream):
        return "utf-8", "replace", _mostly_utf8(stream, "UTF-8")
    failed_at = _first_undecodable(stream, "cp1252")
    if failed_at is not None:
        raise FileRefused(f"The file is neither UTF-8 nor Windows-1252 (byte {failed_at} cannot be read); "
                          "save it again as CSV UTF-8.")
    return "cp1252", "strict", "Windows-1252"


def _chunks(stream):
    stream.seek(0)
    return iter(lambda: stream.read(READ_CHUNK_BYTES), b"")


def _first_undecodable(stream, codec: str) -> int | None:
    """The offset of the first byte ``codec`` cannot read, or None when the whole stream decodes."""
    decoder = codecs.getincrementaldecoder(codec)()
    offset = 0
    try:
        for chunk in _chunks(stream):
            decoder.decode(chunk)
            offset += len(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        return offset + max(exc.start, 0)
    return None


def _decodes(stream, codec: str) -> bool:
    return _first_undecodable(stream, codec) is None


def _has_utf8(stream) -> bool:
    """Whether the stream holds any character UTF-8 spells with several bytes (else it is no UTF-8 at all)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    for chunk in _chunks(stream):
        if any(ord(char) > 127 and char != UNREADABLE for char in decoder.decode(chunk)):
            return True
    return False


def _mostly_utf8(stream, encoding: str) -> str:
    """A UTF-8 file with some bytes that are not: those lines are named (their bytes are read as U+FFFD)."""
    stream.seek(0)
    bad_lines = [number for number, line in enumerate(stream, start=1) if not _is_utf8(line)]
    shown = ", ".join(map(str, bad_lines[:10])) + (" …" if len(bad_lines) > 10 else "")
    return f"{encoding}, except line(s) {shown}"


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _utf16_without_mark(sample: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' for text whose every other byte is zero, else None."""
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _blank(cells) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def _find_header(rows: Iterator[tuple[int, list]], is_header: Callable[[list], bool] | None):
    """The header row: the first row the column map recognises (a report may open with title lines),
    else the first non-blank row. Returns (row number, cells, rows read past it, recognised)."""
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
                return number, cells, seen[index + 1:], True
    number, cells = seen[0]
    return number, cells, seen[1:], is_header is None


def _rows_after(header_number, pending, rows):
    for number, cells in pending:
        yield number, cells
    for number, cells in rows:
        if not _blank(cells):
            yield number, cells


def read_csv(data, is_header=None) -> Sheet:
    """A CSV file from its bytes or a seekable binary stream (an open file), read line by line: memory
    stays flat in the file's size."""
    stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    codec, errors, encoding = detect_encoding(stream)
    stream.seek(0)
    text = io.TextIOWrapper(stream, encoding=codec, errors=errors, newline="")
    first_line = text.readline()
    reader = csv.reader(itertools.chain([first_line], text), delimiter=_delimiter(first_line.split("\n", 1)[0]))
    numbered = enumerate(reader, start=1)  # records, not lines: a cell may hold several lines
    try:
        header_number, headers, pending, _ = _find_header(numbered, is_header)
    except csv.Error as exc:
        raise _not_csv(exc, reader) from None
    return Sheet("csv", encoding, header_number, [str(h) for h in headers],
                 _checked_csv_rows(_rows_after(header_number, pending, numbered), reader))


def _not_csv(exc: csv.Error, reader) -> FileRefused:
    reason = str(exc)
    if "field larger than field limit" in reason:
        reason = (f"a cell is longer than {MAX_CELL_CHARACTERS:,} characters (an opening quote without its "
                  "closing quote makes the rest of the file one cell)")
    return FileRefused(f"The file is not valid CSV at line {reader.line_num}: {reason}.")


def _checked_csv_rows(rows, reader):
    try:
        yield from rows
    except csv.Error as exc:
        raise _not_csv(exc, reader) from None


def _cell(value):
    """An XLSX cell as a plain value: datetime at midnight becomes a date; everything else as stored."""
    if isinstance(value, datetime) and value.time() == time(0, 0):
        return value.date()
    return value


def _open_workbook(path: Path, data_only: bool):
    from openpyxl import load_workbook

    try:
        # From an open file, not a name: openpyxl judges a name by its suffix, and files are read by content.
        return load_workbook(Path(path).open("rb"), read_only=True, data_only=data_only)
    except Exception as exc:  # openpyxl raises many kinds for a damaged or wrong file
        raise FileRefused(f"The Excel file cannot be opened ({exc.__class__.__name__}); save it again as .xlsx.") \
            from None


def _has_formulas(path: Path) -> bool:
    """Whether any sheet of the workbook holds a formula (``<f>`` elements), read without parsing it."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                with archive.open(name) as member:
                    tail = b""
                    for chunk in iter(lambda: member.read(1 << 20), b""):
                        if b"<f>" in tail + chunk or b"<f " in tail + chunk:
                            return True
                        tail = chunk[-3:]
    return False


def _sheet_rows(sheet, formulas=None):
    values = sheet.iter_rows(values_only=True)
    if formulas is None:
        return ((number, [_cell(v) for v in row]) for number, row in enumerate(values, start=1))
    written = formulas.iter_rows(values_only=True)
    return ((number, [FORMULA_WITHOUT_VALUE if v is None and isinstance(f, str) and f.startswith("=") else _cell(v)
                      for v, f in zip_longest(row, formula_row)])
            for number, (row, formula_row) in enumerate(zip_longest(values, written, fillvalue=()), start=1))


def check_unpacked_size(path: Path, limit_bytes: int | None) -> None:
    """Refuse a workbook that unpacks to more than ``limit_bytes`` before reading it: a few megabytes
    of XLSX can hold gigabytes of XML (millions of shared strings)."""
    import zipfile

    if not limit_bytes:
        return
    try:
        with zipfile.ZipFile(path) as archive:
            size = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        return  # _open_workbook says what is wrong with it
    if size > limit_bytes:
        raise FileRefused(f"The workbook unpacks to {size / (1 << 20):,.0f} MB, more than the "
                          f"{limit_bytes / (1 << 20):,.0f} MB limit (INGEST_MAX_XLSX_UNPACKED_MB); save it as "
                          "CSV UTF-8, or split it.")


def shared_strings_in(path: Path) -> int:
    """How many distinct strings a workbook's shared-strings part holds, counted while it is unpacked
    (``<si>`` elements; the part's own count attribute is optional and may lie)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.lower() == "xl/sharedstrings.xml"), None)
            if name is None:
                return 0
            count, tail = 0, b""
            with archive.open(name) as member:
                for chunk in iter(lambda: member.read(1 << 20), b""):
                    data = tail + chunk
                    count += data.count(b"<si>") + data.count(b"<si ")
                    tail = data[-3:]
                    count -= tail.count(b"<si")  # seen again at the start of the next chunk
            return count + tail.count(b"<si")
    except zipfile.BadZipFile:
        return 0  # _open_workbook says what is wrong with it


def check_shared_strings(path: Path, limit: int | None) -> None:
    """Refuse a workbook with more distinct strings than ``limit`` before reading it: openpyxl holds every
    shared string for the whole read, even in read-only mode (~80 bytes each measured; an 8 MB workbook
    of 3 million peaked at 855 MB), while its rows stream."""
    if not limit:
        return
    count = shared_strings_in(path)
    if count > limit:
        raise FileRefused(f"The workbook holds {count:,} distinct text values, more than the {limit:,} limit "
                          "(INGEST_MAX_XLSX_SHARED_STRINGS); save it as CSV UTF-8, or split it.")


def read_xlsx(path, is_header=None, max_unpacked_bytes: int | None = None,
              max_shared_strings: int | None = None) -> Sheet:
    """The first sheet (the active one first) whose header the column map recognises."""
    path = Path(path)
    check_unpacked_size(path, max_unpacked_bytes)
    check_shared_strings(path, max_shared_strings)
    workbook = _open_workbook(path, data_only=True)
    sheets = workbook.worksheets
    if workbook.active is not None and workbook.active in sheets:
        sheets = [workbook.active] + [s for s in sheets if s is not workbook.active]
    found, first = [], None
    for sheet in sheets:
        try:
            recognised = _find_header(_sheet_rows(sheet), is_header)[3]
        except FileRefused:
            found.append(f"\u201c{sheet.title}\u201d (no rows)")
            continue
        found.append(f"\u201c{sheet.title}\u201d")
        if recognised:
            break
        first = first or sheet
    else:
        if first is None:
            raise FileRefused(f"The workbook has no rows on any sheet (sheets: {', '.join(found)}).")
        sheet = first
    note = f"Sheets in the workbook: {', '.join(found)}." if len(workbook.worksheets) > 1 else ""
    formulas = None
    if _has_formulas(path):
        formulas = _open_workbook(path, data_only=False)[sheet.title]
    numbered = _sheet_rows(sheet, formulas)
    header_number, headers, pending, _ = _find_header(numbered, is_header)
    return Sheet("xlsx", None, header_number, ["" if h is None else str(h) for h in headers],
                 _rows_after(header_number, pending, numbered), note)


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


def read_sheet(path: Path, is_header=None, max_unpacked_bytes: int | None = None,
               max_shared_strings: int | None = None) -> Sheet:
    path = Path(path)
    with path.open("rb") as handle:
        start = handle.read(8)
    if file_type_of(start, path.name) == "xlsx":
        return read_xlsx(path, is_header, max_unpacked_bytes, max_shared_strings)
    return read_csv(path.open("rb"), is_header)


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
