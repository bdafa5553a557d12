"""Staff, their sign-in accounts, roles, and which programs, departments and clients they are tied to."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.models.base import JSONType, Timestamps, UUIDKey, Versioned


class User(UUIDKey, Timestamps, Versioned, UserMixin, db.Model):
    """A sign-in account. Who the person is lives on Staff; this holds only credentials."""

    __tablename__ = "users"
    # Signing in records the time and failed attempts on the account itself; that is not an edit of CCD data.
    # Ending the account's sessions (at sign-out) is not one either.
    __guard_exempt_fields__ = frozenset({"last_login_at", "failed_sign_ins", "locked_until", "sign_in_lockouts",
                                         "session_generation"})

    password_hash: Mapped[str] = mapped_column(sa.String(255))
    last_login_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # Failed sign-ins in a row and lockouts, per client address (keyed hash -> failures, last, until):
    # an address that keeps failing is locked out of the account, the owner elsewhere is not.
    sign_in_lockouts: Mapped[dict] = mapped_column(JSONType, default=dict, server_default="{}")
    # What an administrator sees of them: the most failures in a row from one address, and
    # when the last lockout of some address ends.
    failed_sign_ins: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # Stamped into each signed-in session; raising it (sign-out, a new password, deactivation)
    # ends every session of the account, wherever its cookie was copied to.
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")

    staff = relationship("Staff", back_populates="user", uselist=False)

    def set_password(self, password: str) -> None:
        """A new password also lifts any sign-in lockout (an administrator's way to unlock) and ends
        every session signed in with the old one."""
        self.password_hash = generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])
        self.failed_sign_ins, self.locked_until, self.sign_in_lockouts = 0, None, {}
        self.end_sessions()

    def end_sessions(self) -> None:
        """Every session signed in so far carries the old generation, so none is accepted again."""
        self.session_generation = (self.session_generation or 0) + 1

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:
        return self.staff is not None and self.staff.active

    @property
    def role_names(self) -> frozenset[str]:
        return self.staff.role_names if self.staff is not None else frozenset()

    def __str__(self) -> str:
        return self.staff.email if self.staff is not None else str(self.id)


class Role(UUIDKey, Timestamps, Versioned, db.Model):
    __tablename__ = "roles"

    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    description: Mapped[str | None] = mapped_column(sa.Text)

    def __str__(self) -> str:
        return self.name


class StaffRole(Timestamps, Versioned, db.Model):
    __tablename__ = "staff_roles"

    staff_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True)
    role_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("roles.id", ondelete="RESTRICT"), primary_key=True, index=True
    )

    staff = relationship("Staff", back_populates="role_links", overlaps="roles")
    role = relationship("Role", overlaps="roles")

    def __str__(self) -> str:
        return f"{self.staff} – {self.role}"


class Staff(UUIDKey, Timestamps, Versioned, db.Model):
    __tablename__ = "staff"

    user_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), unique=True
    )
    first_name: Mapped[str] = mapped_column(sa.String(100), index=True)
    last_name: Mapped[str] = mapped_column(sa.String(100), index=True)
    email: Mapped[str] = mapped_column(sa.String(255))
    phone: Mapped[str | None] = mapped_column(sa.String(30))
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true(), index=True)

    user = relationship("User", back_populates="staff")
    role_links = relationship("StaffRole", back_populates="staff", cascade="all, delete-orphan",
                              passive_deletes=True, overlaps="roles")
    roles = relationship("Role", secondary="staff_roles", order_by="Role.name", overlaps="role_links,staff,role")

    __table_args__ = (
        sa.Index("uq_staff_email_lower", sa.func.lower(sa.text("email")), unique=True),
        sa.CheckConstraint("email LIKE '%_@_%'", name="email_valid"),
        sa.CheckConstraint("length(trim(first_name)) > 0 AND length(trim(last_name)) > 0", name="name_not_blank"),
    )

    @property
    def role_names(self) -> frozenset[str]:
        return frozenset(role.name for role in self.roles)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>"


@sa.event.listens_for(Staff.active, "set")
def _deactivation_ends_sessions(staff: Staff, value, old, initiator) -> None:
    """A deactivated person is signed out everywhere, and reactivating them revives no old session."""
    if value is False and old is not False and staff.user is not None:
        staff.user.end_sessions()


class ProgramStaff(UUIDKey, Timestamps, Versioned, db.Model):
    """Who works in a program; several may be managers."""

    __tablename__ = "program_staff"

    program_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("programs.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    is_manager: Mapped[bool] = mapped_column(default=False, server_default=sa.false(), index=True)

    program = relationship("Program", back_populates="staff_links")
    staff = relationship("Staff")

    __table_args__ = (sa.UniqueConstraint("program_id", "staff_id", name="uq_program_staff_program_staff"),)

    def __str__(self) -> str:
        return f"{self.staff} in {self.program}"


class _Assignment(UUIDKey, Timestamps, Versioned):
    """Shared shape of the assignment tables: who, to what, by whom, since when, still active."""

    @declared_attr
    def staff_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(sa.ForeignKey("staff.id", ondelete="CASCADE"), index=True)

    @declared_attr
    def assigned_by_id(cls) -> Mapped[uuid.UUID | None]:
        return mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))

    assigned_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.current_timestamp(), index=True
    )
    is_active: Mapped[bool] = mapped_column(default=True, server_default=sa.true(), index=True)
    notes: Mapped[str | None] = mapped_column(sa.Text)

    @declared_attr
    def staff(cls):
        return relationship("Staff", foreign_keys=[cls.staff_id])

    @declared_attr
    def assigned_by(cls):
        return relationship("Staff", foreign_keys=[cls.assigned_by_id])


class ProgramManagerAssignment(_Assignment, db.Model):
    __tablename__ = "program_manager_assignments"

    program_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("programs.id", ondelete="CASCADE"), index=True)
    program = relationship("Program")
    __table_args__ = (sa.UniqueConstraint("staff_id", "program_id", name="uq_program_manager_assignments_staff_program"),)

    def __str__(self) -> str:
        return f"{self.staff} manages {self.program}"


class DepartmentLeaderAssignment(_Assignment, db.Model):
    __tablename__ = "department_leader_assignments"

    department_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("departments.id", ondelete="CASCADE"), index=True)
    department = relationship("Department")
    __table_args__ = (
        sa.UniqueConstraint("staff_id", "department_id", name="uq_department_leader_assignments_staff_department"),
    )

    def __str__(self) -> str:
        return f"{self.staff} leads {self.department}"


class StaffProgramAssignment(_Assignment, db.Model):
    __tablename__ = "staff_program_assignments"

    program_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("programs.id", ondelete="CASCADE"), index=True)
    program = relationship("Program")
    __table_args__ = (sa.UniqueConstraint("staff_id", "program_id", name="uq_staff_program_assignments_staff_program"),)

    def __str__(self) -> str:
        return f"{self.staff} works in {self.program}"


class StaffClientAssignment(_Assignment, db.Model):
    __tablename__ = "staff_client_assignments"

    client_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    client = relationship("Client")
    __table_args__ = (sa.UniqueConstraint("staff_id", "client_id", name="uq_staff_client_assignments_staff_client"),)

    def __str__(self) -> str:
        return f"{self.staff} assigned to {self.client}"
