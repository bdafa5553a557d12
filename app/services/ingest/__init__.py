"""Daily ingestion of SMIS, EMHware and FFAI exports (build spec 2.3, issue 4).

The CLI (``ccd ingest``), the Imports page (through a Celery task) and the drop-folder
job all call these functions; see importer.py for how a file goes through.
"""

from app.services.ingest.importer import (
    ImportNotPermitted, ImportSummary, check_permission, import_file, process_upload, start_import,
)
from app.services.ingest.reading import FileRefused

__all__ = ["FileRefused", "ImportNotPermitted", "ImportSummary", "check_permission", "import_file",
           "process_upload", "start_import"]
