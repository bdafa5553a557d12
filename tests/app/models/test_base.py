"""Versioned records (app/models/base.py): what raises a version, and what the UPDATE refuses."""

import pytest
import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from app.extensions import db
from app.models import Client, User
from tests import factories
from tests.conftest import make_staff


def test_an_edit_raises_the_version_by_one_and_a_flush_without_changes_does_not(db_session):
    record = factories.create("clients")
    assert record.version == 1
    record.city = "Kingston"
    db.session.commit()
    assert record.version == 2
    record.city = "Kingston"
    db.session.commit()
    assert record.version == 2


def test_bookkeeping_nobody_edits_leaves_the_version(db_session):
    """A sign-in's time and failed attempts, or a client's match keys, never make an open form stale."""
    user = make_staff("Staff").user
    before = user.version
    user.failed_sign_ins += 1
    db.session.commit()
    assert db.session.get(User, user.id).version == before
    user.set_password("another-password-123")
    db.session.commit()
    assert db.session.get(User, user.id).version == before + 1


def test_an_update_from_an_older_version_is_refused_by_the_database(db_session):
    record = factories.create("clients")
    table = Client.__table__
    db.session.connection().execute(sa.update(table).where(table.c.id == record.id)
                                    .values(version=table.c.version + 1, city="Elsewhere"))
    record.city = "Mine"
    with pytest.raises(StaleDataError):
        db.session.flush()
    db.session.rollback()


def test_every_table_people_edit_is_versioned(app):
    """Only rows the system alone writes (logs, proposals, trained models) go without a version."""
    from app.permissions import SYSTEM_WRITTEN

    unversioned = {mapper.local_table.name for mapper in db.Model.registry.mappers if mapper.version_id_col is None}
    assert unversioned == set(SYSTEM_WRITTEN)
