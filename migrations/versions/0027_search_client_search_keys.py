"""One client search on both databases: a maintained table of search keys replaces the trigram index.

Every client is found by the words of their names (accents and case folded), birth date,
phones, email, postal code, UID and source ids, each stored as a key in
``client_search_keys`` (app/search_keys.py, app/models/search.py). Prefixes and typos are
looked up through its primary key on PostgreSQL and SQLite alike, so both find the same
people; the pg_trgm index on names, used by PostgreSQL alone, goes. Existing clients'
keys are written here.

Revision ID: 0027_search
Revises: 0026_conveniences
"""
import sqlalchemy as sa
from alembic import op

revision = "0027_search"
down_revision = "0026_conveniences"
branch_labels = None
depends_on = None

SEARCH_TEXT_SQL = ("lower(first_name || ' ' || last_name || ' ' || coalesce(preferred_name, '') || ' ' "
                   "|| coalesce(alias, ''))")


def upgrade():
    from app.models.search import rebuild_search_keys

    key_type = sa.String(120).with_variant(sa.String(120, collation="C"), "postgresql")
    op.create_table(
        "client_search_keys",
        sa.Column("key", key_type, nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_client_search_keys_client_id_clients"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("key", "client_id", name=op.f("pk_client_search_keys")),
    )
    op.create_index(op.f("ix_client_search_keys_client_id"), "client_search_keys", ["client_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_clients_search_text_trgm")
    rebuild_search_keys(op.get_bind())


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(f"CREATE INDEX ix_clients_search_text_trgm ON clients USING gin "
                   f"(({SEARCH_TEXT_SQL}) gin_trgm_ops)")
    op.drop_index(op.f("ix_client_search_keys_client_id"), table_name="client_search_keys")
    op.drop_table("client_search_keys")
