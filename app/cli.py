"""Operator commands: ``flask --app wsgi ccd …``."""

import getpass
import json
import os
import tempfile
from datetime import date, datetime
from zoneinfo import ZoneInfo

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from app.audit import acting_as
from app.choices import REPORT_FREQUENCIES
from app.choices import SOURCE_SYSTEMS
from app.extensions import db
from app.services.accounts import AccountError, create_or_update_user, ensure_roles
from app.services.clock import agency_today
from app.services.options import ensure_default_options
from app.services.access_log import staff_by_email
from app.services.access_review import access_report
from app.services.data_quality import DEFAULT_STALE_DAYS, data_quality_report
from app.services.report_enrollment_history import enrollment_history
from app.services.report_department_summary import department_summary
from app.services.report_outcomes import outcomes_report
from app.services.report_program_performance import program_performance
from app.services.report_export import report_sections, sheet_title, to_csv, to_xlsx
from app.services.reports import (
    DIMENSION_BY_KEY, ReportError, find_department, find_program, org_summary, parse_day, vacancy_report,
)


@click.pass_context
def _name_the_actor(ctx: click.Context) -> None:
    """The audit trail names the command that made a change, e.g. ``ccd create-user``."""
    if ctx.invoked_subcommand:
        ctx.with_resource(acting_as(f"ccd {ctx.invoked_subcommand}"))


ccd_cli = AppGroup("ccd", help="CCD operator commands.", callback=_name_the_actor)


@ccd_cli.command("bootstrap")
def bootstrap_command():
    """Create the roles and default option lists (safe to run again)."""
    ensure_roles()
    added = ensure_default_options()
    db.session.commit()
    click.echo(f"Roles ready; {added} option list entries added.")


@ccd_cli.command("create-user")
@click.option("--email", required=True, help="Sign-in email of the staff member.")
@click.option("--role", "roles", required=True, multiple=True,
              help="Role (repeat for several): Administrator, Coordinator, Manager, Leader, Staff, Analyst.")
@click.option("--password", help="Password; prompted (hidden) when omitted.")
@click.option("--first-name")
@click.option("--last-name")
def create_user_command(email, roles, password, first_name, last_name):
    """Create a staff member who can sign in, or reset an existing one's password and add roles."""
    if password is None:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Repeat password: "):
            raise click.ClickException("The passwords do not match; nothing was changed.")
    try:
        staff = create_or_update_user(email, roles, password, first_name, last_name)
        db.session.commit()
    except AccountError as exc:
        db.session.rollback()
        raise click.ClickException(f"{exc} Nothing was changed.") from None
    click.echo(f"{staff.email} can sign in with roles: {', '.join(sorted(staff.role_names))}.")


@ccd_cli.command("seed-demo")
def seed_demo_command():
    """Fill the database with demo departments, programs, staff and clients (safe to run again)."""
    from app.services.demo import DemoRefused, seed_demo

    try:
        summary = seed_demo(current_app.config)
    except DemoRefused as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(summary.describe())


def _run_date(value) -> date:
    return value.date() if value is not None else agency_today()


@ccd_cli.command("send-reports")
@click.option("--frequency", type=click.Choice(REPORT_FREQUENCIES),
              help="Send this frequency's reports (default: those due on the date: daily; weekly on Mondays; "
                   "monthly on the 1st).")
@click.option("--date", "run_date", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="The day the reports are sent on, YYYY-MM-DD (default: today); each covers the period before it.")
@click.option("--dry-run", is_flag=True, help="Build every email and show what would be sent; send and store nothing.")
def send_reports_command(frequency, run_date, dry_run):
    """Email the reports for the period before DATE to the active recipients (each at most once)."""
    from app.services import email_reports
    from tasks.mail import dispatch_email

    day = _run_date(run_date)
    frequencies = [frequency] if frequency else email_reports.due_frequencies(day)
    for each in frequencies:
        period = email_reports.report_period(each, day)
        outcomes = email_reports.send_reports(each, day, dispatch_email, dry_run=dry_run)
        click.echo(f"{each.capitalize()} report for {period.start.isoformat()} to {period.end.isoformat()}: "
                   f"{len(outcomes)} active recipient(s).")
        for outcome in outcomes:
            counts = ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in outcome.counts.items())
            click.echo(f"  {outcome.email}: {outcome.status} – {outcome.subject} ({counts})")


@ccd_cli.command("notify-restrictions")
@click.option("--date", "run_date", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="The day to check from, YYYY-MM-DD (default: today).")
def notify_restrictions_command(run_date):
    """Alert subscribers about restrictions ending soon, and about recent new ones they were not told of."""
    from app.services import restriction_notices
    from tasks.mail import dispatch_email

    day = _run_date(run_date)
    click.echo(f"Ending soon: {restriction_notices.notify_expiring(dispatch_email, day).describe()}")
    click.echo(f"New: {restriction_notices.sweep_new(dispatch_email, day).describe()}")


@ccd_cli.command("backup")
@click.option("--restore-test", is_flag=True,
              help="Instead of backing up, restore the newest backup into a scratch database and compare row counts.")
def backup_command(restore_test):
    """Back up the PostgreSQL database to BACKUP_DIR (pg_dump, verified, with retention)."""
    from app.services import backups

    settings = backups.BackupSettings.from_config(current_app.config)
    try:
        if restore_test:
            result = backups.restore_test(settings)
            click.echo(result.describe())
            if not result.ok:
                raise click.ClickException("The restored backup does not match; do not rely on it.")
            return
        click.echo(backups.run_backup(settings, agency_today()).describe())
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from None


@ccd_cli.group("report")
def report_cli():
    """Print or write a report: the same numbers, sections and files as the report pages."""


def _write_atomically(path: str, data: bytes) -> None:
    """Write the whole file or nothing: a half-written report must never look like a finished one."""
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".ccd-report-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _emit(report: dict, output_format: str, out: str | None) -> None:
    if output_format == "json":
        data = (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    elif output_format == "csv":
        text = to_csv(report_sections(report))
        if out is None:
            click.echo(text, nl=False)
            return
        data = text.encode("utf-8-sig")  # the byte-order mark lets Excel read accents right
    else:
        if out is None:
            raise click.ClickException("XLSX is a binary file: give --out PATH to write it.")
        data = to_xlsx(report_sections(report), sheet_title(report))
    if out is None:
        click.echo(data.decode("utf-8"), nl=False)
        return
    try:
        _write_atomically(out, data)
    except OSError as exc:
        raise click.ClickException(f"Could not write {out}: {exc.strerror}.") from None
    click.echo(f"Wrote {out}.")


def _filters(pairs) -> dict[str, str]:
    filters = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not value.strip():
            raise ReportError(f"--filter {pair!r}: write it as KEY=VALUE, e.g. gender=Woman.")
        if key.strip() not in DIMENSION_BY_KEY:
            raise ReportError(f"--filter {pair!r}: unknown key. Keys: {', '.join(DIMENSION_BY_KEY)}.")
        filters[key.strip()] = value.strip()
    return filters


FORMAT_OPTION = click.option("--format", "output_format", type=click.Choice(["csv", "xlsx", "json"]),
                             default="csv", show_default=True, help="Output format.")
OUT_OPTION = click.option("--out", type=click.Path(dir_okay=False),
                          help="File to write (replaced whole); printed when omitted (not for xlsx).")


@report_cli.command("org-summary")
@click.option("--from", "date_from", required=True, help="First day of the period, YYYY-MM-DD.")
@click.option("--to", "date_to", required=True, help="Last day of the period, YYYY-MM-DD.")
@click.option("--department", help="Only this department (its name).")
@click.option("--program", help="Only this program (its name).")
@click.option("--filter", "filter_pairs", multiple=True, metavar="KEY=VALUE",
              help="Demographic filter, e.g. gender=Woman or languages_spoken=not-stated (repeatable).")
@FORMAT_OPTION
@OUT_OPTION
def org_summary_command(date_from, date_to, department, program, filter_pairs, output_format, out):
    """Organizational Summary: distinct clients served in a period, with breakdowns and drill-downs."""
    try:
        report = org_summary(
            parse_day(date_from, "--from"), parse_day(date_to, "--to"),
            department_id=find_department(department).id if department else None,
            program_id=find_program(program).id if program else None,
            filters=_filters(filter_pairs),
        )
    except ReportError as exc:
        raise click.ClickException(str(exc)) from None
    _emit(report, output_format, out)


@report_cli.command("data-quality")
@click.option("--from", "date_from", required=True, help="First day of the period, YYYY-MM-DD.")
@click.option("--to", "date_to", required=True, help="Last day of the period, YYYY-MM-DD.")
@click.option("--department", help="Only this department (its name).")
@click.option("--program", help="Only this program (its name).")
@click.option("--stale-days", default=DEFAULT_STALE_DAYS, show_default=True, type=click.IntRange(1, 3650),
              help="An open enrollment with no activity for this many days is flagged.")
@FORMAT_OPTION
@OUT_OPTION
def data_quality_command(date_from, date_to, department, program, stale_days, output_format, out):
    """Data quality: records to fix among the clients served in a period, per program and source system."""
    try:
        report = data_quality_report(
            parse_day(date_from, "--from"), parse_day(date_to, "--to"),
            department_id=find_department(department).id if department else None,
            program_id=find_program(program).id if program else None, stale_days=stale_days)
    except ReportError as exc:
        raise click.ClickException(str(exc)) from None
    _emit(report, output_format, out)


PERIOD_REPORT_OPTIONS = (
    click.option("--from", "date_from", required=True, help="First day of the period, YYYY-MM-DD."),
    click.option("--to", "date_to", required=True, help="Last day of the period, YYYY-MM-DD."),
    click.option("--department", help="Only this department (its name)."),
    click.option("--program", help="Only this program (its name)."),
    FORMAT_OPTION, OUT_OPTION,
)


def _period_report(service, date_from, date_to, department, program, output_format, out) -> None:
    """Run a period report for the system (no visibility limit) and write it."""
    try:
        report = service(parse_day(date_from, "--from"), parse_day(date_to, "--to"),
                         department_id=find_department(department).id if department else None,
                         program_id=find_program(program).id if program else None)
    except ReportError as exc:
        raise click.ClickException(str(exc)) from None
    _emit(report, output_format, out)


def period_report_command(name: str, service, summary: str):
    """A ``ccd report NAME --from --to [--department] [--program]`` command for ``service``."""
    def command(date_from, date_to, department, program, output_format, out):
        _period_report(service, date_from, date_to, department, program, output_format, out)
    command.__doc__ = summary
    for option in reversed(PERIOD_REPORT_OPTIONS):
        command = option(command)
    return report_cli.command(name)(command)


period_report_command("enrollment-history", enrollment_history,
                      "Enrollment history: enrollments started, ended (by reason) and open, month by month.")
period_report_command("outcomes", outcomes_report,
                      "Outcomes: discharges by reason per program, with the share of successful completions.")
period_report_command("program-performance", program_performance,
                      "Program performance: served, new, discharged, average occupancy and turnover per program.")


@report_cli.command("department-summary")
@click.option("--from", "date_from", required=True, help="First day of the period, YYYY-MM-DD.")
@click.option("--to", "date_to", required=True, help="Last day of the period, YYYY-MM-DD.")
@FORMAT_OPTION
@OUT_OPTION
def department_summary_command(date_from, date_to, output_format, out):
    """Department summary: the Organizational Summary's numbers per department, side by side."""
    try:
        report = department_summary(parse_day(date_from, "--from"), parse_day(date_to, "--to"))
    except ReportError as exc:
        raise click.ClickException(str(exc)) from None
    _emit(report, output_format, out)


@report_cli.command("vacancy")
@click.option("--as-of", "as_of", help="The day, YYYY-MM-DD (default: today in the agency's time zone).")
@click.option("--department", help="Only this department (its name).")
@FORMAT_OPTION
@OUT_OPTION
def vacancy_command(as_of, department, output_format, out):
    """Vacancy Tracker: capacity, occupied and vacant places per program on a day."""
    today = datetime.now(ZoneInfo(current_app.config["TIMEZONE"])).date()
    try:
        report = vacancy_report(parse_day(as_of, "--as-of", today),
                                department_id=find_department(department).id if department else None)
    except ReportError as exc:
        raise click.ClickException(str(exc)) from None
    _emit(report, output_format, out)


@report_cli.command("access")
@click.option("--from", "date_from", required=True, help="First day of the period, YYYY-MM-DD.")
@click.option("--to", "date_to", required=True, help="Last day of the period, YYYY-MM-DD.")
@click.option("--staff", "staff_email", help="Only this staff member (their email), with each read listed.")
@FORMAT_OPTION
@OUT_OPTION
def access_command(date_from, date_to, staff_email, output_format, out):
    """Access: who was shown how many clients' data in a period, by kind of read."""
    try:
        staff_id = None
        if staff_email:
            staff_id = staff_by_email(db.session, staff_email)
            if staff_id is None:
                raise ReportError(f"--staff: no staff member has the email {staff_email!r}.")
        report = access_report(parse_day(date_from, "--from"), parse_day(date_to, "--to"), staff_id=staff_id)
    except ReportError as exc:
        raise click.ClickException(str(exc)) from None
    _emit(report, output_format, out)


@ccd_cli.command("ingest")
@click.option("--src", "path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The CSV or XLSX export to import.")
@click.option("--source", required=True, type=click.Choice(SOURCE_SYSTEMS, case_sensitive=False),
              help="The system the file comes from.")
@click.option("--program", help="The program the file is for, when it has no Program column (SMIS reports).")
@click.option("--dry-run", is_flag=True, help="Read, check and match everything, write nothing.")
@click.option("--rejects", "rejects_path", type=click.Path(dir_okay=False, writable=True),
              help="Write the rows that were not imported (and why) to this CSV file.")
def ingest_command(path, source, program, dry_run, rejects_path):
    """Import a SMIS, EMHware or FFAI export: clients, intakes, enrollments and discharges."""
    from app.services.ingest import FileRefused, import_file
    from app.services.ingest.runs import ImportStopped

    try:
        summary = import_file(path, source, program_name=program, dry_run=dry_run)
    except FileRefused as exc:
        raise click.ClickException(f"{exc} Nothing was imported.") from None
    except ImportStopped as exc:
        raise click.ClickException(str(exc)) from None
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        raise click.ClickException(_database_lost(exc)) from None
    _report_import(summary, rejects_path)


def _database_lost(exc) -> str:
    """A lost or unreachable database in words, not a traceback (its text may quote a row's values)."""
    return (f"The database could not be reached or the connection was lost ({exc.__class__.__name__}); "
            "check that it is running and run the command again: what was committed stays.")


def _report_import(summary, rejects_path) -> None:
    """The summary, the rejects file when asked for, and exit 1 when the file was not imported."""
    from app.models import ClientUploadLog
    from app.services.ingest.rejects import write_rejects

    for line in summary.lines():
        click.echo(line)
    if rejects_path and summary.rows_read:
        count = write_rejects(db.session.get(ClientUploadLog, summary.upload_log_id), rejects_path)
        click.echo(f"{count} row(s) not written (rejected, or held for review) listed in {rejects_path}")
    if summary.status == "failed":
        raise click.exceptions.Exit(1)


@ccd_cli.command("ingest-reap")
@click.option("--resume", is_flag=True, help="Import the file of each import ended here again (a re-run "
                                             "writes only what is missing).")
def ingest_reap_command(resume):
    """End imports whose process died (running, no progress for INGEST_STALE_MINUTES): marked failed."""
    from app.services.ingest import FileRefused
    from app.services.ingest.runs import ImportStopped, reap_stale
    from app.services.ingest.runs import resume as resume_import

    reaped = reap_stale(current_app.config["INGEST_STALE_MINUTES"])
    for log in reaped:
        click.echo(f"ended: {log.id} {log.source} {log.file_name}: {log.error_message}")
    click.echo(f"{len(reaped)} stale import(s) ended.")
    failed = False
    for log in reaped if resume else []:
        try:
            summary = resume_import(log)
        except (FileRefused, ImportStopped) as exc:
            click.echo(f"not resumed: {log.id}: {exc}")
            failed = True
            continue
        click.echo(f"resumed {log.id} as {summary.upload_log_id}:")
        for line in summary.lines():
            click.echo(f"  {line}")
        failed = failed or summary.status == "failed"
    if failed:
        raise click.exceptions.Exit(1)


@ccd_cli.command("ingest-drop-folder")
def ingest_drop_folder_command():
    """Import every file waiting in INGEST_DROP_DIR/<source>/ and archive it (what the daily job does)."""
    from app.services.ingest.drop_folder import import_drop_folder

    try:
        results = import_drop_folder(current_app.config)
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        raise click.ClickException(_database_lost(exc)) from None
    for result in results:
        click.echo(result.line())
    click.echo(f"{len(results)} file(s) found.")
    if any(result.outcome in ("failed", "waiting") for result in results):
        raise click.exceptions.Exit(1)


@ccd_cli.command("scan-duplicates")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(min=1),
              help="Clients read and scored per batch (each batch is committed).")
def scan_duplicates_command(batch_size):
    """Flag likely duplicates already in the database for review (safe to run again)."""
    from app.services.merge import scan_for_duplicates

    summary = scan_for_duplicates(db.session, batch_size=batch_size)
    click.echo(summary.describe())


@ccd_cli.group("review")
def review_cli():
    """Work the review queue: imported rows held as possible duplicates, and pairs of clients."""


def _review_line(item) -> str:
    from app.labels import match_type_label
    from app.services.review_sides import probability

    client = item.primary_client
    kind = match_type_label(item.match_type)
    return (f"  item {item.id}  client {client.id}  {client}  match probability {probability(item):.0%}"
            + (f" ({kind})" if kind else ""))


@review_cli.command("list")
@click.option("--import", "upload_log_id", help="Only the items of this import (its id, from the Imports page).")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(min=1), help="Items shown at most.")
def review_list_command(upload_log_id, limit):
    """Show what waits: per import, each held row with its candidates; then the pairs of clients."""
    from app.services import review
    from app.services.review_sides import incoming_values, probability

    try:
        items = review.waiting_items(upload_log_id, limit=limit)
    except review.ReviewError as exc:
        raise click.ClickException(str(exc)) from None
    for entry in review.waiting_by_import():
        if upload_log_id is None or str(entry.upload_log_id) == str(upload_log_id).strip():
            click.echo(f"Import {entry.upload_log_id} ({entry.source} {entry.file_name}): {entry.rows} row(s) "
                       "waiting")
    if not items:
        click.echo("Nothing waits for review.")
        return
    current_row = None
    pairs_started = False
    for item in items:
        if item.import_row_id is not None and item.duplicate_client_id is None:
            if item.import_row_id != current_row:
                current_row = item.import_row_id
                row = item.import_row
                values = incoming_values(row)
                who = " ".join(values.get(name, ("", ""))[1] for name in ("first_name", "last_name")).strip()
                born = values.get("dob", ("", ""))[1]
                click.echo(f"{row}: {who or 'no name'}" + (f", born {born}" if born else "")
                           + (f", {row.upload_log.source} id {values['source_client_id'][1]}"
                              if values.get("source_client_id", ("", ""))[1] else ""))
            click.echo(_review_line(item))
        else:
            if not pairs_started:
                click.echo("Pairs of clients:")
                pairs_started = True
            click.echo(f"  item {item.id}  {item.primary_client} / {item.duplicate_client}  "
                       f"match probability {probability(item):.0%}")
    if len(items) == limit:
        click.echo(f"(the first {limit} items; use --import or --limit to see others)")


def _answer(function, *args, note=None) -> None:
    from app.services import review

    try:
        answered = function(*args, None, notes=note)
        db.session.commit()
    except review.ReviewError as exc:
        db.session.rollback()
        raise click.ClickException(f"{exc} Nothing was changed.") from None
    if isinstance(answered, review.Answered):
        click.echo(answered.message + (f" Client {answered.client_id}." if answered.client_id else ""))
    else:
        click.echo(answered.describe())


NOTE_OPTION = click.option("--note", help="Why (kept on the item and in the audit trail).")


@review_cli.command("same-person")
@click.argument("item")
@click.argument("client")
@NOTE_OPTION
def review_same_person_command(item, client, note):
    """The held row of ITEM is CLIENT: write it onto that client, with its enrollment and source id."""
    from app.services import review

    _answer(review.same_person, item, client, note=note)


@review_cli.command("new-person")
@click.argument("item")
@NOTE_OPTION
def review_new_person_command(item, note):
    """The held row of ITEM is nobody CCD knows: write it as a new client."""
    from app.services import review

    _answer(review.new_person, item, note=note)


@review_cli.command("not-duplicate")
@click.argument("item")
@NOTE_OPTION
def review_not_duplicate_command(item, note):
    """ITEM pairs two different people: remember it, never flag the pair again."""
    from app.services import review

    _answer(review.not_duplicate, item, note=note)


@review_cli.command("leave")
@click.argument("item")
@NOTE_OPTION
def review_leave_command(item, note):
    """Not sure: ITEM keeps waiting, with the note."""
    from app.services import review

    _answer(review.leave, item, note=note)


@ccd_cli.command("train-matcher")
@click.option("--seed", default=0, show_default=True, type=int, help="The same data and seed give the same model.")
@click.option("--random-sample", default=700, show_default=True, type=click.IntRange(min=1),
              help="Clients per side of the random pairs u is learned from.")
@click.option("--em-sample", default=2000, show_default=True, type=click.IntRange(min=1),
              help="Clients whose candidate pairs EM learns m from.")
def train_matcher_command(seed, random_sample, em_sample):
    """Learn the matching model from the clients and the reviewers' decisions, and use it from now on."""
    from app.services.matching.training import TrainingError, train

    try:
        result = train(db.session, seed=seed, random_sample=random_sample, em_sample=em_sample,
                       trained_by="ccd train-matcher")
    except TrainingError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(result.describe())
