"""Operator commands: ``flask --app wsgi ccd …``."""

import getpass

import click
from flask import current_app
from flask.cli import AppGroup

from app.audit import acting_as
from app.choices import SOURCE_SYSTEMS
from app.extensions import db
from app.services.accounts import AccountError, create_or_update_user, ensure_roles
from app.services.options import ensure_default_options


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
    from app.models import ClientUploadLog
    from app.services.ingest import FileRefused, import_file
    from app.services.ingest.rejects import write_rejects

    try:
        summary = import_file(path, source, program_name=program, dry_run=dry_run)
    except FileRefused as exc:
        raise click.ClickException(f"{exc} Nothing was imported.") from None
    for line in summary.lines():
        click.echo(line)
    if rejects_path and summary.status != "failed":
        count = write_rejects(db.session.get(ClientUploadLog, summary.upload_log_id), rejects_path)
        click.echo(f"{count} rejected row(s) written to {rejects_path}")
    if summary.status == "failed":
        raise click.exceptions.Exit(1)


@ccd_cli.command("ingest-drop-folder")
def ingest_drop_folder_command():
    """Import every file waiting in INGEST_DROP_DIR/<source>/ and archive it (what the daily job does)."""
    from app.services.ingest.drop_folder import import_drop_folder

    results = import_drop_folder(current_app.config)
    for result in results:
        click.echo(result.line())
    click.echo(f"{len(results)} file(s) found.")
    if any(result.outcome == "failed" for result in results):
        raise click.exceptions.Exit(1)


@ccd_cli.command("scan-duplicates")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(min=1),
              help="Clients read and scored per batch (each batch is committed).")
def scan_duplicates_command(batch_size):
    """Flag likely duplicates already in the database for review (safe to run again)."""
    from app.services.merge import scan_for_duplicates

    summary = scan_for_duplicates(db.session, batch_size=batch_size)
    click.echo(summary.describe())
