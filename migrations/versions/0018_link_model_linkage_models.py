"""Linkage models: the matching model trained on the agency's own clients, with its figures.

Matching (app/services/matching) uses the latest active row; with none it uses the
built-in default model, so this table starts empty.

Revision ID: 0018_link_model
Revises: 0017_review_loop
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0018_link_model"
down_revision = "0017_review_loop"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
NOW = sa.text("CURRENT_TIMESTAMP")


def upgrade():
    op.create_table(
        "linkage_models",
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trained_by", sa.String(length=200), nullable=False),
        sa.Column("trained_by_id", sa.Uuid(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("client_count", sa.Integer(), nullable=False),
        sa.Column("parameters", JSON, nullable=False),
        sa.Column("figures", JSON, server_default="{}", nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("client_count >= 0", name=op.f("ck_linkage_models_client_count_not_negative")),
        sa.ForeignKeyConstraint(["trained_by_id"], ["staff.id"], name=op.f("fk_linkage_models_trained_by_id_staff"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_linkage_models")),
    )
    op.create_index(op.f("ix_linkage_models_trained_at"), "linkage_models", ["trained_at"], unique=False)
    op.create_index(op.f("ix_linkage_models_is_active"), "linkage_models", ["is_active"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_linkage_models_is_active"), table_name="linkage_models")
    op.drop_index(op.f("ix_linkage_models_trained_at"), table_name="linkage_models")
    op.drop_table("linkage_models")
