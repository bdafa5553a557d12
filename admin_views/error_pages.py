"""403, 404, 400 and 500 pages inside CCD's layout (top bar, sidebar), each with a way back.

A page that fails must not fail again while saying so: the failed request's transaction is
rolled back before the layout (which reads the sidebar's counts) is drawn, and if the
layout cannot be drawn either, a plain page without it says the same. No page shows an
exception's text: database messages quote statements and clients' values.
"""

import logging
from urllib.parse import urlsplit

from flask import current_app, render_template, request, url_for
from sqlalchemy.exc import DataError
from werkzeug.exceptions import BadRequest, Forbidden, InternalServerError, NotFound

from app.extensions import db

log = logging.getLogger(__name__)

PAGES = {
    400: ("This request could not be read",
          "Something sent with it could not be read, such as an invisible control character in a search or a "
          "form. Remove it and try again."),
    403: ("You do not have access to this page",
          "Your role does not include this page or this action. If your work needs it, ask an administrator."),
    404: ("Page not found",
          "There is no page at this address, or the record it points to does not exist or is outside the "
          "clients and programs you work with."),
    500: ("Something went wrong",
          "CCD could not finish this request. The error was recorded for the administrator; going back and "
          "trying again usually works."),
}


def _way_back() -> str | None:
    """The page the person came from, when it is a page of this site and not this one."""
    referrer = request.referrer or ""
    parts = urlsplit(referrer)
    if parts.netloc != request.host or parts.path == request.path:
        return None
    return referrer


def error_page(status: int):
    title, message = PAGES[status]
    try:
        db.session.rollback()
        admin = current_app.extensions["admin"][0]
        page = admin.index_view.render("errors/error.html", title=title, message=message, status=status,
                                       back_url=_way_back())
    except Exception:
        log.exception("The %s page could not be drawn in the layout", status)
        page = render_template("errors/refused.html", title=title, message=message)
    return page, status


def _refused_data(error: DataError):
    """The database refused a value it cannot hold or compare: the request's input, never a crash."""
    log.warning("A request's value was refused by the database on %s: %s", request.endpoint, type(error.orig).__name__)
    return error_page(400)


def install(app) -> None:
    app.register_error_handler(BadRequest, lambda error: error_page(400))
    app.register_error_handler(Forbidden, lambda error: error_page(403))
    app.register_error_handler(NotFound, lambda error: error_page(404))
    app.register_error_handler(InternalServerError, lambda error: error_page(500))
    app.register_error_handler(DataError, _refused_data)

