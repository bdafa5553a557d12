"""Reading exports as they really arrive: three encodings, Excel workbooks, report title lines, odd dates."""

from datetime import date, datetime

import pytest
from openpyxl import Workbook

from app.services.ingest.column_maps import ColumnMap, default_titles, normalize_title
from app.services.ingest.reading import FileRefused, as_text, decode_text, read_csv, read_sheet, read_xlsx
from app.services.ingest.values import BadValue, canonical_option, parse_date


@pytest.mark.parametrize("raw,encoding", [
    ("ID,Last Name\nCLI1,Côté\n".encode("utf-8"), "UTF-8"),
    (b"\xef\xbb\xbf" + "ID,Last Name\nCLI1,Côté\n".encode("utf-8"), "UTF-8 with BOM"),
    ("ID,Last Name\nCLI1,Côté\n".encode("cp1252"), "Windows-1252"),
    ("ID\tLast Name\nCLI1\tCôté\n".encode("utf-16"), "UTF-16"),
])
def test_encodings_are_detected_and_accents_survive(raw, encoding):
    sheet = read_csv(raw)
    assert sheet.encoding == encoding
    assert sheet.headers == ["ID", "Last Name"], "a byte-order mark never sticks to the first title"
    assert list(sheet.rows) == [(2, ["CLI1", "Côté"])]


def test_bytes_that_are_neither_utf8_nor_windows_1252_are_refused():
    with pytest.raises(FileRefused, match="neither UTF-8 nor Windows-1252"):
        decode_text(b"ID\n\x81\x8d\n")


def test_quoted_commas_and_multi_line_cells_keep_their_row_numbers():
    data = 'ID,Program,Referral Source\nA,"One\nTwo","Self,  Family or Friend"\nB,Three,\n'.encode()
    rows = list(read_csv(data).rows)
    assert rows == [(2, ["A", "One\nTwo", "Self,  Family or Friend"]), (3, ["B", "Three", ""])]


def test_report_title_lines_before_the_header_are_skipped():
    column_map = ColumnMap("EMHware", default_titles("EMHware"))
    data = b"Current Client List - Receiving Services\nPrinted 2024-05-01\n\nID,Last Name,First Name\nCLI1,Doe,Jane\n"
    sheet = read_csv(data, is_header=lambda cells: not column_map.resolve(cells).missing)
    assert sheet.header_row == 4 and list(sheet.rows) == [(5, ["CLI1", "Doe", "Jane"])]


def test_xlsx_real_dates_and_serial_numbers(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Client No.", "DOB", "Admission Date", "Intake Date"])
    sheet.append([12345, datetime(1980, 2, 3), 45352, "2024-03-05"])
    sheet.cell(row=2, column=2).number_format = "yyyy-mm-dd"
    path = tmp_path / "smis.xlsx"
    workbook.save(path)
    read = read_sheet(path)
    assert read.file_type == "xlsx" and read.headers == ["Client No.", "DOB", "Admission Date", "Intake Date"]
    (number, cells), = list(read.rows)
    texts = [as_text(c) for c in cells]
    assert number == 2 and texts[0] == "12345" and texts[1] == "1980-02-03"
    assert parse_date(texts[2]) == date(2024, 3, 1), "Excel serial 45352 is 2024-03-01"


def test_a_renamed_old_excel_file_is_refused(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    with pytest.raises(FileRefused, match=r"\.xls"):
        read_sheet(path)


def test_a_damaged_workbook_is_refused(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04not really a zip")
    with pytest.raises(FileRefused, match="cannot be opened"):
        read_xlsx(path)


def test_titles_compare_ignoring_case_spaces_and_punctuation():
    assert normalize_title("  Client No. ") == normalize_title("client no") == "client no"
    assert normalize_title("LGBTQ?") == "lgbtq"
    resolved = ColumnMap("SMIS", default_titles("SMIS")).resolve(["CLIENT NO. ", "last name"])
    assert resolved.positions == {"source_client_id": 0, "last_name": 1} and not resolved.missing


def test_two_columns_for_one_field_are_refused():
    resolved = ColumnMap("EMHware", default_titles("EMHware")).resolve(["ID", "Client ID", "Last Name"])
    assert "Several columns" in resolved.problem() and '"ID", "Client ID"' in resolved.problem()


@pytest.mark.parametrize("text,order,expected", [
    ("2024-03-04", "YMD", date(2024, 3, 4)),
    ("2024-03-04 00:00:00", "DMY", date(2024, 3, 4)),
    ("20240304", "YMD", date(2024, 3, 4)),
    ("03/04/2024", "MDY", date(2024, 3, 4)),
    ("03/04/2024", "DMY", date(2024, 4, 3)),
    ("25/04/2024", "YMD", date(2024, 4, 25)),
    ("04-Mar-2024", "YMD", date(2024, 3, 4)),
    ("", "YMD", None),
])
def test_dates_are_read_in_the_configured_order(text, order, expected):
    assert parse_date(text, order) == expected


@pytest.mark.parametrize("text,order,message", [
    ("03/04/2024", "YMD", "day-first or month-first"),
    ("13/04/2024", "MDY", "not a real date"),
    ("2024-02-30", "YMD", "not a real date"),
    ("soon", "YMD", "not a date"),
])
def test_bad_dates_say_why(text, order, message):
    with pytest.raises(BadValue, match=message):
        parse_date(text, order)


def test_option_values_take_the_lists_spelling_and_unknown_values_are_kept():
    options = ["Woman", "Man", "Métis"]
    assert canonical_option("  woman ", options, "gender") == "Woman"
    assert canonical_option("Female", options, "gender") == "Woman"
    assert canonical_option("METIS", options, "indigenous_status") == "Métis"
    assert canonical_option("Agender", options, "gender") == "Agender"


def test_a_utf8_file_with_a_stray_byte_names_the_line_and_garbles_nothing():
    data = "ID,Last Name\nCLI1,Côté\nCLI2,Zoé\n".encode("utf-8").replace("Zoé".encode(), b"Zo\xe9")
    sheet = read_csv(data)
    assert sheet.encoding == "UTF-8, except line(s) 3"
    assert list(sheet.rows) == [(2, ["CLI1", "Côté"]), (3, ["CLI2", "Zo\ufffd"])]


def test_a_utf16_file_without_a_mark_is_read():
    sheet = read_csv("ID,Last Name\nCLI1,Côté\n".encode("utf-16-le"))
    assert sheet.encoding == "UTF-16" and list(sheet.rows) == [(2, ["CLI1", "Côté"])]


def test_a_cell_beyond_any_limit_refuses_the_file_naming_the_line():
    data = b'ID,Last Name\nCLI1,Roy\nCLI2,"' + b"x" * 1_100_000 + b"\n"
    with pytest.raises(FileRefused, match=r"at line 3: a cell is longer than 1,000,000 characters"):
        list(read_csv(data).rows)


def _workbook(path, *sheets):
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets:
        sheet = workbook.create_sheet(title)
        for values in rows:
            sheet.append(values)
    workbook.save(path)
    return path


def test_a_formula_without_a_saved_value_is_marked_for_staging(tmp_path):
    from app.services.ingest.reading import FORMULA_WITHOUT_VALUE

    path = _workbook(tmp_path / "f.xlsx", ("Data", [["Client No.", "DOB"], [1, "=DATE(1980,1,2)"],
                                                    [2, datetime(1981, 1, 1)]]))
    assert list(read_sheet(path).rows) == [(2, [1, FORMULA_WITHOUT_VALUE]), (3, [2, date(1981, 1, 1)])]


def test_data_on_another_sheet_is_found_and_a_workbook_without_it_names_its_sheets(tmp_path):
    column_map = ColumnMap("SMIS", default_titles("SMIS"))
    is_header = lambda cells: not column_map.resolve(cells).missing  # noqa: E731
    path = _workbook(tmp_path / "two.xlsx", ("Summary", [["Printed 2024-05-01"]]), ("Blank", []),
                     ("Clients", [["Client No.", "Last Name"], [7, "Roy"]]))
    sheet = read_sheet(path, is_header)
    assert sheet.headers == ["Client No.", "Last Name"] and list(sheet.rows) == [(2, [7, "Roy"])]
    assert sheet.sheets_note == "Sheets in the workbook: \u201cSummary\u201d, \u201cBlank\u201d (no rows), " \
                                "\u201cClients\u201d."
    empty = _workbook(tmp_path / "empty.xlsx", ("One", []), ("Two", []))
    with pytest.raises(FileRefused, match="no rows on any sheet \\(sheets: \u201cOne\u201d \\(no rows\\), \u201cTwo\u201d"):
        read_sheet(empty, is_header)


def test_a_workbook_named_csv_is_read_as_a_workbook(tmp_path):
    path = _workbook(tmp_path / "book.xlsx", ("Data", [["Client No.", "Last Name"], [7, "Roy"]]))
    renamed = path.rename(tmp_path / "export.csv")
    sheet = read_sheet(renamed)
    assert sheet.file_type == "xlsx" and list(sheet.rows) == [(2, [7, "Roy"])]
