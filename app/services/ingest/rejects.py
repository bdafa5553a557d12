"""The rejects file: every row an import did not write (rejected for a bad value, or held for review), why,
and the clients a held row might be."""

from __future__ import annotations

import csv
import io
from typing import Iterator

import sqlalchemy as sa

from admin_views.formatting import neutralise_formula
from app.extensions import db
from app.models import ClientUploadLog, ImportRow

REJECTS_STATUSES = ("rejected", "review")


def _candidates(details: dict) -> str:
    """Each candidate by name, birth date and match probability (rows held before the probability was
    stored apart from the score's parts say "unknown" rather than print a part score as a date)."""
    def described(candidate: dict) -> str:
        dob = candidate.get("dob")
        probability = candidate.get("probability")
        return (f"{candidate.get('name')} (born {dob if isinstance(dob, str) else 'unknown'}, match probability "
                f"{f'{probability:.2f}' if isinstance(probability, (int, float)) else 'unknown'}, "
                f"client id {candidate.get('client_id')})")

    return "; ".join(described(c) for c in (details or {}).get("candidates", []))


def rejects_rows(log: ClientUploadLog) -> Iterator[list]:
    """Header, then one line per rejected row: row number, reason, candidates, and the cells as they arrived."""
    headers = list((log.upload_details or {}).get("headers") or [])
    yield ["Row", "Reason", "Possible matches", *headers]
    query = (sa.select(ImportRow.row_number, ImportRow.reason, ImportRow.details, ImportRow.cells)
             .where(ImportRow.upload_log_id == log.id, ImportRow.status.in_(REJECTS_STATUSES))
             .order_by(ImportRow.row_number))
    for row in db.session.execute(query).yield_per(1000):
        cells = list(row.cells or [])
        cells += [""] * (len(headers) - len(cells))
        yield [row.row_number, row.reason or "", _candidates(row.details), *cells]


def rejects_csv(log: ClientUploadLog) -> Iterator[str]:
    """The rejects file as CSV text chunks, with spreadsheet formulas neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for line in rejects_rows(log):
        writer.writerow([neutralise_formula(value) for value in line])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def write_rejects(log: ClientUploadLog, path) -> int:
    """Write the rejects file to ``path`` (UTF-8 with BOM, so Excel shows accents); returns the rows written."""
    count = 0
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        for chunk in rejects_csv(log):
            handle.write(chunk)
    count = db.session.scalar(sa.select(sa.func.count()).select_from(ImportRow).where(
        ImportRow.upload_log_id == log.id, ImportRow.status.in_(REJECTS_STATUSES)))
    return count
