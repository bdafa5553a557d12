"""Every choice list in CCD, in one place.

Two kinds live here. Fixed vocabularies (restriction scope, statuses, audit actions,
source systems) are part of how the code behaves, so the database checks them and only
a release changes them. Option lists (gender, languages, discharge reasons…) are the
agency's own words: these defaults seed the ``choice_options`` table, and an
administrator extends or retires entries from Settings without a code change.
"""

SOURCE_SYSTEMS = ("SMIS", "EMHware", "FFAI")
INTAKE_DATABASES = ("CCD",) + SOURCE_SYSTEMS
RESTRICTION_SCOPES = ("org", "program")
PROGRAM_STATUSES = ("active", "inactive", "suspended")
ENROLLMENT_STATUSES = ("pending", "active", "completed", "discharged", "cancelled")
PENDING_CHANGE_STATUSES = ("pending", "approved", "declined", "withdrawn")
AUDIT_ACTIONS = (
    "create", "update", "delete", "archive", "restore", "import",
    "approve", "decline", "merge", "login", "logout",
    # Beyond the spec's list: a withdrawn proposal, an undone merge, a door-side
    # restriction check and an enrollment allowed despite a restriction.
    "withdraw", "unmerge", "check", "override",
    # A reviewer's answer to a possible duplicate (same person, new person, not the same, leave it).
    "review",
)
# How a person came to see a client's data (client_access_log.kind), and how each reads.
ACCESS_KIND_NAMES = {
    "details": "Record page", "as_of": "Record as of a past date", "edit_form": "Edit form",
    "drill_down": "Report drill-down list", "export": "Export file", "restriction_check": "Restriction check",
    "emailed_report": "Emailed report",
}
ACCESS_KINDS = tuple(ACCESS_KIND_NAMES)
DUPLICATE_STATUSES = ("pending", "not_duplicate", "merged")
DUPLICATE_CONFIDENCE = ("high", "medium", "low")
REPORT_FREQUENCIES = ("daily", "weekly", "monthly")
# queued: waiting to go out (again); sending: one worker has claimed it; sent; failed after the last try.
EMAIL_STATUSES = ("queued", "sending", "sent", "failed")
EMAIL_TYPE_NAMES = {"report": "Report", "restriction_new": "New restriction alert",
                    "restriction_expiring": "Restriction ending alert",
                    "restriction_enrolled": "Enrolled despite restriction alert"}
EMAIL_TYPES = tuple(EMAIL_TYPE_NAMES)
# What a restriction notification is about: a restriction just entered, one ending soon, or an import
# that recorded an enrollment the restriction would have stopped.
RESTRICTION_EVENTS = ("new", "expiring", "enrolled")
# "skipped": a file whose content was already imported (same SHA-256), reported and not read again.
UPLOAD_STATUSES = ("queued", "running", "success", "partial", "failed", "skipped")
# What became of one staged import row.
IMPORT_ROW_STATUSES = ("staged", "inserted", "updated", "unchanged", "rejected", "review")
# How a source writes dates like 03/04/2024 (ISO dates and Excel dates are never ambiguous).
DATE_ORDERS = ("YMD", "MDY", "DMY")

# Reports: the value that stands for "no answer recorded" in a breakdown, a filter or a
# URL (its label is in app/labels.py), and the age bands, as (key, lowest age, highest
# age or None for "and over"). Bands are counted on the last day of a report's period.
NOT_STATED = "not-stated"
AGE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("under-18", 0, 17), ("18-24", 18, 24), ("25-34", 25, 34), ("35-44", 35, 44),
    ("45-54", 45, 54), ("55-64", 55, 64), ("65-plus", 65, None),
)

# Option lists: key -> default entries. The key is also the field that uses it
# unless OPTION_FIELDS says otherwise.
DEFAULT_OPTIONS: dict[str, list[str]] = {
    "gender": ["Woman", "Man", "Non-binary", "Two-Spirit", "Transgender woman", "Transgender man",
               "Gender diverse", "Prefer not to answer", "Unknown"],
    "pronoun": ["she/her", "he/him", "they/them", "ze/zir", "Prefer not to answer"],
    "sexual_orientation": ["Heterosexual", "Gay", "Lesbian", "Bisexual", "Pansexual", "Asexual",
                           "Queer", "Two-Spirit", "Questioning", "Prefer not to answer", "Unknown"],
    "citizenship_status": ["Canadian citizen", "Permanent resident", "Refugee", "Refugee claimant",
                           "Temporary resident", "Work permit", "Study permit", "Undocumented",
                           "Prefer not to answer", "Unknown"],
    "indigenous_status": ["First Nations", "Métis", "Inuit", "Non-Indigenous", "Prefer not to answer",
                          "Unknown"],
    "language": ["English", "French", "Arabic", "Somali", "Spanish", "Tamil", "Mandarin", "Cantonese",
                 "Punjabi", "Urdu", "Tagalog", "Portuguese", "Farsi", "Tigrinya", "Amharic",
                 "Ojibwe", "Cree", "Other"],
    "official_language": ["English", "French", "Neither"],
    "ethnicity": ["Black – African", "Black – Caribbean", "Black – North American", "East Asian",
                  "South Asian", "Southeast Asian", "Middle Eastern", "Latin American",
                  "Indigenous", "White – European", "White – North American", "Mixed", "Other",
                  "Prefer not to answer"],
    "race": ["Black", "East Asian", "Indigenous", "Latino", "Middle Eastern", "South Asian",
             "Southeast Asian", "White", "Another race category", "Prefer not to answer", "Unknown"],
    "province": ["ON", "QC", "BC", "AB", "MB", "SK", "NS", "NB", "NL", "PE", "YT", "NT", "NU"],
    "referral_source": ["Self", "Self, Family or Friend", "Hospital", "Police", "Shelter",
                        "Community agency", "Court", "Central Intake", "Other"],
    "housing_status": ["Unknown", "Homeless – unsheltered", "Homeless – sheltered", "Precariously housed",
                       "Transitional housing", "Housed"],
    "discharge_reason": ["Completed program", "Moved to permanent housing", "Moved to another program",
                         "Left voluntarily", "Service restriction", "Lost contact", "Hospitalised",
                         "Incarcerated", "Deceased", "Other"],
    "restriction_type": ["General", "Behavioural", "Violence", "Threats", "Theft", "Substance use on site",
                         "Property damage", "Harassment", "Other"],
    "behaviour": ["Verbal aggression", "Physical aggression", "Threatening staff", "Threatening clients",
                  "Weapons", "Drug dealing", "Sexual harassment", "Damage to property", "Theft", "Other"],
    "marital_status": ["Single", "Married", "Common-law", "Separated", "Divorced", "Widowed", "Unknown"],
    # Which discharge reasons the Outcomes report counts as a planned or successful completion.
    "successful_discharge_reason": ["Completed program", "Moved to permanent housing", "Moved to another program"],
}

# Which (table, column) draws its values from which option list. Multi-valued columns
# are JSON lists; the rest hold one value.
OPTION_FIELDS: dict[tuple[str, str], tuple[str, bool]] = {
    ("clients", "gender"): ("gender", False),
    ("clients", "pronoun"): ("pronoun", False),
    ("clients", "sexual_orientation"): ("sexual_orientation", False),
    ("clients", "citizenship_status"): ("citizenship_status", False),
    ("clients", "indigenous_status"): ("indigenous_status", False),
    ("clients", "languages_spoken"): ("language", True),
    ("clients", "preferred_language"): ("language", False),
    ("clients", "official_language"): ("official_language", False),
    ("clients", "ethnicity"): ("ethnicity", True),
    ("clients", "race"): ("race", False),
    ("clients", "province"): ("province", False),
    ("clients", "marital_status"): ("marital_status", False),
    ("intakes", "referral_source"): ("referral_source", False),
    ("client_program_enrollments", "referral_source"): ("referral_source", False),
    ("intakes", "housing_status"): ("housing_status", False),
    ("discharges", "reason"): ("discharge_reason", False),
    ("service_restrictions", "restriction_types"): ("restriction_type", True),
    ("service_restrictions", "behaviours"): ("behaviour", True),
}


def is_multi_valued(table: str, column: str) -> bool:
    """True for a column holding several choices (a JSON list), where their order means nothing."""
    return OPTION_FIELDS.get((table, column), ("", False))[1]
