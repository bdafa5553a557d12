"""A client's photo on the record (mixed into the client screen): shown, uploaded, removed.

The photo is served by ``photo_view``, which opens the client through the screen's own
``get_one`` (the scope rule of the details page) after the same DETAILS permission, so a
photo is never reachable by a URL a person could not open the record at. Uploading or
removing one changes the client record directly, so it needs a direct edit right; a
Manager's or Leader's edits are proposals, and a proposal cannot carry a file.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, request, send_file
from flask_admin import expose
from wtforms import FileField

from app.extensions import db
from app.permissions import Action, Grant
from app.security import CSRFForm
from app.services import client_photos

PHOTO_ENDPOINTS = {"photo_view": Action.DETAILS, "photo_upload_view": Action.EDIT}


class PhotoForm(CSRFForm):
    photo = FileField("Photo (JPEG, PNG, GIF or WebP)")


class ClientPhotos:
    """Mix in before the client view's base."""

    def _handle_view(self, name, **kwargs):
        refused = super()._handle_view(name, **kwargs)
        if refused is None and name in PHOTO_ENDPOINTS and not self.may(PHOTO_ENDPOINTS[name]):
            abort(403)
        return refused

    def may_change_photo(self) -> bool:
        return self.grant_for(Action.EDIT) is Grant.ALLOW

    def _photo_folder(self):
        return current_app.config["CLIENT_PHOTO_DIR"]

    def _client_or_404(self, raw_id):
        client = self.get_one(raw_id or "")
        if client is None:
            abort(404)
        return client

    @expose("/photo/")
    def photo_view(self):
        client = self._client_or_404(request.args.get("id"))
        path = client_photos.photo_path(client, self._photo_folder())
        if path is None:
            abort(404)
        response = send_file(path, mimetype=client_photos.PHOTO_MIMETYPE, max_age=0)
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["Content-Disposition"] = "inline"
        return response

    @expose("/photo/upload/", methods=("POST",))
    def photo_upload_view(self):
        client = self._client_or_404(request.form.get("id"))
        back = redirect(self.get_url(".details_view", id=client.id))
        if not self.may_change_photo():
            flash("Your role proposes changes for approval, and a photo cannot be proposed; ask a Coordinator "
                  "to add it.", "error")
            return back
        form = PhotoForm(request.form)
        if not form.validate():
            flash("The form expired; please choose the photo again.", "error")
            return back
        folder = self._photo_folder()
        if request.form.get("remove") == "yes":
            replaced, added = client_photos.remove(client), None
        else:
            upload = request.files.get("photo")
            if upload is None or not upload.filename:
                flash("Choose a photo to upload.", "error")
                return back
            limit = int(current_app.config["CLIENT_PHOTO_MAX_MB"] * (1 << 20))
            try:
                replaced = client_photos.store(client, upload.stream.read(limit + 1), folder, limit)
            except client_photos.PhotoRefused as refused:
                flash(str(refused), "error")
                return back
            added = client.photo_file
        try:
            db.session.commit()
        except Exception as exc:
            db.session.rollback()
            client_photos.discard(folder, added)
            if not self.handle_view_exception(exc):
                raise
            return back
        client_photos.discard(folder, replaced)
        flash("Photo removed." if added is None else "Photo saved.", "success")
        return back

    def render(self, template, **kwargs):
        if template == self.details_template and kwargs.get("model") is not None:
            model = kwargs["model"]
            kwargs["photo"] = {
                "url": self.get_url(".photo_view", id=model.id, v=model.photo_file) if model.photo_file else None,
                "form": PhotoForm() if self.may_change_photo() else None,
                "upload_url": self.get_url(".photo_upload_view"),
            }
        return super().render(template, **kwargs)
