"""CSV exports that stream the filtered rows in batches, with every cell formula-neutralised.

Flask-Admin loads every row of an export at once and writes cells that a spreadsheet runs as
formulas; a screen's export here reads the rows in batches through the context's own
session, writes related records as their text and neutralises formulas, and names the file
the same each time one export asks (the access log records the name, admin_views/reads.py).
"""

from datetime import datetime, timezone
from decimal import Decimal

from flask import g, request

from admin_views.formatting import neutralise_formula
from app.extensions import db

EXPORT_BATCH_SIZE = 500


class StreamsExports:
    """Mix in before ModelView (CCDModelView does); the rows go out through ``_export_rows`` (LogsReads)."""

    def _export_data(self):
        """Stream the filtered, sorted rows in batches instead of loading them all."""
        view_args = self._get_list_extra_args()
        sort_column = self._get_column_by_idx(view_args.sort)
        count, query = self.get_list(
            0, sort_column[0] if sort_column else None, view_args.sort_desc,
            view_args.search, view_args.filters, execute=False, page_size=0,
        )
        # Flask-Admin joins in the collections a list shows (a staff member's roles), and
        # SQLAlchemy cannot read such rows in batches; those screens are small, read at once.
        batched = not any(relationship.property.uselist for relationship in self._auto_joins)
        rows = _rows_of_this_context(query, EXPORT_BATCH_SIZE if batched else None)
        return count, self._export_rows(rows, self.get_export_name((request.view_args or {}).get("export_type", "csv")))

    def get_export_value(self, model, name):
        """The cell as the CSV will hold it (related records as their text), formula-neutralised.

        Flask-Admin turns a related record into text only when writing the row, after this
        method: so the text is made here, where the formula check can see it. Numbers stay
        numbers (a negative amount is not a formula).
        """
        value = super().get_export_value(model, name)
        if value is None or isinstance(value, (bool, int, float, Decimal)):
            return value
        return neutralise_formula(value.decode("utf-8") if isinstance(value, bytes) else str(value))

    def get_export_name(self, export_type="csv"):
        """The file's name, the same each time one export asks (the access log records it)."""
        if "ccd_export_stamp" not in g:
            g.ccd_export_stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d_%H%M")
        return f"ccd_{self.rule_key}_{g.ccd_export_stamp}.{export_type}"


def _rows_of_this_context(query, batch_size: int | None):
    """The export's rows, read through the session of the context the stream runs in.

    Flask-Admin streams a CSV after the view has returned: by then the request's session has
    been closed and dropped by Flask-SQLAlchemy's teardown, and a query still bound to it
    would reopen that orphaned session, whose transaction nobody ends (on SQLite a lock held
    until restart, on PostgreSQL a connection idle in transaction). Bound here, when the rows
    are first read, the stream uses the context's own session, which its teardown closes when
    the stream ends or the download is abandoned.
    """
    query = query.with_session(db.session())
    yield from query if batch_size is None else query.yield_per(batch_size)
