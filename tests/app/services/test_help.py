"""Help pages: every role has its guide, and what a guide says a role may do is what the rules allow."""

from app.permissions import Action, Grant, Role, grant
from app.services import help as help_service


def test_every_role_of_the_rule_table_has_a_guide():
    for role in Role:
        assert help_service.help_file(role).is_file(), f"no help for {role.value}"
        assert str(help_service.role_guide(role)).startswith("<")


def _may(role: Role, screen: str) -> str | None:
    for section in help_service.what_the_role_may_do(role):
        for row in section["screens"]:
            if row["screen"] == screen:
                return row["may"]
    return None


def test_what_a_role_may_do_comes_from_the_rules():
    assert "propose" in _may(Role.MANAGER, "Clients") and "Coordinator approves" in _may(Role.MANAGER, "Clients")
    assert _may(Role.COORDINATOR, "Clients").startswith("open, add, change, delete")
    assert _may(Role.STAFF, "Clients") == "open"
    assert "export" in _may(Role.ANALYST, "Clients") and "change" not in _may(Role.ANALYST, "Clients")
    assert _may(Role.STAFF, "Staff") is None
    for role in Role:
        listed = {row["screen"] for section in help_service.what_the_role_may_do(role) for row in section["screens"]}
        for key in help_service.GROUPS["records"]:
            opens = grant({role.value}, key, Action.LIST) is not Grant.DENY
            assert (help_service.entity_label(key) in listed) == opens, (role, key)


def test_help_for_lists_only_the_roles_held():
    guides = help_service.help_for({"Staff", "Report viewer"})
    assert [guide.role for guide in guides] == [Role.STAFF, Role.REPORT_VIEWER]
