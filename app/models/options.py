"""Agency-editable option lists (gender, languages, discharge reasons…); defaults in app/choices.py."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.choices import DEFAULT_OPTIONS
from app.extensions import db
from app.models.base import Timestamps, UUIDKey, Versioned, enum_check


class ChoiceOption(UUIDKey, Timestamps, Versioned, db.Model):
    __tablename__ = "choice_options"

    list_key: Mapped[str] = mapped_column(sa.String(50), index=True)
    value: Mapped[str] = mapped_column(sa.String(255))
    sort_order: Mapped[int] = mapped_column(default=0, server_default="0")
    is_active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())

    __table_args__ = (
        sa.Index("uq_choice_options_list_value_lower", "list_key", sa.func.lower(sa.text("value")), unique=True),
        sa.CheckConstraint(enum_check("list_key", sorted(DEFAULT_OPTIONS)), name="list_key_valid"),
        sa.CheckConstraint("length(trim(value)) > 0", name="value_not_blank"),
    )

    def __str__(self) -> str:
        return f"{self.list_key}: {self.value}"
