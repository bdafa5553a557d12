"""Columns every CCD table shares: a UUID key and database-kept timestamps; editable ones a version."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy import event
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

# JSON on SQLite, JSONB on PostgreSQL (indexable, and what the reports query).
JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def _dialect_name() -> str:
    from app.extensions import db

    return db.session.get_bind().dialect.name


def json_list_items(column):
    """The items of a JSON list column as a FROM-able table with one text column, ``value``.

    Each database spells this differently; a column holding anything but a list has no items.
    """
    if _dialect_name() == "postgresql":
        only_lists = sa.case((sa.func.jsonb_typeof(column) == "array", column), else_=sa.literal([], JSONB))
        return sa.func.jsonb_array_elements_text(only_lists).table_valued("value")
    return sa.func.json_each(sa.case((sa.func.json_type(column) == "array", column), else_="[]")) \
        .table_valued("value")


def json_list_item(column, position: int):
    """The JSON list column's item at ``position`` as ``json_list_items`` gives it (NULL when the column
    holds no such item, or no list)."""
    if _dialect_name() == "postgresql":
        return column.op("->>")(sa.literal(position, sa.Integer))
    return sa.func.json_extract(column, f"$[{position}]")


def json_list_is_empty(column):
    """True where the JSON column holds an empty list (on SQLite also where it holds no list: no items
    either); NULL where it holds nothing."""
    if _dialect_name() == "postgresql":
        return column == sa.cast(sa.literal("[]"), JSONB)
    return sa.func.json_array_length(column) == 0


def json_list_contains(column, value: str):
    """True where the JSON list column holds ``value`` (PostgreSQL uses the indexable ``@>``)."""
    if _dialect_name() == "postgresql":
        return column.op("@>")(sa.literal([value], JSONB))
    items = json_list_items(column)
    return sa.exists(sa.select(1).select_from(items).where(items.c.value == value))


class UUIDKey:
    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.current_timestamp(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.current_timestamp(), onupdate=sa.func.now(), nullable=False
    )


VERSION_FIELD = "version"


class Versioned:
    """Optimistic locking for a record people edit: every UPDATE through the ORM checks the row
    still has the version it was read at (SQLAlchemy's ``version_id_col``), and a change to
    what people edit raises it by one.

    An edit form carries the version it was opened at (admin_views/locking.py), so a save over
    a record someone changed since -- an approval, an import, a merge, another screen -- is
    refused instead of silently undoing that change. Bookkeeping a model marks as nobody's
    edit (``__guard_exempt_fields__``: a sign-in's time, match keys) leaves the version as it
    is, so signing in never makes an open form stale. Bulk statements, which skip the ORM,
    raise the version themselves (app/bulk.py).
    """

    version: Mapped[int] = mapped_column(default=1, server_default="1", nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls):
        return {"version_id_col": cls.__table__.c.version, "version_id_generator": False}


def _next_version(mapper, connection, target) -> None:
    state = sa.inspect(target)
    if state.attrs[VERSION_FIELD].history.has_changes():
        return
    quiet = getattr(target, "__guard_exempt_fields__", frozenset())
    if any(state.attrs[prop.key].history.has_changes() for prop in mapper.column_attrs if prop.key not in quiet):
        setattr(target, VERSION_FIELD, getattr(target, VERSION_FIELD) + 1)


event.listen(Versioned, "before_update", _next_version, propagate=True)


class Archivable:
    """Soft delete: archived rows stay for the 10-year history and can be restored."""

    is_archived: Mapped[bool] = mapped_column(default=False, server_default=sa.false(), index=True)
    archived_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), index=True)


def enum_check(column: str, values) -> str:
    """SQL for a CHECK that keeps a text column within a fixed set of values."""
    quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return f"{column} IN ({quoted})"
