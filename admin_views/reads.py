"""The reads of client data every screen logs (app/services/access_log.py).

``LogsReads`` is mixed into the base of every screen (admin_views/base.py): a record page
or edit form of a record that belongs to a client, a list opened from a report's drill-down
link, and a list export each write the clients they showed to the access log, in one
statement per page (or per export batch). Thin on purpose: which clients a record shows,
and how the rows are written, is the service's.
"""

from admin_views.filters import DataQualityFilter, ServedFilter
from app.services import access_log

# Filters only a report's drill-down link sets (admin_views/reports.py builds those links).
DRILL_DOWN_FILTERS = (ServedFilter, DataQualityFilter)


class LogsReads:
    """Mix in before a model view's base: the reads of client data it serves are logged."""

    def render(self, template, **kwargs):
        """A record page or edit form logs its record's clients; a list page opened through a report's
        drill-down logs the clients on the page (whichever way the screen read them)."""
        model = kwargs.get("model")
        written = 0
        if model is not None and template in (self.details_template, self.edit_template):
            written = access_log.record_reads_of("details" if template == self.details_template else "edit_form",
                                                 [model])
        elif template == self.list_template and self._is_drill_down(self._get_list_extra_args().filters):
            written = access_log.record_reads_of("drill_down", kwargs.get("data") or [])
        if written:
            access_log.commit_reads()
        return super().render(template, **kwargs)

    def _is_drill_down(self, filters) -> bool:
        return any(isinstance(self._filters[index], DRILL_DOWN_FILTERS) for index, _, _ in filters or ()
                   if 0 <= index < len(self._filters))

    def _export_rows(self, rows, filename: str):
        """The export's rows as they stream, each batch's clients logged as they leave in ``filename``."""
        batch = []
        try:
            for row in rows:
                batch += access_log.clients_of(row)
                if len(batch) >= access_log.EXPORT_LOG_BATCH:
                    access_log.record_reads("export", batch, detail=filename)
                    batch = []
                yield row
        finally:
            access_log.record_reads("export", batch, detail=filename)
            access_log.commit_reads()

