"""Bulk actions with parameters on list screens: a form page asks them, the service does the rest.

Flask-Admin's action posts the selected ids; the action answers with a page asking the
action's parameters (a program and start date, an end date and reason…), which posts the
ids back with them to ``bulk_view``. Who may run what, scope, proposals and audit are all
app/services/bulk_actions.py's: this module only shows the form and the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sqlalchemy as sa
from flask import abort, flash, redirect, request
from flask_admin import expose
from wtforms import DateField, SelectField
from wtforms.validators import DataRequired

from admin_views.roles import current_roles
from app.extensions import db
from app.models import Department, Program
from app.permissions import Action, Grant, grant
from app.security import CSRFForm
from app.services import bulk_actions
from app.services.options import active_options
from app.services.scope import acting_staff, restrict

FORM_TEMPLATE = "admin/bulk/form.html"
# A long list of refused rows is cut here in the flashed messages; the count says how many in all.
REFUSED_SHOWN = 25


class EnrollForm(CSRFForm):
    program = SelectField("Program", validators=[DataRequired()])
    start_date = DateField("Start date", validators=[DataRequired()])


class EndForm(CSRFForm):
    end_date = DateField("End date", validators=[DataRequired()])
    reason = SelectField("Discharge reason", validators=[DataRequired()])


class MoveForm(CSRFForm):
    department = SelectField("Move to department", validators=[DataRequired()])


class ManagerForm(CSRFForm):
    manager = SelectField("Manager", validators=[DataRequired()])


def _visible(model, staff):
    statement = sa.select(model).where(model.is_archived.is_(False)).order_by(model.name)
    return db.session.scalars(restrict(statement, model, staff)).all()


def _program_choices(form, staff):
    form.program.choices = [("", "— choose —")] + [(str(p.id), p.name) for p in _visible(Program, staff)]


def _reason_choices(form, staff):
    form.reason.choices = [("", "— choose —")] + [(value, value) for value in active_options("discharge_reason")]


def _department_choices(form, staff):
    form.department.choices = [("", "— choose —")] + [(str(d.id), d.name) for d in _visible(Department, staff)]


def _manager_choices(form, staff):
    form.manager.choices = [("", "— choose —")] + [(str(s.id), f"{s.full_name} <{s.email}>")
                                                   for s in bulk_actions.manager_candidates()]


@dataclass(frozen=True)
class BulkAction:
    title: str
    entity: str  # the table the outcome is about, for its message
    form: type
    fill: Callable  # (form, staff): the form's choices, limited to what the person may see
    run: Callable  # (staff, ids, form) -> BulkOutcome
    needs: tuple[tuple[str, Action], ...]  # who sees the action: may at least propose each of these


BULK_ACTIONS = {
    "enroll": BulkAction(
        "Enroll the selected clients in a program", "client_program_enrollments", EnrollForm, _program_choices,
        lambda staff, ids, form: bulk_actions.enroll_clients(staff, ids, form.program.data, form.start_date.data),
        (("client_program_enrollments", Action.CREATE),)),
    "end": BulkAction(
        "End the selected enrollments", "client_program_enrollments", EndForm, _reason_choices,
        lambda staff, ids, form: bulk_actions.end_enrollments(staff, ids, form.end_date.data, form.reason.data),
        (("client_program_enrollments", Action.EDIT), ("discharges", Action.CREATE))),
    "move": BulkAction(
        "Move the selected programs to another department", "programs", MoveForm, _department_choices,
        lambda staff, ids, form: bulk_actions.move_programs(staff, ids, form.department.data),
        (("programs", Action.EDIT),)),
    "manager": BulkAction(
        "Assign a manager to the selected programs", "program_staff", ManagerForm, _manager_choices,
        lambda staff, ids, form: bulk_actions.assign_manager(staff, ids, form.manager.data),
        (("program_staff", Action.CREATE), ("program_staff", Action.EDIT))),
}


class BulkActions:
    """Mix in before the screen's base; the screen declares its actions with ``@action`` calling ``ask``."""

    def is_action_allowed(self, name):
        bulk = BULK_ACTIONS.get(name)
        if bulk is None:
            return super().is_action_allowed(name)
        roles = current_roles()
        return name in self._actions_data and all(grant(roles, table, needed) is not Grant.DENY
                                                  for table, needed in bulk.needs)

    def _bulk(self, name) -> BulkAction:
        if name not in BULK_ACTIONS or not self.is_action_allowed(name):
            abort(403)
        return BULK_ACTIONS[name]

    def _ask(self, name, bulk, form, ids):
        return self.render(FORM_TEMPLATE, bulk=bulk, form=form, ids=ids,
                           action_url=self.get_url(".bulk_view", action_name=name),
                           return_url=self.get_url(".index_view"))

    def ask(self, name, ids):
        """The action's answer to Flask-Admin: the page asking its parameters, the ids carried along."""
        bulk = self._bulk(name)
        form = bulk.form(formdata=None)
        bulk.fill(form, acting_staff())
        return self._ask(name, bulk, form, ids)

    @expose("/bulk/<action_name>/", methods=("POST",))
    def bulk_view(self, action_name):
        bulk = self._bulk(action_name)
        staff = acting_staff()
        form = bulk.form(request.form)
        bulk.fill(form, staff)
        ids = request.form.getlist("rowid")
        if not ids:
            flash("Select at least one row first.", "error")
            return self._redirect_to_list()
        if not form.validate():
            return self._ask(action_name, bulk, form, ids)
        try:
            outcome = bulk.run(staff, ids, form)
        except bulk_actions.BulkActionRefused as refused:
            db.session.rollback()
            flash(str(refused), "error")
            return self._ask(action_name, bulk, form, ids)
        db.session.commit()
        flash(bulk_actions.summary(outcome, bulk.entity), "success" if outcome.done else "warning")
        for about, reason in outcome.refused[:REFUSED_SHOWN]:
            flash(f"{about}: {reason}", "error")
        if len(outcome.refused) > REFUSED_SHOWN:
            flash(f"…and {len(outcome.refused) - REFUSED_SHOWN} more not done.", "error")
        return self._redirect_to_list()

    def _redirect_to_list(self):
        return redirect(self.get_url(".index_view"))
