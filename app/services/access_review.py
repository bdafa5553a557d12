"""Reading the access log: the Access report (per staff member and period) and the nightly check for unusual access.

Both read the log as ``access_log.client_reads``, one row per read and client shown, so an
export's listed clients count exactly like clients opened one by one.

The report counts, per reader, the reads in a period of agency days, the distinct clients
they were shown and the reads of each kind; for one reader it also lists every read. The
page, its CSV/XLSX exports and ``ccd report access`` write the same sections
(app/services/report_export.py).

The nightly check flags a person who, on one agency day, was shown far more clients than
their usual (more than ``SPIKE_FACTOR`` times the median of their active days in the 30
days before, and more than ``SPIKE_MINIMUM``), or any client outside what they may see
(their programs and assigned clients, app/services/scope.py), by any path. Each flag
becomes an in-app notification to every active administrator, once per person and day.
"""

from __future__ import annotations

import statistics
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.choices import ACCESS_KIND_NAMES, ACCESS_KINDS
from app.extensions import db
from app.models import Client, ClientAccess, Notification, Role, Staff, StaffRole
from app.services import access_log
from app.permissions import Role as RoleName
from app.services.clock import day_bounds_utc
from app.services.history import local_time
from app.services.reports import ReportError
from app.services.scope import sees_everything, visible_client_ids

# A day is unusual past this many times the person's median day, and past this many clients.
SPIKE_FACTOR = 3
SPIKE_MINIMUM = 50
BASELINE_DAYS = 30
CATEGORY = "access_alert"
NO_STAFF = "(no staff account)"
REPORT_PATH = "/admin/reports/access/"


# -- the report ---------------------------------------------------------------------------
def _period(reads, date_from: date, date_to: date):
    if date_to < date_from:
        raise ReportError("The period ends before it starts: give a To date on or after the From date.")
    start, end = day_bounds_utc(date_from, date_to)
    return sa.and_(reads.c.accessed_at >= start, reads.c.accessed_at < end)


def _parse_staff(staff_id) -> uuid.UUID | None:
    if staff_id in (None, ""):
        return None
    try:
        key = staff_id if isinstance(staff_id, uuid.UUID) else uuid.UUID(str(staff_id))
    except ValueError:
        raise ReportError(f"Staff member: {staff_id!r} is not a staff id.") from None
    if db.session.get(Staff, key) is None:
        raise ReportError("Staff member: no staff member has that id.")
    return key


def access_report(date_from: date, date_to: date, staff_id=None) -> dict:
    """Reads per reader in the period (agency days, both ends included); with ``staff_id``, that
    person's reads one by one as well. Plain JSON values only, as every report (``ccd report … --format json``)."""
    reads = access_log.client_reads()
    in_period = _period(reads, date_from, date_to)
    staff_key = _parse_staff(staff_id)
    kind_counts = [sa.func.count().filter(reads.c.kind == kind).label(kind) for kind in ACCESS_KINDS]
    query = (sa.select(reads.c.staff_id, Staff.first_name, Staff.last_name, sa.func.count().label("reads"),
                       sa.func.count(sa.distinct(reads.c.client_id)).label("clients"), *kind_counts)
             .outerjoin(Staff, Staff.id == reads.c.staff_id).where(in_period)
             .group_by(reads.c.staff_id, Staff.first_name, Staff.last_name))
    if staff_key is not None:
        query = query.where(reads.c.staff_id == staff_key)
    readers = [{"staff_id": str(row.staff_id) if row.staff_id else None,
                "name": f"{row.first_name} {row.last_name}" if row.staff_id else NO_STAFF,
                "reads": row.reads, "clients": row.clients,
                "kinds": {kind: row._mapping[kind] for kind in ACCESS_KINDS}}
               for row in db.session.execute(query)]
    readers.sort(key=lambda r: (-r["reads"], r["name"]))
    reads_one_by_one = None
    if staff_key is not None:
        reads_one_by_one = [
            {"when": local_time(row.accessed_at), "kind": ACCESS_KIND_NAMES[row.kind],
             "client": f"{row.last_name}, {row.first_name}" if row.last_name else str(row.client_id),
             "client_id": str(row.client_id), "address": row.address, "path": row.path, "detail": row.detail}
            for row in db.session.execute(
                sa.select(reads.c.accessed_at, reads.c.kind, reads.c.client_id, reads.c.address, reads.c.path,
                          reads.c.detail, Client.first_name, Client.last_name)
                .outerjoin(Client, Client.id == reads.c.client_id)
                .where(in_period, reads.c.staff_id == staff_key)
                .order_by(reads.c.accessed_at, reads.c.access_id, reads.c.client_id))]
    staff = db.session.get(Staff, staff_key) if staff_key is not None else None
    return {"report": "access", "date_from": date_from.isoformat(), "date_to": date_to.isoformat(),
            "staff": {"id": str(staff.id), "name": staff.full_name} if staff is not None else None,
            "readers": readers, "reads": reads_one_by_one,
            "totals": {"reads": sum(r["reads"] for r in readers),
                       "clients": db.session.scalar(
                           sa.select(sa.func.count(sa.distinct(reads.c.client_id))).where(
                               in_period, *([reads.c.staff_id == staff_key] if staff_key else [])))}}


def staff_choices() -> list[tuple[str, str]]:
    """Everyone who has ever read a client's data, by name (the report's "Staff member" choice)."""
    readers = sa.select(ClientAccess.staff_id).where(ClientAccess.staff_id.is_not(None)).distinct()
    rows = db.session.execute(sa.select(Staff.id, Staff.first_name, Staff.last_name)
                              .where(Staff.id.in_(readers)).order_by(Staff.last_name, Staff.first_name))
    return [(str(row.id), f"{row.last_name}, {row.first_name}") for row in rows]


# -- the nightly check ----------------------------------------------------------------------
@dataclass
class Flag:
    """One person's unusual day."""

    staff_id: uuid.UUID
    name: str
    day: date
    clients: int
    usual: float | None = None
    outside_scope: int = 0
    reasons: list[str] = field(default_factory=list)


@dataclass
class CheckRun:
    day: date
    flags: list[Flag] = field(default_factory=list)
    notices: int = 0

    def describe(self) -> str:
        if not self.flags:
            return f"Access on {self.day.isoformat()}: nothing unusual."
        people = "; ".join(f"{flag.name}: {', '.join(flag.reasons)}" for flag in self.flags)
        return f"Access on {self.day.isoformat()}: {len(self.flags)} unusual ({people}); {self.notices} notice(s)."


def daily_clients(day: date, days_before: int = BASELINE_DAYS) -> dict[uuid.UUID, dict[int, int]]:
    """Distinct clients each staff member was shown per agency day, from ``days_before`` days before
    ``day`` to ``day`` itself: {staff id: {days before ``day`` (0 = that day): clients}}."""
    first = day - timedelta(days=days_before)
    start, end = day_bounds_utc(first, day)
    bounds = [day_bounds_utc(first + timedelta(days=n), first + timedelta(days=n))[1] for n in range(days_before + 1)]
    reads = access_log.client_reads()
    offset = sa.case(*[(reads.c.accessed_at < bound, days_before - n) for n, bound in enumerate(bounds)])
    rows = db.session.execute(
        sa.select(reads.c.staff_id, offset.label("offset"), sa.func.count(sa.distinct(reads.c.client_id)))
        .where(reads.c.accessed_at >= start, reads.c.accessed_at < end, reads.c.staff_id.is_not(None))
        .group_by(reads.c.staff_id, offset))
    found: dict[uuid.UUID, dict[int, int]] = {}
    for staff_id, days_ago, clients in rows:
        found.setdefault(staff_id, {})[days_ago] = clients
    return found


def _outside_scope(staff: Staff, day: date) -> int:
    """Clients ``staff`` was shown on ``day`` that they may not see (0 for the roles that see everyone)."""
    visible = visible_client_ids(staff)
    if visible is None:
        return 0
    start, end = day_bounds_utc(day, day)
    reads = access_log.client_reads()
    return db.session.scalar(
        sa.select(sa.func.count(sa.distinct(reads.c.client_id)))
        .where(reads.c.staff_id == staff.id, reads.c.accessed_at >= start, reads.c.accessed_at < end,
               reads.c.client_id.not_in(visible)))


def unusual_access(day: date) -> list[Flag]:
    """The people whose reads on ``day`` were unusual, with why."""
    per_day = daily_clients(day)
    flags = []
    for staff_id, days in per_day.items():
        today = days.get(0, 0)
        if not today:
            continue
        staff = db.session.get(Staff, staff_id)
        before = [count for days_ago, count in days.items() if days_ago > 0]
        usual = statistics.median(before) if before else None
        flag = Flag(staff_id, staff.full_name, day, today, usual)
        if today > SPIKE_MINIMUM and today > SPIKE_FACTOR * (usual or 0):
            flag.reasons.append(f"{today} clients, against a usual day of {usual:g}" if usual is not None
                                else f"{today} clients, with no reads in the {BASELINE_DAYS} days before")
        if not sees_everything(staff):
            flag.outside_scope = _outside_scope(staff, day)
            if flag.outside_scope:
                flag.reasons.append(f"{flag.outside_scope} client(s) outside their programs")
        if flag.reasons:
            flags.append(flag)
    return sorted(flags, key=lambda f: f.name)


def administrators() -> list[Staff]:
    return list(db.session.scalars(
        sa.select(Staff).join(StaffRole, StaffRole.staff_id == Staff.id).join(Role, Role.id == StaffRole.role_id)
        .where(Role.name == RoleName.ADMINISTRATOR.value, Staff.active.is_(True)).order_by(Staff.last_name)))


def report_link(flag: Flag) -> str:
    return f"{REPORT_PATH}?date_from={flag.day.isoformat()}&date_to={flag.day.isoformat()}&staff={flag.staff_id}"


def _notify(admin: Staff, flag: Flag) -> bool:
    """One in-app notice per administrator, person and day; False when it was already there."""
    link = report_link(flag)
    exists = db.session.scalar(sa.select(Notification.id).where(
        Notification.staff_id == admin.id, Notification.category == CATEGORY, Notification.link == link).limit(1))
    if exists is not None:
        return False
    notice = Notification(staff_id=admin.id, category=CATEGORY,
                          title=f"Unusual access: {flag.name} on {flag.day.isoformat()}"[:255],
                          message="\n".join(flag.reasons), link=link,
                          data={"staff_id": str(flag.staff_id), "day": flag.day.isoformat(), "clients": flag.clients,
                                "outside_scope": flag.outside_scope})
    try:
        with db.session.begin_nested():
            db.session.add(notice)
    except IntegrityError:
        return False
    return True


def check_access(day: date) -> CheckRun:
    """Flag the day's unusual access and tell every administrator (the caller commits)."""
    run = CheckRun(day, unusual_access(day))
    admins = administrators()
    for flag in run.flags:
        run.notices += sum(1 for admin in admins if _notify(admin, flag))
    return run
