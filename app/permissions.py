"""The role-rule table: who may list, view, create, edit, delete and export what.

Every screen asks ``grant()`` on every request, and the session guard (app/guard.py)
asks it again for every row a flush would write, so a button that is hidden is also a
request that is refused and a write that never reaches the database.

Keys are table names (one key per table, and every table has exactly one admin screen),
plus one key per page that is not a table: the reports.
"""

from enum import IntEnum, StrEnum
from typing import Iterable


class Role(StrEnum):
    ADMINISTRATOR = "Administrator"
    COORDINATOR = "Coordinator"
    MANAGER = "Manager"
    LEADER = "Leader"
    STAFF = "Staff"
    ANALYST = "Analyst"
    REPORT_VIEWER = "Report viewer"


ROLE_DESCRIPTIONS = {
    Role.ADMINISTRATOR: "Full control, including staff accounts and settings.",
    Role.COORDINATOR: "Client Data Coordinator: edits records directly, approves or declines proposals, runs imports.",
    Role.MANAGER: "Views their programs and proposes changes for approval.",
    Role.LEADER: "Views their departments and proposes changes for approval.",
    Role.STAFF: "Front-line staff: views the clients of their programs.",
    Role.ANALYST: "Reads everything and exports; changes nothing.",
    Role.REPORT_VIEWER: ("Given by an administrator to let someone (usually Staff) open the reports, "
                         "counted over the programs that person sees."),
}


class Action(StrEnum):
    LIST = "list"
    DETAILS = "details"
    CREATE = "create"
    EDIT = "edit"
    DELETE = "delete"
    EXPORT = "export"
    REVIEW = "review"  # approve or decline the proposals in pending_changes


WRITE_ACTIONS = frozenset({Action.CREATE, Action.EDIT, Action.DELETE})


class Grant(IntEnum):
    DENY = 0
    PROPOSE = 1  # may fill in the form; the save becomes a proposal, never a write
    ALLOW = 2


# What each table is, for the purpose of deciding who touches it.
GROUPS: dict[str, tuple[str, ...]] = {
    "records": (
        "clients", "client_source_ids", "client_duplicates", "departments", "programs", "subprograms",
        "program_capacities", "program_staff", "client_program_enrollments", "intakes", "discharges",
        "service_restrictions", "program_aliases",
    ),
    "approvals": ("pending_changes",),
    "reports": ("email_recipients", "email_logs"),
    # The report pages (Organizational Summary, Vacancy Tracker, Data quality, Enrollment history…); LIST opens
    # one, EXPORT downloads it.
    "report_pages": ("org_summary_report", "vacancy_report", "data_quality_report", "enrollment_history_report",
                     "outcomes_report", "program_performance_report", "department_summary_report"),
    "audit": ("audit_logs",),
    # Who looked at whom: the log itself, a client's "Who has looked" tab, and the Access report page.
    "access": ("client_access_log", "access_report"),
    "imports": ("client_upload_logs", "import_rows"),
    # Who works here: read by the people who fill in the records' staff fields (a restriction's
    # affected staff, a department's owner); look-ups of staff answer only them (scope.may_look_up).
    "directory": ("staff",),
    "staff_admin": (
        "users", "roles", "staff_roles", "program_manager_assignments",
        "department_leader_assignments", "staff_program_assignments", "staff_client_assignments",
    ),
    "settings": ("choice_options", "restriction_notification_subscriptions", "notifications",
                 "import_source_settings", "import_column_titles", "linkage_models"),
}
GROUP_OF: dict[str, str] = {key: group for group, keys in GROUPS.items() for key in keys}

# Rows only the system writes (audit trail, access log, send and import logs, proposals made through
# the approval flow): nobody creates, edits or deletes them from a screen.
SYSTEM_WRITTEN = frozenset({"audit_logs", "client_access_log", "email_logs", "client_upload_logs", "import_rows",
                            "notifications", "pending_changes", "linkage_models", "client_search_keys"})
# Rows anyone signed in may write for themselves, whatever their role: table -> the column
# saying whose row it is (the session guard checks it names the person, before and after).
SELF_SERVICE: dict[str, str] = {"restriction_notification_subscriptions": "staff_id"}
# Restrictions keep their 10-year history: archived, never deleted.
NEVER_DELETED = frozenset({"service_restrictions"})
# Rows that decide who sees which clients (app/services/scope.py): a role, or a person tied to a
# program, department or client. Writing any of them is granting visibility (may_grant_visibility).
GRANTS_VISIBILITY = frozenset({"staff_roles", "program_staff", "program_manager_assignments",
                               "department_leader_assignments", "staff_program_assignments",
                               "staff_client_assignments"})
# The screen whose rule says who may grant visibility: the staff program assignments.
VISIBILITY_RULE_KEY = "staff_program_assignments"

_A, _P = Grant.ALLOW, Grant.PROPOSE
READ = {Action.LIST: _A, Action.DETAILS: _A}
READ_EXPORT = READ | {Action.EXPORT: _A}
FULL = {action: _A for action in Action if action is not Action.REVIEW}
PROPOSE = READ | {Action.CREATE: _P, Action.EDIT: _P, Action.DELETE: _P}
# The approvals inbox is for the people who decide; proposers follow theirs under "My requests".
REVIEW = FULL | {Action.REVIEW: _A}

ROLE_RULES: dict[Role, dict[str, dict[Action, Grant]]] = {
    Role.ADMINISTRATOR: {group: REVIEW if group == "approvals" else FULL for group in GROUPS},
    Role.COORDINATOR: {"records": FULL, "approvals": REVIEW, "reports": FULL, "audit": FULL, "imports": FULL,
                       "report_pages": READ_EXPORT, "directory": READ, "access": READ_EXPORT},
    Role.MANAGER: {"records": PROPOSE, "reports": READ, "audit": READ, "report_pages": READ},
    Role.LEADER: {"records": PROPOSE, "reports": READ, "audit": READ, "report_pages": READ},
    # Staff open no report, nor who receives reports and what was sent, unless an administrator also
    # gives them the Report viewer role.
    Role.STAFF: {"records": READ, "audit": READ},
    # Analysts read everything, the approvals queue included, and review nothing.
    Role.ANALYST: {group: READ_EXPORT
                   for group in ("records", "approvals", "reports", "audit", "imports", "report_pages")},
    Role.REPORT_VIEWER: {"report_pages": READ},
}


def grant(role_names: Iterable[str], key: str, action: Action) -> Grant:
    """The strongest grant any of the person's roles gives for ``action`` on table ``key``.

    A write to a table that grants visibility is for those who may grant it, whatever the
    table's group says (a program's staff list sits with the records, but adding a manager
    to it shows them the program's clients)."""
    role_names = frozenset(role_names)
    if action in WRITE_ACTIONS and key in GRANTS_VISIBILITY and not may_grant_visibility(role_names):
        return Grant.DENY
    return _group_grant(role_names, key, action)


def may_grant_visibility(role_names: Iterable[str]) -> bool:
    """The one rule for who may change who sees which clients: whoever may directly create staff
    program assignments. Every table in GRANTS_VISIBILITY follows it, on every screen and flush."""
    return _group_grant(frozenset(role_names), VISIBILITY_RULE_KEY, Action.CREATE) is Grant.ALLOW


def _group_grant(role_names: frozenset[str], key: str, action: Action) -> Grant:
    if action in WRITE_ACTIONS and key in SYSTEM_WRITTEN:
        return Grant.DENY
    if action is Action.DELETE and key in NEVER_DELETED:
        return Grant.DENY
    group = GROUP_OF.get(key)
    if group is None:
        return Grant.DENY
    best = Grant.DENY
    for name in role_names:
        try:
            role = Role(name)
        except ValueError:
            continue
        best = max(best, ROLE_RULES[role].get(group, {}).get(action, Grant.DENY))
    return best


def proposes_changes(role_names: Iterable[str]) -> bool:
    """True when some write of this person becomes a proposal (they follow it under "My requests")."""
    role_names = list(role_names)
    return any(grant(role_names, key, action) is Grant.PROPOSE for key in GROUPS["records"] for action in WRITE_ACTIONS)


# An import writes these records directly, so running one needs direct create and edit rights on each.
IMPORT_WRITES = ("clients", "client_source_ids", "client_duplicates", "client_program_enrollments", "intakes",
                 "discharges")


def may_import(role_names: Iterable[str]) -> bool:
    """Who may run an import: whoever may write every record an import writes, and see import history."""
    role_names = frozenset(role_names)
    return grant(role_names, "client_upload_logs", Action.LIST) is Grant.ALLOW and all(
        grant(role_names, key, action) is Grant.ALLOW for key in IMPORT_WRITES for action in (Action.CREATE,
                                                                                           Action.EDIT))


def may(role_names: Iterable[str], key: str, action: Action) -> bool:
    """True when the person may at least open the screen for ``action`` (allow or propose)."""
    return grant(role_names, key, action) is not Grant.DENY


def may_merge_clients(role_names: Iterable[str]) -> bool:
    """Reviewing duplicates (merge, undo, not a duplicate) rewrites client records directly: a full edit right."""
    roles = list(role_names)
    return all(grant(roles, key, Action.EDIT) is Grant.ALLOW for key in ("clients", "client_duplicates"))


def may_see_who_has_looked(role_names: Iterable[str]) -> bool:
    """Who may see who read a client's record (the record's "Who has looked" tab, the access log and the
    Access report): whoever may list the access log, that is Coordinators and Administrators."""
    return grant(role_names, "client_access_log", Action.LIST) is Grant.ALLOW


# Enrolling a client despite a service restriction in force is a judgement call for the
# people who answer for the records; everyone with a role may ask, at the door, whether a
# person is restricted.
RESTRICTION_OVERRIDE_ROLES = frozenset({Role.ADMINISTRATOR, Role.COORDINATOR})


def may_override_restriction(role_names: Iterable[str]) -> bool:
    return bool(RESTRICTION_OVERRIDE_ROLES & set(role_names))


def may_check_restrictions(role_names: Iterable[str]) -> bool:
    return any(name in Role.__members__.values() for name in role_names)
