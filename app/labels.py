"""Human labels for every field and table, in one place.

Admin screens, exports, audit diffs and approval pages all read these, so a field is
called the same thing wherever a person meets it.
"""

ENTITY_LABELS: dict[str, str] = {
    "clients": "Clients", "client_source_ids": "Source system ids", "client_duplicates": "Possible duplicates",
    "departments": "Departments", "programs": "Programs & Services", "subprograms": "Subprograms",
    "program_capacities": "Capacity history", "program_staff": "Program staff",
    "client_program_enrollments": "Enrollments", "intakes": "Intakes", "discharges": "Discharges",
    "service_restrictions": "Restrictions", "pending_changes": "Pending changes", "audit_logs": "Audit log",
    "email_recipients": "Report recipients", "email_logs": "Sent reports", "client_upload_logs": "Import history",
    "staff": "Staff", "users": "Sign-in accounts", "roles": "Roles", "staff_roles": "Staff roles",
    "program_manager_assignments": "Program manager assignments",
    "department_leader_assignments": "Department leader assignments",
    "staff_program_assignments": "Staff program assignments",
    "staff_client_assignments": "Staff client assignments", "choice_options": "Option lists",
    "restriction_notification_subscriptions": "Restriction alert subscriptions",
    "notifications": "Notifications",
    # pages that are not tables
    "org_summary_report": "Organizational Summary", "vacancy_report": "Vacancy Tracker",
    "data_quality_report": "Data quality", "access_report": "Access",
    "client_access_log": "Access log",
    "enrollment_history_report": "Enrollment history",
    "outcomes_report": "Outcomes", "program_performance_report": "Program performance",
    "department_summary_report": "Department summary",
    "notifications": "Notifications", "import_rows": "Import rows", "import_source_settings": "Import settings",
    "import_column_titles": "Import column titles", "program_aliases": "Program aliases",
    "client_merges": "Client merges", "linkage_models": "Matching models",
}

# One record of a table, as a sentence names it ("Client Alexander, Lori").
RECORD_NOUNS: dict[str, str] = {
    "clients": "Client", "client_source_ids": "Source system id", "client_duplicates": "Possible duplicate",
    "departments": "Department", "programs": "Program", "subprograms": "Subprogram",
    "client_program_enrollments": "Enrollment", "intakes": "Intake", "discharges": "Discharge",
    "service_restrictions": "Restriction", "pending_changes": "Proposal", "staff": "Staff member",
    "users": "Sign-in account", "client_upload_logs": "Import", "choice_options": "Option",
}


def record_noun(table: str) -> str:
    return RECORD_NOUNS.get(table) or entity_label(table)


FIELD_LABELS: dict[str, str] = {
    # shared
    "id": "Record id", "created_at": "Created", "updated_at": "Last updated", "is_archived": "Archived",
    "archived_at": "Archived on", "notes": "Notes", "description": "Description", "name": "Name",
    "status": "Status", "is_active": "Active", "email": "Email", "phone": "Phone",
    "client": "Client", "program": "Program", "department": "Department", "staff": "Staff member",
    "subprogram": "Subprogram", "assigned_by": "Assigned by", "assigned_at": "Assigned on",
    # clients
    "first_name": "First name", "middle_name": "Middle name", "last_name": "Last name",
    "preferred_name": "Preferred name", "alias": "Alias / name at birth", "dob": "Date of birth",
    "gender": "Gender", "gender_identity": "Gender identity", "pronoun": "Pronouns",
    "sexual_orientation": "Sexual orientation", "citizenship_status": "Citizenship / immigration status",
    "indigenous_status": "Indigenous status", "country_of_birth": "Country of birth",
    "marital_status": "Marital status", "languages_spoken": "Languages spoken",
    "preferred_language": "Preferred language", "official_language": "Official language (EN/FR)",
    "interpreter_needed": "Interpreter needed", "ethnicity": "Ethnicity", "race": "Race",
    "phone_alt": "Alternate phone", "address_line1": "Address", "address_line2": "Address line 2",
    "city": "City", "province": "Province", "postal_code": "Postal code",
    "permission_to_phone": "May phone", "permission_to_email": "May email",
    "emergency_contact_name": "Emergency contact", "emergency_contact_relationship": "Emergency contact relationship",
    "emergency_contact_phone": "Emergency contact phone", "health_card_number": "Health card number",
    "health_card_version": "Health card version", "health_card_exp_date": "Health card expiry",
    "health_card_issuing_province": "Health card province", "no_health_card_reason": "Reason for no health card",
    "image_url": "Photo URL (before photo uploads)", "photo_file": "Photo", "source_system": "Source system", "uid_external": "External UID",
    "is_inactive": "Inactive", "comments": "Comments", "extended": "Additional information",
    "source_ids": "Source system ids", "source_client_id": "Id in source system",
    # programs
    "location": "Location", "capacity_current": "Capacity", "capacity_effective_date": "Capacity effective from",
    "no_capacity_limit": "No capacity limit", "capacities": "Capacity history", "staff_links": "Staff",
    "subprograms": "Subprograms", "effective_date": "Effective from", "capacity": "Capacity",
    "is_manager": "Manager", "owner": "Owner",
    # services
    "start_date": "Start date", "end_date": "End date", "receiving_services_date": "Receiving services from",
    "intake_date": "Intake date", "referral_source": "Referral source", "housing_status": "Housing status at intake",
    "discharge_date": "Discharge date", "reason": "Reason", "scope": "Scope",
    "restriction_types": "Restriction types", "behaviours": "Behaviours", "is_bill_168": "Bill 168",
    "is_no_trespass": "No trespass", "is_indefinite": "Indefinite", "entered_by": "Entered by",
    "affected_staff": "Affected staff member",
    "override_reason": "Enrolled despite a restriction because", "flagged_for_review": "Flagged for review",
    "restriction_override_reason": "Enroll despite the restriction, because",
    # audit and approvals
    "entity": "Record type", "entity_id": "Record", "action": "Action", "changed_by": "Changed by",
    "actor_name": "System actor", "changed_at": "When", "diff_json": "Changes", "operation": "Operation",
    "base_json": "Values when proposed", "requested_by": "Requested by", "reviewed_by": "Reviewed by",
    "reviewed_at": "Reviewed on", "rationale": "Rationale",
    # duplicates
    "primary_client": "Client", "duplicate_client": "Possible duplicate", "similarity_score": "Similarity",
    "match_type": "Match type", "confidence_level": "Confidence", "match_details": "Match details",
    "detection_source": "Found by", "review_notes": "Review notes", "merged_into": "Merged into",
    "merged_into_id": "Merged into",
    # messaging
    "frequency": "Frequency", "recipient": "Recipient", "recipient_email": "Recipient email",
    "email_type": "Email type", "period_start": "Period from", "period_end": "Period to", "subject": "Subject",
    "attempts": "Attempts", "error_message": "Error", "body_bytes": "Body size (bytes)",
    "attachment_bytes": "Attachments size (bytes)", "sent_at": "Sent", "category": "Category", "title": "Title",
    "message": "Message", "link": "Link", "data": "Details", "is_read": "Read", "read_at": "Read on",
    "notify_new": "Alert on new restrictions", "notify_expiring": "Alert on expiring restrictions",
    "expiring_within_days": "Expiring within (days)", "by_email": "By email", "in_app": "In CCD",
    # matching models
    "trained_at": "Trained", "trained_by": "Trained by", "client_count": "Clients", "seed": "Seed",
    "figures": "Figures", "parameters": "Parameters", "trained_by_staff": "Trained by (staff)",
    # imports
    "file_name": "File", "file_size": "Size (bytes)", "file_type": "Type", "file_sha256": "Content hash",
    "source": "Source system", "total_rows": "Rows", "records_created": "Created", "records_updated": "Updated",
    "records_skipped": "Skipped", "duplicates_flagged": "Duplicates flagged", "errors_count": "Errors",
    "started_at": "Started", "completed_at": "Completed", "duration_seconds": "Duration (s)",
    "error_details": "Error details", "upload_details": "Details", "uploaded_by": "Uploaded by",
    "upload_log": "Import", "row_number": "Row", "cells": "Cells", "details": "Details",
    "date_order": "Date order (for dates like 03/04/2024)", "field": "CCD field", "titles": "Column titles (one per line)",
    "aliases": "Aliases", "import_row": "Imported row",
    "enrollment_start": "Admission date", "discharge_reason": "Discharge reason",
    "incoming_key": "Incoming person", "block_last_key": "Match key (birth year, last name)",
    "block_names_key": "Match key (names)",
    "block_prefix_key": "Match key (name prefixes)",
    # staff
    "user": "Sign-in account", "active": "Active", "roles": "Roles", "role": "Role",
    "last_login_at": "Last sign-in", "password_hash": "Password", "full_name": "Name",
    "failed_sign_ins": "Failed sign-ins in a row", "locked_until": "Locked until",
    # settings
    "list_key": "List", "value": "Value", "sort_order": "Order",
    # client extended fields
    "military_status": "Military status", "refugee_status": "Refugee status", "household_size": "Household size",
    "family_head_client_no": "Family head client no.", "relationship": "Relationship to family head",
    "primary_worker": "Primary worker", "chronically_homeless": "Chronically homeless",
    "num_bednights_current_stay": "Bed nights (current stay)", "length_homeless_3yrs": "Days homeless (last 3 years)",
    "income_source": "Income source", "taxation_year_filed": "Last tax year filed", "status_id": "Status card id",
    "picture_id": "Picture id", "other_id": "Other id", "bnl_consent": "By-name list consent",
    "allergies": "Allergies", "harm_reduction_support": "Harm reduction support",
    "medication_support": "Medication support", "pregnancy_support": "Pregnancy support",
    "mental_health_support": "Mental health support", "physical_health_support": "Physical health support",
    "daily_activities_support": "Daily activities support", "other_health_supports": "Other health supports",
    "cannot_use_stairs": "Cannot use stairs", "limited_mobility": "Limited mobility",
    "wheelchair_accessibility": "Needs wheelchair access",
    "vision_hearing_speech_supports": "Vision / hearing / speech supports", "pet_owner": "Has a pet",
    "legal_support": "Legal support", "immigration_support": "Immigration support",
    "religious_cultural_supports": "Religious / cultural supports", "safety_concerns": "Safety concerns",
    "intimate_partner_violence_support": "Intimate partner violence support",
    "human_trafficking_support": "Human trafficking support", "access_to_housing_no": "Access to Housing no.",
    "access_point_no": "Access Point no.", "lived_last_12_months": "Lived in the last 12 months",
    "reason_for_service": "Reason for service", "room": "Room", "bed": "Bed", "veteran_status": "Veteran status",
    "highest_level_education": "Highest education", "lhin": "LHIN / Ontario Health region",
    "family_doctor": "Family doctor", "primary_diagnosis": "Primary diagnosis",
    "medical_conditions": "Medical conditions",
    # reports
    "age_band": "Age band", "date_from": "From", "date_to": "To", "as_of": "As of",
    "distinct_clients_served": "Distinct clients served", "new_clients": "New clients",
    "continuing_clients": "Continuing clients", "occupied": "Occupied", "vacant": "Vacant",
    "occupancy_pct": "Occupancy %", "over_capacity": "Over capacity",
}

# How report rows that are not option values read: the "no answer" row and the age bands.
NOT_STATED_LABEL = "Unknown / not stated"
AGE_BAND_LABELS: dict[str, str] = {
    "under-18": "Under 18", "18-24": "18–24", "25-34": "25–34", "35-44": "35–44", "45-54": "45–54",
    "55-64": "55–64", "65-plus": "65 and over",
}


def label(field: str) -> str:
    """The label for a field; an unknown field gets a readable fallback, never a raw name."""
    return FIELD_LABELS.get(field) or field.replace("_", " ").capitalize()


def entity_label(table: str) -> str:
    return ENTITY_LABELS.get(table) or table.replace("_", " ").capitalize()


# Codes a person reads as words: restriction scopes, audit actions and the statuses of each kind of record.
CODE_LABELS: dict[str, dict[str, str]] = {
    "scope": {"org": "Organisation-wide", "program": "One program"},
    "audit_action": {
        "create": "Created", "update": "Edited", "delete": "Deleted", "archive": "Archived", "restore": "Restored",
        "import": "Imported", "approve": "Approved", "decline": "Declined", "merge": "Merged", "login": "Signed in",
        "logout": "Signed out", "withdraw": "Withdrawn", "unmerge": "Merge undone", "check": "Restriction check",
        "override": "Enrolled despite a restriction", "review": "Duplicate reviewed",
    },
    "enrollment_status": {"pending": "Pending", "active": "Active", "completed": "Completed",
                          "discharged": "Discharged", "cancelled": "Cancelled"},
    "pending_change_status": {"pending": "Pending", "approved": "Approved", "declined": "Declined",
                              "withdrawn": "Withdrawn"},
    "restriction_status": {"in_force": "In force", "upcoming": "Upcoming", "ended": "Ended",
                           "archived": "Archived"},
}


def code_label(kind: str, code: str | None) -> str:
    """A code as a person reads it; an unknown code reads as its words, never as a raw key."""
    if not code:
        return ""
    return CODE_LABELS.get(kind, {}).get(code) or code.replace("_", " ").capitalize()


# Sections of the client's edit form and record, in the order a person fills them in.
CLIENT_SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Identity", ("first_name", "middle_name", "last_name", "preferred_name", "alias", "dob", "pronoun")),
    ("Demographics", ("gender", "gender_identity", "sexual_orientation", "citizenship_status", "indigenous_status",
                      "country_of_birth", "marital_status", "languages_spoken", "preferred_language",
                      "official_language", "interpreter_needed", "ethnicity", "race")),
    ("Contact", ("phone", "phone_alt", "email", "permission_to_phone", "permission_to_email", "address_line1",
                 "address_line2", "city", "province", "postal_code")),
    ("Health card", ("health_card_number", "health_card_version", "health_card_exp_date",
                     "health_card_issuing_province", "no_health_card_reason")),
    ("Emergency contact", ("emergency_contact_name", "emergency_contact_relationship", "emergency_contact_phone")),
    ("Source system ids", ("uid_external", "source_system", "source_ids")),
    ("Record", ("comments", "is_inactive", "is_archived")),
)


# What a match type code says agreed, for the review screens and the CLI (codes from app/services/matching).
MATCH_TYPE_LABELS: dict[str, str] = {
    "exact_name_dob": "same names and birth date", "name_dob": "similar names, same birth date",
    "swapped_names": "first and last names swapped", "name_only": "similar names, birth date unknown",
    "name_near_dob": "similar names, different birth date", "manual": "added by hand",
}


def match_type_label(code: str | None) -> str:
    if not code:
        return ""
    return MATCH_TYPE_LABELS.get(code) or code.replace("_", " ")
