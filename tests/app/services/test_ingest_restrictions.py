"""Imports meet service restrictions: what the source system did is recorded, flagged, audited and announced."""

from datetime import date

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditLog, ClientUploadLog, Enrollment, Notification, RestrictionNotificationSubscription
from app.services.ingest import import_file
from tests import factories
from tests.app.services.test_ingest_importer import EMH_HEADER, client_with_id, emh_row, write
from tests.conftest import make_staff


@pytest.fixture
def program(db_session):
    return factories.create("programs")


@pytest.fixture
def restricted(program):
    """A client known to EMHware as CLI1, under an org-wide restriction since 2024-01-01."""
    client = client_with_id("EMHware", "CLI1", first_name="Marie", last_name="Tremblay", dob=date(1980, 2, 3))
    restriction = factories.restriction(client=client, scope="org", start_date=date(2024, 1, 1), is_bill_168=True)
    db.session.add(restriction)
    db.session.commit()
    return client, restriction


def subscribe(staff):
    db.session.add(RestrictionNotificationSubscription(staff_id=staff.id, by_email=False, in_app=True))
    db.session.commit()


def enrolled_notices(staff):
    return db.session.scalars(sa.select(Notification).where(Notification.staff_id == staff.id,
                                                            Notification.event == "enrolled")).all()


def enrollments_of(client):
    return db.session.scalars(sa.select(Enrollment).where(Enrollment.client_id == client.id)
                              .order_by(Enrollment.start_date)).all()


def test_an_imported_enrollment_of_a_restricted_client_is_written_flagged_audited_and_counted(tmp_path, program,
                                                                                              restricted):
    client, restriction = restricted
    path = write(tmp_path, [EMH_HEADER, emh_row("CLI1", "Tremblay", "Marie", program.name, "1980-02-03"),
                            emh_row("CLI2", "Nguyen", "Bao", program.name, "1975-06-30")])

    summary = import_file(path, "EMHware")

    (enrollment,) = enrollments_of(client)
    assert enrollment.flagged_for_review and enrollment.override_reason == f"Recorded by EMHware import of {path.name}"
    (override,) = db.session.scalars(sa.select(AuditLog).where(AuditLog.entity_id == enrollment.id,
                                                               AuditLog.action == "override")).all()
    assert override.client_id == client.id and override.diff_json["flagged_for_review"] is True
    assert override.diff_json["restrictions"] == [
        {"id": str(restriction.id), "summary": "an organisation-wide restriction from 2024-01-01 with no end date "
                                               "(Bill 168)"}]
    unrestricted = db.session.scalar(sa.select(Enrollment).where(Enrollment.client_id != client.id))
    assert not unrestricted.flagged_for_review and unrestricted.override_reason is None
    assert (summary.enrollments, summary.enrollments_flagged) == (2, 1)
    assert "flagged for review because a service restriction is in force: 1" in "\n".join(summary.lines())
    assert db.session.get(ClientUploadLog, summary.upload_log_id).upload_details["enrollments_flagged"] == 1


def test_an_enrollment_before_the_restriction_began_is_not_flagged(tmp_path, program, restricted):
    client, _ = restricted
    summary = import_file(write(tmp_path, [EMH_HEADER, emh_row("CLI1", "Tremblay", "Marie", program.name,
                                                               "1980-02-03", admitted="2023-12-31")]), "EMHware")
    (enrollment,) = enrollments_of(client)
    assert not enrollment.flagged_for_review and summary.enrollments_flagged == 0


def test_subscribers_who_may_see_the_client_are_told_once_even_when_imports_repeat(tmp_path, program, restricted):
    client, restriction = restricted
    coordinator, outsider = make_staff("Coordinator"), make_staff("Staff")
    subscribe(coordinator)
    subscribe(outsider)
    first_day = [EMH_HEADER, emh_row("CLI1", "Tremblay", "Marie", program.name, "1980-02-03")]

    import_file(write(tmp_path, first_day), "EMHware")
    import_file(write(tmp_path, first_day), "EMHware")
    import_file(write(tmp_path, first_day + [emh_row("CLI1", "Tremblay", "Marie", program.name, "1980-02-03",
                                                     admitted="2024-06-01")]), "EMHware")

    assert [e.flagged_for_review for e in enrollments_of(client)] == [True, True]
    (notice,) = enrolled_notices(coordinator)
    assert notice.restriction_id == restriction.id and "Tremblay" in notice.title and "flagged" in notice.title
    assert enrolled_notices(outsider) == []
