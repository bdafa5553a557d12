"""Imports from SMIS, EMHware and FFAI: one log row per file, its staged rows, and the per-source settings."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.choices import DATE_ORDERS, IMPORT_ROW_STATUSES, SOURCE_SYSTEMS, UPLOAD_STATUSES
from app.extensions import db
from app.models.base import JSONType, Timestamps, UUIDKey, Versioned, enum_check


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

    @property
    def is_finished(self) -> bool:
        return self.status in ("success", "partial", "failed", "skipped")

    def __str__(self) -> str:
        return f"{self.source} {self.file_name} ({self.status})"


class ImportRow(UUIDKey, Timestamps, db.Model):
    """One row of an imported file, staged before anything canonical is written.

    Rows that were written are removed when the file is done; rejected rows and rows
    waiting for a duplicate review stay, so the rejects file can be downloaded and a
    reviewer can see exactly what arrived.
    """

    __tablename__ = "import_rows"

    upload_log_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("client_upload_logs.id", ondelete="CASCADE"))
    row_number: Mapped[int]  # as a spreadsheet shows it: the header is row 1
    cells: Mapped[list] = mapped_column(JSONType, default=list)  # as text, in the file's column order
    status: Mapped[str] = mapped_column(sa.String(20), default="staged", server_default="staged")
    reason: Mapped[str | None] = mapped_column(sa.Text)
    client_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("clients.id", ondelete="SET NULL"), index=True)
    details: Mapped[dict] = mapped_column(JSONType, default=dict, server_default="{}")

    upload_log = relationship("ClientUploadLog")
    client = relationship("Client")

    __table_args__ = (
        sa.UniqueConstraint("upload_log_id", "row_number", name="uq_import_rows_log_row"),
        sa.Index("ix_import_rows_log_status", "upload_log_id", "status"),
        sa.CheckConstraint(enum_check("status", IMPORT_ROW_STATUSES), name="status_valid"),
        sa.CheckConstraint("row_number > 0", name="row_number_positive"),
    )

    def __str__(self) -> str:
        return f"Row {self.row_number} of {self.upload_log.file_name if self.upload_log else 'an import'}"


class ImportSourceSetting(UUIDKey, Timestamps, Versioned, db.Model):
    """How one source system writes its files: the order of day, month and year in slash dates."""

    __tablename__ = "import_source_settings"

    source_system: Mapped[str] = mapped_column(sa.String(20), unique=True)
    date_order: Mapped[str] = mapped_column(sa.String(3), default="YMD", server_default="YMD")
    notes: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (
        sa.CheckConstraint(enum_check("source_system", SOURCE_SYSTEMS), name="source_system_valid"),
        sa.CheckConstraint(enum_check("date_order", DATE_ORDERS), name="date_order_valid"),
    )

    def __str__(self) -> str:
        return f"{self.source_system}: dates {self.date_order}"


class ImportColumnTitle(UUIDKey, Timestamps, Versioned, db.Model):
    """An administrator's column titles for one CCD field in one source's files, replacing the defaults."""

    __tablename__ = "import_column_titles"

    source_system: Mapped[str] = mapped_column(sa.String(20))
    field: Mapped[str] = mapped_column(sa.String(50))
    titles: Mapped[str] = mapped_column(sa.Text)  # one title per line

    __table_args__ = (
        sa.UniqueConstraint("source_system", "field", name="uq_import_column_titles_source_field"),
        sa.CheckConstraint(enum_check("source_system", SOURCE_SYSTEMS), name="source_system_valid"),
        sa.CheckConstraint("length(trim(titles)) > 0", name="titles_not_blank"),
    )

    @property
    def title_list(self) -> list[str]:
        return [line.strip() for line in self.titles.splitlines() if line.strip()]

    def __str__(self) -> str:
        return f"{self.source_system} {self.field}"
