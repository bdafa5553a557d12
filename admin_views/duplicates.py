"""The duplicates screen: the review queue, the side-by-side review pages, merges and their undo.

Every page and post here needs the merge right (Coordinators and Administrators);
the review service (app/services/review.py) checks it again below the screen and records
each answer in the audit trail. Forms post with a CSRF token and the pages carry no inline
script (their bars are CSS classes in static/css/ccd-review.css).
"""

import uuid

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import BaseSQLAFilter
from flask_login import current_user
from markupsafe import Markup
from wtforms import TextAreaField
from wtforms.validators import Length, ValidationError

from admin_views.base import CCDModelView
from admin_views.clients import client_lookup
from admin_views.formatting import local_datetime
from admin_views.roles import current_roles
from app import audit
from app.choices import DUPLICATE_STATUSES
from app.celery_app import app_task
from app.extensions import db
from app.security import CSRFForm
from app.labels import entity_label, match_type_label
from app.models import Client, ClientDuplicate, ImportRow
from app.permissions import may_merge_clients
from app.services import matching, review, review_sides
from app.services import merge as merge_service

SIDES = ("first", "second")


class ReviewForm(CSRFForm):
    """Carries the CSRF token and the reviewer's note; the per-field choices are read from the post."""

    notes = TextAreaField("Review notes", validators=[Length(max=2000)])


def _review_link(view, context, model, name):
    words = review.STATUS_WORDS.get(model.status, model.status)
    if model.status != "pending" or not may_merge_clients(current_roles()):
        return words
    return Markup('<a href="{}">Review</a>').format(url_for(".review", id=model.id))


def _other_side(view, context, model, name):
    """A pair names its second client; a held import row names its row and file."""
    if model.duplicate_client is not None:
        return str(model.duplicate_client)
    row = model.import_row
    return f"Imported row: {row}" if row is not None else "Imported row (removed)"


def _probability(view, context, model, name):
    return f"{review_sides.probability(model):.0%}"


class WaitingFromImportFilter(BaseSQLAFilter):
    """The items an import's held rows still wait on (the Imports page links here, by import id)."""

    def __init__(self):
        super().__init__(ClientDuplicate.import_row_id, "Waiting from import")

    def apply(self, query, value, alias=None):
        try:
            log_id = uuid.UUID(str(value).strip())
        except ValueError:
            return query.filter(sa.false())
        held = sa.select(ImportRow.id).where(ImportRow.upload_log_id == log_id, ImportRow.status == "review")
        return query.filter(ClientDuplicate.status == "pending", ClientDuplicate.import_row_id.in_(held))

    def operation(self):
        return "id"


WAITING_FROM_IMPORT = WaitingFromImportFilter()


def waiting_items_url(upload_log_id) -> str:
    """The queue filtered to what one import still waits on."""
    view = next(view for view in current_app.extensions["ccd_admin"]._views
                if view.endpoint == ClientDuplicate.__tablename__)
    flt = next(f for f in view._filters if isinstance(f, WaitingFromImportFilter))
    argument = f"flt0_{view.get_filter_arg(view._filters.index(flt), flt)}"
    return url_for(f"{view.endpoint}.index_view", **{argument: str(upload_log_id)})


REVIEW_ACTIONS = frozenset({"new_person", "not_duplicate"})


class ClientDuplicateView(CCDModelView):
    list_template = "admin/clients/duplicates_list.html"
    column_list = ("primary_client", "duplicate_client", "similarity_score", "match_type",
                   "status", "detection_source", "created_at")
    column_labels = {"similarity_score": "Match probability", "duplicate_client": "Possible duplicate or held row"}
    column_default_sort = ("similarity_score", True)
    column_filters = ("status", "confidence_level", "match_type", "similarity_score", WAITING_FROM_IMPORT)
    column_formatters = {"status": _review_link, "duplicate_client": _other_side, "similarity_score": _probability,
                         "match_type": lambda v, c, m, n: match_type_label(m.match_type)}
    # The status changes only through review (merge, not the same person), never by editing the row;
    # the score of a pair added by hand is the matcher's, never typed.
    form_columns = ("primary_client", "duplicate_client", "review_notes")
    column_choices = {"status": [(s, review.STATUS_WORDS.get(s, s)) for s in DUPLICATE_STATUSES]}
    # The matcher's raw details and the incoming key are internals; the review page shows them in words.
    column_details_exclude_list = ("match_details", "incoming_key")
    form_ajax_refs = {"primary_client": client_lookup("primary_client"),
                      "duplicate_client": client_lookup("duplicate_client")}

    def render(self, template, **kwargs):
        if template == self.list_template:
            kwargs["may_review"] = may_merge_clients(current_roles())
            kwargs["review_form"] = ReviewForm()
            kwargs["waiting_imports"] = review.waiting_by_import()
            kwargs["waiting_pairs"] = review.waiting_pairs_count()
            kwargs["waiting_url"] = waiting_items_url
            kwargs["local_datetime"] = local_datetime
        kwargs.setdefault("status_words", review.STATUS_WORDS)
        kwargs.setdefault("entity_label", entity_label)
        return super().render(template, **kwargs)

    # -- bulk answers for a page of items ---------------------------------------------------------
    def is_action_allowed(self, name):
        """Review answers need the merge right, not the delete right the base class asks of actions."""
        if name in REVIEW_ACTIONS:
            return may_merge_clients(current_roles())
        return super().is_action_allowed(name)

    def _answer_many(self, answer, ids):
        if not may_merge_clients(current_roles()):
            abort(403)
        keys = [key for key in (self._parse_key(raw) for raw in ids) if key is not None]
        try:
            outcome = review.answer_many(answer, keys, self._reviewer())
            db.session.commit()
        except review.ReviewError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return
        flash(outcome.describe(), "success" if not outcome.refused else "warning")

    @action("new_person", "A new person (held rows)",
            "Write each selected held row as a new client? Pairs of clients among them are left as they are.")
    def action_new_person(self, ids):
        self._answer_many(review.NEW_PERSON, ids)

    @action("not_duplicate", "Not the same person",
            "Mark each selected item as two different people? They will not be flagged again.")
    def action_not_duplicate(self, ids):
        self._answer_many(review.NOT_DUPLICATE, ids)

    # -- review ----------------------------------------------------------------------------
    def _require_reviewer(self):
        if not may_merge_clients(current_roles()):
            abort(403)

    def _pending_item(self, raw_id) -> ClientDuplicate:
        item = self.get_one(raw_id or "")
        if item is None:
            abort(404)
        return item

    @expose("/review/", methods=("GET",))
    def review(self):
        self._require_reviewer()
        item = self._pending_item(request.args.get("id"))
        if item.duplicate_client_id is None:
            return self.render("admin/clients/duplicate_review_row.html", item=item,
                               page=review_sides.held_row_page(item), form=ReviewForm(),
                               may_answer=item.status == "pending" and item.import_row is not None
                               and item.import_row.status == "review",
                               return_url=url_for(".index_view"))
        first, second = item.primary_client, item.duplicate_client
        return self.render(
            "admin/clients/duplicate_review.html", item=item, first=first, second=second,
            page=review_sides.pair_page(item), rows=merge_service.compare_clients(first, second),
            counts=(merge_service.child_counts(first.id), merge_service.child_counts(second.id)),
            form=ReviewForm(), return_url=url_for(".index_view"),
        )

    def _answer(self, answer, *args):
        """Run one answer from a posted form; back to the item's page with the reason when it cannot be given."""
        self._require_reviewer()
        item = self._pending_item(request.form.get("id"))
        form = ReviewForm(request.form)
        if not form.validate():
            flash("The form expired or was incomplete; nothing was changed. Please try again.", "error")
            return None, redirect(url_for(".review", id=item.id))
        try:
            result = answer(item.id, *args, self._reviewer(), notes=form.notes.data)
            db.session.commit()
        except review.ReviewError as exc:
            flash(str(exc), "error")
            db.session.rollback()
            return None, redirect(url_for(".review", id=item.id))
        return result, None

    @expose("/review/same-person/", methods=("POST",))
    def same_person(self):
        answered, refused = self._answer(review.same_person, request.form.get("client_id", ""))
        if refused is not None:
            return refused
        flash(answered.message, "success")
        return redirect(url_for("clients.details_view", id=answered.client_id))

    @expose("/review/new-person/", methods=("POST",))
    def new_person(self):
        answered, refused = self._answer(review.new_person)
        if refused is not None:
            return refused
        flash(answered.message, "success")
        return redirect(url_for("clients.details_view", id=answered.client_id))

    @expose("/review/leave/", methods=("POST",))
    def leave(self):
        answered, refused = self._answer(review.leave)
        if refused is not None:
            return refused
        flash(answered.message, "info")
        return redirect(url_for(".index_view"))

    @expose("/review/not-duplicate/", methods=("POST",))
    def not_duplicate(self):
        answered, refused = self._answer(review.not_duplicate)
        if refused is not None:
            return refused
        flash(answered.message, "success")
        return redirect(url_for(".index_view"))

    @expose("/review/merge/", methods=("POST",))
    def merge(self):
        self._require_reviewer()
        item = self._pending_item(request.form.get("id"))
        if item.duplicate_client_id is None:
            flash("This item pairs a client with an imported row that was not written: answer \u201csame "
                  "person\u201d or \u201ca new person\u201d instead.", "info")
            return redirect(url_for(".review", id=item.id))
        survivor_side = request.form.get("survivor")
        if survivor_side not in SIDES:
            flash("Choose which record survives; nothing was merged.", "error")
            return redirect(url_for(".review", id=item.id))
        clients = {"first": item.primary_client, "second": item.duplicate_client}
        survivor = clients[survivor_side]
        choices = {}
        for name in merge_service.MERGE_FIELDS:
            side = request.form.get(f"field-{name}")
            if side in SIDES:
                choices[name] = merge_service.SURVIVOR if side == survivor_side else merge_service.MERGED
        result, refused = self._answer(review.merge, survivor.id, choices)
        if refused is not None:
            return refused
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
        """A pair added by hand is stored like a flagged one: in canonical order, once, scored by the matcher."""
        if is_created:
            if model.primary_client is None or model.duplicate_client is None:
                raise ValidationError("Choose both clients.")
            if model.primary_client.id == model.duplicate_client.id:
                raise ValidationError("Choose two different clients.")
            with db.session.no_autoflush:
                known = merge_service.find_pair(db.session, model.primary_client.id, model.duplicate_client.id)
            if known is not None:
                raise ValidationError("This pair of clients is already flagged.")
            first, second = merge_service.canonical_pair(model.primary_client.id, model.duplicate_client.id)
            if model.primary_client.id != first:
                model.primary_client, model.duplicate_client = model.duplicate_client, model.primary_client
            scored = matching.score(_person(model.primary_client), _person(model.duplicate_client))
            model.similarity_score = min(max(float(scored.value), 0.0), 1.0)
            model.match_type = scored.match_type
            model.confidence_level = merge_service.confidence_for(model.similarity_score)
            model.match_details = audit.jsonable(scored.details())
            model.detection_source = "manual"
            model.status = "pending"
        super().on_model_change(form, model, is_created)


def _person(client: Client) -> matching.Person:
    return matching.Person(client.first_name, client.last_name, client.dob, client.preferred_name, client.alias,
                           client.gender)


def merged_away_notice(client: Client):
    """What the client's page says and offers when the record was merged into another."""
    if client.merged_into_id is None:
        return None
    return {"survivor": client.merged_into, "merge": merge_service.latest_merge_of(client.id),
            "may_undo": may_merge_clients(current_roles()), "form": ReviewForm()}
