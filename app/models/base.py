"""Columns every CCD table shares: a UUID key and database-kept timestamps."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

# JSON on SQLite, JSONB on PostgreSQL (indexable, and what the reports query).
JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


class UUIDKey:
    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.current_timestamp(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.current_timestamp(), onupdate=sa.func.now(), nullable=False
    )


class Archivable:
    """Soft delete: archived rows stay for the 10-year history and can be restored."""

    is_archived: Mapped[bool] = mapped_column(default=False, server_default=sa.false(), index=True)
    archived_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), index=True)


def enum_check(column: str, values) -> str:
    """SQL for a CHECK that keeps a text column within a fixed set of values."""
    quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return f"{column} IN ({quoted})"
