"""One valid, committed row of any table, with whatever it depends on."""

import uuid
from datetime import date, datetime, timedelta, timezone

from app.extensions import db
from app.permissions import Action, may
from app.services.scope import sees_everything
from app.models import (
    AuditLog, ChoiceOption, Client, ClientAccess, ClientDuplicate, ClientSourceId, ClientUploadLog, Department,
    DepartmentLeaderAssignment, Discharge, EmailLog, EmailRecipient, Enrollment, ImportColumnTitle, ImportRow,
    ImportSourceSetting, Intake, LinkageModelRecord, Notification,
    PendingChange, Program, ProgramAlias, ProgramCapacity, ProgramManagerAssignment, ProgramStaff,
    RestrictionNotificationSubscription, Role, ServiceRestriction, Staff, StaffClientAssignment,
    StaffProgramAssignment, StaffRole, SubProgram, User,
)


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def department(**kw):
    kw.setdefault("name", unique("Department"))
    return Department(**kw)


def program(**kw):
    kw.setdefault("department", department())
    kw.setdefault("name", unique("Program"))
    kw.setdefault("location", "100 Queen St W")
    kw.setdefault("capacity_current", 20)
    return Program(**kw)


def staff_member(**kw):
    kw.setdefault("first_name", "Sam")
    kw.setdefault("last_name", unique("Staffer"))
    kw.setdefault("email", f"{uuid.uuid4().hex[:10]}@staff.example")
    return Staff(**kw)


def client(**kw):
    kw.setdefault("first_name", "Alex")
    kw.setdefault("last_name", unique("Client"))
    kw.setdefault("dob", date(1980, 5, 17))
    return Client(**kw)


def client_row(**kw):
    """A committed client (for rows that name a client by id only)."""
    row = client(**kw)
    db.session.add(row)
    db.session.flush()
    return row


def enrollment(**kw):
    kw.setdefault("client", client())
    kw.setdefault("program", program())
    kw.setdefault("start_date", date(2024, 1, 1))
    return Enrollment(**kw)


def restriction(**kw):
    kw.setdefault("client", client())
    kw.setdefault("scope", "org")
    kw.setdefault("start_date", date.today() - timedelta(days=10))
    return ServiceRestriction(**kw)


def unused_source() -> str:
    """A source system with no import settings yet (there are only three)."""
    import sqlalchemy as sa

    from app.choices import SOURCE_SYSTEMS

    used = set(db.session.scalars(sa.select(ImportSourceSetting.source_system)))
    return next(source for source in SOURCE_SYSTEMS if source not in used)


def unused_column_field() -> tuple[str, str]:
    """A (source, field) pair with no administrator's titles yet."""
    import sqlalchemy as sa

    from app.choices import SOURCE_SYSTEMS
    from app.services.ingest.column_maps import IMPORT_FIELDS

    used = {tuple(row) for row in db.session.execute(sa.select(ImportColumnTitle.source_system,
                                                                ImportColumnTitle.field))}
    return next((s, f) for s in SOURCE_SYSTEMS for f in IMPORT_FIELDS if (s, f) not in used)


def column_title(**kw):
    source, field = unused_column_field()
    kw.setdefault("source_system", source)
    kw.setdefault("field", field)
    kw.setdefault("titles", "Some Title")
    return ImportColumnTitle(**kw)


def user_account():
    account = User()
    account.set_password("factory-password-1")
    account.staff = staff_member()
    return account


BUILDERS = {
    "departments": department,
    "programs": program,
    "subprograms": lambda: SubProgram(program=program(), name=unique("Sub")),
    "program_capacities": lambda: ProgramCapacity(program=program(), effective_date=date(2024, 4, 1), capacity=30),
    "program_staff": lambda: ProgramStaff(program=program(), staff=staff_member(), is_manager=True),
    "clients": client,
    "client_source_ids": lambda: ClientSourceId(client=client(), source_system="SMIS",
                                                source_client_id=uuid.uuid4().hex[:8]),
    "client_duplicates": lambda: ClientDuplicate(primary_client=client(), duplicate_client=client(),
                                                 similarity_score=0.91, match_type="name_dob",
                                                 confidence_level="medium"),
    "client_program_enrollments": enrollment,
    "intakes": lambda: Intake(client=client(), program=program(), intake_date=date(2024, 1, 1)),
    "discharges": lambda: Discharge(client=client(), program=program(), discharge_date=date(2024, 3, 1),
                                    reason="Completed program"),
    "service_restrictions": restriction,
    "client_access_log": lambda: ClientAccess(kind="details", client_id=client_row().id, actor_name="test"),
    "audit_logs": lambda: AuditLog(entity="clients", entity_id=uuid.uuid4(), action="update",
                                   actor_name="test", diff_json={"first_name": ["A", "B"]}),
    "pending_changes": lambda: PendingChange(entity="clients", entity_id=uuid.uuid4(), operation="update",
                                             diff_json={"first_name": "B"}, requested_by=staff_member()),
    "email_recipients": lambda: EmailRecipient(name="Reports", email=f"{uuid.uuid4().hex[:8]}@reports.example"),
    "email_logs": lambda: EmailLog(recipient_email="r@reports.example", subject="Daily report", status="sent"),
    "client_upload_logs": lambda: ClientUploadLog(file_name="export.csv", file_size=10, file_type="csv",
                                                  source="SMIS", status="success"),
    "staff": staff_member,
    "users": user_account,
    "roles": lambda: Role(name=unique("Role")),
    "staff_roles": lambda: StaffRole(staff=staff_member(), role=Role(name=unique("Role"))),
    "program_manager_assignments": lambda: ProgramManagerAssignment(staff=staff_member(), program=program()),
    "department_leader_assignments": lambda: DepartmentLeaderAssignment(staff=staff_member(),
                                                                        department=department()),
    "staff_program_assignments": lambda: StaffProgramAssignment(staff=staff_member(), program=program()),
    "staff_client_assignments": lambda: StaffClientAssignment(staff=staff_member(), client=client()),
    "choice_options": lambda: ChoiceOption(list_key="gender", value=unique("Gender")),
    "restriction_notification_subscriptions": lambda: RestrictionNotificationSubscription(staff=staff_member()),
    "notifications": lambda: Notification(staff=staff_member(), title="New restriction", message="Details"),
    "import_rows": lambda: ImportRow(upload_log=ClientUploadLog(file_name="export.csv", file_size=10, file_type="csv",
                                                                source="EMHware", status="partial"),
                                     row_number=2, cells=["CLI1", "Doe"], status="rejected", reason="Bad date"),
    "import_source_settings": lambda: ImportSourceSetting(source_system=unused_source(), date_order="DMY"),
    "import_column_titles": column_title,
    "program_aliases": lambda: ProgramAlias(program=program(), alias=unique("Alias")),
    "linkage_models": lambda: LinkageModelRecord(trained_at=datetime(2026, 11, 29, 3, 30, tzinfo=timezone.utc),
                                                 trained_by="task ccd.train_matcher", seed=0, client_count=0,
                                                 parameters={}, figures={}),
}


def create(table: str, visible_to: Staff | None = None):
    """A committed row of ``table`` (committing only releases the test's savepoint).

    With ``visible_to``, the row is also brought into that person's scope (see make_visible).
    """
    if visible_to is not None and table in VISIBLE_BUILDERS and not sees_everything(visible_to):
        row = VISIBLE_BUILDERS[table](visible_to)
    else:
        row = BUILDERS[table]()
    db.session.add(row)
    if visible_to is not None:
        make_visible(visible_to, row)
    db.session.commit()
    return row


def make_visible_to(staff) -> None:
    """Put every program and client of the test's database within a Manager's or Leader's scope.

    Managers get every program, Leaders every department; clients with no enrollment are
    enrolled in a program, so the scope rule (app/services/scope.py) lets them see all.
    """
    import sqlalchemy as sa

    roles = staff.role_names
    programs = db.session.scalars(sa.select(Program)).all() or [create("programs")]
    managed = set(db.session.scalars(sa.select(ProgramManagerAssignment.program_id)
                                     .where(ProgramManagerAssignment.staff_id == staff.id)))
    led = set(db.session.scalars(sa.select(DepartmentLeaderAssignment.department_id)
                                 .where(DepartmentLeaderAssignment.staff_id == staff.id)))
    for program in programs:
        if "Manager" in roles and program.id not in managed:
            db.session.add(ProgramManagerAssignment(staff=staff, program=program))
        if "Leader" in roles and program.department_id not in led:
            db.session.add(DepartmentLeaderAssignment(staff=staff, department=program.department))
            led.add(program.department_id)
    enrolled = sa.select(Enrollment.client_id)
    for lone in db.session.scalars(sa.select(Client).where(Client.id.not_in(enrolled))):
        db.session.add(Enrollment(client=lone, program=programs[0], start_date=date(2024, 1, 1)))
    db.session.commit()


# -- scope: what a Manager, Leader or Staff member is tied to -------------------------------
def give_program(staff: Staff, program: Program) -> None:
    """Tie ``staff`` to ``program`` the way their role is tied: managing it, leading its department, working in it."""
    roles = staff.role_names
    db.session.add(program)
    if "Manager" in roles:
        db.session.add(ProgramManagerAssignment(staff=staff, program=program))
    if "Leader" in roles:
        db.session.add(DepartmentLeaderAssignment(staff=staff, department=program.department))
    if "Staff" in roles:
        db.session.add(StaffProgramAssignment(staff=staff, program=program))


def enroll_visible(staff: Staff, someone: Client) -> None:
    """Make a client visible to ``staff``: enrolled (in the past) in a program of theirs."""
    home = program()
    give_program(staff, home)
    db.session.add(Enrollment(client=someone, program=home, start_date=date(2020, 1, 1),
                              end_date=date(2020, 2, 1), status="completed"))


def make_visible(staff: Staff, row) -> None:
    """Bring ``row`` into ``staff``'s scope through the clients, programs or department it belongs to.

    Rows of screens the person cannot open at all are left as they are.
    """
    if sees_everything(staff) or not may(staff.role_names, row.__tablename__, Action.LIST):
        return
    if isinstance(row, Client):
        enroll_visible(staff, row)
    elif isinstance(row, ClientDuplicate):
        enroll_visible(staff, row.primary_client)
        enroll_visible(staff, row.duplicate_client)
    elif isinstance(row, Program):
        give_program(staff, row)
    elif isinstance(row, Department):
        give_program(staff, program(department=row))
    elif isinstance(row, DepartmentLeaderAssignment):
        give_program(staff, program(department=row.department))
    elif isinstance(row, (Notification, RestrictionNotificationSubscription)):
        row.staff = staff
    else:
        if getattr(row, "client", None) is not None:
            enroll_visible(staff, row.client)
        if getattr(row, "program", None) is not None:
            give_program(staff, row.program)


def _visible_client(staff: Staff) -> Client:
    someone = client()
    db.session.add(someone)
    enroll_visible(staff, someone)
    db.session.flush()
    return someone


VISIBLE_BUILDERS = {
    # Log rows cannot be changed once written, so they are written about a visible client from the start.
    "audit_logs": lambda staff: (lambda c: AuditLog(entity="clients", entity_id=c.id, client_id=c.id,
                                                    action="update", actor_name="test",
                                                    diff_json={"first_name": ["A", "B"]}))(_visible_client(staff)),
    "pending_changes": lambda staff: PendingChange(entity="clients", entity_id=_visible_client(staff).id,
                                                   operation="update", diff_json={"first_name": "B"},
                                                   requested_by=staff_member()),
}


# -- an imported row held for review ------------------------------------------------------------
EMHWARE_HEADERS = ["ID", "Last Name", "First Name", "Program", "DOB", "Gender", "City", "Admission Date"]


def held_row(*, source_id: str = "CLI8", first_name: str = "Jonn", last_name: str = "Okafor",
             dob: str = "1992-03-03", candidates=(("Jon", 0.91), ("John", 0.88)), evidence=None):
    """An EMHware row held for review beside existing clients, built as an import leaves it (the row, its
    log with the file's columns, one pending item per candidate), so the test does not depend on where
    the matcher's thresholds fall. Returns (row, [(candidate client, item)], program)."""
    from app.services.ingest import column_maps

    where = program()
    log = ClientUploadLog(file_name="receiving-services.csv", file_size=100, file_type="csv", source="EMHware",
                          status="partial")
    columns = column_maps.column_map_for(db.session, "EMHware").resolve(EMHWARE_HEADERS).describe()
    log.upload_details = {"headers": EMHWARE_HEADERS, "columns": columns, "date_order": "YMD"}
    row = ImportRow(upload_log=log, row_number=2, status="review", reason="Possible duplicate: too close to call",
                    cells=[source_id, last_name, first_name, where.name, dob, "Male", "Toronto", "2024-01-15"])
    db.session.add_all([where, row])
    db.session.flush()
    pairs = []
    for first, score in candidates:
        candidate = client(first_name=first, last_name=last_name, dob=date.fromisoformat(dob))
        db.session.add(candidate)
        db.session.flush()
        details = {"reason": "too close to call", "probability": score, "match_type": "name_dob"}
        if evidence is not None:
            details["evidence"] = evidence
        item = ClientDuplicate(primary_client_id=candidate.id, import_row_id=row.id,
                               incoming_key=f"EMHware:{source_id}", similarity_score=score, match_type="name_dob",
                               confidence_level="medium", detection_source="import", status="pending",
                               match_details=details)
        db.session.add(item)
        pairs.append((candidate, item))
    db.session.commit()
    return row, pairs, where
