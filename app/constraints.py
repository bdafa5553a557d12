"""Sentences for the database rules a save can break.

The database is the last word on what may be stored; when it refuses a row, the
person sees which rule and what to do, never a driver traceback.
"""

import re

from sqlalchemy.exc import IntegrityError

from app.labels import label

MESSAGES: dict[str, str] = {
    "uq_departments_name_lower": "A department with this name already exists (names are compared ignoring case).",
    "uq_programs_name_lower": "A program with this name already exists (names are compared ignoring case).",
    "uq_subprograms_program_name_lower": "This program already has a subprogram with that name.",
    "uq_program_capacities_program_date": "This program already has a capacity entry for that effective date.",
    "uq_staff_email_lower": "A staff member with this email already exists.",
    "uq_staff_user_id": "That sign-in account already belongs to another staff member.",
    "uq_roles_name": "A role with this name already exists.",
    "pk_staff_roles": "This staff member already has that role.",
    "uq_program_staff_program_staff": "This staff member is already on that program's staff.",
    "uq_program_manager_assignments_staff_program": "This staff member is already assigned to manage that program.",
    "uq_department_leader_assignments_staff_department": "This staff member already leads that department.",
    "uq_staff_program_assignments_staff_program": "This staff member is already assigned to that program.",
    "uq_staff_client_assignments_staff_client": "This staff member is already assigned to that client.",
    "uq_clients_uid_external": "Another client already has this external UID.",
    "uq_client_source_ids_source_id": "Another client already has this id in that source system.",
    "uq_client_duplicates_pair": "This pair of clients is already flagged.",
    "uq_email_recipients_email_lower": "This email address already receives reports.",
    "uq_restriction_notification_subscriptions_staff_id": "This staff member already has alert settings.",
    "uq_choice_options_list_value_lower": "That value is already in the list.",
    "uq_program_aliases_alias_lower": "That alias already names a program (aliases are compared ignoring case).",
    "uq_import_column_titles_source_field": "That source system already has column titles for this field; edit them.",
    "uq_import_source_settings_source_system": "That source system already has import settings; edit them.",
    "uq_client_duplicates_incoming": "This incoming person is already flagged against that client.",
    "ck_client_program_enrollments_end_after_start": "The end date cannot be before the start date.",
    "ck_service_restrictions_end_after_start": "The end date cannot be before the start date.",
    "ck_service_restrictions_scope_program": (
        "An organisation-wide restriction has no program; a program restriction needs one."
    ),
    "ck_service_restrictions_indefinite_no_end_date": "An indefinite restriction cannot have an end date.",
    "ck_programs_capacity_not_negative": "Capacity cannot be negative.",
    "ck_program_capacities_capacity_not_negative": "Capacity cannot be negative.",
    "ck_clients_name_not_blank": "First and last name are required.",
    "ck_clients_dob_plausible": "The date of birth must be on or after 1900-01-01.",
    "ck_clients_email_valid": "The email address is not valid.",
    "ck_staff_email_valid": "The email address is not valid.",
    "ck_client_duplicates_distinct_clients": "A client cannot be a duplicate of itself.",
    "fk_clients_merged_into_id_clients": (
        "Other client records were merged into this one, so it cannot be deleted; archive it instead."
    ),
    "fk_client_program_enrollments_subprogram_in_program": "The subprogram must belong to the enrollment's program.",
    "ck_pending_changes_decline_has_rationale": "A decline needs a rationale.",
    "fk_audit_logs_changed_by_id_staff": (
        "This staff member has made changes recorded in the audit trail, which is kept for good; "
        "deactivate the staff member instead of deleting them."
    ),
    # SQLite names the columns of a plain UNIQUE instead of the constraint.
    "clients.uid_external": "Another client already has this external UID.",
    "client_source_ids.source_system, client_source_ids.source_client_id": (
        "Another client already has this id in that source system."
    ),
    "roles.name": "A role with this name already exists.",
    "program_staff.program_id, program_staff.staff_id": "This staff member is already on that program's staff.",
    "program_capacities.program_id, program_capacities.effective_date": (
        "This program already has a capacity entry for that effective date."
    ),
    "client_duplicates.primary_client_id, client_duplicates.duplicate_client_id": "This pair of clients is already flagged.",
    "staff_roles.staff_id, staff_roles.role_id": "This staff member already has that role.",
}

_FK_HINT = "This record is still referred to by other records (for example enrollments or restrictions); archive it instead."


def explain(error: IntegrityError) -> str:
    """The sentence for a refused write, found by the constraint's name in the driver's message."""
    text = str(error.orig) if error.orig is not None else str(error)
    constraint = getattr(getattr(error.orig, "diag", None), "constraint_name", None)
    if constraint and constraint in MESSAGES:
        return MESSAGES[constraint]
    for name, message in MESSAGES.items():
        if re.search(rf"\b{re.escape(name)}\b", text):
            return message
    lowered = text.lower()
    if "foreign key" in lowered:
        return _FK_HINT
    if "not null" in lowered:
        column = re.search(r'column "?([\w.]+)"?|NOT NULL constraint failed: ([\w.]+)', text)
        field = (column.group(1) or column.group(2)).split(".")[-1] if column else "a required field"
        return f"{label(field)} is required."
    if "unique" in lowered:
        return "A record with these values already exists."
    return "The database refused this change because it breaks one of its rules."
