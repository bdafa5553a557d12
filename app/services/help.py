"""The Help pages: what each role is for, in the agency's words, and what it may do, from the rules.

The prose lives in Markdown files beside the templates (templates/help/<role>.md), so the
people who train staff can change it without touching code. What a role may open, change
or export is not written there: it is read from the role-rule table (app/permissions.py),
so the help can never promise a right the server refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import markdown
from markupsafe import Markup

from app.labels import entity_label
from app.permissions import GROUPS, ROLE_DESCRIPTIONS, SYSTEM_WRITTEN, Action, Grant, Role, grant

HELP_DIR = Path(__file__).resolve().parents[2] / "templates" / "help"

# The screens a role's help lists, by group, in the sidebar's words.
GROUP_TITLES = {
    "records": "Clients, programs and services", "approvals": "Approvals", "reports": "Report emails",
    "report_pages": "Reports", "audit": "Audit log", "access": "Who looked at whom", "imports": "Imports",
    "directory": "Staff directory", "staff_admin": "Staff and accounts", "settings": "Settings",
}


class HelpMissing(LookupError):
    """A role has no help file: every role the rule table knows must have one."""


def help_file(role: Role) -> Path:
    return HELP_DIR / f"{role.value.lower().replace(' ', '-')}.md"


@lru_cache(maxsize=None)
def _rendered(path: Path, modified: float) -> Markup:
    """Markdown to HTML, once per file version (the files are the repository's own, not user input)."""
    return Markup(markdown.markdown(path.read_text(encoding="utf-8"), extensions=["tables", "sane_lists"]))


def role_guide(role: Role) -> Markup:
    path = help_file(role)
    if not path.is_file():
        raise HelpMissing(f"There is no help for the {role.value} role ({path.name} is missing).")
    return _rendered(path, path.stat().st_mtime)


def what_the_role_may_do(role: Role) -> list[dict]:
    """Per group of screens: the screens this role opens, and in words what it may do on each."""
    sections = []
    for group, keys in GROUPS.items():
        screens = []
        for key in keys:
            words = _ability_words({role.value}, key)
            if words:
                screens.append({"screen": entity_label(key), "may": words})
        if screens:
            sections.append({"title": GROUP_TITLES.get(group, group), "screens": screens})
    return sections


def _ability_words(role_names: set[str], key: str) -> str | None:
    grants = {action: grant(role_names, key, action) for action in Action}
    if grants[Action.LIST] is Grant.DENY:
        return None
    writes = [action for action in (Action.CREATE, Action.EDIT, Action.DELETE) if grants[action] is not Grant.DENY]
    proposes = any(grants[action] is Grant.PROPOSE for action in writes)
    parts = ["open"]
    if writes:
        verbs = ", ".join({"create": "add", "edit": "change", "delete": "delete"}[a.value] for a in writes)
        parts.append(f"propose to {verbs} (a Coordinator approves)" if proposes else verbs)
    elif key in SYSTEM_WRITTEN:
        parts.append("read (written by the system only)")
    if grants[Action.EXPORT] is Grant.ALLOW:
        parts.append("export")
    if grants[Action.REVIEW] is Grant.ALLOW:
        parts.append("approve or decline")
    return ", ".join(parts)


@dataclass(frozen=True)
class RoleHelp:
    role: Role
    description: str
    guide: Markup
    abilities: list[dict]


def help_for(role_names) -> list[RoleHelp]:
    """The help of each role the person holds, in the rule table's order."""
    held = set(role_names)
    return [RoleHelp(role, ROLE_DESCRIPTIONS[role], role_guide(role), what_the_role_may_do(role))
            for role in Role if role.value in held]
