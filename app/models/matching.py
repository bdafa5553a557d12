"""Linkage models trained on the agency's own clients (app/services/matching/training.py)."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import JSONType, Timestamps, UUIDKey


class LinkageModelRecord(UUIDKey, Timestamps, db.Model):
    """One trained model: its parameters (m and u per comparison level, the prior, name frequencies)
    and how it was trained. Matching uses the latest active one; deactivating it falls back to
    the one before (or the built-in default)."""

    __tablename__ = "linkage_models"

    trained_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), index=True)
    trained_by: Mapped[str] = mapped_column(sa.String(200))  # the command, task or person that trained it
    trained_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=sa.true(), index=True)
    seed: Mapped[int] = mapped_column(sa.Integer)
    client_count: Mapped[int] = mapped_column(sa.Integer)
    parameters: Mapped[dict] = mapped_column(JSONType)
    # sample sizes, EM iterations and convergence, the estimated prior, labels used, m/u per level
    figures: Mapped[dict] = mapped_column(JSONType, default=dict, server_default="{}")

    trained_by_staff = relationship("Staff")

    __table_args__ = (
        sa.CheckConstraint("client_count >= 0", name="client_count_not_negative"),
    )

    @property
    def label(self) -> str:
        return f"trained {self.trained_at:%Y-%m-%d %H:%M} ({self.id})"

    @classmethod
    def latest_active_query(cls):
        return sa.select(cls).where(cls.is_active.is_(True)).order_by(cls.trained_at.desc(), cls.id.desc()).limit(1)

    def __str__(self) -> str:
        return f"Linkage model {self.label}"
