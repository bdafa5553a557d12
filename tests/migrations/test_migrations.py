"""The Alembic migrations build exactly the schema the models describe."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.extensions import db


# SQLite cannot reflect expression indexes (lower(name)); PostgreSQL, where CI runs too, compares them.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
# The trigram index carries an operator class, which Alembic cannot compare (it says so and skips it).
@pytest.mark.filterwarnings("ignore:Expression #1 .* detected to include an operator clause")
def test_models_and_migrations_agree(db_session):
    """The session fixture's schema came from ``flask db upgrade``; autogenerate must find nothing to add."""
    connection = db_session.connection()
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    differences = compare_metadata(context, db.metadata)
    assert differences == [], "models and migrations differ; run 'flask db migrate' and read what it wrote"
