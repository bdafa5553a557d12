"""Restriction alerts in the send log name their client; accounts count their sessions' generation
and keep sign-in lockouts per address.

An alert's subject and key carry a client's name and ids, so ``email_logs.client_id`` lets
the send log be scoped like the client (app/services/scope.py); existing alerts get it
from the restriction their key names. ``users.session_generation`` is stamped into each
signed-in session: raising it ends every session of the account. ``users.sign_in_lockouts``
holds failed sign-ins per (hashed) client address, so a lockout binds the address that failed.

Revision ID: 0020_trust_leaks
Revises: 0019_import_link
"""
import uuid

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0020_trust_leaks"
down_revision = "0019_import_link"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
# SQLite batch mode reflects the table it rebuilds; the tables it points at need not be reflected.
NO_REFERENCED_TABLES = {"resolve_fks": False}


def _backfill_alert_clients():
    """Alert keys read "restriction_<event>:<restriction id>:<staff id>"."""
    bind = op.get_bind()
    logs = sa.table("email_logs", sa.column("id"), sa.column("idempotency_key"), sa.column("client_id", sa.Uuid))
    restrictions = sa.table("service_restrictions", sa.column("id", sa.Uuid), sa.column("client_id", sa.Uuid))
    alerts = bind.execute(sa.select(logs.c.id, logs.c.idempotency_key)
                          .where(logs.c.idempotency_key.like("restriction%:%:%"))).all()
    for log_id, key in alerts:
        try:
            restriction_id = uuid.UUID(key.split(":")[1])
        except ValueError:
            continue
        client_id = bind.scalar(sa.select(restrictions.c.client_id).where(restrictions.c.id == restriction_id))
        if client_id is not None:
            bind.execute(sa.update(logs).where(logs.c.id == log_id).values(client_id=client_id))


def upgrade():
    with op.batch_alter_table("email_logs", schema=None, reflect_kwargs=NO_REFERENCED_TABLES) as batch_op:
        batch_op.add_column(sa.Column("client_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_email_logs_client_id"), ["client_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_email_logs_client_id_clients"), "clients", ["client_id"], ["id"],
                                    ondelete="SET NULL")
    _backfill_alert_clients()
    op.add_column("users", sa.Column("session_generation", sa.Integer(), server_default="0", nullable=False))
    op.add_column("users", sa.Column("sign_in_lockouts", JSON, server_default="{}", nullable=False))


def downgrade():
    with op.batch_alter_table("users", schema=None, reflect_kwargs=NO_REFERENCED_TABLES) as batch_op:
        batch_op.drop_column("sign_in_lockouts")
        batch_op.drop_column("session_generation")
    with op.batch_alter_table("email_logs", schema=None, reflect_kwargs=NO_REFERENCED_TABLES) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_email_logs_client_id_clients"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_email_logs_client_id"))
        batch_op.drop_column("client_id")
