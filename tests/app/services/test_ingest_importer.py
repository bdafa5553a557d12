"""Importing a file: matching, writing, rejects, idempotence, batches, dry runs and the audit trail."""

import re
import uuid
from datetime import date

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    AuditLog, Client, ClientDuplicate, ClientSourceId, ClientUploadLog, Discharge, Enrollment, ImportColumnTitle,
    ImportRow, ImportSourceSetting, Intake, ProgramAlias,
)
from app.services.ingest import import_file
from app.services.ingest.write import Batch
from app.services.ingest.rejects import rejects_rows
from tests import factories

EMH_HEADER = ("ID,Last Name,First Name,Program,DOB,Age,Gender,City,Sub-program,Worker,Level of Support,"
              "Admission Date,Days Elapsed,Location/County,Referral Source")


def emh_row(uid, last, first, program, dob, admitted="2024-01-15", gender="", city="Toronto"):
    return (f'{uid},{last},{first},"{program}",{dob},40,{gender},{city},,,,{admitted},10,Toronto,'
            '"Self,  Family or Friend"')


def write(tmp_path, lines, name="export.csv", encoding="utf-8"):
    path = tmp_path / f"{uuid.uuid4().hex[:6]}-{name}"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def count(model, *where):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


@pytest.fixture
def program(db_session):
    return factories.create("programs")


def client_with_id(source, source_id, **kw):
    client = factories.client(**kw)
    client.source_ids = [ClientSourceId(source_system=source, source_client_id=source_id)]
    db.session.add(client)
    db.session.commit()
    return client


def test_new_clients_and_enrollments_are_written_and_summarised(tmp_path, program):
    path = write(tmp_path, [EMH_HEADER,
                            emh_row("CLI1", "Tremblay", "Marie", program.name, "1980-02-03", gender="Female"),
                            emh_row("CLI2", "Nguyen", "Bao", program.name, "1975-06-30")])
    summary = import_file(path, "EMHware")
    assert (summary.status, summary.rows_read, summary.inserted, summary.enrollments) == ("success", 2, 2, 2)
    marie = db.session.scalar(sa.select(Client).where(Client.last_name == "Tremblay"))
    assert marie.dob == date(1980, 2, 3) and marie.gender == "Woman" and marie.source_system == "EMHware"
    assert [(s.source_system, s.source_client_id) for s in marie.source_ids] == [("EMHware", "CLI1")]
    enrollment = db.session.scalar(sa.select(Enrollment).where(Enrollment.client_id == marie.id))
    assert (enrollment.program_id, enrollment.start_date, enrollment.status) == (program.id, date(2024, 1, 15),
                                                                                  "active")
    log = db.session.get(ClientUploadLog, summary.upload_log_id)
    assert (log.status, log.records_created, log.total_rows) == ("success", 2, 2) and len(log.file_sha256) == 64
    assert count(ImportRow, ImportRow.upload_log_id == log.id) == 0, "written rows are not kept"


def test_reimporting_the_same_file_creates_nothing_new(tmp_path, program):
    lines = [EMH_HEADER, emh_row("CLI1", "Tremblay", "Marie", program.name, "1980-02-03"),
             emh_row("CLI1", "Tremblay", "Marie", program.name, "1980-02-03", admitted="2023-05-01")]
    first = import_file(write(tmp_path, lines), "EMHware")
    totals = [count(m) for m in (Client, ClientSourceId, Enrollment, Intake, Discharge)]
    second = import_file(write(tmp_path, lines), "EMHware")
    assert (first.inserted, first.rows_new, first.unchanged, first.enrollments) == (1, 2, 0, 2)
    assert (second.inserted, second.updated, second.unchanged, second.enrollments) == (0, 0, 1, 0)
    assert (second.rows_matched_by_id, second.clients_matched_by_id) == (2, 1)
    assert [count(m) for m in (Client, ClientSourceId, Enrollment, Intake, Discharge)] == totals


def test_history_extract_writes_intakes_and_discharges_once_and_closes_the_enrollment(tmp_path, program):
    client = client_with_id("EMHware", "CLI9", first_name="Ana", last_name="Silva")
    header = "Client ID,Program,Receiving Services Date,Discharge Date,Screening Result Date,Reason"
    open_row = f"CLI9,{program.name},2024-01-10,,2024-01-02,"
    closed_row = f"CLI9,{program.name},2024-01-10,2024-03-01,2024-01-02,Moved to permanent housing"
    import_file(write(tmp_path, [header, open_row]), "EMHware")
    summary = import_file(write(tmp_path, [header, closed_row]), "EMHware")
    import_file(write(tmp_path, [header, closed_row]), "EMHware")
    enrollment = db.session.scalar(sa.select(Enrollment).where(Enrollment.client_id == client.id))
    assert (enrollment.end_date, enrollment.status) == (date(2024, 3, 1), "discharged")
    assert count(Enrollment, Enrollment.client_id == client.id) == 1
    assert count(Intake, Intake.client_id == client.id) == 1
    discharge = db.session.scalar(sa.select(Discharge).where(Discharge.client_id == client.id))
    assert discharge.reason == "Moved to permanent housing" and summary.discharges == 1


def test_same_source_id_matches_even_when_the_name_differs(tmp_path, program):
    client = client_with_id("EMHware", "CLI7", first_name="Robert", last_name="Smith", dob=date(1970, 1, 1))
    summary = import_file(write(tmp_path, [EMH_HEADER, emh_row("CLI7", "Smyth", "Bob", program.name, "")]), "EMHware")
    assert summary.inserted == 0
    assert count(Enrollment, Enrollment.client_id == client.id) == 1
    db.session.refresh(client)
    assert (client.first_name, client.last_name) == ("Robert", "Smith"), "an import never renames a client"


def test_ids_of_another_source_never_match(tmp_path, program):
    smis_client = client_with_id("SMIS", "12345", first_name="Kwame", last_name="Mensah", dob=date(1990, 4, 4))
    path = write(tmp_path, [EMH_HEADER, emh_row("12345", "Osei", "Akua", program.name, "1985-09-09")])
    summary = import_file(path, "EMHware")
    assert summary.inserted == 1
    assert count(Enrollment, Enrollment.client_id == smis_client.id) == 0
    assert count(ClientSourceId, ClientSourceId.source_client_id == "12345") == 2


def test_fuzzy_match_with_swapped_names_and_accents_updates_the_existing_client(tmp_path, program):
    client = factories.create("clients")
    client.first_name, client.last_name, client.dob = "Émilie", "Côté-Lévesque", date(1988, 7, 21)
    db.session.commit()
    path = write(tmp_path, [EMH_HEADER, emh_row("CLI5", "EMILIE", "COTE LEVESQUE", program.name, "1988-07-21")])
    summary = import_file(path, "EMHware")
    assert (summary.inserted, summary.possible_duplicates) == (0, 0)
    assert count(ClientSourceId, ClientSourceId.client_id == client.id, ClientSourceId.source_client_id == "CLI5") == 1
    assert count(Enrollment, Enrollment.client_id == client.id) == 1


def test_a_close_call_is_not_written_but_held_for_review(tmp_path, program):
    twin_a = factories.create("clients")
    twin_a.first_name, twin_a.last_name, twin_a.dob = "Jon", "Okafor", date(1992, 3, 3)
    twin_b = factories.create("clients")
    twin_b.first_name, twin_b.last_name, twin_b.dob = "John", "Okafor", date(1992, 3, 3)
    db.session.commit()
    clients_before = count(Client)
    path = write(tmp_path, [EMH_HEADER, emh_row("CLI8", "Okafor", "Jonn", program.name, "1992-03-03"),
                            emh_row("CLI3", "Brown", "Lee", program.name, "1960-01-01")])
    summary = import_file(path, "EMHware")
    assert (summary.possible_duplicates, summary.inserted) == (1, 1)
    assert count(Client) == clients_before + 1, "only the clear newcomer is written"
    items = db.session.scalars(sa.select(ClientDuplicate).where(ClientDuplicate.incoming_key == "EMHware:CLI8")).all()
    assert {item.primary_client_id for item in items} == {twin_a.id, twin_b.id}
    assert all(item.status == "pending" and item.import_row is not None and item.duplicate_client_id is None
               for item in items)
    header, *lines = rejects_rows(db.session.get(ClientUploadLog, summary.upload_log_id))
    assert header[:3] == ["Row", "Reason", "Possible matches"] and "ID" in header
    assert len(lines) == 1 and lines[0][0] == 2 and "CLI8" in lines[0]
    assert lines[0][1].startswith("Held for review: ")
    assert re.search(r"\bJon Okafor \(born 1992-03-03, match probability [01]\.\d\d, client id ", lines[0][2])
    assert re.search(r"\bJohn Okafor \(born 1992-03-03, match probability [01]\.\d\d, client id ", lines[0][2])
    assert (summary.rejected, summary.people_held) == (0, 1), "a held row is not a rejected row"

    again = import_file(path, "EMHware")
    assert again.possible_duplicates == 1
    assert count(ClientDuplicate, ClientDuplicate.incoming_key == "EMHware:CLI8") == 2, "not flagged twice"


def test_a_pair_marked_not_duplicate_is_not_proposed_again(tmp_path, program):
    existing = factories.create("clients")
    existing.first_name, existing.last_name, existing.dob = "Jon", "Okafor", date(1992, 3, 3)
    db.session.commit()
    path = write(tmp_path, [EMH_HEADER, emh_row("CLI8", "Okafor", "Jane", program.name, "1992-03-03")])
    import_file(path, "EMHware")
    item = db.session.scalar(sa.select(ClientDuplicate).where(ClientDuplicate.incoming_key == "EMHware:CLI8"))
    assert item is not None
    item.status = "not_duplicate"
    db.session.commit()
    summary = import_file(path, "EMHware")
    assert (summary.inserted, summary.possible_duplicates) == (1, 0)


def test_shared_phone_and_email_alone_never_match(tmp_path, program):
    factories.create("clients")
    mother = factories.client(first_name="Amina", last_name="Hassan", dob=date(1970, 1, 1), phone="416-555-0101",
                              email="family@example.org")
    db.session.add(mother)
    db.session.commit()
    header = "first_name,last_name,dob,phone,email"
    path = write(tmp_path, [header, "Yusuf,Ali,2005-05-05,416-555-0101,family@example.org"])
    summary = import_file(path, "FFAI")
    assert (summary.inserted, summary.possible_duplicates) == (1, 0)


def test_bad_rows_are_rejected_with_reasons_and_the_others_continue(tmp_path, program):
    future = date.today().replace(year=date.today().year + 1).isoformat()
    header = "Client ID,Last Name,First Name,DOB,Program,Receiving Services Date,Discharge Date"
    path = write(tmp_path, [
        header,
        f"A1,Good,One,1980-01-01,{program.name},2024-01-01,",
        f"A2,Bad,Date,1980-02-30,{program.name},2024-01-01,",
        f"A3,End,Before,1980-01-01,{program.name},2024-05-01,2024-04-01",
        f"A4,Future,Discharge,1980-01-01,{program.name},2024-01-01,{future}",
        "A5,Unknown,Program,1980-01-01,No Such Program,2024-01-01,",
        f"A6,Good,Two,1981-01-01,{program.name},2024-01-01,",
    ])
    summary = import_file(path, "EMHware")
    assert (summary.inserted, summary.rejected, summary.status) == (2, 4, "partial")
    reasons = {row[0]: row[1] for row in list(rejects_rows(db.session.get(ClientUploadLog, summary.upload_log_id)))[1:]}
    assert "not a real date" in reasons[3]
    assert "before the admission date" in reasons[4]
    assert "in the future" in reasons[5]
    assert "Unknown program 'No Such Program'" in reasons[6]


def test_programs_by_exact_name_or_configured_alias_only(tmp_path, program):
    db.session.add(ProgramAlias(program=program, alias="1Housing - 145 Queen"))
    db.session.commit()
    cell = "1housing - 145 queen\n" + program.name.upper()
    path = write(tmp_path, [EMH_HEADER, emh_row("CLI1", "Ali", "Sara", cell, "1999-09-09"),
                            emh_row("CLI2", "Ali", "Omar", program.name + " Extra", "1998-09-09")])
    summary = import_file(path, "EMHware")
    assert (summary.inserted, summary.rejected) == (1, 1)
    assert count(Enrollment, Enrollment.program_id == program.id) == 1, "one program named twice: one enrollment"


def test_smis_report_for_one_program(tmp_path, program):
    client = client_with_id("SMIS", "556677", first_name="Lee", last_name="Chan")
    path = write(tmp_path, ["Client No. ,Admission Date,Discharge Date", "556677,03/04/2024,"])
    refused = import_file(path, "SMIS")
    assert refused.status == "failed" and "no Program column" in refused.error
    db.session.add(ImportSourceSetting(source_system="SMIS", date_order="DMY"))
    db.session.commit()
    summary = import_file(path, "SMIS", program_name=program.name)
    enrollment = db.session.scalar(sa.select(Enrollment).where(Enrollment.client_id == client.id))
    assert summary.status == "success" and enrollment.start_date == date(2024, 4, 3)


def test_a_file_missing_required_columns_is_refused_whole_naming_them(tmp_path, program):
    path = write(tmp_path, ["Last Name,First Name,DOB", "Doe,Jane,1980-01-01"])
    summary = import_file(path, "SMIS")
    assert summary.status == "failed"
    assert "missing required columns: source_client_id" in summary.error and '"Client No."' in summary.error
    assert '"Last Name", "First Name", "DOB"' in summary.error
    assert count(Client, Client.last_name == "Doe") == 0


def test_administrator_column_titles_replace_the_defaults(tmp_path, program):
    db.session.add(ImportColumnTitle(source_system="SMIS", field="source_client_id", titles="Client Number\nClient #"))
    db.session.commit()
    path = write(tmp_path, ["client number,Last Name,First Name,DOB", "9,Doe,Jane,1980-01-01"])
    assert import_file(path, "SMIS").inserted == 1


def test_ambiguous_slash_dates_are_rejected_until_the_order_is_set(tmp_path, program):
    path = write(tmp_path, ["first_name,last_name,dob", "Jane,Roe,03/04/1980", "John,Roe,25/04/1980"])
    summary = import_file(path, "FFAI")
    assert (summary.inserted, summary.rejected) == (1, 1)
    reason = list(rejects_rows(db.session.get(ClientUploadLog, summary.upload_log_id)))[1][1]
    assert "day-first or month-first" in reason


def test_dry_run_writes_nothing(tmp_path, program):
    totals = [count(m) for m in (Client, ClientSourceId, Enrollment, ClientDuplicate, AuditLog)]
    path = write(tmp_path, [EMH_HEADER, emh_row("CLI1", "Tremblay", "Marie", program.name, "1980-02-03"),
                            emh_row("CLI1", "Tremblay", "Marie", program.name, "1980-02-03", admitted="2023-01-01")])
    summary = import_file(path, "EMHware", dry_run=True)
    assert (summary.dry_run, summary.inserted, summary.rows_new, summary.enrollments) == (True, 1, 2, 2)
    assert [count(m) for m in (Client, ClientSourceId, Enrollment, ClientDuplicate, AuditLog)] == totals


def test_a_crash_keeps_whole_batches_only_and_a_rerun_finishes_without_duplicates(tmp_path, program, monkeypatch):
    names = [("Abara", "Ngozi"), ("Bergstrom", "Lars"), ("Castillo", "Ines"), ("Dubois", "Remi"), ("Eze", "Chidi")]
    lines = [EMH_HEADER] + [emh_row(f"C{i}", last, first, program.name, f"19{50 + 7 * i}-0{i + 1}-1{i}")
                            for i, (last, first) in enumerate(names)]
    path = write(tmp_path, lines)
    real_apply, calls = Batch.apply, []

    def crash_on_second_batch(self):
        calls.append(1)
        real_apply(self)
        if len(calls) == 2:
            raise RuntimeError("worker killed")

    monkeypatch.setattr(Batch, "apply", crash_on_second_batch)
    with pytest.raises(RuntimeError):
        import_file(path, "EMHware", batch_size=2)
    assert count(ClientSourceId, ClientSourceId.source_client_id.in_([f"C{i}" for i in range(5)])) == 2
    assert count(Enrollment, Enrollment.program_id == program.id) == 2
    log = db.session.scalar(sa.select(ClientUploadLog).where(ClientUploadLog.status == "failed"))
    assert "re-run the same file" in log.error_message

    monkeypatch.setattr(Batch, "apply", real_apply)
    summary = import_file(path, "EMHware", batch_size=2)
    assert (summary.inserted, summary.unchanged) == (3, 2)
    assert count(ClientSourceId, ClientSourceId.source_client_id.in_([f"C{i}" for i in range(5)])) == 5
    assert count(Enrollment, Enrollment.program_id == program.id) == 5


def test_every_written_record_and_the_file_are_in_the_audit_trail(tmp_path, program):
    path = write(tmp_path, [EMH_HEADER, emh_row("CLI1", "Tremblay", "Marie", program.name, "1980-02-03")])
    summary = import_file(path, "EMHware")
    client = db.session.scalar(sa.select(Client).where(Client.last_name == "Tremblay"))
    rows = db.session.scalars(sa.select(AuditLog).where(AuditLog.client_id == client.id)).all()
    assert {row.entity for row in rows} == {"clients", "client_source_ids", "client_program_enrollments"}
    assert all(row.action == "import" and row.actor_name == f"import EMHware {path.name}" for row in rows)
    created = next(row for row in rows if row.entity == "clients")
    assert created.diff_json["last_name"] == {"before": None, "after": "Tremblay"}
    summary_row = db.session.scalar(sa.select(AuditLog).where(AuditLog.entity == "client_upload_logs",
                                                              AuditLog.entity_id == summary.upload_log_id))
    assert summary_row.diff_json["clients_inserted"]["after"] == 1


def test_an_update_records_before_and_after(tmp_path, program):
    client = client_with_id("EMHware", "CLI4", first_name="Sam", last_name="Lee", city="Ottawa")
    import_file(write(tmp_path, [EMH_HEADER, emh_row("CLI4", "Lee", "Sam", program.name, "", city="Toronto")]),
                "EMHware")
    db.session.refresh(client)
    assert client.city == "Toronto"
    change = db.session.scalar(sa.select(AuditLog).where(AuditLog.entity == "clients", AuditLog.entity_id == client.id,
                                                         AuditLog.action == "import"))
    assert change.diff_json["city"] == {"before": "Ottawa", "after": "Toronto"}


def test_an_excel_report_with_real_dates_and_serial_numbers(tmp_path, program):
    from datetime import datetime

    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Program Client Occupancy Report"])
    sheet.append([])
    sheet.append(["Client No.", "Last Name", "First Name", "DOB", "Admission Date", "Discharge Date"])
    sheet.append([4411, "Roy", "Luc", datetime(1970, 1, 2), 45352, None])
    path = tmp_path / "occupancy.xlsx"
    workbook.save(path)
    summary = import_file(path, "SMIS", program_name=program.name)
    client = db.session.scalar(sa.select(Client).join(ClientSourceId).where(ClientSourceId.source_client_id == "4411"))
    enrollment = db.session.scalar(sa.select(Enrollment).where(Enrollment.client_id == client.id))
    assert summary.inserted == 1 and client.dob == date(1970, 1, 2) and enrollment.start_date == date(2024, 3, 1)


def _flag_twins(tmp_path, program):
    twins = []
    for first in ("Jon", "John"):
        twin = factories.client(first_name=first, last_name="Okafor", dob=date(1992, 3, 3))
        db.session.add(twin)
        twins.append(twin)
    db.session.commit()
    path = write(tmp_path, [EMH_HEADER, emh_row("CLI8", "Okafor", "Jonn", program.name, "1992-03-03")])
    import_file(path, "EMHware")
    row = db.session.scalar(sa.select(ImportRow).where(ImportRow.status == "review"))
    return twins, row, path


def test_a_reviewer_sends_a_held_row_to_the_right_client(tmp_path, program):
    from app.services.ingest.importer import apply_reviewed_row

    (jon, john), row, path = _flag_twins(tmp_path, program)
    outcome = apply_reviewed_row(row.id, john.id)
    db.session.commit()
    assert outcome.client_id == john.id
    assert count(Enrollment, Enrollment.client_id == john.id) == 1
    assert count(Enrollment, Enrollment.client_id == jon.id) == 0
    statuses = {item.primary_client_id: item.status for item in db.session.scalars(
        sa.select(ClientDuplicate).where(ClientDuplicate.incoming_key == "EMHware:CLI8"))}
    assert statuses == {john.id: "merged", jon.id: "not_duplicate"}
    again = import_file(path, "EMHware")
    assert (again.unchanged, again.possible_duplicates) == (1, 0), "the id now leads straight to the client"


def test_a_reviewer_says_the_held_row_is_somebody_new(tmp_path, program):
    from app.services.ingest.importer import apply_reviewed_row

    twins, row, _ = _flag_twins(tmp_path, program)
    outcome = apply_reviewed_row(row.id, None)
    db.session.commit()
    assert outcome.status == "inserted" and outcome.client_id not in {t.id for t in twins}
    assert count(ClientSourceId, ClientSourceId.client_id == outcome.client_id) == 1
    with pytest.raises(LookupError):
        apply_reviewed_row(row.id, None)


def test_the_summary_says_how_each_row_found_its_client(tmp_path, program):
    client_with_id("EMHware", "CLI1", first_name="Ana", last_name="Silva", dob=date(1975, 4, 4))
    namesake = factories.client(first_name="Marie", last_name="Tremblay", dob=date(1980, 2, 3))
    db.session.add(namesake)
    db.session.commit()
    path = write(tmp_path, [EMH_HEADER,
                            emh_row("CLI1", "Silva", "Ana", program.name, "1975-04-04"),
                            emh_row("CLI1", "Silva", "Ana", program.name, "1975-04-04", admitted="2024-02-02"),
                            emh_row("CLI2", "Tremblay", "Marie", program.name, "1980-02-03"),
                            emh_row("CLI3", "Nguyen", "Bao", program.name, "1975-06-30"),
                            emh_row("CLI4", "Roy", "Luc", program.name, "1980-02-30")])
    summary = import_file(path, "EMHware")
    lines = summary.lines()
    assert "matched to an existing client by EMHware id: 2 rows (1 clients)" in lines
    by_name = next(line for line in lines if line.startswith("matched automatically"))
    assert by_name.startswith("matched automatically to an existing client by name and birth date: 1 rows "
                              "(1 clients; match probability ")
    assert "new clients: 1 (from 1 rows)" in lines
    assert "held for review, nothing written for them: 0 rows (0 people)" in lines
    assert "rejected for bad values: 1 rows" in lines
    assert count(ClientSourceId, ClientSourceId.client_id == namesake.id, ClientSourceId.source_client_id == "CLI2") == 1


def test_import_updates_raise_the_version_so_an_open_edit_form_cannot_undo_them(tmp_path, program):
    client = client_with_id("EMHware", "CLI5", first_name="Ana", last_name="Reyes", city="Ottawa")
    before = client.version
    import_file(write(tmp_path, [EMH_HEADER, emh_row("CLI5", "Reyes", "Ana", program.name, "", city="Toronto")]),
                "EMHware")
    db.session.expire_all()
    client = db.session.get(Client, client.id)
    assert client.city == "Toronto" and client.version == before + 1
    assert count(AuditLog, AuditLog.entity == "clients", AuditLog.entity_id == client.id,
                 AuditLog.action == "import") == 1

    header = "Client ID,Program,Receiving Services Date,Discharge Date,Screening Result Date,Reason"
    import_file(write(tmp_path, [header, f"CLI5,{program.name},2024-01-15,,2024-01-02,"]), "EMHware")
    enrollment = db.session.scalar(sa.select(Enrollment).where(Enrollment.client_id == client.id))
    opened = enrollment.version
    import_file(write(tmp_path, [header, f"CLI5,{program.name},2024-01-15,2024-03-01,2024-01-02,Moved"]), "EMHware")
    db.session.expire_all()
    enrollment = db.session.get(Enrollment, enrollment.id)
    assert (enrollment.status, enrollment.version) == ("discharged", opened + 1)


def test_extended_fields_a_column_names_are_imported_typed_and_merged(tmp_path, program):
    known = factories.client(first_name="Wanda", last_name="Extended", dob=date(1975, 7, 7),
                             extended={"allergies": "Peanuts", "household_size": 2})
    db.session.add(known)
    db.session.commit()
    header = "first_name,last_name,dob,household_size,pet_owner,allergies"
    path = write(tmp_path, [header, "Wanda,Extended,1975-07-07,4,yes,", "Nia,Newcomer,1990-01-02,1,no,Shellfish",
                            "Bad,Number,1991-01-02,several,,"])
    summary = import_file(path, "FFAI")
    db.session.expire_all()
    assert db.session.get(Client, known.id).extended == {"allergies": "Peanuts", "household_size": 4,
                                                         "pet_owner": True}
    newcomer = db.session.scalars(sa.select(Client).where(Client.last_name == "Newcomer")).one()
    assert newcomer.extended == {"household_size": 1, "pet_owner": False, "allergies": "Shellfish"}
    assert count(Client, Client.last_name == "Number") == 0 and summary.rejected == 1


def test_a_held_rows_review_item_carries_the_evidence_in_words(tmp_path, program):
    """Linking holds the file's candidates without their words; what a reviewer reads is described when the
    batch is written."""
    existing = client_with_id("EMHware", "C1", first_name="Ngozi", last_name="Abara", dob=date(1950, 1, 10))
    summary = import_file(write(tmp_path, [EMH_HEADER, emh_row("C2", "Abara", "Ngozi", program.name, "1950-01-10")]),
                          "EMHware")
    assert summary.possible_duplicates == 1
    item = db.session.scalars(sa.select(ClientDuplicate).where(ClientDuplicate.primary_client_id == existing.id)).one()
    evidence = item.match_details["evidence"]
    words = [entry["text"] for entry in evidence]
    assert "same birth date" in words and "different EMHware ID (C2 / C1)" in words
    assert words[0].startswith("same first name") and words[1].startswith("same last name")
    assert {entry["field"] for entry in evidence} >= {"first_name", "last_name", "dob", "gender", "source_id", "city"}
    assert item.match_details["probability"] == pytest.approx(float(item.similarity_score), abs=1e-3)
