"""Who looked at whom: one row per read, naming the client it showed or, for an export, listing the clients."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.choices import ACCESS_KINDS
from app.extensions import db
from app.models.base import UUIDKey, enum_check


class ClientIdList(sa.TypeDecorator):
    """A list of client ids in one column: ``uuid[]`` on PostgreSQL (GIN-indexed), JSON of hex ids on SQLite.

    Python sees a list of UUIDs either way.
    """

    impl = sa.JSON(none_as_null=True)  # no list is SQL NULL, never JSON null: the row's CHECK counts on it
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.ARRAY(sa.Uuid()))
        return dialect.type_descriptor(sa.JSON(none_as_null=True))

    def process_bind_param(self, value, dialect):
        if value is None or dialect.name == "postgresql":
            return value
        return [client_id.hex for client_id in value]

    def process_result_value(self, value, dialect):
        if value is None or dialect.name == "postgresql":
            return value
        return [uuid.UUID(client_id) for client_id in value]


class ClientAccess(UUIDKey, db.Model):
    """A read of client data. Append-only, like the audit trail: the database refuses
    UPDATE and DELETE (migration 0023), and so does the session (app/services/access_log.py).

    A read names its one client (``client_id``), or, when it showed many at once (an export,
    migration 0028), lists them all in ``client_ids``: one row and one index entry per client
    instead of a whole log row each. Readers see both alike (app/services/access_log.py).
    """

    __tablename__ = "client_access_log"

    accessed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True),
                                                  server_default=sa.func.current_timestamp())
    # The people in the log are kept: a staff member who read records is deactivated, never deleted.
    staff_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="RESTRICT"))
    # Who, when no staff member is known: an emailed report's address, a job or command by name.
    actor_name: Mapped[str | None] = mapped_column(sa.String(255))
    kind: Mapped[str] = mapped_column(sa.String(30))
    # No foreign key: the log outlives the record (a removed client's readers stay known).
    client_id: Mapped[uuid.UUID | None]
    client_ids: Mapped[list[uuid.UUID] | None] = mapped_column(ClientIdList())
    address: Mapped[str | None] = mapped_column(sa.String(64))
    path: Mapped[str | None] = mapped_column(sa.String(500))
    # What left, for the reads that send data away: the export's file name, the email's key.
    detail: Mapped[str | None] = mapped_column(sa.String(255))

    staff = relationship("Staff")

    __table_args__ = (
        sa.CheckConstraint(enum_check("kind", ACCESS_KINDS), name="kind_valid"),
        sa.CheckConstraint("(client_id IS NULL) <> (client_ids IS NULL)", name="one_client_or_a_list"),
        # "Who has looked" at one client, newest first; a person's reads over a period.
        sa.Index("ix_client_access_log_client_accessed_at", "client_id", "accessed_at"),
        sa.Index("ix_client_access_log_staff_accessed_at", "staff_id", "accessed_at"),
        sa.Index("ix_client_access_log_accessed_at", "accessed_at"),
        # The exports that held one client; only rows that list clients. New entries wait in a
        # small pending list (256 kB) and go into the index together: exports of the same clients
        # merge, and every "Who has looked" scans at most those 32 pages (migration 0028).
        sa.Index("ix_client_access_log_client_ids", "client_ids", postgresql_using="gin",
                 postgresql_with={"fastupdate": "on", "gin_pending_list_limit": "256"},
                 postgresql_where=sa.text("client_ids IS NOT NULL"),
                 sqlite_where=sa.text("client_ids IS NOT NULL")),
    )

    def __str__(self) -> str:
        if self.client_ids is not None:
            return f"{self.kind} of {len(self.client_ids)} clients"
        return f"{self.kind} of client {self.client_id}"
