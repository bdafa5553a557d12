"""Spreadsheet-safe CSV, shared by the admin exports and the emailed reports.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a
formula by Excel and LibreOffice; every CSV CCD produces passes its cells through here.
"""

import csv
import io

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value):
    """Make a cell that a spreadsheet would run as a formula read as text instead."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_bytes(header: list[str], rows) -> bytes:
    """A UTF-8 CSV (with the byte-order mark Excel needs to read accents) of neutralised cells."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([neutralise_formula(cell) for cell in header])
    for row in rows:
        writer.writerow(["" if cell is None else neutralise_formula(cell) for cell in row])
    return buffer.getvalue().encode("utf-8-sig")
