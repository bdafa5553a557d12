"""Operator commands: ``flask --app wsgi ccd …``."""

import getpass
from datetime import date

import click
from flask import current_app
from flask.cli import AppGroup

from app.audit import acting_as
from app.choices import REPORT_FREQUENCIES
from app.extensions import db
from app.services.accounts import AccountError, create_or_update_user, ensure_roles
from app.services.clock import agency_today
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
