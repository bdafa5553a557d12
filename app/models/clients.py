"""Clients, the ids other systems know them by, and possible duplicates between them."""

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.choices import DUPLICATE_CONFIDENCE, DUPLICATE_STATUSES, SOURCE_SYSTEMS
from app.extensions import db
from app.models.base import Archivable, JSONType, Timestamps, UUIDKey, Versioned, enum_check
from app.names import match_keys

# The NexusCCD "client_extended" fields the agency records rarely: kept in one JSON
# column (``clients.extended``) instead of sixty sparse columns. Key -> value type;
# labels live in app/labels.py with every other label.
EXTENDED_FIELDS: dict[str, str] = {
    "military_status": "text", "refugee_status": "text", "household_size": "int",
    "family_head_client_no": "text", "relationship": "text", "primary_worker": "text",
    "chronically_homeless": "bool", "num_bednights_current_stay": "int", "length_homeless_3yrs": "int",
    "income_source": "text", "taxation_year_filed": "text", "status_id": "text", "picture_id": "text",
    "other_id": "text", "bnl_consent": "bool", "allergies": "text", "harm_reduction_support": "bool",
    "medication_support": "bool", "pregnancy_support": "bool", "mental_health_support": "bool",
    "physical_health_support": "bool", "daily_activities_support": "bool", "other_health_supports": "text",
    "cannot_use_stairs": "bool", "limited_mobility": "bool", "wheelchair_accessibility": "bool",
    "vision_hearing_speech_supports": "text", "pet_owner": "bool", "legal_support": "bool",
    "immigration_support": "bool", "religious_cultural_supports": "text", "safety_concerns": "text",
    "intimate_partner_violence_support": "bool", "human_trafficking_support": "bool",
    "access_to_housing_no": "text", "access_point_no": "text", "lived_last_12_months": "text",
    "reason_for_service": "text", "room": "text", "bed": "text", "veteran_status": "text",
    "highest_level_education": "text", "lhin": "text", "family_doctor": "text",
    "primary_diagnosis": "text", "medical_conditions": "text",
}


class Client(UUIDKey, Timestamps, Versioned, Archivable, db.Model):
    __tablename__ = "clients"
    # Matching keys are derived from the names and birth date whenever those change;
    # nobody edits them, and the audit trail would only repeat the name change.
    __guard_exempt_fields__ = frozenset({"block_last_key", "block_names_key", "block_prefix_key"})

    # Names
    first_name: Mapped[str] = mapped_column(sa.String(100))
    middle_name: Mapped[str | None] = mapped_column(sa.String(100))
    last_name: Mapped[str] = mapped_column(sa.String(100))
    preferred_name: Mapped[str | None] = mapped_column(sa.String(100), index=True)
    alias: Mapped[str | None] = mapped_column(sa.String(100), index=True)
    dob: Mapped[date | None] = mapped_column(index=True)

    # Demographics (values from the option lists in app/choices.py)
    gender: Mapped[str | None] = mapped_column(sa.String(100), index=True)
    gender_identity: Mapped[str | None] = mapped_column(sa.String(100))
    pronoun: Mapped[str | None] = mapped_column(sa.String(50))
    sexual_orientation: Mapped[str | None] = mapped_column(sa.String(100), index=True)
    citizenship_status: Mapped[str | None] = mapped_column(sa.String(100), index=True)
    indigenous_status: Mapped[str | None] = mapped_column(sa.String(100), index=True)
    country_of_birth: Mapped[str | None] = mapped_column(sa.String(100))
    marital_status: Mapped[str | None] = mapped_column(sa.String(50))
    languages_spoken: Mapped[list] = mapped_column(JSONType, default=list, server_default="[]")
    preferred_language: Mapped[str | None] = mapped_column(sa.String(100), index=True)
    official_language: Mapped[str | None] = mapped_column(sa.String(50))
    interpreter_needed: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    ethnicity: Mapped[list] = mapped_column(JSONType, default=list, server_default="[]")
    race: Mapped[str | None] = mapped_column(sa.String(100), index=True)

    # Contact
    phone: Mapped[str | None] = mapped_column(sa.String(30))
    phone_alt: Mapped[str | None] = mapped_column(sa.String(30))
    email: Mapped[str | None] = mapped_column(sa.String(255))
    address_line1: Mapped[str | None] = mapped_column(sa.String(255))
    address_line2: Mapped[str | None] = mapped_column(sa.String(255))
    city: Mapped[str | None] = mapped_column(sa.String(100))
    province: Mapped[str | None] = mapped_column(sa.String(50))
    postal_code: Mapped[str | None] = mapped_column(sa.String(10))
    permission_to_phone: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    permission_to_email: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    emergency_contact_name: Mapped[str | None] = mapped_column(sa.String(200))
    emergency_contact_relationship: Mapped[str | None] = mapped_column(sa.String(100))
    emergency_contact_phone: Mapped[str | None] = mapped_column(sa.String(30))

    # Health card (Ontario OHIP and others)
    health_card_number: Mapped[str | None] = mapped_column(sa.String(20), index=True)
    health_card_version: Mapped[str | None] = mapped_column(sa.String(4))
    health_card_exp_date: Mapped[date | None]
    health_card_issuing_province: Mapped[str | None] = mapped_column(sa.String(50))
    no_health_card_reason: Mapped[str | None] = mapped_column(sa.String(255))

    # Provenance and status
    image_url: Mapped[str | None] = mapped_column(sa.String(500))
    # The stored photo's file name in CLIENT_PHOTO_DIR (app/services/client_photos.py); a new name each upload.
    photo_file: Mapped[str | None] = mapped_column(sa.String(100))
    source_system: Mapped[str | None] = mapped_column(sa.String(20), index=True)
    uid_external: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    is_inactive: Mapped[bool] = mapped_column(default=False, server_default=sa.false(), index=True)
    comments: Mapped[str | None] = mapped_column(sa.Text)
    extended: Mapped[dict] = mapped_column(JSONType, default=dict, server_default="{}")
    # Set when this record was merged into another (and archived); the merge can be undone.
    # No ON DELETE action: a survivor others were merged into cannot be deleted.
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("clients.id"), index=True)

    # Blocking keys for duplicate matching (app/names.py, app/services/matching/), indexed so candidates
    # are found by lookup instead of by reading every client.
    block_last_key: Mapped[str | None] = mapped_column(sa.String(20), index=True)
    block_names_key: Mapped[str | None] = mapped_column(sa.String(20), index=True)
    block_prefix_key: Mapped[str | None] = mapped_column(sa.String(20), index=True)

    source_ids = relationship("ClientSourceId", back_populates="client", cascade="all, delete-orphan",
                              passive_deletes=True)
    enrollments = relationship("Enrollment", back_populates="client", lazy="dynamic")
    intakes = relationship("Intake", back_populates="client", lazy="dynamic")
    discharges = relationship("Discharge", back_populates="client", lazy="dynamic")
    restrictions = relationship("ServiceRestriction", back_populates="client", lazy="dynamic")
    merged_into = relationship("Client", remote_side="Client.id", foreign_keys=[merged_into_id])

    __table_args__ = (
        sa.Index("ix_clients_last_first", "last_name", "first_name"),
        sa.Index("ix_clients_last_name_lower", sa.func.lower(sa.text("last_name"))),
        sa.Index("ix_clients_first_name_lower", sa.func.lower(sa.text("first_name"))),
        sa.CheckConstraint("length(trim(first_name)) > 0 AND length(trim(last_name)) > 0", name="name_not_blank"),
        sa.CheckConstraint("dob IS NULL OR dob >= '1900-01-01'", name="dob_plausible"),
        sa.CheckConstraint("uid_external IS NULL OR length(trim(uid_external)) > 0", name="uid_external_not_blank"),
        sa.CheckConstraint("email IS NULL OR email LIKE '%_@_%'", name="email_valid"),
        sa.CheckConstraint("merged_into_id IS NULL OR merged_into_id <> id", name="not_merged_into_itself"),
        sa.CheckConstraint(
            "source_system IS NULL OR " + enum_check("source_system", ("CCD",) + SOURCE_SYSTEMS),
            name="source_system_valid",
        ),
    )

    @property
    def full_name(self) -> str:
        preferred = f" ({self.preferred_name})" if self.preferred_name else ""
        return f"{self.first_name} {self.last_name}{preferred}"

    def __str__(self) -> str:
        born = f", born {self.dob:%Y-%m-%d}" if self.dob else ""
        return f"{self.last_name}, {self.first_name}{born}"

    def refresh_match_keys(self) -> None:
        keys = match_keys(self.first_name, self.last_name, self.dob)
        self.block_last_key = keys.last_key
        self.block_names_key, self.block_prefix_key = keys.names_key, keys.prefix_key


@event.listens_for(Client, "before_insert")
@event.listens_for(Client, "before_update")
def _keep_match_keys(mapper, connection, client: Client) -> None:
    client.refresh_match_keys()


class ClientSourceId(UUIDKey, Timestamps, Versioned, db.Model):
    """The id a source system gives a client. Ids are only ever compared within one source."""

    __tablename__ = "client_source_ids"

    client_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    source_system: Mapped[str] = mapped_column(sa.String(20))
    source_client_id: Mapped[str] = mapped_column(sa.String(100))

    client = relationship("Client", back_populates="source_ids")

    __table_args__ = (
        sa.UniqueConstraint("source_system", "source_client_id", name="uq_client_source_ids_source_id"),
        sa.CheckConstraint(enum_check("source_system", SOURCE_SYSTEMS), name="source_system_valid"),
        sa.CheckConstraint("length(trim(source_client_id)) > 0", name="source_client_id_not_blank"),
    )

    def __str__(self) -> str:
        return f"{self.source_system} {self.source_client_id}"


class ClientDuplicate(UUIDKey, Timestamps, Versioned, db.Model):
    """A possible duplicate for a person to review: two clients, or a client and an imported row.

    An import row that is too close to call is not written; it waits here (``import_row``)
    beside the client it may be. ``incoming_key`` names the incoming person (source system
    and id, or a hash of name and birth date) so a re-import does not flag the same pair
    again, and a pair marked "not a duplicate" is remembered.
    """

    __tablename__ = "client_duplicates"

    primary_client_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    duplicate_client_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("clients.id", ondelete="CASCADE"),
                                                                  index=True)
    import_row_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("import_rows.id", ondelete="CASCADE"),
                                                            index=True)
    incoming_key: Mapped[str | None] = mapped_column(sa.String(200))
    similarity_score: Mapped[float] = mapped_column(sa.Float)
    match_type: Mapped[str] = mapped_column(sa.String(50), index=True)
    confidence_level: Mapped[str] = mapped_column(sa.String(20), index=True)
    status: Mapped[str] = mapped_column(sa.String(30), default="pending", server_default="pending", index=True)
    match_details: Mapped[dict] = mapped_column(JSONType, default=dict, server_default="{}")
    detection_source: Mapped[str | None] = mapped_column(sa.String(50))
    reviewed_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    review_notes: Mapped[str | None] = mapped_column(sa.Text)

    primary_client = relationship("Client", foreign_keys=[primary_client_id])
    duplicate_client = relationship("Client", foreign_keys=[duplicate_client_id])
    import_row = relationship("ImportRow")
    reviewed_by = relationship("Staff")

    __table_args__ = (
        sa.UniqueConstraint("primary_client_id", "duplicate_client_id", name="uq_client_duplicates_pair"),
        sa.UniqueConstraint("primary_client_id", "incoming_key", name="uq_client_duplicates_incoming"),
        sa.CheckConstraint("duplicate_client_id IS NOT NULL OR import_row_id IS NOT NULL",
                           name="has_other_side"),
        sa.CheckConstraint("primary_client_id <> duplicate_client_id", name="distinct_clients"),
        sa.CheckConstraint("similarity_score >= 0 AND similarity_score <= 1", name="score_range"),
        sa.CheckConstraint(enum_check("status", DUPLICATE_STATUSES), name="status_valid"),
        sa.CheckConstraint(enum_check("confidence_level", DUPLICATE_CONFIDENCE), name="confidence_valid"),
    )

    def __str__(self) -> str:
        other = self.duplicate_client or (f"import row {self.import_row.row_number}" if self.import_row else "?")
        return f"{self.primary_client} ≈ {other}"
