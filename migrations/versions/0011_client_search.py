"""Name search at scale: a trigram index over every name a client is known by (PostgreSQL).

Partial names and typos ("Jonhson") are found through pg_trgm's GIN index instead of a
scan of every client. SQLite (the embedded default, small by nature) searches without it.

Revision ID: 0011_client_search
Revises: 0010_merge
"""
from alembic import op

revision = "0011_client_search"
down_revision = "0010_merge"
branch_labels = None
depends_on = None

SEARCH_TEXT_SQL = ("lower(first_name || ' ' || last_name || ' ' || coalesce(preferred_name, '') || ' ' "
                   "|| coalesce(alias, ''))")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(f"CREATE INDEX ix_clients_search_text_trgm ON clients USING gin (({SEARCH_TEXT_SQL}) gin_trgm_ops)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_clients_search_text_trgm")
