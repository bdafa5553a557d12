"""The inline scripts Flask-Admin's templates write outside <script> tags, so the CSP can allow exactly those.

Flask-Admin 2.2 puts the CSP nonce on its <script> tags, but a few buttons still use
onclick="..." attributes (upstream issue pallets-eco/flask-admin#2556) and its menus use
href="javascript:void(0)"; a nonce covers neither. Without the handlers the row delete
button would submit without asking, and the bulk-action menu and "Add" buttons of inline
lists would do nothing. The CSP allows each exact string by hash ('unsafe-hashes');
tests/app/test_security.py renders every screen and fails if a page carries one this list
misses (for instance after a Flask-Admin upgrade). Checked in Chromium: no violations.
"""

from flask_admin.model.fields import InlineFieldList
from wtforms.fields.core import UnboundField

# admin/model/row_actions.html (delete_row), admin/model/layout.html (filter menu items), and the
# href of menu toggles, pagination and inline "Add" buttons (a no-op; allowed so the console stays clean).
FIXED_HANDLERS = (
    "return faHelpers.safeConfirm('Are you sure you want to delete this record?');",
    "return false;",
    "javascript:void(0)",
)


def _inline_list_fields(form_class) -> set[str]:
    names = set()
    for name in dir(form_class):
        value = getattr(form_class, name, None)
        if isinstance(value, UnboundField) and issubclass(value.field_class, InlineFieldList):
            names.add(name)
    return names


def flask_admin_inline_handlers(admin) -> set[str]:
    """Every handler string Flask-Admin can render for this admin's screens."""
    handlers = set(FIXED_HANDLERS)
    for view in admin._views:
        # admin/actions.html: one menu item per bulk action.
        for name, _text in getattr(view, "_actions", ()):
            handlers.add(f"return modelActions.execute('{name}');")
        # admin/model/inline_list_base.html: the "Add ..." button of each inline list.
        for form_class in (getattr(view, "_create_form_class", None), getattr(view, "_edit_form_class", None)):
            if form_class is not None:
                handlers.update(f"faForm.addInlineField(this, '{field}');" for field in _inline_list_fields(form_class))
    return handlers
