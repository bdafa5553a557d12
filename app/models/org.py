"""Departments, programs and what hangs off a program (subprograms, capacity history)."""

import uuid
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.choices import PROGRAM_STATUSES
from app.extensions import db
from app.models.base import Archivable, Timestamps, UUIDKey, Versioned, enum_check


class Department(UUIDKey, Timestamps, Versioned, Archivable, db.Model):
    __tablename__ = "departments"

    name: Mapped[str] = mapped_column(sa.String(255))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("staff.id", ondelete="SET NULL"), index=True
    )
    description: Mapped[str | None] = mapped_column(sa.Text)

    owner = relationship("Staff", foreign_keys=[owner_id])
    programs = relationship("Program", back_populates="department", lazy="dynamic")

    __table_args__ = (
        sa.Index("uq_departments_name_lower", sa.func.lower(sa.text("name")), unique=True),
        sa.CheckConstraint("length(trim(name)) > 0", name="name_not_blank"),
    )

    def __str__(self) -> str:
        return self.name


class Program(UUIDKey, Timestamps, Versioned, Archivable, db.Model):
    __tablename__ = "programs"

    name: Mapped[str] = mapped_column(sa.String(255))
    department_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("departments.id", ondelete="RESTRICT"), index=True
    )
    location: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    capacity_current: Mapped[int] = mapped_column(default=0, server_default="0")
    capacity_effective_date: Mapped[date | None]
    no_capacity_limit: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    status: Mapped[str] = mapped_column(sa.String(20), default="active", server_default="active", index=True)
    description: Mapped[str | None] = mapped_column(sa.Text)

    department = relationship("Department", back_populates="programs")
    subprograms = relationship("SubProgram", back_populates="program", cascade="all, delete-orphan",
                               passive_deletes=True)
    capacities = relationship("ProgramCapacity", back_populates="program", cascade="all, delete-orphan",
                              passive_deletes=True, order_by="ProgramCapacity.effective_date.desc()")
    staff_links = relationship("ProgramStaff", back_populates="program", cascade="all, delete-orphan",
                               passive_deletes=True)
    aliases = relationship("ProgramAlias", back_populates="program", cascade="all, delete-orphan",
                           passive_deletes=True)

    __table_args__ = (
        sa.Index("uq_programs_name_lower", sa.func.lower(sa.text("name")), unique=True),
        sa.CheckConstraint("length(trim(name)) > 0", name="name_not_blank"),
        sa.CheckConstraint("capacity_current >= 0", name="capacity_not_negative"),
        sa.CheckConstraint(enum_check("status", PROGRAM_STATUSES), name="status_valid"),
    )

    def __str__(self) -> str:
        return self.name


class SubProgram(UUIDKey, Timestamps, Versioned, db.Model):
    __tablename__ = "subprograms"

    program_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("programs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    description: Mapped[str | None] = mapped_column(sa.Text)
    is_active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())

    program = relationship("Program", back_populates="subprograms")

    __table_args__ = (
        sa.Index("uq_subprograms_program_name_lower", "program_id", sa.func.lower(sa.text("name")), unique=True),
        # Target of the enrollments' (subprogram, program) foreign key, which keeps an
        # enrollment's subprogram inside the enrollment's own program.
        sa.UniqueConstraint("id", "program_id", name="uq_subprograms_id_program"),
        sa.CheckConstraint("length(trim(name)) > 0", name="name_not_blank"),
    )

    def __str__(self) -> str:
        return self.name


class ProgramCapacity(UUIDKey, Timestamps, Versioned, db.Model):
    """Capacity history: the vacancy report uses the entry in force on its date."""

    __tablename__ = "program_capacities"

    program_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("programs.id", ondelete="CASCADE"), index=True)
    effective_date: Mapped[date]
    capacity: Mapped[int]
    notes: Mapped[str | None] = mapped_column(sa.Text)

    program = relationship("Program", back_populates="capacities")

    __table_args__ = (
        sa.UniqueConstraint("program_id", "effective_date", name="uq_program_capacities_program_date"),
        sa.CheckConstraint("capacity >= 0", name="capacity_not_negative"),
    )

    def __str__(self) -> str:
        return f"{self.capacity} from {self.effective_date:%Y-%m-%d}"


class ProgramAlias(UUIDKey, Timestamps, Versioned, db.Model):
    """Another name a source system uses for a program. Imports find programs by exact name or alias only."""

    __tablename__ = "program_aliases"

    program_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("programs.id", ondelete="CASCADE"), index=True)
    alias: Mapped[str] = mapped_column(sa.String(255))

    program = relationship("Program", back_populates="aliases")

    __table_args__ = (
        sa.Index("uq_program_aliases_alias_lower", sa.func.lower(sa.text("alias")), unique=True),
        sa.CheckConstraint("length(trim(alias)) > 0", name="alias_not_blank"),
    )

    def __str__(self) -> str:
        return f"{self.alias} → {self.program}"
