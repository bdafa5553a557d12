"""Option list "successful_discharge_reason": which discharge reasons the Outcomes report counts as a planned
or successful completion, edited by administrators under Settings rather than fixed in code.

The option lists' keys are checked by the database, so the check takes the new key. Its
default entries are added by ``ccd bootstrap`` (and the demo), as every option list's are.
On SQLite the table is rebuilt to change its check, and the rebuild does not carry the
expression index (one value per list, any case), so it is put back.

Revision ID: 0025_reports
Revises: 0023_access_log
"""
import warnings

import sqlalchemy as sa
from alembic import op

revision = "0025_reports"
down_revision = "0023_access_log"
branch_labels = None
depends_on = None

OLD_KEYS = ("behaviour", "citizenship_status", "discharge_reason", "ethnicity", "gender", "housing_status",
            "indigenous_status", "language", "marital_status", "official_language", "pronoun", "province", "race",
            "referral_source", "restriction_type", "sexual_orientation")
NEW_KEYS = tuple(sorted(OLD_KEYS + ("successful_discharge_reason",)))
UNIQUE_VALUE = "uq_choice_options_list_value_lower"


def _in(keys):
    return "list_key IN (" + ", ".join(f"'{key}'" for key in keys) + ")"


def _set_keys(keys):
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f("ck_choice_options_list_key_valid"), "choice_options", type_="check")
        op.create_check_constraint("list_key_valid", "choice_options", _in(keys))
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index",
                                sa.exc.SAWarning)
        with op.batch_alter_table("choice_options") as batch_op:
            batch_op.drop_constraint(op.f("ck_choice_options_list_key_valid"), type_="check")
            batch_op.create_check_constraint("list_key_valid", _in(keys))
    op.execute(f"DROP INDEX IF EXISTS {UNIQUE_VALUE}")
    op.create_index(UNIQUE_VALUE, "choice_options", ["list_key", sa.literal_column("lower(value)")], unique=True)


def upgrade():
    _set_keys(NEW_KEYS)


def downgrade():
    op.execute("DELETE FROM choice_options WHERE list_key = 'successful_discharge_reason'")
    _set_keys(OLD_KEYS)
