"""A client's record as it was on a past date, rebuilt from the audit trail, and the trail made readable."""

import uuid
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from app import audit
from app.extensions import db
from app.models import AuditLog, Client
from app.services import history
from tests import factories
from tests.conftest import make_staff


def now():
    return datetime.now(timezone.utc)


def saved(row):
    db.session.add(row)
    db.session.commit()
    return row


def test_as_of_returns_the_values_of_that_date_across_several_edits(db_session):
    before_creation = now()
    client = saved(factories.client(first_name="Alex", last_name="Tremblay", dob=date(1980, 5, 17)))
    created = now()
    client.phone, client.city = "416-555-0101", "Toronto"
    db.session.commit()
    first_edit = now()
    client.first_name, client.phone = "Alexandra", "416-555-0202"
    client.languages_spoken = ["English", "French"]
    db.session.commit()
    second_edit = now()

    assert history.client_as_of(client.id, before_creation) is None
    then = history.client_as_of(client.id, created)
    assert (then["first_name"], then["phone"], then["city"], then["languages_spoken"]) == ("Alex", None, None, [])
    then = history.client_as_of(client.id, first_edit)
    assert (then["first_name"], then["phone"], then["city"]) == ("Alex", "416-555-0101", "Toronto")
    then = history.client_as_of(client.id, second_edit)
    assert (then["first_name"], then["phone"], then["languages_spoken"]) == ("Alexandra", "416-555-0202",
                                                                             ["English", "French"])
    # Fields never edited read the same on every date.
    assert {history.client_as_of(client.id, m)["dob"] for m in (created, first_edit, second_edit)} == {"1980-05-17"}
    assert {history.client_as_of(client.id, m)["last_name"] for m in (created, second_edit)} == {"Tremblay"}


def test_a_deleted_client_is_gone_after_its_delete_and_whole_before_it(db_session):
    client = saved(factories.client(first_name="Robin", preferred_name="Rob"))
    client.phone = "613-555-0199"
    db.session.commit()
    before_delete = now()
    client_id = client.id
    db.session.delete(client)
    db.session.commit()

    assert history.client_as_of(client_id, now()) is None
    then = history.client_as_of(client_id, before_delete)
    assert (then["first_name"], then["preferred_name"], then["phone"]) == ("Robin", "Rob", "613-555-0199")
    page = history.client_then(client_id, now())
    assert (page.existed, page.exists_now) == (False, False)


def test_a_client_stored_before_auditing_began_is_rebuilt_from_its_current_values(db_session):
    client_id = uuid.uuid4()
    with audit.bulk_write():  # as a migration from the old system would have left it: no trail at all
        db.session.execute(sa.insert(Client), [{"id": client_id, "first_name": "Sam", "last_name": "Okafor",
                                                "dob": date(1975, 1, 2), "city": "Ottawa"}])
    db.session.commit()
    before_any_edit = now()
    client = db.session.get(Client, client_id)
    client.city = "Kingston"
    db.session.commit()
    client.city = "Toronto"
    client.email = "sam@example.org"
    db.session.commit()

    then = history.client_as_of(client_id, before_any_edit)
    assert (then["first_name"], then["city"], then["email"], then["dob"]) == ("Sam", "Ottawa", None, "1975-01-02")


def test_an_event_row_that_changed_no_field_changes_nothing(db_session):
    client = saved(factories.client(first_name="Kim"))
    audit.record(db.session, "clients", client.id, "check", {"result": "no restriction"}, client_id=client.id)
    client.first_name = "Kimberly"
    db.session.commit()
    assert history.client_as_of(client.id, now() - timedelta(microseconds=1))["first_name"] == "Kimberly"
    row = db.session.scalar(sa.select(AuditLog).where(AuditLog.entity_id == client.id, AuditLog.action == "check"))
    assert history.row_kind(row) == "event"


def test_an_import_that_created_a_record_is_read_as_its_creation(db_session):
    with audit.acting_as("import SMIS"), audit.audit_action("import"):
        client = saved(factories.client())
    created, = db.session.scalars(sa.select(AuditLog).where(AuditLog.entity_id == client.id)).all()
    assert history.row_kind(created) == "create"
    assert history.client_as_of(client.id, created.changed_at - timedelta(microseconds=1)) is None


def test_enrollments_and_restrictions_as_of_that_date(db_session):
    enrollment = factories.create("client_program_enrollments")
    client = enrollment.client
    intake = saved(factories.BUILDERS["intakes"]())
    intake.client = client
    db.session.commit()
    only_open_enrollment = now()
    enrollment.end_date = date(2024, 6, 30)
    enrollment.status = "completed"
    db.session.delete(intake)
    saved(factories.restriction(client=client))
    db.session.commit()

    then = history.client_children_as_of(client.id, only_open_enrollment)
    assert then["client_program_enrollments"][enrollment.id]["end_date"] is None
    assert then["client_program_enrollments"][enrollment.id]["status"] == "active"
    assert then["service_restrictions"] == {}
    assert list(then["intakes"]) == [intake.id]

    today = history.client_children_as_of(client.id, now())
    assert today["client_program_enrollments"][enrollment.id]["end_date"] == "2024-06-30"
    assert len(today["service_restrictions"]) == 1 and today["intakes"] == {}

    page = history.client_then(client.id, only_open_enrollment)
    _label, _columns, enrollments = page.children["client_program_enrollments"]
    assert enrollments[0].state == "changed since" and "End date" in enrollments[0].changed_fields
    assert enrollments[0].values["program_id"] == enrollment.program.name
    assert page.children["intakes"][2][0].state == "removed since"


def test_a_record_moved_to_the_client_later_is_not_theirs_before(db_session):
    enrollment = factories.create("client_program_enrollments")
    other = saved(factories.client())
    before_move = now()
    enrollment.client = other
    db.session.commit()
    assert history.client_children_as_of(other.id, before_move)["client_program_enrollments"] == {}
    assert enrollment.id in history.client_children_as_of(other.id, now())["client_program_enrollments"]


def test_a_record_moved_to_another_client_later_was_still_theirs_before(db_session):
    enrollment = factories.create("client_program_enrollments")
    owner = enrollment.client
    before_changes = now()
    enrollment.notes = "Transferred"
    db.session.commit()
    enrollment.client = saved(factories.client())
    db.session.commit()
    then = history.client_children_as_of(owner.id, before_changes)["client_program_enrollments"][enrollment.id]
    assert (then["notes"], then["start_date"], then["program_id"]) == (None, "2024-01-01", str(enrollment.program_id))
    assert history.client_children_as_of(owner.id, now())["client_program_enrollments"] == {}


def test_the_page_marks_the_fields_that_differ_from_today(db_session):
    client = saved(factories.client(first_name="Alex", city="Toronto"))
    then_moment = now()
    client.city = "Hamilton"
    db.session.commit()
    page = history.client_then(client.id, then_moment)
    city = next(f for f in page.fields if f.field == "city")
    first = next(f for f in page.fields if f.field == "first_name")
    assert (city.label, city.then, city.now, city.differs) == ("City", "Toronto", "Hamilton", True)
    assert (first.then, first.differs) == ("Alex", False)


def test_a_date_means_the_end_of_that_day_in_the_agency_time_zone(app):
    with app.app_context():
        moment = history.parse_moment("2024-03-10")
        local = moment.astimezone(ZoneInfo(app.config["TIMEZONE"]))
        assert (local.date(), local.hour, local.minute) == (date(2024, 3, 10), 23, 59)
        at_noon = history.parse_moment("2024-03-10", "12:30").astimezone(ZoneInfo(app.config["TIMEZONE"]))
        assert (at_noon.hour, at_noon.minute) == (12, 30)
        for bad_day, bad_time in [("10/03/2024", None), ("", None), ("2024-03-10", "noon")]:
            with pytest.raises(ValueError, match="YYYY-MM-DD|HH:MM"):
                history.parse_moment(bad_day, bad_time)


def test_changes_read_with_labels_names_and_hidden_secrets(db_session):
    enrollment = factories.create("client_program_enrollments")
    row = db.session.scalar(sa.select(AuditLog).where(AuditLog.entity_id == enrollment.id))
    changes = {c.field: c for c in history.readable_changes([row])[row.id]}
    assert changes["program_id"].label == "Program" and changes["program_id"].after == enrollment.program.name
    assert changes["start_date"].label == "Start date" and changes["start_date"].after == "2024-01-01"
    assert changes["is_archived"].after == "No"
    assert "id" not in changes and "notes" not in changes  # the key and empty fields add nothing

    staff = make_staff("Staff")
    staff.user.set_password("another-password-9")
    db.session.commit()
    row = db.session.scalars(sa.select(AuditLog).where(AuditLog.entity_id == staff.user.id)
                             .order_by(AuditLog.changed_at.desc())).first()
    password, = history.readable_changes([row])[row.id]
    assert (password.label, password.hidden, password.after) == ("Password", True, history.HIDDEN_VALUE)


def test_additional_information_is_shown_field_by_field(db_session):
    client = saved(factories.client(extended={"allergies": "Peanuts"}))
    client.extended = {"allergies": "Peanuts, shellfish", "pet_owner": True}
    db.session.commit()
    row = db.session.scalars(sa.select(AuditLog).where(AuditLog.entity_id == client.id)
                             .order_by(AuditLog.changed_at.desc())).first()
    changes = {c.label: (c.before, c.after) for c in history.readable_changes([row])[row.id]}
    assert changes == {"Additional information: Allergies": ("Peanuts", "Peanuts, shellfish"),
                       "Additional information: Has a pet": ("", "Yes")}
    assert history.change_summary(row) == "Additional information"


def test_summary_names_the_changed_fields(db_session):
    client = saved(factories.client())
    client.first_name, client.phone, client.city, client.email, client.comments, client.pronoun = (
        "Jo", "1", "Ottawa", "jo@example.org", "Moved", "they/them")
    db.session.commit()
    created, updated = db.session.scalars(sa.select(AuditLog).where(AuditLog.entity_id == client.id)
                                          .order_by(AuditLog.changed_at)).all()
    assert history.change_summary(created) == "New record"
    assert history.change_summary(updated).endswith("and 2 more")
    assert history.change_summary(updated).startswith("First name")


def test_restricted_roles_read_only_the_trail_of_their_own_clients(request_as):
    from app.models import ProgramManagerAssignment

    mine = factories.create("client_program_enrollments")
    other = factories.create("client_program_enrollments")
    manager = make_staff("Manager")
    saved(ProgramManagerAssignment(staff=manager, program=mine.program))
    visible = set(db.session.scalars(sa.select(AuditLog.client_id).where(history.visible_rows(manager))))
    assert mine.client_id in visible and other.client_id not in visible
    staff_rows = db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog).where(
        history.visible_rows(manager), AuditLog.entity.in_(["staff", "users"])))
    assert staff_rows == 0
    admin = make_staff("Administrator")
    assert other.client_id in set(db.session.scalars(sa.select(AuditLog.client_id)
                                                     .where(history.visible_rows(admin))))


def test_client_history_pages_newest_first(request_as):
    viewer = request_as("Coordinator")
    client = saved(factories.client())
    for n in range(5):
        client.phone = f"416-555-010{n}"
        db.session.commit()
    first = history.client_history(client.id, viewer, page=1, page_size=4)
    second = history.client_history(client.id, viewer, page=2, page_size=4)
    assert (first.total, first.pages, first.has_next, second.has_previous) == (6, 2, True, True)
    phones = [entry.changes[0].after for entry in first.entries]
    assert phones == ["416-555-0104", "416-555-0103", "416-555-0102", "416-555-0101"]
    assert [e.row.action for e in second.entries] == ["update", "create"]
    assert history.client_history(client.id, viewer, page=99, page_size=4).page == 2


def test_the_page_says_why_a_client_is_missing_on_that_date(db_session):
    before_creation = now()
    client = saved(factories.client())
    client_id = client.id
    assert history.client_then(client_id, before_creation).absence.startswith("It had not been created yet")
    db.session.delete(client)
    db.session.commit()
    assert history.client_then(client_id, now()).absence.startswith("It had been removed")
    assert history.client_then(uuid.uuid4(), now()).absence == "CCD holds no record of it at that moment."


def test_a_records_rows_are_found_whatever_its_entity_and_only_its_own(db_session):
    """about_record reaches the rows through the (entity, entity_id) index: the same rows as entity_id alone."""
    enrollment = factories.create("client_program_enrollments")
    client = saved(factories.client())
    client.phone = "416-555-0199"
    db.session.commit()
    audit.record(db.session, "client_merges", client.id, "merge", {"note": "an event about the same id"})
    audit.record(db.session, "users", None, "login")
    db.session.commit()

    entities = set(db.session.scalars(history.trail_entities()))
    assert entities == set(db.session.scalars(sa.select(AuditLog.entity).distinct()))
    assert {"clients", "client_program_enrollments", "client_merges", "users"} <= entities
    for record_id in (client.id, enrollment.id, enrollment.client_id, uuid.uuid4()):
        by_index = set(db.session.scalars(sa.select(AuditLog.id).where(history.about_record(record_id))))
        by_column = set(db.session.scalars(sa.select(AuditLog.id).where(AuditLog.entity_id == record_id)))
        assert by_index == by_column
    assert {row.entity for row in db.session.scalars(
        sa.select(AuditLog).where(history.about_record(client.id)))} == {"clients", "client_merges"}
