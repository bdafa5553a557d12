"""The Imports page: upload an export, follow its progress, read its summary and rejects, see the history.

The import itself runs as a Celery task (tasks/ingest.py) calling app/services/ingest,
the same code as the ``ccd ingest`` command and the daily drop-folder job. Who may use
the page comes from the rule table (``permissions.may_import``), and the service checks
it again before writing.
"""

import base64
import uuid
import zlib

import sqlalchemy as sa
from flask import Response, abort, current_app, flash, jsonify, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.datastructures import CombinedMultiDict
from wtforms import BooleanField, FileField, HiddenField, SelectField

from app.choices import SOURCE_SYSTEMS
from app.celery_app import app_task
from app.extensions import db
from app.security import CSRFForm
from app.models import ClientUploadLog, Enrollment, Program
from app.permissions import may_import
from app.services import import_samples, program_import
from app.services.ingest import FileRefused, ImportNotPermitted, start_import
from app.services.ingest.importer import flagged_duplicates, progress_of, save_upload
from app.services.ingest.rejects import rejects_csv
from app.services.ingest.runs import ImportStopped
from app.services.scope import acting_staff

HISTORY_SHOWN = 50


def flagged_enrollments_url() -> str:
    """The Enrollments list filtered to "Flagged for review: Yes", where a Coordinator looks at what
    imports recorded despite a service restriction."""
    view = next(view for view in current_app.extensions["ccd_admin"]._views
                if view.endpoint == Enrollment.__tablename__)
    flagged = next(flt for flt in view._filters
                   if getattr(flt, "column", None) is not None and flt.column.key == "flagged_for_review"
                   and flt.operation() == "equals")
    argument = f"flt0_{view.get_filter_arg(view._filters.index(flagged), flagged)}"
    return url_for(f"{view.endpoint}.index_view", **{argument: "1"})


class ImportForm(CSRFForm):
    file = FileField("File (CSV or XLSX)")
    # Choices are checked by the import itself, with messages that say what to do.
    source = SelectField("Source system", choices=[("", "— choose —")] + [(s, s) for s in SOURCE_SYSTEMS],
                         validate_choice=False)
    program = SelectField("Program (for files without a Program column, such as SMIS reports)", choices=[],
                          validate_choice=False)
    dry_run = BooleanField("Dry run: check and match everything, write nothing")


class ProgramImportForm(CSRFForm):
    file = FileField("Programs file (CSV)")
    # The previewed file, signed, so saving reads exactly what was shown.
    checked = HiddenField()


PROGRAM_FILE_SALT = "ccd-program-import"


def _sign_file(data: bytes) -> str:
    packed = base64.urlsafe_b64encode(zlib.compress(data)).decode("ascii")
    return URLSafeSerializer(current_app.secret_key, salt=PROGRAM_FILE_SALT).dumps(
        {"by": str(current_user.id), "file": packed})


def _signed_file(token: str) -> bytes | None:
    """The previewed file back from its token; None when the token was altered or is someone else's."""
    try:
        payload = URLSafeSerializer(current_app.secret_key, salt=PROGRAM_FILE_SALT).loads(token or "")
        if payload.get("by") != str(current_user.id):
            return None
        return zlib.decompress(base64.urlsafe_b64decode(payload["file"]))
    except (BadSignature, KeyError, TypeError, ValueError, zlib.error):
        return None


class ImportsView(BaseView):
    def is_accessible(self):
        return current_user.is_authenticated and may_import(current_user.role_names)

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.path))
        abort(403)

    def _form(self):
        form = ImportForm(CombinedMultiDict((request.files, request.form)) if request.method == "POST" else None)
        names = db.session.scalars(sa.select(Program.name).where(Program.is_archived.is_(False))
                                   .order_by(Program.name)).all()
        form.program.choices = [("", "— from the file's Program column —")] + [(n, n) for n in names]
        return form

    def _log(self, upload_id) -> ClientUploadLog:
        try:
            key = uuid.UUID(str(upload_id))
        except ValueError:
            abort(404)
        log = db.session.get(ClientUploadLog, key)
        if log is None:
            abort(404)
        return log

    @expose("/", methods=("GET", "POST"))
    def index(self):
        form = self._form()
        if request.method == "POST":
            upload = request.files.get("file")
            if not form.validate():
                flash("The form expired; please choose the file again.", "error")
            elif upload is None or not upload.filename:
                flash("Choose a CSV or XLSX file to import.", "error")
            elif form.source.data not in SOURCE_SYSTEMS:
                flash("Choose the system the file comes from.", "error")
            else:
                started = self._start(upload, form)
                if started is not None:
                    return redirect(url_for(".upload", upload_id=started))
        history = db.session.scalars(sa.select(ClientUploadLog).order_by(ClientUploadLog.started_at.desc())
                                     .limit(HISTORY_SHOWN)).all()
        from admin_views.duplicates import waiting_items_url
        from app.services.review import waiting_by_import

        waiting = {entry.upload_log_id: entry.rows for entry in waiting_by_import()}
        return self.render("admin/imports/index.html", form=form, history=history, waiting=waiting,
                           waiting_url=waiting_items_url, samples=import_samples.SAMPLE_SOURCES)

    @expose("/sample/<source>.csv")
    def sample(self, source):
        """A sample file of the source's columns (from the column registry as it is now)."""
        if source not in import_samples.SAMPLE_SOURCES:
            abort(404)
        name = import_samples.sample_name(source)
        return Response("\ufeff" + import_samples.sample_csv(db.session, source), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @expose("/programs/", methods=("GET", "POST"))
    def programs(self):
        """Upload a programs file, see every row checked, then save the valid ones."""
        form = ProgramImportForm(CombinedMultiDict((request.files, request.form)) if request.method == "POST"
                                 else None)
        staff = acting_staff()
        result = token = saved = refused = None
        if request.method == "POST":
            upload = request.files.get("file")
            if not form.validate():
                flash("The form expired; please choose the file again.", "error")
            elif form.checked.data:
                data = _signed_file(form.checked.data)
                if data is None:
                    flash("This preview could not be checked; upload the file again.", "error")
                else:
                    try:
                        saved, refused = program_import.save(staff, data)
                    except program_import.ProgramImportRefused as exc:
                        db.session.rollback()
                        flash(str(exc), "error")
                    else:
                        db.session.commit()
                        flash(f"{len(saved)} program(s) saved; {len(refused)} row(s) not saved.",
                              "success" if saved else "warning")
            elif upload is None or not upload.filename:
                flash("Choose a CSV file of programs.", "error")
            else:
                data = upload.stream.read(program_import.MAX_BYTES + 1)
                try:
                    result = program_import.preview(staff, data)
                except program_import.ProgramImportRefused as exc:
                    flash(str(exc), "error")
                else:
                    token = _sign_file(data) if result.valid else None
                db.session.rollback()
        return self.render("admin/imports/programs.html", form=form, result=result, token=token, saved=saved,
                           refused=refused)

    def _start(self, upload, form):
        from tasks.ingest import run_upload

        config = current_app.config
        try:
            path = save_upload(upload.stream, upload.filename, config["INGEST_UPLOAD_DIR"],
                               int(config["INGEST_MAX_UPLOAD_MB"] * (1 << 20)))
            log = start_import(path, form.source.data, file_name=upload.filename,
                               program_name=form.program.data or None, dry_run=form.dry_run.data,
                               uploaded_by_id=current_user.staff.id if current_user.staff else None)
        except (FileRefused, ImportNotPermitted) as exc:
            flash(str(exc), "error")
            return None
        log_id = log.id
        # End this request's transaction first: an in-process (eager) import runs on its own
        # connection, and on SQLite even a read lock held here would stop it writing.
        db.session.commit()
        try:
            app_task(run_upload.name).delay(str(log_id))
        except ImportStopped as exc:  # eager mode: the import itself stopped (its log says so too)
            db.session.rollback()
            flash(str(exc), "error")
        except Exception as exc:  # the queue is down; its message may quote anything, so only its kind
            db.session.rollback()
            flash(f"The import could not be started ({exc.__class__.__name__}); try again later.", "error")
        return log_id

    @expose("/<upload_id>/")
    def upload(self, upload_id):
        log = self._log(upload_id)
        from admin_views.duplicates import waiting_items_url

        duplicates = flagged_duplicates(log) if log.is_finished else []
        return self.render("admin/imports/upload.html", log=log, progress=progress_of(log), duplicates=duplicates,
                           waiting=sum(1 for item in duplicates if item.status == "pending"),
                           waiting_url=waiting_items_url(log.id),
                           details=log.upload_details or {}, flagged_enrollments_url=flagged_enrollments_url())

    @expose("/<upload_id>/progress.json")
    def progress(self, upload_id):
        return jsonify(progress_of(self._log(upload_id)))

    @expose("/<upload_id>/rejects.csv")
    def rejects(self, upload_id):
        log = self._log(upload_id)
        name = f"rejects_{log.source}_{log.started_at:%Y-%m-%d_%H%M}.csv"
        return Response(("\ufeff", *rejects_csv(log)), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
