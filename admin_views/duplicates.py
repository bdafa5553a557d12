"""The duplicates screen: the review queue, the side-by-side review page, merges and their undo.

Every page and post here needs the merge right (Coordinators and Administrators);
the service checks it again below the screen. Forms post with a CSRF token and the
pages carry no inline script.
"""

import uuid

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user
from markupsafe import Markup
from wtforms import FloatField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, ValidationError

from admin_views.base import CCDModelView, current_roles
from admin_views.clients import client_lookup
from app.choices import DUPLICATE_CONFIDENCE, DUPLICATE_STATUSES
from app.celery_app import app_task
from app.extensions import db
from app.security import CSRFForm
from app.labels import label
from app.models import Client, ClientDuplicate
from app.permissions import may_merge_clients
from app.services import merge as merge_service

SIDES = ("first", "second")


class ReviewForm(CSRFForm):
    """Carries the CSRF token and the reviewer's note; the per-field choices are read from the post."""

    notes = TextAreaField("Review notes", validators=[Length(max=2000)])


def _review_link(view, context, model, name):
    if model.status != "pending" or not may_merge_clients(current_roles()):
        return model.status.replace("_", " ")
    return Markup('<a href="{}">Review</a>').format(url_for(".review", id=model.id))


class ClientDuplicateView(CCDModelView):
    list_template = "admin/clients/duplicates_list.html"
    column_list = ("primary_client", "duplicate_client", "similarity_score", "confidence_level", "match_type",
                   "status", "detection_source", "created_at")
    column_default_sort = ("similarity_score", True)
    column_filters = ("status", "confidence_level", "match_type", "similarity_score")
    column_formatters = {"status": _review_link}
    # The status changes only through review (merge, not a duplicate), never by editing the row.
    form_columns = ("primary_client", "duplicate_client", "similarity_score", "match_type", "confidence_level",
                    "detection_source", "review_notes")
    form_choices = {"confidence_level": [(c, c) for c in DUPLICATE_CONFIDENCE]}
    column_choices = {"status": [(s, s.replace("_", " ")) for s in DUPLICATE_STATUSES]}
    # Flask-Admin has no converter for SQLAlchemy 2.1's Float (no longer a Numeric subclass).
    form_overrides = {"similarity_score": FloatField}
    form_args = {"similarity_score": {"validators": [InputRequired(), NumberRange(0, 1)]}}
    form_ajax_refs = {"primary_client": client_lookup("primary_client"),
                      "duplicate_client": client_lookup("duplicate_client")}

    def render(self, template, **kwargs):
        if template == self.list_template:
            kwargs["may_review"] = may_merge_clients(current_roles())
            kwargs["review_form"] = ReviewForm()
        return super().render(template, **kwargs)

    # -- review ----------------------------------------------------------------------------
    def _require_reviewer(self):
        if not may_merge_clients(current_roles()):
            abort(403)

    def _pending_item(self, raw_id) -> ClientDuplicate:
        item = self.get_one(raw_id or "")
        if item is None:
            abort(404)
        return item

    def _not_two_clients(self, item):
        """An imported row held back beside a client can be dismissed here, but not merged: it is not a record yet."""
        if item.duplicate_client_id is not None:
            return None
        flash("This item pairs a client with an imported row that was not written; it can only be marked "
              "not a duplicate.", "info")
        return redirect(url_for(".review", id=item.id))

    @expose("/review/", methods=("GET",))
    def review(self):
        self._require_reviewer()
        item = self._pending_item(request.args.get("id"))
        if item.duplicate_client_id is None:
            return self.render("admin/clients/duplicate_review_row.html", item=item, client=item.primary_client,
                               row=item.import_row, form=ReviewForm(), field_label=label,
                               return_url=url_for(".index_view"))
        first, second = item.primary_client, item.duplicate_client
        return self.render(
            "admin/clients/duplicate_review.html", item=item, first=first, second=second,
            rows=merge_service.compare_clients(first, second),
            counts=(merge_service.child_counts(first.id), merge_service.child_counts(second.id)),
            form=ReviewForm(), return_url=url_for(".index_view"),
        )

    def _refused(self, exc, item_id):
        flash(str(exc), "error")
        db.session.rollback()
        return redirect(url_for(".review", id=item_id))

    @expose("/review/not-duplicate/", methods=("POST",))
    def not_duplicate(self):
        self._require_reviewer()
        item = self._pending_item(request.form.get("id"))
        form = ReviewForm(request.form)
        if not form.validate():
            flash("The form expired or was incomplete; nothing was changed. Please try again.", "error")
            return redirect(url_for(".review", id=item.id))
        try:
            merge_service.mark_not_duplicate(item.id, self._reviewer(), notes=form.notes.data)
            db.session.commit()
        except merge_service.MergeError as exc:
            return self._refused(exc, item.id)
        flash("Marked as not a duplicate; this pair will not be flagged again.", "success")
        return redirect(url_for(".index_view"))

    @expose("/review/merge/", methods=("POST",))
    def merge(self):
        self._require_reviewer()
        item = self._pending_item(request.form.get("id"))
        elsewhere = self._not_two_clients(item)
        if elsewhere is not None:
            return elsewhere
        form = ReviewForm(request.form)
        survivor_side = request.form.get("survivor")
        if not form.validate() or survivor_side not in SIDES:
            flash("Choose which record survives; nothing was merged.", "error")
            return redirect(url_for(".review", id=item.id))
        clients = {"first": item.primary_client, "second": item.duplicate_client}
        survivor = clients[survivor_side]
        merged = clients["second" if survivor_side == "first" else "first"]
        choices = {}
        for name in merge_service.MERGE_FIELDS:
            side = request.form.get(f"field-{name}")
            if side in SIDES:
                choices[name] = merge_service.SURVIVOR if side == survivor_side else merge_service.MERGED
        try:
            result = merge_service.merge_clients(survivor.id, merged.id, choices, self._reviewer(),
                                                 duplicate_id=item.id, notes=form.notes.data)
            db.session.commit()
        except merge_service.MergeError as exc:
            return self._refused(exc, item.id)
        flash(result.describe(), "success")
        return redirect(url_for("clients.details_view", id=survivor.id))

    @expose("/scan/", methods=("POST",))
    def scan(self):
        self._require_reviewer()
        if not ReviewForm(request.form).validate():
            flash("The form expired; the scan was not started. Please try again.", "error")
            return redirect(url_for(".index_view"))
        import tasks.duplicates  # noqa: F401  (registers the task with this app's Celery)

        app_task(tasks.duplicates.SCAN_TASK).delay()
        flash("The scan for duplicates was started; pairs it finds appear in this list as pending.", "success")
        return redirect(url_for(".index_view"))

    # -- merges and undo -------------------------------------------------------------------
    @expose("/merges/", methods=("GET",))
    def merges(self):
        self._require_reviewer()
        entries = merge_service.merge_history()
        problems = {entry.id: merge_service.undo_problems(entry) for entry in entries if entry.action == "merge"}
        return self.render("admin/clients/merges.html", entries=entries, problems=problems, form=ReviewForm(),
                           return_url=url_for(".index_view"))

    @expose("/merges/undo/", methods=("POST",))
    def undo(self):
        self._require_reviewer()
        form = ReviewForm(request.form)
        try:
            merge_id = uuid.UUID(request.form.get("merge_id", ""))
        except ValueError:
            abort(404)
        back = request.form.get("back") == "client"
        if not form.validate():
            flash("The form expired; nothing was undone. Please try again.", "error")
            return redirect(url_for(".merges"))
        try:
            entry = merge_service.get_merge(merge_id)
            merged_id = entry.entity_id
            merge_service.undo_merge(merge_id, self._reviewer())
            db.session.commit()
        except merge_service.MergeError as exc:
            flash(str(exc), "error")
            db.session.rollback()
            return redirect(url_for(".merges"))
        flash("The merge was undone: both records and their history are as they were before it.", "success")
        return redirect(url_for("clients.details_view", id=merged_id) if back else url_for(".merges"))

    def _reviewer(self):
        return current_user.staff

    def on_model_change(self, form, model, is_created):
        """A pair added by hand is stored like a flagged one: in canonical order, once."""
        if is_created:
            with db.session.no_autoflush:
                known = merge_service.find_pair(db.session, model.primary_client.id, model.duplicate_client.id)
            if known is not None:
                raise ValidationError("This pair of clients is already flagged.")
            first, second = merge_service.canonical_pair(model.primary_client.id, model.duplicate_client.id)
            if model.primary_client.id != first:
                model.primary_client, model.duplicate_client = model.duplicate_client, model.primary_client
        super().on_model_change(form, model, is_created)


def merged_away_notice(client: Client):
    """What the client's page says and offers when the record was merged into another."""
    if client.merged_into_id is None:
        return None
    return {"survivor": client.merged_into, "merge": merge_service.latest_merge_of(client.id),
            "may_undo": may_merge_clients(current_roles()), "form": ReviewForm()}
