"""The approvals inbox (Coordinators and Administrators) and every proposer's "My requests".

Views only gather the form input and show results; app/services/approvals.py decides who
may approve, decline or withdraw, detects conflicts and applies changes.
"""

import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from flask import abort, flash, has_app_context, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, FilterEqual
from flask_login import current_user
from wtforms import BooleanField, HiddenField, SelectMultipleField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from admin_views.base import CCDModelView, page_argument
from admin_views.formatting import local_datetime
from admin_views.roles import current_roles
from app.choices import PENDING_CHANGE_STATUSES
from app.extensions import db
from app.labels import code_label, entity_label, label
from app.models import Enrollment, PendingChange, Staff
from app.permissions import may_override_restriction, proposes_changes
from app.services import approvals

STATUS_LABELS = {status: code_label("pending_change_status", status) for status in PENDING_CHANGE_STATUSES}
OPERATION_LABELS = {"create": "New record", "update": "Edit", "delete": "Deletion"}
DECLINE_NEEDS_RATIONALE = "A decline needs a rationale: tell the requester why."
FORM_EXPIRED = "The form expired or was not sent from this page; nothing was done. Try again."


# The admin's own CSRF scheme (its form base class), so one token works for every admin form.
AdminForm = CCDModelView.form_base_class


class ApproveForm(AdminForm):
    # Present only when the page offers field-by-field approval (the record changed since the base).
    choosing_fields = HiddenField()
    approved_fields = SelectMultipleField(choices=[], validate_choice=False)
    acknowledge_conflicts = BooleanField("I compared the values and approve knowing the record changed since")
    # Offered to Coordinators and Administrators on enrollment proposals: filled in, it enrolls despite
    # a service restriction (kept on the enrollment and audited as an override).
    override_reason = TextAreaField(label("restriction_override_reason"),
                                    validators=[Optional(), Length(max=2000)])


class DeclineForm(AdminForm):
    rationale = TextAreaField("Rationale", validators=[InputRequired(message=DECLINE_NEEDS_RATIONALE)])


class WithdrawForm(AdminForm):
    pass


def age(moment: datetime | None, now: datetime | None = None) -> str:
    """How long a change has waited, in the largest whole unit."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    seconds = max(0, int(((now or datetime.now(timezone.utc)) - moment).total_seconds()))
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "less than a minute"


def _review_context(change: PendingChange) -> dict:
    """What the details pages show: the field-by-field comparison and where the record is now."""
    rows = approvals.comparison(change)
    exists = change.entity_id is not None and approvals.current_record(change) is not None
    return {
        "change": change, "rows": rows, "conflicts": [row for row in rows if row.conflict],
        "changed_since": approvals.changed_since_proposed(change),
        "record_label": approvals.record_label(change), "has_current": exists,
        "record_gone": change.operation != "create" and not exists,
        "entity_name": entity_label(change.entity), "operation_name": OPERATION_LABELS[change.operation],
        "status_name": STATUS_LABELS.get(change.status, change.status), "waited": age(change.created_at),
        "proposed_at": local_datetime(change.created_at), "reviewed_at": local_datetime(change.reviewed_at),
    }


# -- inbox filters ------------------------------------------------------------------------------
class StatusFilter(BaseSQLAFilter):
    """Pending unless another status is chosen (the inbox is a to-do list)."""

    def __init__(self):
        super().__init__(PendingChange.status, "Status",
                         options=[*STATUS_LABELS.items(), ("any", "Any status")])

    def apply(self, query, value, alias=None):
        if value == "any":
            return query
        return query.filter(self.get_column(alias) == value)

    def operation(self):
        return "is"


class RequesterFilter(BaseSQLAFilter):
    def __init__(self):
        super().__init__(PendingChange.requested_by_id, "Requested by", options=self._requesters)

    @staticmethod
    def _requesters():
        if not has_app_context():
            return []
        rows = db.session.execute(
            sa.select(Staff.id, Staff.first_name, Staff.last_name)
            .where(Staff.id.in_(sa.select(PendingChange.requested_by_id)))
            .order_by(Staff.last_name, Staff.first_name))
        return [(str(staff_id), f"{first} {last}") for staff_id, first, last in rows]

    def apply(self, query, value, alias=None):
        try:
            staff_id = uuid.UUID(value)
        except ValueError:
            return query.filter(sa.false())
        return query.filter(self.get_column(alias) == staff_id)

    def operation(self):
        return "is"


def _entity(view, context, model, name):
    return entity_label(model.entity)


class PendingChangeView(CCDModelView):
    """The approvals inbox: pending changes oldest first, each opened side by side to approve or decline."""

    list_template = "admin/approvals/inbox.html"
    details_template = "admin/approvals/details.html"
    column_list = ("created_at", "entity", "operation", "record", "requested_by", "age", "status", "reviewed_by")
    column_labels = {"created_at": "Proposed", "record": "Record", "age": "Waiting"}
    column_sortable_list = ("created_at", "entity", "operation", "status")
    column_default_sort = ("created_at", False)
    column_filters = (
        FilterEqual(PendingChange.entity, "Record type",
                    options=[(table, entity_label(table)) for table in sorted(approvals.PROPOSABLE)]),
        RequesterFilter(),
        StatusFilter(),
        "created_at",
    )
    column_formatters = {
        "entity": _entity,
        "operation": lambda view, context, model, name: OPERATION_LABELS.get(model.operation, model.operation),
        "status": lambda view, context, model, name: STATUS_LABELS.get(model.status, model.status),
        "record": lambda view, context, model, name: approvals.record_label(model),
        "age": lambda view, context, model, name: age(model.created_at) if model.status == "pending" else "",
    }
    column_export_list = ("created_at", "entity", "operation", "entity_id", "requested_by", "status", "reviewed_by",
                          "reviewed_at", "rationale")

    def sidebar_badge(self) -> int:
        return approvals.pending_count()

    def get_list(self, page, sort_column, sort_desc, search, filters, *args, **kwargs):
        """Only pending changes unless the Status filter asks for others."""
        filters = list(filters or [])
        status_index = next(i for i, flt in enumerate(self._filters) if isinstance(flt, StatusFilter))
        if not any(index == status_index for index, *_ in filters):
            filters.append((status_index, "Status", "pending"))
        return super().get_list(page, sort_column, sort_desc, search, filters, *args, **kwargs)

    def render(self, template, **kwargs):
        if template == self.details_template and kwargs.get("model") is not None:
            kwargs.update(_review_context(kwargs["model"]))
            kwargs["may_review"] = approvals.may_review(current_user.staff)
            kwargs["approve_form"] = ApproveForm()
            kwargs["decline_form"] = DeclineForm()
            kwargs["offers_override"] = (kwargs["model"].entity == Enrollment.__tablename__
                                         and kwargs["model"].operation != "delete"
                                         and may_override_restriction(current_roles()))
        return super().render(template, **kwargs)

    def _details_url(self, change_id):
        return self.get_url(".details_view", id=change_id)

    def _posted_change_id(self):
        change_id = self._parse_key(request.args.get("id", ""))
        if change_id is None:
            abort(404)
        return change_id

    @expose("/approve/", methods=("POST",))
    def approve_view(self):
        change_id = self._posted_change_id()
        form = ApproveForm(request.form)
        if not form.validate():
            flash(form.override_reason.errors[0] if form.override_reason.errors else FORM_EXPIRED, "error")
            return redirect(self._details_url(change_id))
        fields = form.approved_fields.data if form.choosing_fields.data else None
        try:
            change = approvals.approve(change_id, current_user.staff, fields=fields,
                                       acknowledge_conflicts=bool(form.acknowledge_conflicts.data),
                                       override_reason=form.override_reason.data)
            db.session.commit()
        except approvals.ApprovalError as exc:
            db.session.rollback()
            flash(str(exc), "warning" if isinstance(exc, approvals.AlreadyReviewed) else "error")
            return redirect(self._details_url(change_id))
        flash(f"Approved and applied to {approvals.record_label(change)}. The requester was notified.", "success")
        return redirect(self.get_url(".index_view"))

    @expose("/decline/", methods=("POST",))
    def decline_view(self):
        change_id = self._posted_change_id()
        form = DeclineForm(request.form)
        if not form.validate():
            flash(form.rationale.errors[0] if form.rationale.errors else FORM_EXPIRED, "error")
            return redirect(self._details_url(change_id))
        try:
            approvals.decline(change_id, current_user.staff, form.rationale.data)
            db.session.commit()
        except approvals.ApprovalError as exc:
            db.session.rollback()
            flash(str(exc), "warning" if isinstance(exc, approvals.AlreadyReviewed) else "error")
            return redirect(self._details_url(change_id))
        flash("Declined; the record was not changed. The requester was notified.", "success")
        return redirect(self.get_url(".index_view"))


class MyRequestsView(BaseView):
    """Each proposer's own changes and where they stand; a pending one can be withdrawn."""

    page_size = 50

    def is_accessible(self):
        return (current_user.is_authenticated and current_user.staff is not None
                and proposes_changes(current_roles()))

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.path))
        abort(403)

    def sidebar_badge(self) -> int:
        return approvals.own_pending_count(current_user.staff)

    def _own(self, raw_id) -> PendingChange:
        try:
            change = db.session.get(PendingChange, uuid.UUID(str(raw_id)))
        except ValueError:
            change = None
        if change is None or change.requested_by_id != current_user.staff.id:
            abort(404)
        return change

    @expose("/")
    def index(self):
        page = page_argument()
        rows = approvals.requests_of(current_user.staff, limit=self.page_size + 1, offset=page * self.page_size)
        requests = [{
            "change": change, "entity_name": entity_label(change.entity),
            "operation_name": OPERATION_LABELS[change.operation], "record_label": approvals.record_label(change),
            "status_name": STATUS_LABELS.get(change.status, change.status),
            "proposed_at": local_datetime(change.created_at),
        } for change in rows[: self.page_size]]
        return self.render("admin/approvals/my_requests.html", requests=requests, page=page,
                           has_next=len(rows) > self.page_size, withdraw_form=WithdrawForm())

    @expose("/details/")
    def details_view(self):
        change = self._own(request.args.get("id", ""))
        return self.render("admin/approvals/my_request.html", withdraw_form=WithdrawForm(),
                           **_review_context(change))

    @expose("/withdraw/", methods=("POST",))
    def withdraw_view(self):
        change = self._own(request.args.get("id", ""))
        form = WithdrawForm(request.form)
        if not form.validate():
            flash(FORM_EXPIRED, "error")
            return redirect(self.get_url(".details_view", id=change.id))
        try:
            approvals.withdraw(change.id, current_user.staff)
            db.session.commit()
        except approvals.ApprovalError as exc:
            db.session.rollback()
            flash(str(exc), "warning")
            return redirect(self.get_url(".details_view", id=change.id))
        flash("Withdrawn; it will not be reviewed.", "success")
        return redirect(self.get_url(".index"))
