"""What happens to a client in a program: enrollments, intakes, discharges, service restrictions."""

import uuid
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.choices import ENROLLMENT_STATUSES, INTAKE_DATABASES, RESTRICTION_SCOPES
from app.extensions import db
from app.models.base import Archivable, JSONType, Timestamps, UUIDKey, Versioned, enum_check

# An enrollment with no end that is not archived: the rows of the open-enrollments index.
OPEN_ENROLLMENT_SQL = "end_date IS NULL AND is_archived IS false"


class Enrollment(UUIDKey, Timestamps, Versioned, Archivable, db.Model):
    """A client in a program for a period; a client may hold several at once."""

    __tablename__ = "client_program_enrollments"

    client_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("clients.id", ondelete="CASCADE"))
    program_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("programs.id", ondelete="RESTRICT"), index=True)
    subprogram_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    start_date: Mapped[date] = mapped_column(index=True)
    end_date: Mapped[date | None] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="active", server_default="active", index=True)
    receiving_services_date: Mapped[date | None]
    # Who referred the client, as the source system recorded it with the enrollment (an import of a
    # file that writes no intake keeps it here).
    referral_source: Mapped[str | None] = mapped_column(sa.String(255))
    notes: Mapped[str | None] = mapped_column(sa.Text)
    # Enrolled although a restriction was in force (app/services/restrictions.py): why, and
    # whether a Coordinator still has to look at it (imports flag what the source system did).
    override_reason: Mapped[str | None] = mapped_column(sa.Text)
    flagged_for_review: Mapped[bool] = mapped_column(default=False, server_default=sa.false(), index=True)

    client = relationship("Client", back_populates="enrollments")
    program = relationship("Program")
    subprogram = relationship("SubProgram", foreign_keys=[subprogram_id],
                              primaryjoin="Enrollment.subprogram_id == SubProgram.id")

    __table_args__ = (
        sa.CheckConstraint("end_date IS NULL OR end_date >= start_date", name="end_after_start"),
        sa.CheckConstraint(enum_check("status", ENROLLMENT_STATUSES), name="status_valid"),
        # A subprogram must belong to the enrollment's program (MATCH SIMPLE: no subprogram, no check).
        sa.ForeignKeyConstraint(
            ["subprogram_id", "program_id"], ["subprograms.id", "subprograms.program_id"],
            name="fk_client_program_enrollments_subprogram_in_program", ondelete="RESTRICT",
        ),
        sa.Index("ix_client_program_enrollments_program_dates", "program_id", "start_date", "end_date"),
        # Who is enrolled now, per program, newest first (Vacancy Tracker, program page): the open-ended
        # enrollments are a third of all and the ones those pages read (app/services/reports/vacancy.py).
        sa.Index("ix_client_program_enrollments_open", "program_id", "start_date",
                 postgresql_include=["client_id"], postgresql_where=sa.text(OPEN_ENROLLMENT_SQL),
                 sqlite_where=sa.text(OPEN_ENROLLMENT_SQL)),
        # Whose clients a person may see is "clients enrolled, ever, in these programs" (app/services/scope.py):
        # read from the index alone, however long the programs' histories.
        sa.Index("ix_client_program_enrollments_program_client", "program_id", "client_id"),
        # A client's enrollments by start date (the client page, merges, cascades): the Org Summary asks
        # of each served client whether an enrollment started before the period, and on PostgreSQL
        # answers from this index alone.
        sa.Index("ix_client_program_enrollments_client_start", "client_id", "start_date",
                 postgresql_include=["program_id", "is_archived"]),
    )

    def __str__(self) -> str:
        return f"{self.client} in {self.program} from {self.start_date:%Y-%m-%d}"


class Intake(UUIDKey, Timestamps, Versioned, db.Model):
    __tablename__ = "intakes"

    client_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("clients.id", ondelete="CASCADE"))
    program_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("programs.id", ondelete="RESTRICT"), index=True)
    intake_date: Mapped[date] = mapped_column(index=True)
    source_system: Mapped[str] = mapped_column(sa.String(20), default="CCD", server_default="CCD", index=True)
    referral_source: Mapped[str | None] = mapped_column(sa.String(255))
    housing_status: Mapped[str | None] = mapped_column(sa.String(100))
    notes: Mapped[str | None] = mapped_column(sa.Text)

    client = relationship("Client", back_populates="intakes")
    program = relationship("Program")

    __table_args__ = (
        sa.CheckConstraint(enum_check("source_system", INTAKE_DATABASES), name="source_system_valid"),
        # A client's intakes by date: the Org Summary's "any intake before the period" from the index alone.
        sa.Index("ix_intakes_client_date", "client_id", "intake_date", postgresql_include=["program_id"]),
    )

    def __str__(self) -> str:
        return f"Intake of {self.client} to {self.program} on {self.intake_date:%Y-%m-%d}"


class Discharge(UUIDKey, Timestamps, Versioned, db.Model):
    __tablename__ = "discharges"

    client_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    program_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("programs.id", ondelete="RESTRICT"), index=True)
    discharge_date: Mapped[date] = mapped_column(index=True)
    reason: Mapped[str] = mapped_column(sa.String(255))
    notes: Mapped[str | None] = mapped_column(sa.Text)

    client = relationship("Client", back_populates="discharges")
    program = relationship("Program")

    __table_args__ = (sa.CheckConstraint("length(trim(reason)) > 0", name="reason_not_blank"),)

    def __str__(self) -> str:
        return f"Discharge of {self.client} from {self.program} on {self.discharge_date:%Y-%m-%d}"


class ServiceRestriction(UUIDKey, Timestamps, Versioned, Archivable, db.Model):
    """A bar on service, org-wide or for one program. Never hard-deleted: archived instead."""

    __tablename__ = "service_restrictions"

    # RESTRICT: deleting a client must not silently take their restriction history with it.
    client_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("clients.id", ondelete="RESTRICT"), index=True)
    scope: Mapped[str] = mapped_column(sa.String(10), index=True)
    program_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("programs.id", ondelete="RESTRICT"), index=True
    )
    restriction_types: Mapped[list] = mapped_column(JSONType, default=list, server_default="[]")
    behaviours: Mapped[list] = mapped_column(JSONType, default=list, server_default="[]")
    is_bill_168: Mapped[bool] = mapped_column(default=False, server_default=sa.false(), index=True)
    is_no_trespass: Mapped[bool] = mapped_column(default=False, server_default=sa.false(), index=True)
    start_date: Mapped[date] = mapped_column(index=True)
    end_date: Mapped[date | None] = mapped_column(index=True)
    is_indefinite: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    reason: Mapped[str | None] = mapped_column(sa.Text)
    notes: Mapped[str | None] = mapped_column(sa.Text)
    entered_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"), index=True)
    affected_staff_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("staff.id", ondelete="SET NULL"), index=True
    )

    client = relationship("Client", back_populates="restrictions")
    program = relationship("Program")
    entered_by = relationship("Staff", foreign_keys=[entered_by_id])
    affected_staff = relationship("Staff", foreign_keys=[affected_staff_id])

    __table_args__ = (
        sa.CheckConstraint(enum_check("scope", RESTRICTION_SCOPES), name="scope_valid"),
        sa.CheckConstraint(
            "(scope = 'org' AND program_id IS NULL) OR (scope = 'program' AND program_id IS NOT NULL)",
            name="scope_program",
        ),
        sa.CheckConstraint("NOT is_indefinite OR end_date IS NULL", name="indefinite_no_end_date"),
        sa.CheckConstraint("end_date IS NULL OR end_date >= start_date", name="end_after_start"),
    )

    def is_active_on(self, day: date) -> bool:
        return (not self.is_archived and self.start_date <= day
                and (self.end_date is None or self.end_date >= day))

    def __str__(self) -> str:
        where = "organisation-wide" if self.scope == "org" else f"at {self.program}"
        return f"Restriction on {self.client} {where} from {self.start_date:%Y-%m-%d}"
