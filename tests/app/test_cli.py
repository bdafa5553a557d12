"""Operator commands: clear errors for bad input, and nothing half-written."""

import uuid
from datetime import date

import sqlalchemy as sa

from app.auth import authenticate
from app.extensions import db
from app.models import AuditLog, Client, ClientDuplicate, ClientSourceId, Staff
from app.services.merge import flag_possible_duplicate
from tests import factories


def _staff_count():
    return db.session.scalar(sa.select(sa.func.count()).select_from(Staff))


def test_create_user_then_sign_in(app, db_session):
    result = app.test_cli_runner().invoke(args=[
        "ccd", "create-user", "--email", "New.Person@Agency.example", "--role", "coordinator",
        "--password", "long-enough-1"])
    assert result.exit_code == 0, result.output
    user = authenticate("new.person@agency.example", "long-enough-1")
    assert user is not None and user.role_names == {"Coordinator"}


def test_create_user_refuses_bad_input_and_writes_nothing(app, db_session):
    before = _staff_count()
    runner = app.test_cli_runner()
    for args, message in [
        (["--email", "a@b.example", "--role", "Wizard", "--password", "long-enough-1"], "Unknown role"),
        (["--email", "a@b.example", "--role", "Staff", "--password", "short1"], "at least 12"),
        (["--email", "not-an-email", "--role", "Staff", "--password", "long-enough-1"], "not a valid email"),
        (["--email", "a@b.example", "--role", "Staff", "--password", "Password2026!"], "too common"),
    ]:
        result = runner.invoke(args=["ccd", "create-user", *args])
        assert result.exit_code != 0
        assert message in result.output and "Nothing was changed" in result.output
    assert _staff_count() == before


def test_demo_seed_refuses_production_from_the_command_line(app, db_session, monkeypatch):
    """The demo seed's published password must never reach a production database."""
    monkeypatch.setitem(app.config, "CCD_ENV", "production")
    before = _staff_count()
    result = app.test_cli_runner().invoke(args=["ccd", "seed-demo"])
    assert result.exit_code != 0
    assert "refuses to run with CCD_ENV=production" in result.output
    assert _staff_count() == before


# --- ccd report ---------------------------------------------------------------------------

def _report_data():
    """One client in three programs of two departments, one client whose enrollment ended before."""
    from datetime import date

    from tests import factories

    north, south = factories.department(name="North services"), factories.department(name="South services")
    programs = [factories.program(name=f"{dept.name} {n}", department=dept, capacity_current=4)
                for dept, n in ((north, 1), (north, 2), (south, 1))]
    everywhere = factories.client()
    rows = [factories.enrollment(client=everywhere, program=p, start_date=date(2024, 3, 1)) for p in programs]
    rows.append(factories.enrollment(program=programs[0], start_date=date(2024, 1, 1), end_date=date(2024, 2, 29)))
    db.session.add_all(rows)
    db.session.commit()
    return programs


def _run(app, *args):
    return app.test_cli_runner().invoke(args=["ccd", "report", *args])


def test_report_org_summary_json_has_the_agreed_keys_and_counts_a_client_once(app, db_session):
    import json

    _report_data()
    result = _run(app, "org-summary", "--from", "2024-03-01", "--to", "2024-03-31", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert {"distinct_clients_served", "new_clients", "breakdowns", "by_department", "by_program"} <= set(report)
    assert report["distinct_clients_served"] == 1
    assert {row["department"]: row["clients"] for row in report["by_department"]} == {
        "North services": 1, "South services": 1}
    assert [row["clients"] for row in report["by_program"]] == [1, 1, 1]


def test_report_vacancy_json_rows_and_department(app, db_session):
    import json

    _report_data()
    result = _run(app, "vacancy", "--as-of", "2024-03-15", "--department", "south SERVICES", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report) >= {"rows", "totals"}
    assert [{k: row[k] for k in ("program", "department", "capacity", "occupied", "vacant", "occupancy_pct")}
            for row in report["rows"]] == [{"program": "South services 1", "department": "South services",
                                            "capacity": 4, "occupied": 1, "vacant": 3, "occupancy_pct": 25.0}]
    assert report["totals"]["overall"]["vacant"] == 3


def test_report_cli_csv_is_the_pages_export(app, client, sign_in_as, db_session):
    _report_data()
    sign_in_as("Analyst")
    for cli_args, path, query in (
        (["org-summary", "--from", "2024-03-01", "--to", "2024-03-31"], "/admin/reports/org-summary/export/csv",
         {"date_from": "2024-03-01", "date_to": "2024-03-31"}),
        (["vacancy", "--as-of", "2024-03-15"], "/admin/reports/vacancy/export/csv", {"as_of": "2024-03-15"}),
        (["data-quality", "--from", "2024-03-01", "--to", "2024-03-31"], "/admin/reports/data-quality/export/csv",
         {"date_from": "2024-03-01", "date_to": "2024-03-31"}),
        (["enrollment-history", "--from", "2024-01-01", "--to", "2024-03-31"],
         "/admin/reports/enrollment-history/export/csv", {"date_from": "2024-01-01", "date_to": "2024-03-31"}),
        (["outcomes", "--from", "2024-01-01", "--to", "2024-03-31"],
         "/admin/reports/outcomes/export/csv", {"date_from": "2024-01-01", "date_to": "2024-03-31"}),
        (["program-performance", "--from", "2024-01-01", "--to", "2024-03-31"],
         "/admin/reports/program-performance/export/csv", {"date_from": "2024-01-01", "date_to": "2024-03-31"}),
        (["department-summary", "--from", "2024-03-01", "--to", "2024-03-31"],
         "/admin/reports/department-summary/export/csv", {"date_from": "2024-03-01", "date_to": "2024-03-31"}),
    ):
        result = _run(app, *cli_args)
        assert result.exit_code == 0, result.output
        page_export = client.get(path, query_string=query).get_data().decode("utf-8-sig")
        assert result.output.replace("\r\n", "\n") == page_export.replace("\r\n", "\n")


def test_report_xlsx_needs_a_file_and_writes_a_workbook(app, db_session, tmp_path):
    from openpyxl import load_workbook

    _report_data()
    refused = _run(app, "vacancy", "--as-of", "2024-03-15", "--format", "xlsx")
    assert refused.exit_code != 0 and "give --out PATH" in refused.output
    target = tmp_path / "vacancy.xlsx"
    result = _run(app, "vacancy", "--as-of", "2024-03-15", "--format", "xlsx", "--out", str(target))
    assert result.exit_code == 0, result.output
    sheet = load_workbook(target).active
    assert sheet["A1"].value == "Report"
    assert [p.name for p in tmp_path.iterdir()] == ["vacancy.xlsx"], "no temporary file left behind"


def test_report_cli_bad_input_gets_a_clear_error_and_writes_nothing(app, db_session, tmp_path):
    target = tmp_path / "out.csv"
    for args, message in [
        (["org-summary", "--from", "2024-02-30", "--to", "2024-03-31"], "is not a date"),
        (["org-summary", "--from", "2024-04-01", "--to", "2024-03-31"], "after it ends"),
        (["org-summary", "--from", "2024-03-01", "--to", "2024-03-31", "--program", "Nowhere"], "no program called"),
        (["org-summary", "--from", "2024-03-01", "--to", "2024-03-31", "--filter", "shoe=9"], "unknown key"),
        (["vacancy", "--department", "Nowhere"], "no department called"),
    ]:
        result = _run(app, *args, "--out", str(target))
        assert result.exit_code != 0
        assert message in result.output, result.output
    assert not target.exists()


def test_ingest_prints_the_summary_and_writes_rejects(app, db_session, tmp_path):
    from tests import factories

    program = factories.create("programs")
    path = tmp_path / "smis.csv"
    path.write_text("Client No.,Last Name,First Name,DOB,Admission Date\n1,Roy,Luc,1970-01-01,2024-01-01\n"
                    "2,Roy,Ann,1970-13-01,2024-01-01\n", encoding="cp1252")
    rejects = tmp_path / "rejects.csv"
    result = app.test_cli_runner().invoke(args=["ccd", "ingest", "--src", str(path), "--source", "smis",
                                                "--program", program.name, "--rejects", str(rejects)])
    assert result.exit_code == 0, result.output
    assert "rows read: 2" in result.output and "new clients: 1 (from 1 rows)" in result.output
    assert "rejected for bad values: 1 rows" in result.output and "held for review" in result.output
    assert "enrollments written: 1" in result.output and "1 row(s) not written" in result.output
    assert "not a real date" in rejects.read_text(encoding="utf-8-sig")


def test_ingest_exits_non_zero_when_the_file_is_refused(app, db_session, tmp_path):
    path = tmp_path / "smis.csv"
    path.write_text("Last Name\nRoy\n")
    result = app.test_cli_runner().invoke(args=["ccd", "ingest", "--src", str(path), "--source", "SMIS"])
    assert result.exit_code == 1 and "missing required columns" in result.output


def test_ingest_exits_non_zero_when_every_row_is_rejected_and_still_writes_the_rejects(app, db_session, tmp_path):
    program = factories.create("programs")
    path = tmp_path / "smis.csv"
    path.write_text("Client No.,Last Name,First Name,DOB,Admission Date\n1,Roy\n2,Roy,Ann,1970-13-01,2024-01-01\n")
    rejects = tmp_path / "rejects.csv"
    result = app.test_cli_runner().invoke(args=["ccd", "ingest", "--src", str(path), "--source", "SMIS",
                                                "--program", program.name, "--rejects", str(rejects)])
    assert result.exit_code == 1 and "Every row (2) was rejected" in result.output
    assert "rejected for bad values: 2 rows" in result.output and "2 row(s) not written" in result.output


def test_ingest_says_the_database_connection_was_lost_without_a_traceback(app, db_session, tmp_path, monkeypatch):
    from app.services.ingest import importer

    def lost(self):
        raise sa.exc.OperationalError("SELECT", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(importer.ImportRun, "process", lost)
    path = tmp_path / "smis.csv"
    path.write_text("Client No.,Last Name,First Name\n1,Roy,Luc\n")
    result = app.test_cli_runner().invoke(args=["ccd", "ingest", "--src", str(path), "--source", "SMIS"])
    assert result.exit_code == 1 and "the connection to the database was lost (OperationalError)" in result.output
    assert "Traceback" not in result.output and "server closed" not in result.output
    assert not isinstance(result.exception, sa.exc.OperationalError)


def test_ingest_drop_folder_says_the_database_is_unreachable_without_a_traceback(app, db_session, tmp_path,
                                                                               monkeypatch):
    from app.services.ingest import drop_folder

    def unreachable(sha256):
        raise sa.exc.OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setitem(app.config, "INGEST_DROP_DIR", str(tmp_path / "drop"))
    (tmp_path / "drop" / "FFAI").mkdir(parents=True)
    (tmp_path / "drop" / "FFAI" / "export.csv").write_text("first_name,last_name\nAna,Roy\n")
    monkeypatch.setattr(drop_folder, "already_imported", unreachable)
    result = app.test_cli_runner().invoke(args=["ccd", "ingest-drop-folder"])
    assert result.exit_code == 1 and "The database could not be reached" in result.output
    assert "Traceback" not in result.output and (tmp_path / "drop" / "FFAI" / "export.csv").exists()


def test_ingest_reap_ends_dead_imports_and_resumes_them(app, db_session, tmp_path):
    from datetime import datetime, timedelta, timezone

    from app.models import ClientUploadLog
    from app.services.ingest import start_import

    program = factories.create("programs")
    path = tmp_path / "smis.csv"
    path.write_text("Client No.,Last Name,First Name,DOB,Admission Date\n1,Roy,Luc,1970-01-01,2024-01-01\n")
    log = start_import(path, "SMIS", program_name=program.name)
    log.status = "running"
    db.session.commit()
    db.session.execute(sa.update(ClientUploadLog).where(ClientUploadLog.id == log.id).values(
        updated_at=datetime.now(timezone.utc) - timedelta(hours=2)))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["ccd", "ingest-reap", "--resume"])
    assert result.exit_code == 0, result.output
    assert f"ended: {log.id} SMIS smis.csv: The import stopped without finishing" in result.output
    assert "1 stale import(s) ended." in result.output and f"resumed {log.id} as " in result.output
    assert "SMIS smis.csv: success" in result.output
    assert "0 stale import(s) ended." in app.test_cli_runner().invoke(args=["ccd", "ingest-reap"]).output


# -- ccd review ---------------------------------------------------------------------------------
def review_cli(app, *args):
    return app.test_cli_runner().invoke(args=["ccd", "review", *args])


def test_review_list_shows_each_held_row_with_its_candidates(app, db_session):
    row, pairs, _ = factories.held_row()
    result = review_cli(app, "list", "--import", str(row.upload_log_id))
    assert result.exit_code == 0, result.output
    assert "1 row(s) waiting" in result.output and "Jonn Okafor, born 1992-03-03, EMHware id CLI8" in result.output
    for candidate, item in pairs:
        assert f"item {item.id}" in result.output and f"client {candidate.id}" in result.output
    assert "91%" in result.output
    assert "Nothing waits" in review_cli(app, "list", "--import", str(uuid.uuid4())).output


def test_review_commands_answer_write_and_refuse_what_cannot_be_answered(app, db_session):
    row, [(jon, jon_item), (john, john_item)], _ = factories.held_row()
    result = review_cli(app, "leave", str(jon_item.id), "--note", "ask the shelter")
    assert result.exit_code == 0 and "Left for later" in result.output
    result = review_cli(app, "same-person", str(jon_item.id), str(john.id))
    assert result.exit_code == 0, result.output
    assert db.session.scalar(sa.select(ClientSourceId.client_id).where(ClientSourceId.source_client_id == "CLI8")) \
        == john.id
    db.session.expire_all()
    assert db.session.get(ClientDuplicate, john_item.id).status == "merged"
    entries = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "review")
                                 .order_by(AuditLog.changed_at)).all()
    assert [e.diff_json["answer"] for e in entries] == ["leave", "same_person"]
    assert {e.actor_name for e in entries} == {"ccd review"}

    again = review_cli(app, "new-person", str(jon_item.id))
    assert again.exit_code != 0 and "already decided" in again.output and "Nothing was changed" in again.output
    unknown = review_cli(app, "not-duplicate", str(uuid.uuid4()))
    assert unknown.exit_code != 0 and "There is no review item" in unknown.output
    garbled = review_cli(app, "leave", "seven")
    assert garbled.exit_code != 0 and "not an item id" in garbled.output


def test_review_new_person_and_not_duplicate_from_the_console(app, db_session):
    row, pairs, _ = factories.held_row(candidates=(("Jon", 0.9),))
    result = review_cli(app, "new-person", str(pairs[0][1].id))
    assert result.exit_code == 0 and "written as a new client" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Client).where(Client.first_name == "Jonn")) == 1

    first, second = factories.client(dob=date(1980, 1, 1)), factories.client(dob=date(1980, 1, 1))
    db.session.add_all([first, second])
    db.session.commit()
    item = flag_possible_duplicate(db.session, first.id, second.id, 0.8, "name_dob")
    db.session.commit()
    result = review_cli(app, "not-duplicate", str(item.id), "--note", "siblings")
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(ClientDuplicate, item.id).status == "not_duplicate"
