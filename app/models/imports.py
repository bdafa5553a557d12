"""One row per file imported from SMIS, EMHware or FFAI, with its counts and errors."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.choices import SOURCE_SYSTEMS, UPLOAD_STATUSES
from app.extensions import db
from app.models.base import JSONType, Timestamps, UUIDKey, enum_check


class ClientUploadLog(UUIDKey, Timestamps, db.Model):
    __tablename__ = "client_upload_logs"

    file_name: Mapped[str] = mapped_column(sa.String(255), index=True)
    file_size: Mapped[int] = mapped_column(sa.BigInteger)
    file_type: Mapped[str] = mapped_column(sa.String(10))
    file_sha256: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    source: Mapped[str] = mapped_column(sa.String(20), index=True)
    total_rows: Mapped[int] = mapped_column(default=0, server_default="0")
    records_created: Mapped[int] = mapped_column(default=0, server_default="0")
    records_updated: Mapped[int] = mapped_column(default=0, server_default="0")
    records_skipped: Mapped[int] = mapped_column(default=0, server_default="0")
    duplicates_flagged: Mapped[int] = mapped_column(default=0, server_default="0")
    errors_count: Mapped[int] = mapped_column(default=0, server_default="0")
    started_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.current_timestamp(), index=True)
    completed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    duration_seconds: Mapped[float | None] = mapped_column(sa.Float)
    status: Mapped[str] = mapped_column(sa.String(20), default="queued", server_default="queued", index=True)
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    error_details: Mapped[list] = mapped_column(JSONType, default=list, server_default="[]")
    upload_details: Mapped[dict] = mapped_column(JSONType, default=dict, server_default="{}")
    uploaded_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"), index=True)

    uploaded_by = relationship("Staff")

    __table_args__ = (
        sa.CheckConstraint(enum_check("source", SOURCE_SYSTEMS), name="source_valid"),
        sa.CheckConstraint(enum_check("status", UPLOAD_STATUSES), name="status_valid"),
        sa.CheckConstraint(
            "total_rows >= 0 AND records_created >= 0 AND records_updated >= 0 AND records_skipped >= 0"
            " AND duplicates_flagged >= 0 AND errors_count >= 0",
            name="counts_not_negative",
        ),
    )

    def __str__(self) -> str:
        return f"{self.source} {self.file_name} ({self.status})"
