"""Who is signed in, as the rule table sees them: their roles, and the answer when they may not see a page."""

from flask import abort, redirect, request, url_for
from flask_login import current_user


def current_roles() -> frozenset[str]:
    user = current_user._get_current_object() if current_user else None
    if user is None or not user.is_authenticated:
        return frozenset()
    return user.role_names


def refuse():
    """A visitor who is not signed in goes to sign-in; a signed-in one without the right gets 403."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))
    abort(403)
