"""The rejects file: every row an import did not write, why, and the clients it might be."""

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
    return "; ".join(
        f"{c.get('name')} (born {c.get('dob') or 'unknown'}, match probability {c.get('probability')}, "
        f"id {c.get('client_id')})"
        for c in (details or {}).get("candidates", []))


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
