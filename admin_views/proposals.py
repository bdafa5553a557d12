"""Saves that become proposals: where the rule table says PROPOSE (Managers and Leaders on canonical records).

Every save path of a screen -- create, edit, delete, inline edit, bulk delete (and archive and
restore, admin_views/base.py) -- stores a PendingChange through app/services/approvals.py
instead of writing the record, and the person is told it waits for a coordinator. A direct
edit over a record changed since it was opened is refused (admin_views/locking.py).
"""

from flask import flash, jsonify, redirect, request
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla.fields import InlineModelFormList
from flask_admin.helpers import get_redirect_target
from flask_login import current_user
from wtforms.validators import ValidationError

from admin_views import locking
from admin_views.roles import current_roles
from app.extensions import db
from app.permissions import Action, Grant, grant
from app.services import approvals

PROPOSAL_SUBMITTED = (
    "Submitted for approval: a coordinator will review it, and the record stays as it is until then. "
    "You can follow it under Approvals › My requests."
)
PROPOSALS_SUBMITTED = (
    "{count} changes submitted for approval: a coordinator will review them, and the records stay as they are "
    "until then. You can follow them under Approvals › My requests."
)
NOTHING_PROPOSED = "Nothing was changed, so nothing was submitted for approval."


class ProposalStored(Exception):
    """A save became a proposal (or changed nothing); the view answers with this message instead of saving."""

    def __init__(self, message: str, category: str = "success"):
        super().__init__(message)
        self.message, self.category = message, category


def _drop_inline_lists(form) -> None:
    """Proposals cover one record; child rows are proposed from their own screens."""
    for field in list(form):
        if isinstance(field, InlineModelFormList):
            del form[field.name]


def _drop_inline_lists_not_writable(form, roles) -> None:
    """Child rows the person may not write leave the form (a program's staff list, for whoever may not
    grant visibility): the save would be refused for them anyway."""
    for field in list(form):
        if isinstance(field, InlineModelFormList) and \
                grant(roles, field.model.__tablename__, Action.CREATE) is Grant.DENY:
            del form[field.name]


class ProposesChanges:
    """Mix in before ModelView (CCDModelView does): needs the view's ``proposing``, ``rule_key``,
    ``opened_as`` and ``records_for_ids``."""

    def create_form(self, obj=None):
        form = super().create_form(obj)
        if self.proposing(Action.CREATE):
            _drop_inline_lists(form)
        _drop_inline_lists_not_writable(form, current_roles())
        return form

    def edit_form(self, obj=None):
        form = self.opened_as(super().edit_form(obj), obj)
        if obj is not None and self.proposing(Action.EDIT):
            _drop_inline_lists(form)
        else:
            _drop_inline_lists_not_writable(form, current_roles())
        return form

    def _propose(self, operation: str, entity_id=None, values=None, base=None, base_version=None):
        return approvals.propose(current_user.staff, self.rule_key, operation, entity_id=entity_id,
                                 values=values, base=base, base_version=base_version)

    def _propose_from_form(self, form, model) -> bool:
        """Read what the form would write, forget it, and store it as a proposal.

        The form fills a record in memory (with the screen's own on_model_change rules),
        under no_autoflush; the session is then rolled back, so nothing canonical reaches
        the database. Raises ProposalStored on success; returns False (message flashed,
        form kept) when the proposal is refused.
        """
        is_created = model is None
        try:
            opened = None if is_created else locking.submitted(form, self.rule_key, model)
            target = self.build_new_instance() if is_created else model
            entity_id = None if is_created else model.id
            current = {} if is_created else approvals.record_values(model)
            with db.session.no_autoflush:
                form.populate_obj(target)
                self._on_model_change(form, target, is_created)
                submitted = approvals.record_values(target)
        except (ValidationError, ValueError) as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return False
        db.session.rollback()
        covered = approvals.columns_of(self.model, [field.name for field in form])
        covered |= {key for key, value in submitted.items()
                    if not approvals.same(value, current.get(key), self.rule_key, key)}
        values = {key: submitted[key] for key in covered}
        try:
            seen_version = opened.version if opened is not None else getattr(form, "ccd_seen_version", None)
            change = self._propose("create" if is_created else "update", entity_id, values,
                                   None if opened is None else opened.values, seen_version)
        except approvals.ApprovalError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return False
        if change is None:
            raise ProposalStored(NOTHING_PROPOSED, "info")
        db.session.commit()
        raise ProposalStored(PROPOSAL_SUBMITTED)

    def _propose_rows(self, rows, operation: str, values=None) -> None:
        """One proposal per selected record (bulk actions, the delete button), and one message."""
        submitted, refused = 0, []
        for row in rows:
            try:
                if self._propose(operation, row.id, values) is not None:
                    submitted += 1
            except approvals.ApprovalError as exc:
                refused.append(str(exc))
        db.session.commit()
        if submitted:
            flash(PROPOSAL_SUBMITTED if submitted == 1 else PROPOSALS_SUBMITTED.format(count=submitted), "success")
        for message in sorted(set(refused)):
            flash(message, "error")
        if not submitted and not refused:
            flash(NOTHING_PROPOSED, "info")

    def _saved_or_proposed(self, view):
        """The form's page, or, once its save became a proposal, the message and the way back."""
        try:
            return view()
        except ProposalStored as outcome:
            flash(outcome.message, outcome.category)
            return redirect(get_redirect_target() or self.get_url(".index_view"))

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self):
        return self._saved_or_proposed(super().create_view)

    @expose("/edit/", methods=("GET", "POST"))
    def edit_view(self):
        return self._saved_or_proposed(super().edit_view)

    @expose("/ajax/update/", methods=("POST",))
    def ajax_update(self):
        """Inline edits by proposers become proposals too; the answer says so and the list keeps the old value
        (static/js/ccd-inline-proposals.js shows the message in the editor). A record out of scope is a
        404 before its value is even looked at."""
        self.get_one(locking.split_list_key(request.form.get("list_form_pk"))[0])
        try:
            return super().ajax_update()
        except ProposalStored as outcome:
            return jsonify(proposal=True, message=outcome.message)

    def create_model(self, form):
        if self.proposing(Action.CREATE):
            return self._propose_from_form(form, None)
        return super().create_model(form)

    def update_model(self, form, model):
        # An inline list edit names the version the list showed, and a proposal made from it keeps that
        # version as its base: a row that moved on since is refused whoever edits it, because the list
        # gives no form to show the newer values in.
        # A proposal made from an edit form keeps the form's version and values instead (the inbox shows
        # what moved since).
        proposing = self.proposing(Action.EDIT)
        if hasattr(form, "ccd_seen_version"):
            refused = locking.refusal_of_stale_list_edit(form.ccd_seen_version, self.rule_key, model)
        else:
            refused = None if proposing else locking.refusal_of_stale_save(form, self.rule_key, model)
        if refused:
            flash(refused, "error")
            return False
        if proposing:
            return self._propose_from_form(form, model)
        # A change committed after this check is caught by the version in the UPDATE (handle_view_exception).
        return super().update_model(form, model)

    def delete_model(self, model):
        if self.proposing(Action.DELETE):
            self._propose_rows([model], "delete")
            return False
        return super().delete_model(model)

    @action("delete", "Delete", "Delete the selected records? This cannot be undone.")
    def action_delete(self, ids):
        if self.proposing(Action.DELETE):
            self._propose_rows(self.records_for_ids(ids), "delete")
            return
        deleted = sum(1 for row in self.records_for_ids(ids) if self.delete_model(row))
        if deleted:
            flash(f"{deleted} record(s) deleted.", "success")
