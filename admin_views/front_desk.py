"""The client create form's "same person?" step (mixed into the client screen).

Before a new client is saved, the typed name and birth date are matched against the
clients the person may see (app/services/front_desk.py). When some are alike, the form is
shown again with them, their match probability and a link to each record, and nothing is
saved until the person confirms "none of these is the same person". The confirmation
covers the clients that were shown: if a changed name brings up another, it is asked again.
Below the screen nothing changes: the save goes through the screen's usual path, so a
Manager's still becomes a proposal.
"""

from flask import flash, g, request

from app.services.front_desk import likely_matches, parse_seen
from app.services.scope import acting_staff

CREATE_TEMPLATE = "admin/clients/create.html"
CONFIRM_FIELD = "ccd_none_is_the_same"
SEEN_FIELD = "ccd_matches_shown"


class FrontDeskCheck:
    """Mix in before the client view's base: holds the create save until likely matches are answered."""

    create_template = CREATE_TEMPLATE

    def validate_form(self, form):
        if not super().validate_form(form):
            return False
        if not (request.endpoint or "").endswith(".create_view"):
            return True
        matches = likely_matches(
            form.first_name.data, form.last_name.data, form.dob.data,
            preferred_name=getattr(form, "preferred_name", None) and form.preferred_name.data,
            alias=getattr(form, "alias", None) and form.alias.data,
            gender=getattr(form, "gender", None) and form.gender.data,
            city=getattr(form, "city", None) and form.city.data,
            address=getattr(form, "address_line1", None) and form.address_line1.data, staff=acting_staff())
        if not matches:
            return True
        shown = {match.client.client_id for match in matches}
        if request.form.get(CONFIRM_FIELD) == "yes" and shown <= parse_seen(request.form.get(SEEN_FIELD)):
            return True
        g.ccd_front_desk_matches = matches
        flash("Not saved yet: this person may already be in CCD. Open the existing record, or confirm that none "
              "of these is the same person and save again.", "warning")
        return False

    def render(self, template, **kwargs):
        if template == CREATE_TEMPLATE:
            kwargs["front_desk_matches"] = g.get("ccd_front_desk_matches", [])
            kwargs["front_desk_fields"] = (CONFIRM_FIELD, SEEN_FIELD)
        return super().render(template, **kwargs)
