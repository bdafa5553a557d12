"""Who looked at whom: one row per client whose data a person (or an emailed report) was shown."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.choices import ACCESS_KINDS
from app.extensions import db
from app.models.base import UUIDKey, enum_check


class ClientAccess(UUIDKey, db.Model):
    """A read of one client's data. Append-only, like the audit trail: the database refuses
    UPDATE and DELETE (migration 0023), and so does the session (app/services/access_log.py)."""

    __tablename__ = "client_access_log"

    accessed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True),
                                                  server_default=sa.func.current_timestamp())
    # The people in the log are kept: a staff member who read records is deactivated, never deleted.
    staff_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="RESTRICT"))
    # Who, when no staff member is known: an emailed report's address, a job or command by name.
    actor_name: Mapped[str | None] = mapped_column(sa.String(255))
    kind: Mapped[str] = mapped_column(sa.String(30))
    # No foreign key: the log outlives the record (a removed client's readers stay known).
    client_id: Mapped[uuid.UUID]
    address: Mapped[str | None] = mapped_column(sa.String(64))
    path: Mapped[str | None] = mapped_column(sa.String(500))
    # What left, for the reads that send data away: the export's file name, the email's key.
    detail: Mapped[str | None] = mapped_column(sa.String(255))

    staff = relationship("Staff")

    __table_args__ = (
        sa.CheckConstraint(enum_check("kind", ACCESS_KINDS), name="kind_valid"),
        # "Who has looked" at one client, newest first; a person's reads over a period.
        sa.Index("ix_client_access_log_client_accessed_at", "client_id", "accessed_at"),
        sa.Index("ix_client_access_log_staff_accessed_at", "staff_id", "accessed_at"),
        sa.Index("ix_client_access_log_accessed_at", "accessed_at"),
    )

    def __str__(self) -> str:
        return f"{self.kind} of client {self.client_id}"
