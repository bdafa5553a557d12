"""Links to CCD records that work outside a request: in emails, notifications and job output."""

from flask import current_app


def record_path(table: str, record_id) -> str:
    """The path of a record's details page (the screen for ``table`` is its endpoint)."""
    adapter = current_app.url_map.bind("localhost")
    return adapter.build(f"{table}.details_view", {"id": str(record_id)})


def record_url(table: str, record_id) -> str:
    """The same page as an absolute link, for email: CCD_BASE_URL plus the path."""
    return current_app.config["BASE_URL"] + record_path(table, record_id)
