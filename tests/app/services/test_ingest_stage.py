"""Files the fault run put through the importer: NUL bytes, UTF-16 without a mark, stray Windows-1252
bytes in UTF-8, rows that do not line up with the header, one id with two birth dates."""

import uuid

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditLog, Client, ClientUploadLog, ImportRow
from app.services.ingest import import_file
from app.services.ingest.rejects import rejects_rows
from tests import factories

HEADER = ("ID,Last Name,First Name,Program,DOB,Age,Gender,City,Sub-program,Worker,Level of Support,"
          "Admission Date,Days Elapsed,Location/County,Referral Source")


def row(uid, last, first, program, dob, admitted="2024-01-15"):
    return f'{uid},{last},{first},"{program}",{dob},40,,Toronto,,,,{admitted},10,Toronto,"Self,  Family or Friend"'


def save(tmp_path, data: bytes, name="export.csv"):
    path = tmp_path / f"{uuid.uuid4().hex[:6]}-{name}"
    path.write_bytes(data)
    return path


def utf8(lines) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def reasons(summary) -> dict[int, str]:
    return {line[0]: line[1] for line in list(rejects_rows(db.session.get(ClientUploadLog, summary.upload_log_id)))[1:]}


def names() -> set[str]:
    return {f"{first} {last}" for first, last in db.session.execute(sa.select(Client.first_name, Client.last_name))}


@pytest.fixture
def program(db_session):
    return factories.create("programs")


def test_a_nul_byte_rejects_its_row_naming_the_column_and_the_others_are_imported(tmp_path, program):
    data = utf8([HEADER, row("CLI1", "Tremblay", "Marie", program.name, "1980-02-03"),
                 row("CLI2", "Ngu\x00yen", "Bao", program.name, "1975-06-30")])
    summary = import_file(save(tmp_path, data), "EMHware")
    assert (summary.status, summary.inserted, summary.rejected) == ("partial", 1, 1)
    assert "Last Name (column 2) holds control characters (U+0000)" in reasons(summary)[3]
    stored = db.session.scalar(sa.select(ImportRow.cells).where(ImportRow.upload_log_id == summary.upload_log_id))
    assert stored[1] == "Nguyen", "the stored copy holds no NUL (PostgreSQL cannot store one)"


def test_a_utf16_file_without_a_byte_order_mark_is_read(tmp_path, program):
    text = "\r\n".join([HEADER, row("CLI1", "Côté", "Émile", program.name, "1980-02-03")]) + "\r\n"
    summary = import_file(save(tmp_path, text.encode("utf-16-le")), "EMHware")
    assert (summary.status, summary.inserted) == ("success", 1)
    assert names() >= {"Émile Côté"}


def test_a_file_level_failure_ends_the_log_failed_without_row_values(tmp_path, program, monkeypatch):
    """An unexpected error (here the database refusing a row) ends the run; the log, its audit row and
    the message keep the kind of error, never the statement and values the database quoted."""
    from app.services.ingest import importer
    from app.services.ingest.runs import ImportStopped

    def refuse(self, decisions):
        raise sa.exc.DataError("INSERT INTO clients (last_name, dob) VALUES (%s, %s)", ("Tremblay", "1980-02-03"),
                               Exception("invalid byte sequence"))

    monkeypatch.setattr(importer.ImportRun, "_process_batch", refuse)
    path = save(tmp_path, utf8([HEADER, row("CLI1", "Tremblay", "Marie", program.name, "1980-02-03")]))
    with pytest.raises(ImportStopped) as stopped:
        import_file(path, "EMHware")
    log = db.session.scalar(sa.select(ClientUploadLog).where(ClientUploadLog.file_name == path.name))
    trail = db.session.scalar(sa.select(AuditLog).where(AuditLog.entity_id == log.id))
    assert log.status == "failed" and "DataError" in log.error_message and log.completed_at is not None
    for text in (log.error_message, str(stopped.value), str(trail.diff_json)):
        assert "Tremblay" not in text and "1980-02-03" not in text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ImportRow)
                             .where(ImportRow.upload_log_id == log.id)) == 0, "staged rows do not outlive the run"


def test_a_refusal_message_never_holds_control_characters(tmp_path, db_session):
    summary = import_file(save(tmp_path, b"Na\x00me,Other\nx,y\n"), "SMIS")
    log = db.session.get(ClientUploadLog, summary.upload_log_id)
    assert log.status == "failed" and "\x00" not in log.error_message


def test_one_stray_windows_1252_byte_in_utf8_never_garbles_the_file(tmp_path, program):
    data = utf8([HEADER, row("CLI1", "Côté", "Émilie", program.name, "1980-02-03"),
                 row("CLI2", "Lefèvre", "Zoé", program.name, "1975-06-30")]).replace("Zoé".encode(), b"Zo\xe9")
    summary = import_file(save(tmp_path, data), "EMHware")
    assert summary.status == "partial" and (summary.inserted, summary.rejected) == (1, 1)
    assert not any("Ã" in name for name in names())
    assert "Émilie Côté" in names()
    assert "First Name (column 3) holds bytes that are not UTF-8" in reasons(summary)[3]
    log = db.session.get(ClientUploadLog, summary.upload_log_id)
    assert log.upload_details["encoding"] == "UTF-8, except line(s) 3"


def test_rows_that_do_not_line_up_with_the_header_are_rejected_with_their_row_number(tmp_path, program):
    unclosed = row("CLI2", '"Lara-Ulbel', "Sierra", program.name, "1962-08-23")
    data = utf8([HEADER, row("CLI1", "Tremblay", "Marie", program.name, "1980-02-03"),
                 "CLI3,Short,Row", unclosed, row("CLI4", "Nguyen", "Bao", program.name, "1975-06-30")])
    summary = import_file(save(tmp_path, data), "EMHware")
    found = reasons(summary)
    assert "has 3 cells but the header has 15" in found[3]
    assert "a quote is not closed" in found[4]
    assert not any("Lara" in name or "Short" in name for name in names())
    assert "Marie Tremblay" in names()


def test_one_id_with_two_birth_dates_is_reported_not_resolved(tmp_path, program):
    data = utf8([HEADER, row("CLI1", "Tremblay", "Marie", program.name, "1980-02-03"),
                 row("CLI1", "Tremblay", "Marie", program.name, "1981-02-03", admitted="2024-02-01"),
                 row("CLI2", "Nguyen", "Bao", program.name, "1975-06-30")])
    summary = import_file(save(tmp_path, data), "EMHware")
    assert (summary.inserted, summary.rejected) == (1, 2)
    found = reasons(summary)
    assert found[2] == found[3] and "EMHware id CLI1 has different birth dates on rows 2, 3" in found[2]
    assert "Marie Tremblay" not in names()


def test_a_file_whose_every_row_is_rejected_fails(tmp_path, program):
    summary = import_file(save(tmp_path, utf8([HEADER, "CLI1,Short", "CLI2,Also,Short"])), "EMHware")
    assert summary.status == "failed" and "Every row (2) was rejected" in summary.error
    assert len(reasons(summary)) == 2, "the rejects file still lists them"


def test_a_long_cell_rejects_its_row_naming_the_column(tmp_path, program):
    data = utf8([HEADER, row("CLI1", "x" * 200_000, "Marie", program.name, "1980-02-03"),
                 row("CLI2", "Nguyen", "Bao", program.name, "1975-06-30"),
                 row("CLI3", "Roy", "Luc", "p" * 200_000, "1975-06-30")])
    summary = import_file(save(tmp_path, data), "EMHware")
    assert (summary.inserted, summary.rejected) == (1, 2)
    found = reasons(summary)
    assert found[2].startswith("Last Name: 'xxx") and "200,000 characters long, more than the 100" in found[2]
    assert found[4].startswith("Unknown program 'ppp") and len(found[4]) < 300, "a reason quotes only the start"


def test_an_excel_formula_without_a_saved_value_rejects_its_row_by_column(tmp_path, program):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Client No.", "Last Name", "First Name", "DOB"])
    sheet.append([1, "Roy", "Luc", "=DATE(1970,1,2)"])  # openpyxl saves no value for a formula
    sheet.append([2, "Roy", "Ann", "1971-01-02"])
    path = tmp_path / "smis.xlsx"
    workbook.save(path)
    summary = import_file(path, "SMIS")
    assert (summary.inserted, summary.rejected) == (1, 1)
    assert reasons(summary)[2].startswith("DOB (column 4) is a formula whose value the file does not hold")


def test_a_workbook_refused_for_its_columns_says_which_sheets_it_has(tmp_path, program):
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.title = "Notes"
    workbook.active.append(["Report"])
    workbook.create_sheet("Other").append(["Last Name"])
    path = tmp_path / "smis.xlsx"
    workbook.save(path)
    summary = import_file(path, "SMIS")
    assert summary.status == "failed" and "missing required columns" in summary.error
    assert "Sheets in the workbook: \u201cNotes\u201d, \u201cOther\u201d." in summary.error


def test_files_past_the_configured_limits_are_refused_naming_the_limit(app, tmp_path, program, monkeypatch):
    from openpyxl import Workbook

    monkeypatch.setitem(app.config, "INGEST_MAX_ROWS", 2)
    rows = [row(f"CLI{n}", "Roy", f"Luc{'i' * n}", program.name, "1980-02-03") for n in range(3)]
    summary = import_file(save(tmp_path, utf8([HEADER, *rows])), "EMHware")
    assert summary.status == "failed" and "more than 2 rows, the limit (INGEST_MAX_ROWS)" in summary.error
    assert names() == set(), "nothing of it is written"

    monkeypatch.setitem(app.config, "INGEST_MAX_XLSX_UNPACKED_MB", 0.001)
    workbook = Workbook()
    workbook.active.append(["Client No.", "Last Name", "First Name"])
    for n in range(200):
        workbook.active.append([n, f"Name{n}", "First"])
    path = tmp_path / "big.xlsx"
    workbook.save(path)
    summary = import_file(path, "SMIS")
    assert summary.status == "failed" and "MB limit (INGEST_MAX_XLSX_UNPACKED_MB)" in summary.error

    monkeypatch.setitem(app.config, "INGEST_MAX_XLSX_UNPACKED_MB", 500)
    monkeypatch.setitem(app.config, "INGEST_MAX_XLSX_SHARED_STRINGS", 150)
    summary = import_file(workbook_with_shared_strings(tmp_path, 200), "SMIS")
    assert summary.status == "failed" and "holds 203 distinct text values, more than the 150 limit " \
        "(INGEST_MAX_XLSX_SHARED_STRINGS)" in summary.error


def workbook_with_shared_strings(tmp_path, rows: int):
    """An XLSX as Excel writes it: text in the shared-strings part (openpyxl writes text inline)."""
    import zipfile

    strings = ["Client No.", "Last Name", "First Name"] + [f"Name{n}" for n in range(rows)]
    def cell(ref, index):
        return f'<c r="{ref}" t="s"><v>{index}</v></c>'
    sheet_rows = ['<row r="1">' + "".join(cell(f"{c}1", i) for i, c in enumerate("ABC")) + "</row>"]
    for n in range(rows):
        sheet_rows.append(f'<row r="{n + 2}"><c r="A{n + 2}"><v>{n}</v></c>{cell(f"B{n + 2}", 3 + n)}'
                          f'{cell(f"C{n + 2}", 2)}</row>')
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    parts = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
        'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType='
        '"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
        "_rels/.rels": f'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        f'relationships"><Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>",
        "xl/workbook.xml": f'<?xml version="1.0"?><workbook xmlns="{main}" xmlns:r="{rel}"><sheets><sheet '
        'name="Clients" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
        f'package/2006/relationships"><Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/'
        f'sheet1.xml"/><Relationship Id="rId2" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/>'
        "</Relationships>",
        "xl/worksheets/sheet1.xml": f'<?xml version="1.0"?><worksheet xmlns="{main}"><sheetData>'
        + "".join(sheet_rows) + "</sheetData></worksheet>",
        "xl/sharedStrings.xml": f'<?xml version="1.0"?><sst xmlns="{main}" count="{len(strings)}">'
        + "".join(f"<si><t>{text}</t></si>" for text in strings) + "</sst>",
    }
    path = tmp_path / "shared.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return path


def test_a_workbook_at_the_shared_strings_limit_is_read(tmp_path):
    from app.services.ingest.reading import read_sheet, shared_strings_in

    path = workbook_with_shared_strings(tmp_path, 200)
    assert shared_strings_in(path) == 203
    sheet = read_sheet(path, max_shared_strings=203)
    rows = list(sheet.rows)
    assert sheet.headers == ["Client No.", "Last Name", "First Name"] and len(rows) == 200
    assert rows[0] == (2, [0, "Name0", "First Name"])


def test_a_file_without_a_header_is_refused_without_quoting_its_first_row(tmp_path, program):
    summary = import_file(save(tmp_path, utf8([row("CLI1", "Tremblay", "Marie", program.name, "1980-02-03")])),
                          "EMHware")
    assert summary.status == "failed" and "missing required columns" in summary.error
    assert "Tremblay" not in summary.error and "1980-02-03" not in summary.error
    assert "the first row, 15 cells, is not quoted here" in summary.error


def test_a_failure_whose_message_holds_a_nul_still_ends_the_log(tmp_path, program):
    """The failure handler itself must not fail (PostgreSQL refuses NUL in text): the log never stays running."""
    from app.services.ingest import start_import
    from app.services.ingest.runs import fail

    log = start_import(save(tmp_path, utf8([HEADER])), "EMHware")
    fail(db.session, log.id, "Columns found: \"I\x00D\", \"L\x00a\x00s\x00t\"", None)
    db.session.expire_all()
    log = db.session.get(ClientUploadLog, log.id)
    assert log.status == "failed" and log.error_message == 'Columns found: "ID", "Last"'


def test_a_utf16_file_without_a_mark_refused_for_its_columns_ends_failed(tmp_path, program):
    summary = import_file(save(tmp_path, "Numéro,Nom\r\n1,Côté\r\n".encode("utf-16-le")), "SMIS")
    assert summary.status == "failed" and "missing required columns" in summary.error and "\x00" not in summary.error
