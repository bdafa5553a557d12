"""A person's in-app notifications: the bell's count, the list, marking read.

Every query is limited to the signed-in person's own rows, so one person can neither see
nor mark another's notifications, whatever ids a form sends.
"""

import uuid

import sqlalchemy as sa

from app.extensions import db
from app.models import Notification
from app.services.clock import utc_now

PAGE_SIZE = 25


def _own(staff_id):
    return Notification.staff_id == staff_id


def unread_count(staff_id) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Notification)
                             .where(_own(staff_id), Notification.is_read.is_(False)))


def page_of(staff_id, page: int = 1) -> tuple[list[Notification], int]:
    """(the page's notifications, newest first; how many there are in all)."""
    page = max(page, 1)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(_own(staff_id)))
    rows = db.session.scalars(
        sa.select(Notification).where(_own(staff_id))
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).all()
    return rows, total


def _as_uuids(raw_ids) -> list[uuid.UUID]:
    ids = []
    for raw in raw_ids:
        try:
            ids.append(uuid.UUID(str(raw)))
        except ValueError:
            continue
    return ids


def mark_read(staff_id, raw_ids) -> int:
    """Mark these of the person's notifications read; ids of anyone else's are ignored. The caller commits."""
    ids = _as_uuids(raw_ids)
    if not ids:
        return 0
    return db.session.execute(
        sa.update(Notification).where(_own(staff_id), Notification.id.in_(ids), Notification.is_read.is_(False))
        .values(is_read=True, read_at=utc_now()).execution_options(synchronize_session=False)
    ).rowcount


def mark_all_read(staff_id) -> int:
    return db.session.execute(
        sa.update(Notification).where(_own(staff_id), Notification.is_read.is_(False))
        .values(is_read=True, read_at=utc_now()).execution_options(synchronize_session=False)
    ).rowcount
