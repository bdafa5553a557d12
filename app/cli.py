"""Operator commands: ``flask --app wsgi ccd …``."""

import getpass

import click
from flask import current_app
from flask.cli import AppGroup

from app.audit import acting_as
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


@ccd_cli.command("scan-duplicates")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(min=1),
              help="Clients read and scored per batch (each batch is committed).")
def scan_duplicates_command(batch_size):
    """Flag likely duplicates already in the database for review (safe to run again)."""
    from app.services.merge import scan_for_duplicates

    summary = scan_for_duplicates(db.session, batch_size=batch_size)
    click.echo(summary.describe())
