"""The role-rule table: who may list, view, create, edit, delete and export what.

Every screen asks ``grant()`` on every request, and the session guard (app/guard.py)
asks it again for every row a flush would write, so a button that is hidden is also a
request that is refused and a write that never reaches the database.

Keys are table names: one key per table, and every table has exactly one admin screen.
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


ROLE_DESCRIPTIONS = {
    Role.ADMINISTRATOR: "Full control, including staff accounts and settings.",
    Role.COORDINATOR: "Client Data Coordinator: edits records directly, approves or declines proposals, runs imports.",
    Role.MANAGER: "Views their programs and proposes changes for approval.",
    Role.LEADER: "Views their departments and proposes changes for approval.",
    Role.STAFF: "Front-line staff: views the clients of their programs.",
    Role.ANALYST: "Reads everything and exports; changes nothing.",
}


class Action(StrEnum):
    LIST = "list"
    DETAILS = "details"
    CREATE = "create"
    EDIT = "edit"
    DELETE = "delete"
    EXPORT = "export"


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
        "service_restrictions",
    ),
    "approvals": ("pending_changes",),
    "reports": ("email_recipients", "email_logs"),
    "audit": ("audit_logs",),
    "imports": ("client_upload_logs",),
    "staff_admin": (
        "staff", "users", "roles", "staff_roles", "program_manager_assignments",
        "department_leader_assignments", "staff_program_assignments", "staff_client_assignments",
    ),
    "settings": ("choice_options", "restriction_notification_subscriptions", "notifications"),
}
GROUP_OF: dict[str, str] = {key: group for group, keys in GROUPS.items() for key in keys}

# Rows only the system writes (audit trail, send and import logs, proposals made through
# the approval flow): nobody creates, edits or deletes them from a screen.
SYSTEM_WRITTEN = frozenset({"audit_logs", "email_logs", "client_upload_logs", "notifications", "pending_changes"})
# Restrictions keep their 10-year history: archived, never deleted.
NEVER_DELETED = frozenset({"service_restrictions"})

_A, _P = Grant.ALLOW, Grant.PROPOSE
READ = {Action.LIST: _A, Action.DETAILS: _A}
READ_EXPORT = READ | {Action.EXPORT: _A}
FULL = {action: _A for action in Action}
PROPOSE = READ | {Action.CREATE: _P, Action.EDIT: _P, Action.DELETE: _P}

ROLE_RULES: dict[Role, dict[str, dict[Action, Grant]]] = {
    Role.ADMINISTRATOR: {group: FULL for group in GROUPS},
    Role.COORDINATOR: {"records": FULL, "approvals": FULL, "reports": FULL, "audit": FULL, "imports": FULL},
    Role.MANAGER: {"records": PROPOSE, "approvals": READ, "reports": READ, "audit": READ},
    Role.LEADER: {"records": PROPOSE, "approvals": READ, "reports": READ, "audit": READ},
    Role.STAFF: {"records": READ, "approvals": READ, "reports": READ, "audit": READ},
    Role.ANALYST: {group: READ_EXPORT for group in ("records", "approvals", "reports", "audit", "imports")},
}


def grant(role_names: Iterable[str], key: str, action: Action) -> Grant:
    """The strongest grant any of the person's roles gives for ``action`` on table ``key``."""
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


def may(role_names: Iterable[str], key: str, action: Action) -> bool:
    """True when the person may at least open the screen for ``action`` (allow or propose)."""
    return grant(role_names, key, action) is not Grant.DENY


# Enrolling a client despite a service restriction in force is a judgement call for the
# people who answer for the records; everyone with a role may ask, at the door, whether a
# person is restricted.
RESTRICTION_OVERRIDE_ROLES = frozenset({Role.ADMINISTRATOR, Role.COORDINATOR})


def may_override_restriction(role_names: Iterable[str]) -> bool:
    return bool(RESTRICTION_OVERRIDE_ROLES & set(role_names))


def may_check_restrictions(role_names: Iterable[str]) -> bool:
    return any(name in Role.__members__.values() for name in role_names)
