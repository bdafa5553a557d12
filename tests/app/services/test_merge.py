"""Duplicate review: flags are remembered, a merge moves everything and can be undone exactly."""

import uuid
from datetime import date

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    AuditLog, Client, ClientDuplicate, ClientSourceId, Discharge, Enrollment, Intake, ServiceRestriction,
    StaffClientAssignment,
)
from app.services.merge import (
    MERGE_ENTITY, MergeError, flag_possible_duplicate, get_merge, mark_not_duplicate, merge_clients,
    scan_for_duplicates, undo_merge,
)
from tests import factories


@pytest.fixture
def pair(db_session):
    """Two records of one person, each with a history, and the review item that links them."""
    program = factories.program()
    worker = factories.staff_member()
    survivor = factories.client(first_name="Maria", last_name="Lopez", dob=date(1985, 3, 2), phone="416-555-0101",
                                email=None, languages_spoken=["Spanish"])
    merged = factories.client(first_name="María", last_name="López", dob=date(1985, 3, 2), phone=None,
                              email="maria@example.org", languages_spoken=["Spanish", "English"],
                              extended={"allergies": "peanuts"})
    db.session.add_all([survivor, merged])
    db.session.flush()
    db.session.add_all([
        Enrollment(client=survivor, program=program, start_date=date(2023, 1, 1)),
        Enrollment(client=merged, program=program, start_date=date(2024, 2, 1)),
        Intake(client=merged, program=program, intake_date=date(2024, 2, 1)),
        Discharge(client=merged, program=program, discharge_date=date(2024, 5, 1), reason="Completed program"),
        ServiceRestriction(client=merged, scope="org", start_date=date(2024, 3, 1)),
        ClientSourceId(client=merged, source_system="SMIS", source_client_id="S-100"),
        ClientSourceId(client=survivor, source_system="EMHware", source_client_id="E-7"),
        StaffClientAssignment(client=merged, staff=worker),
    ])
    db.session.commit()
    duplicate = flag_possible_duplicate(db.session, survivor.id, merged.id, 0.93, "name_dob", {"name": 0.93},
                                        source="scan")
    db.session.commit()
    return survivor, merged, duplicate


def children_of(client_id):
    db.session.expire_all()
    return {model.__tablename__: sorted(str(i) for i in db.session.scalars(
        sa.select(model.id).where(model.client_id == client_id)))
        for model in (Enrollment, Intake, Discharge, ServiceRestriction, ClientSourceId, StaffClientAssignment)}


def client_values(client_id):
    db.session.expire_all()
    client = db.session.get(Client, client_id)
    # The version rises with every write, an undo's included: "as it was" means every value people see.
    return {c.key: getattr(client, c.key) for c in sa.inspect(Client).column_attrs
            if c.key not in ("updated_at", "version")}


def test_flagging_stores_one_item_per_pair_in_either_order(pair):
    survivor, merged, duplicate = pair
    assert {duplicate.primary_client_id, duplicate.duplicate_client_id} == {survivor.id, merged.id}
    assert str(duplicate.primary_client_id) < str(duplicate.duplicate_client_id)
    assert duplicate.confidence_level == "high" and duplicate.status == "pending"
    assert flag_possible_duplicate(db.session, merged.id, survivor.id, 0.8, "name_dob") is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ClientDuplicate)) == 1


def test_flagging_refuses_nonsense(db_session):
    client = factories.create("clients")
    other = factories.create("clients")
    with pytest.raises(ValueError):
        flag_possible_duplicate(db.session, client.id, client.id, 0.9, "name_dob")
    with pytest.raises(ValueError):
        flag_possible_duplicate(db.session, client.id, other.id, 1.5, "name_dob")


def test_not_a_duplicate_is_remembered_in_either_order(pair):
    survivor, merged, duplicate = pair
    reviewer = factories.staff_member()
    db.session.add(reviewer)
    db.session.flush()
    mark_not_duplicate(duplicate.id, None, notes="Different people: twins")
    db.session.commit()
    assert duplicate.status == "not_duplicate" and duplicate.review_notes == "Different people: twins"
    assert flag_possible_duplicate(db.session, survivor.id, merged.id, 0.99, "name_dob") is None
    assert flag_possible_duplicate(db.session, merged.id, survivor.id, 0.99, "name_dob") is None
    assert db.session.scalar(sa.select(ClientDuplicate.status)) == "not_duplicate"


def test_merge_moves_children_applies_choices_and_archives_the_merged_record(pair):
    survivor, merged, duplicate = pair
    survivor_children, merged_children = children_of(survivor.id), children_of(merged.id)
    result = merge_clients(survivor.id, merged.id, {"email": "merged", "first_name": "merged",
                                                    "phone": "survivor", "extended": "merged"},
                           None, duplicate_id=duplicate.id)
    db.session.commit()

    after = children_of(survivor.id)
    for table in after:
        assert after[table] == sorted(survivor_children[table] + merged_children[table]), table
    assert all(ids == [] for ids in children_of(merged.id).values())

    kept = client_values(survivor.id)
    assert kept["first_name"] == "María" and kept["last_name"] == "Lopez"
    assert kept["email"] == "maria@example.org" and kept["phone"] == "416-555-0101"
    assert kept["extended"] == {"allergies": "peanuts"} and kept["languages_spoken"] == ["Spanish"]
    gone = db.session.get(Client, merged.id)
    assert gone.is_archived and gone.archived_at is not None and gone.merged_into_id == survivor.id
    assert db.session.get(ClientDuplicate, duplicate.id).status == "merged"
    assert "1 intake," in result.describe() and "1 staff assignment." in result.describe()


def test_merge_writes_exactly_the_right_audit_rows(pair):
    survivor, merged, duplicate = pair
    moved_ids = {i for ids in children_of(merged.id).values() for i in ids}
    started = db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog))
    result = merge_clients(survivor.id, merged.id, {"email": "merged"}, None, duplicate_id=duplicate.id)
    db.session.commit()

    rows = db.session.scalars(sa.select(AuditLog).order_by(AuditLog.changed_at)).all()[started:]
    assert {row.action for row in rows} == {"merge"}
    by_entity = {}
    for row in rows:
        by_entity.setdefault(row.entity, []).append(row)
    child_rows = [r for e, group in by_entity.items() if e not in ("clients", "client_duplicates", MERGE_ENTITY)
                  for r in group]
    assert {str(r.entity_id) for r in child_rows} == moved_ids and len(child_rows) == len(moved_ids)
    assert all(r.diff_json["client_id"] == {"before": str(merged.id), "after": str(survivor.id)}
               for r in child_rows)
    client_rows = {r.entity_id: r.diff_json for r in by_entity["clients"]}
    assert client_rows[survivor.id] == {"email": {"before": None, "after": "maria@example.org"}}
    assert client_rows[merged.id]["merged_into_id"] == {"before": None, "after": str(survivor.id)}
    assert len(by_entity["client_duplicates"]) == 1
    summary, = by_entity[MERGE_ENTITY]
    assert summary.id == result.audit_id and summary.entity_id == merged.id and summary.client_id == survivor.id
    assert summary.diff_json["survivor_before"] == {"email": None}
    assert summary.diff_json["duplicate_id"] == str(duplicate.id)
    assert sorted(i for ids in summary.diff_json["moved"].values() for i in ids) == sorted(moved_ids)


def test_a_merge_and_its_undo_raise_the_versions_of_what_they_write(pair):
    """Edit forms opened before a merge (or its undo) are refused rather than saving over it."""
    survivor, merged, duplicate = pair
    moved = db.session.scalars(sa.select(Enrollment).where(Enrollment.client_id == merged.id)).all()
    before = {row.id: row.version for row in (survivor, merged, duplicate, *moved)}
    result = merge_clients(survivor.id, merged.id, {"email": "merged"}, None, duplicate_id=duplicate.id)
    db.session.commit()
    db.session.expire_all()
    after_merge = {key: db.session.get(type(row), key).version
                   for key, row in zip(before, (survivor, merged, duplicate, *moved))}
    assert all(after_merge[key] == version + 1 for key, version in before.items())

    undo_merge(result.audit_id, None)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Client, survivor.id).version == after_merge[survivor.id] + 1
    assert all(db.session.get(Enrollment, row.id).version == after_merge[row.id] + 1 for row in moved)


def test_undo_restores_both_records_and_every_child_exactly(pair):
    survivor, merged, duplicate = pair
    before = (client_values(survivor.id), client_values(merged.id), children_of(survivor.id), children_of(merged.id))
    duplicate_before = (duplicate.status, duplicate.reviewed_at, duplicate.review_notes)
    result = merge_clients(survivor.id, merged.id, {"email": "merged", "dob": "merged", "extended": "merged",
                                                    "languages_spoken": "merged"},
                           None, duplicate_id=duplicate.id, notes="same person")
    db.session.commit()

    undo_id = undo_merge(result.audit_id, None)
    db.session.commit()

    after = (client_values(survivor.id), client_values(merged.id), children_of(survivor.id), children_of(merged.id))
    assert after == before
    duplicate = db.session.get(ClientDuplicate, duplicate.id)
    assert (duplicate.status, duplicate.reviewed_at, duplicate.review_notes) == duplicate_before
    unmerge = db.session.get(AuditLog, undo_id)
    assert unmerge.action == "unmerge" and unmerge.diff_json["merge_audit_id"] == str(result.audit_id)
    with pytest.raises(MergeError, match="already undone"):
        undo_merge(result.audit_id, None)


def test_undo_is_refused_when_the_survivor_was_edited_after_the_merge(pair):
    survivor, merged, duplicate = pair
    result = merge_clients(survivor.id, merged.id, {"email": "merged"}, None, duplicate_id=duplicate.id)
    db.session.commit()
    db.session.get(Client, survivor.id).email = "corrected@example.org"
    db.session.commit()

    with pytest.raises(MergeError, match="Email"):
        undo_merge(result.audit_id, None)
    db.session.rollback()
    assert db.session.get(Client, merged.id).merged_into_id == survivor.id
    assert children_of(merged.id)["intakes"] == []


def test_undo_is_refused_when_a_moved_child_was_moved_again(pair):
    survivor, merged, duplicate = pair
    result = merge_clients(survivor.id, merged.id, {}, None, duplicate_id=duplicate.id)
    db.session.commit()
    intake_id = get_merge(result.audit_id).diff_json["moved"]["intakes"][0]
    elsewhere = factories.create("clients")
    db.session.get(Intake, uuid.UUID(intake_id)).client_id = elsewhere.id
    db.session.commit()
    with pytest.raises(MergeError, match="intakes were deleted or moved"):
        undo_merge(result.audit_id, None)


def test_a_colliding_staff_assignment_stays_on_the_archived_record_and_undo_still_restores(pair):
    survivor, merged, duplicate = pair
    worker = db.session.scalar(sa.select(StaffClientAssignment).where(
        StaffClientAssignment.client_id == merged.id)).staff
    db.session.add(StaffClientAssignment(client_id=survivor.id, staff=worker))
    db.session.commit()
    before = (children_of(survivor.id), children_of(merged.id))

    result = merge_clients(survivor.id, merged.id, {}, None, duplicate_id=duplicate.id)
    db.session.commit()
    assert len(children_of(survivor.id)["staff_client_assignments"]) == 1
    assert len(children_of(merged.id)["staff_client_assignments"]) == 1
    assert len(result.kept["staff_client_assignments"]) == 1
    assert "stayed on the archived record" in result.describe()

    undo_merge(result.audit_id, None)
    db.session.commit()
    assert (children_of(survivor.id), children_of(merged.id)) == before


def test_both_records_known_to_the_same_source_system_keep_both_ids(pair):
    survivor, merged, duplicate = pair
    db.session.add(ClientSourceId(client_id=survivor.id, source_system="SMIS", source_client_id="S-200"))
    db.session.commit()
    merge_clients(survivor.id, merged.id, {}, None, duplicate_id=duplicate.id)
    db.session.commit()
    smis = db.session.scalars(sa.select(ClientSourceId.source_client_id).where(
        ClientSourceId.client_id == survivor.id, ClientSourceId.source_system == "SMIS")).all()
    assert sorted(smis) == ["S-100", "S-200"]


def test_a_failed_merge_writes_nothing(pair, monkeypatch):
    survivor, merged, duplicate = pair
    before = (client_values(survivor.id), client_values(merged.id), children_of(survivor.id), children_of(merged.id))
    audit_rows = db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog))
    from app.services import merge as merge_module

    def explode(*args, **kwargs):
        raise sa.exc.IntegrityError("INSERT", {}, Exception("uq_client_duplicates_pair"))

    monkeypatch.setattr(merge_module.audit, "record_many", explode)
    with pytest.raises(MergeError, match="Nothing was merged"):
        merge_clients(survivor.id, merged.id, {"email": "merged"}, None, duplicate_id=duplicate.id)
    db.session.commit()
    after = (client_values(survivor.id), client_values(merged.id), children_of(survivor.id), children_of(merged.id))
    assert after == before
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog)) == audit_rows


@pytest.mark.parametrize("choices, message", [
    ({"id": "merged"}, "cannot be chosen"),
    ({"email": "both"}, "Choose 'survivor' or 'merged'"),
])
def test_bad_field_choices_are_refused(pair, choices, message):
    survivor, merged, _ = pair
    with pytest.raises(MergeError, match=message):
        merge_clients(survivor.id, merged.id, choices, None)


def test_a_merged_away_record_cannot_be_merged_or_flagged_again(pair):
    survivor, merged, duplicate = pair
    merge_clients(survivor.id, merged.id, {}, None, duplicate_id=duplicate.id)
    db.session.commit()
    third = factories.create("clients")
    with pytest.raises(MergeError, match="already merged"):
        merge_clients(third.id, merged.id, {}, None)
    assert flag_possible_duplicate(db.session, third.id, merged.id, 0.95, "name_dob") is None
    with pytest.raises(MergeError, match="undo the merge first"):
        mark_not_duplicate(duplicate.id, None)


def test_only_coordinators_and_administrators_review(pair, request_as):
    survivor, merged, duplicate = pair
    manager = request_as("Manager")
    with pytest.raises(MergeError, match="Coordinator or an Administrator"):
        merge_clients(survivor.id, merged.id, {}, manager, duplicate_id=duplicate.id)
    with pytest.raises(MergeError, match="Coordinator or an Administrator"):
        mark_not_duplicate(duplicate.id, manager)


def test_a_coordinator_merges_inside_a_request_including_staff_assignments(pair, request_as):
    survivor, merged, duplicate = pair
    coordinator = request_as("Coordinator")
    result = merge_clients(survivor.id, merged.id, {}, coordinator, duplicate_id=duplicate.id)
    db.session.commit()
    assert children_of(survivor.id)["staff_client_assignments"]
    entry = get_merge(result.audit_id)
    assert entry.changed_by_id == coordinator.id
    assert db.session.get(ClientDuplicate, duplicate.id).reviewed_by_id == coordinator.id


@pytest.fixture
def lookalikes(db_session):
    """Two live records of one person, an unrelated client, and an archived record of the same person."""
    same = dict(last_name="Okonkwo", dob=date(1979, 8, 14))
    jonathan = factories.client(first_name="Jonathan", **same)
    jon = factories.client(first_name="Jon", **same)
    other = factories.client(first_name="Priya", last_name="Raman", dob=date(1992, 2, 29))
    archived = factories.client(first_name="Jonathan", is_archived=True, **same)
    db.session.add_all([jonathan, jon, other, archived])
    db.session.commit()
    return jonathan, jon, other, archived


def pairs():
    return {frozenset((row.primary_client_id, row.duplicate_client_id)): row
            for row in db.session.scalars(sa.select(ClientDuplicate))}


@pytest.mark.parametrize("address,flagged", [("41 Wellesley St E", 1), (None, 0)])
def test_the_scan_weighs_the_clients_addresses(db_session, address, flagged):
    """The scan reads each client's address as an import row's: a shared one brings a mistyped record up."""
    db.session.add_all([
        factories.client(first_name="Agnieszka", last_name="Kowalczyk", dob=date(1948, 9, 13), gender="Woman",
                         city="Toronto", address_line1="41 Wellesley Street East"),
        factories.client(first_name="Agneszka", last_name="Kowalczyk", dob=date(1958, 3, 11), gender="Woman",
                         city="Toronto", address_line1=address)])
    db.session.commit()
    assert scan_for_duplicates(db.session, threshold=0.3).pairs_flagged == flagged


def test_the_scan_flags_live_lookalikes_once(lookalikes):
    jonathan, jon, other, archived = lookalikes
    summary = scan_for_duplicates(db.session, batch_size=2)
    assert summary.clients_scanned == 3 and summary.pairs_flagged == 1
    found = pairs()
    assert set(found) == {frozenset((jonathan.id, jon.id))}
    item = found[frozenset((jonathan.id, jon.id))]
    assert item.detection_source == "scan" and item.status == "pending" and item.match_details["probability"] > 0.75

    assert scan_for_duplicates(db.session).pairs_flagged == 0
    mark_not_duplicate(item.id, None)
    db.session.commit()
    assert scan_for_duplicates(db.session).pairs_flagged == 0
    assert len(pairs()) == 1


def test_the_scan_ignores_merged_away_records(lookalikes):
    jonathan, jon, other, archived = lookalikes
    merge_clients(jonathan.id, jon.id, {}, None)
    db.session.commit()
    assert scan_for_duplicates(db.session).pairs_flagged == 0


def test_the_scan_threshold_decides_what_is_flagged(lookalikes, app, monkeypatch):
    assert scan_for_duplicates(db.session, threshold=1.0).pairs_flagged == 0
    monkeypatch.setitem(app.config, "DUPLICATE_SCAN_THRESHOLD", 1.5)
    with pytest.raises(ValueError, match="DUPLICATE_SCAN_THRESHOLD"):
        scan_for_duplicates(db.session)
