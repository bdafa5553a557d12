"""All CCD tables, imported here so metadata, migrations and the admin see every one."""

from functools import cache

from app.extensions import db
from app.models.access import ClientAccess
from app.models.audit import AuditLog, PendingChange
from app.models.clients import EXTENDED_FIELDS, Client, ClientDuplicate, ClientSourceId
from app.models.imports import ClientUploadLog, ImportColumnTitle, ImportRow, ImportSourceSetting
from app.models.matching import LinkageModelRecord
from app.models.messaging import EmailLog, EmailRecipient, Notification, RestrictionNotificationSubscription
from app.models.options import ChoiceOption
from app.models.org import Department, Program, ProgramAlias, ProgramCapacity, SubProgram
from app.models.people import (
    DepartmentLeaderAssignment, ProgramManagerAssignment, ProgramStaff, Role, Staff,
    StaffClientAssignment, StaffProgramAssignment, StaffRole, User,
)
from app.models.search import ClientSearchKey
from app.models.services import Discharge, Enrollment, Intake, ServiceRestriction


@cache
def model_of_table(table: str):
    """The mapped class of a table name, or None when no model maps it (an audit row about an event).
    Remembered: the trail and the approvals ask it for every row they show, and mappings never change."""
    for mapper in db.Model.registry.mappers:
        if getattr(mapper.class_, "__tablename__", None) == table:
            return mapper.class_
    return None


__all__ = [
    "AuditLog", "ChoiceOption", "Client", "ClientAccess", "ClientDuplicate", "ClientSearchKey", "ClientSourceId",
    "ClientUploadLog",
    "Department", "DepartmentLeaderAssignment", "Discharge", "EXTENDED_FIELDS", "EmailLog",
    "EmailRecipient", "Enrollment", "ImportColumnTitle", "ImportRow", "ImportSourceSetting", "Intake",
    "LinkageModelRecord", "Notification", "PendingChange", "Program", "ProgramAlias", "ProgramCapacity",
    "ProgramManagerAssignment",
    "ProgramStaff", "RestrictionNotificationSubscription", "Role", "ServiceRestriction", "Staff",
    "StaffClientAssignment", "StaffProgramAssignment", "StaffRole", "SubProgram", "User", "model_of_table",
]
