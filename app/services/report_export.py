"""A report as labelled sections, and those sections written as CSV or XLSX.

The report pages render these same sections, and the CLI and exports write them, so a
downloaded file holds exactly what the page shows, section by section. Every text cell
goes through ``neutralise_formula`` first: a program or option named ``=HYPERLINK(…)``
must reach a spreadsheet as text, never as a formula.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from dataclasses import dataclass, field

from openpyxl import Workbook
from openpyxl.styles import Font

from admin_views.formatting import neutralise_formula
from app.choices import ACCESS_KIND_NAMES
from app.labels import AGE_BAND_LABELS, NOT_STATED_LABEL, entity_label, label
from app.services.reports import DIMENSION_BY_KEY


@dataclass
class Section:
    """One titled table of a report. ``drill_downs`` (never exported) says, per row, which clients
    the row's count is, for the page to link to; ``count_column`` is the cell that links."""

    key: str
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    note: str | None = None
    drill_downs: list[dict | None] = field(default_factory=list)
    count_column: int | None = None
    flagged: list[bool] = field(default_factory=list)  # rows the page highlights (over capacity)
    # Tables whose every count cell opens its own list: per row, {column index: drill-down}.
    cell_drill_downs: list[dict[int, dict]] = field(default_factory=list)

    def add(self, cells: list, drill_down: dict | None = None, flagged: bool = False,
            cell_drill_downs: dict[int, dict] | None = None) -> None:
        self.rows.append(cells)
        self.drill_downs.append(drill_down)
        self.flagged.append(flagged)
        self.cell_drill_downs.append(cell_drill_downs or {})


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else ""
    return value


def cell_text(value) -> str:
    """A cell as the page shows it and the CSV holds it (before formula neutralising)."""
    return str(_cell(value))


def filter_value_label(key: str, value: str) -> str:
    """How a report filter's value reads (the not-stated key and age band keys have labels)."""
    if value == "not-stated":
        return NOT_STATED_LABEL
    if key == "age_band":
        return AGE_BAND_LABELS.get(value, value)
    return value


def _filters_text(filters: dict) -> str:
    if not filters:
        return "None"
    return "; ".join(f"{DIMENSION_BY_KEY[k].label}: {filter_value_label(k, v)}" for k, v in filters.items())


def _definitions(report: dict) -> Section:
    section = Section("definitions", "Definitions", ["Term", "Meaning"])
    for key, text in report["definitions"].items():
        section.add([key.replace("_", " ").capitalize(), text])
    return section


def _coverage(report: dict) -> tuple[str, str] | None:
    """What a report was narrowed to, as its drill-downs name it: ("program" | "department", name), or None."""
    if report["program"]:
        return "program", report["program"]["name"]
    if report["department"]:
        return "department", report["department"]["name"]
    return None


def org_summary_sections(report: dict) -> list[Section]:
    """The Organizational Summary as the sections the page shows and the exports write."""
    # Drill-downs name the clients behind a count: who (served, new or continuing), when, where
    # (None for every program covered, or ("program" | "department", name)) and with which filters.
    coverage = _coverage(report)
    base = {"kind": "served", "date_from": report["date_from"], "date_to": report["date_to"],
            "filters": report["filters"], "coverage": coverage, "row_filter": None}

    about = Section("report", "Report", ["Item", "Value"])
    about.add(["Report", entity_label("org_summary_report")])
    about.add([label("date_from"), report["date_from"]])
    about.add([label("date_to"), report["date_to"]])
    about.add([label("department"), report["department"]["name"] if report["department"] else "All departments"])
    about.add([label("program"), report["program"]["name"] if report["program"] else "All programs"])
    about.add(["Demographic filters", _filters_text(report["filters"])])
    about.add(["Programs counted", "All programs" if report["scope"] == "all programs"
               else "The programs you can see"])

    summary = Section("summary", "Summary", ["Measure", "Clients"], count_column=1)
    for key, kind in (("distinct_clients_served", "served"), ("new_clients", "new"),
                      ("continuing_clients", "continuing")):
        summary.add([label(key), report[key]], base | {"kind": kind})

    sections = [about, summary]
    for key, breakdown in report["breakdowns"].items():
        note = (f"A client can have several values here and counts once under each, so the rows add up to "
                f"{breakdown['total']}, which can exceed the {report['distinct_clients_served']} distinct clients "
                "served." if breakdown["multi_valued"] else None)
        section = Section(key, breakdown["label"], [breakdown["label"], "Clients"], note=note, count_column=1)
        for row in breakdown["rows"]:
            section.add([row["label"], row["clients"]], base | {"row_filter": (key, row["value"])})
        sections.append(section)

    departments = Section("by_department", "By department", [label("department"), "Clients"], count_column=1)
    for row in report["by_department"]:
        where = coverage if report["program"] else ("department", row["department"])
        departments.add([row["department"], row["clients"]], base | {"coverage": where})
    programs = Section("by_program", "By program", [label("program"), label("department"), "Clients"],
                       count_column=2)
    for row in report["by_program"]:
        programs.add([row["program"], row["department"], row["clients"]],
                     base | {"coverage": ("program", row["program"])})
    return sections + [departments, programs, _definitions(report)]


VACANCY_COLUMNS = ["Capacity", "Occupied", "Vacant", "Occupancy %"]


def vacancy_sections(report: dict) -> list[Section]:
    """The Vacancy Tracker as the sections the page shows and the exports write."""
    about = Section("report", "Report", ["Item", "Value"])
    about.add(["Report", entity_label("vacancy_report")])
    about.add([label("as_of"), report["as_of"]])
    about.add([label("department"), report["department"]["name"] if report["department"] else "All departments"])
    about.add(["Programs counted", "All programs" if report["scope"] == "all programs"
               else "The programs you can see"])

    programs = Section("programs", "Programs", [label("program"), label("department"), label("status"),
                                                *VACANCY_COLUMNS, "Over capacity"], count_column=4)
    for row in report["rows"]:
        capacity = "No capacity limit" if row["no_capacity_limit"] else row["capacity"]
        programs.add(
            [row["program"], row["department"], row["status"].capitalize(), capacity, row["occupied"],
             _cell(row["vacant"]), _cell(row["occupancy_pct"]), _cell(row["over_capacity"])],
            {"kind": "served", "date_from": report["as_of"], "date_to": report["as_of"], "filters": {},
             "coverage": ("program", row["program"]), "row_filter": None},
            flagged=row["over_capacity"],
        )

    totals = Section("totals", "Totals", [label("department"), "Programs", *VACANCY_COLUMNS,
                                          "Programs over capacity", "Programs with no limit",
                                          "Occupied in programs with no limit"])
    for name, t in [(d["department"], d) for d in report["totals"]["by_department"]] + \
                   [("All departments", report["totals"]["overall"])]:
        totals.add([name, t["programs"], t["capacity"], t["occupied"], t["vacant"], _cell(t["occupancy_pct"]),
                    t["over_capacity_programs"], t["no_limit_programs"], t["occupied_no_limit"]])
    return [about, programs, totals, _definitions(report)]


def data_quality_sections(report: dict) -> list[Section]:
    """The Data quality report: the checks overall, then per program and per source system, as counts
    (each opening the records to fix) and as shares of the records checked."""
    coverage = _coverage(report)
    base = {"report": "data_quality", "date_from": report["date_from"], "date_to": report["date_to"],
            "stale_days": report["stale_days"], "coverage": coverage}
    checks = report["checks"]

    about = Section("report", "Report", ["Item", "Value"])
    about.add(["Report", entity_label("data_quality_report")])
    about.add([label("date_from"), report["date_from"]])
    about.add([label("date_to"), report["date_to"]])
    about.add([label("department"), report["department"]["name"] if report["department"] else "All departments"])
    about.add([label("program"), report["program"]["name"] if report["program"] else "All programs"])
    about.add(["Days without activity", report["stale_days"]])
    about.add(["Programs counted", "All programs" if report["scope"] == "all programs"
               else "The programs you can see"])

    overall = report["overall"]
    summary = Section("summary", "Overall", ["Check", "Checked", "To fix", "Share %"], count_column=2)
    for check in checks:
        checked = overall["clients"] if check["level"] == "client" else overall["enrollments"]
        summary.add([check["title"], f"{checked} {'clients' if check['level'] == 'client' else 'enrollments'}",
                     overall["counts"][check["key"]], _cell(overall["shares"][check["key"]])],
                    base | {"check": check["key"], "level": check["level"]})

    def matrix(key: str, title: str, heads: list[str], rows: list[tuple[list, dict, tuple]]) -> list[Section]:
        counts = Section(key, f"{title}: records to fix", heads + ["Clients", "Enrollments"]
                         + [c["title"] for c in checks])
        shares = Section(f"{key}_shares", f"{title}: share of records checked (%)", heads + ["Clients",
                         "Enrollments"] + [c["title"] for c in checks])
        for cells, row, where in rows:
            first = len(cells) + 2
            counts.add(cells + [row["clients"], row["enrollments"]] + [row["counts"][c["key"]] for c in checks],
                       cell_drill_downs={first + i: base | {"check": c["key"], "level": c["level"],
                                                            "coverage": where}
                                         for i, c in enumerate(checks) if row["counts"][c["key"]]})
            shares.add(cells + [row["clients"], row["enrollments"]] + [_cell(row["shares"][c["key"]]) for c in checks])
        return [counts, shares]

    programs = matrix("by_program", "By program", [label("program"), label("department")],
                      [([row["program"], row["department"]], row, ("program", row["program"]))
                       for row in report["by_program"]])
    sources = matrix("by_source", "By source system", ["Source system"],
                     [([row["source_label"]], row, ("source", row["source"])) for row in report["by_source"]])
    return [about, summary, *programs, *sources, _definitions(report)]


def access_sections(report: dict) -> list[Section]:
    """The Access report: who read how many clients' data in the period, by kind; one reader's reads one by one."""
    about = Section("report", "Report", ["Item", "Value"])
    about.add(["Report", entity_label("access_report")])
    about.add([label("date_from"), report["date_from"]])
    about.add([label("date_to"), report["date_to"]])
    about.add([label("staff"), report["staff"]["name"] if report["staff"] else "Everyone"])
    about.add(["Reads", report["totals"]["reads"]])
    about.add(["Distinct clients", report["totals"]["clients"]])

    readers = Section("by_staff", "By staff member", [label("staff"), "Reads", "Distinct clients",
                                                      *ACCESS_KIND_NAMES.values()])
    for row in report["readers"]:
        readers.add([row["name"], row["reads"], row["clients"], *(row["kinds"][kind] for kind in ACCESS_KIND_NAMES)])
    sections = [about, readers]
    if report["reads"] is not None:
        reads = Section("reads", "Reads one by one", ["When", "What", label("client"), "Client id", "From address",
                                                      "Page", "File or email"])
        for row in report["reads"]:
            reads.add([row["when"], row["kind"], row["client"], row["client_id"], row["address"], row["path"],
                       row["detail"]])
        sections.append(reads)
    return sections


def _about(report: dict, *extra: tuple[str, object]) -> Section:
    """What a period report was asked for: its name, period, department, program and whose programs."""
    about = Section("report", "Report", ["Item", "Value"])
    about.add(["Report", entity_label(f"{report['report']}_report")])
    about.add([label("date_from"), report["date_from"]])
    about.add([label("date_to"), report["date_to"]])
    about.add([label("department"), report["department"]["name"] if report["department"] else "All departments"])
    about.add([label("program"), report["program"]["name"] if report["program"] else "All programs"])
    for item, value in extra:
        about.add([item, value])
    about.add(["Programs counted", "All programs" if report["scope"] == "all programs"
               else "The programs you can see"])
    return about


def _stay(days: float | None):
    return "" if days is None else round(days, 1)


def enrollment_history_sections(report: dict) -> list[Section]:
    """Enrollment history: the period's flow, then month by month, then the ends by discharge reason;
    every count opens the enrollments it counted."""
    coverage = _coverage(report)

    def drill(kind: str, first: str, last: str, reason: str | None = None) -> dict:
        return {"report": "enrollments", "kind": kind, "date_from": first, "date_to": last, "reason": reason,
                "coverage": coverage}

    start, end, totals = report["date_from"], report["date_to"], report["totals"]
    day_before = (date.fromisoformat(start) - timedelta(days=1)).isoformat()
    summary = Section("summary", "Whole period", ["Measure", "Enrollments"], count_column=1)
    summary.add(["Open the day before the period", report["open_at_start"]], drill("open", day_before, day_before))
    summary.add(["Started", totals["started"]], drill("started", start, end))
    summary.add(["Ended", totals["ended"]], drill("ended", start, end))
    summary.add(["Open at the end", totals["open_at_end"]], drill("open", end, end))
    summary.add(["Median length of stay (days)", _stay(totals["median_stay_days"])])

    months = Section("months", "Month by month", ["Month", "Started", "Ended", "Open at the end",
                                                  "Median length of stay (days)"])
    for row in report["months"]:
        first, last = row["first_day"], row["last_day"]
        months.add([row["month"], row["started"], row["ended"], row["open_at_end"], _stay(row["median_stay_days"])],
                   cell_drill_downs={1: drill("started", first, last), 2: drill("ended", first, last),
                                     3: drill("open", last, last)})

    reasons = Section("ended_by_reason", "Ended, by discharge reason",
                      ["Discharge reason", *[row["month"] for row in report["months"]], "Total"])
    for reason in report["ended_by_reason"]:
        cells = {position + 1: drill("ended", row["first_day"], row["last_day"], reason["reason"])
                 for position, row in enumerate(report["months"]) if reason["by_month"][position]}
        cells[len(report["months"]) + 1] = drill("ended", start, end, reason["reason"])
        reasons.add([reason["label"], *reason["by_month"], reason["total"]], cell_drill_downs=cells)
    return [_about(report), summary, months, reasons, _definitions(report)]


def outcomes_sections(report: dict) -> list[Section]:
    """Outcomes: discharges per program and reason, and the successful share; each count opens its enrollments."""
    coverage = _coverage(report)
    start, end = report["date_from"], report["date_to"]

    def drill(kind: str, where, reason: str | None = None) -> dict:
        return {"report": "enrollments", "kind": kind, "date_from": start, "date_to": end, "reason": reason,
                "coverage": where}

    reasons = report["reasons"]
    about = _about(report, ("Successful reasons", "; ".join(report["successful_reasons"]) or "None chosen"))
    heads = ["Discharges", "Planned or successful", "Successful %",
             *[r["label"] + (" (successful)" if r["successful"] else "") for r in reasons]]
    programs = Section("by_program", "By program", [label("program"), label("department"), *heads])

    def add(section: Section, cells: list, row: dict, where) -> None:
        first, counts = len(cells), [row["discharges"], row["successful"], None, *row["by_reason"]]
        links = [drill("ended", where), drill("successful", where), None,
                 *[drill("ended", where, r["reason"]) for r in reasons]]
        section.add(cells + [row["discharges"], row["successful"], _cell(row["successful_pct"]), *row["by_reason"]],
                    cell_drill_downs={first + i: link for i, (link, n) in enumerate(zip(links, counts)) if n})

    for row in report["by_program"]:
        add(programs, [row["program"], row["department"]], row, ("program", row["program"]))
    overall = Section("overall", "All programs counted", ["Programs", *heads])
    add(overall, ["All programs counted"], report["overall"], coverage)
    return [about, overall, programs, _definitions(report)]


def program_performance_sections(report: dict) -> list[Section]:
    """Program performance: one row per program and the total; clients open the client list, discharges and
    occupancy the enrollments behind them."""
    coverage = _coverage(report)
    start, end = report["date_from"], report["date_to"]

    def clients(kind: str, where) -> dict:
        return {"kind": kind, "date_from": start, "date_to": end, "filters": {}, "coverage": where,
                "row_filter": None}

    def enrollments(kind: str, where) -> dict:
        return {"report": "enrollments", "kind": kind, "date_from": start, "date_to": end, "reason": None,
                "coverage": where}

    heads = ["Clients served", "New clients", "Discharged", "Average occupancy", "Average capacity",
             "Occupancy %", "Turnover"]

    def cells(row: dict) -> list:
        capacity = "No capacity limit" if row.get("no_capacity_limit") else _cell(row["average_capacity"])
        return [row["served"], row["new"], row["discharged"], row["average_occupancy"], capacity,
                _cell(row["occupancy_pct"]), _cell(row["turnover"])]

    def links(first: int, row: dict, where) -> dict:
        found = {first: clients("served", where), first + 1: clients("new", where),
                 first + 2: enrollments("ended", where), first + 3: enrollments("active", where)}
        counts = [row["served"], row["new"], row["discharged"], row["occupied_client_days"]]
        return {column: link for (column, link), n in zip(found.items(), counts) if n}

    programs = Section("by_program", "By program", [label("program"), label("department"), *heads])
    for row in report["by_program"]:
        where = ("program", row["program"])
        programs.add([row["program"], row["department"], *cells(row)], cell_drill_downs=links(2, row, where))
    total = Section("total", "All programs counted", ["Programs", *heads],
                    note="Clients served and new clients count each client once, however many programs served "
                         "them; the other columns add up the programs (capacity and occupancy % only those with "
                         "a capacity limit).")
    total.add(["All programs counted", *cells(report["total"])], cell_drill_downs=links(1, report["total"], coverage))
    return [_about(report, ("Days in the period", report["days"])), total, programs, _definitions(report)]


def department_summary_sections(report: dict) -> list[Section]:
    """The Department summary: one column per department and one for all, each count opening its clients."""
    columns = report["departments"]
    heads = [column["department"] for column in columns]

    def drill(column: dict, kind: str, row_filter=None) -> dict:
        where = ("department", column["department"]) if column["department_id"] else None
        return {"kind": kind, "date_from": report["date_from"], "date_to": report["date_to"], "filters": {},
                "coverage": where, "row_filter": row_filter}

    def links(counts: list[int], kind: str, row_filter=None) -> dict:
        return {position + 1: drill(column, kind, row_filter)
                for position, (column, n) in enumerate(zip(columns, counts)) if n}

    summary = Section("summary", "Clients", ["Measure", *heads])
    for measure in report["measures"]:
        summary.add([label(measure["key"]), *measure["clients"]],
                    cell_drill_downs=links(measure["clients"], measure["kind"]))
    sections = [_about(report), summary]
    for key, breakdown in report["breakdowns"].items():
        note = ("A client can have several values here and counts once under each." if breakdown["multi_valued"]
                else None)
        section = Section(key, breakdown["label"], [breakdown["label"], *heads], note=note)
        for row in breakdown["rows"]:
            section.add([row["label"], *row["clients"]],
                        cell_drill_downs=links(row["clients"], "served", (key, row["value"])))
        sections.append(section)
    return sections + [_definitions(report)]


def report_sections(report: dict) -> list[Section]:
    builders = {"org_summary": org_summary_sections, "vacancy": vacancy_sections,
                "data_quality": data_quality_sections, "access": access_sections,
                "enrollment_history": enrollment_history_sections,
                "outcomes": outcomes_sections, "program_performance": program_performance_sections,
                "department_summary": department_summary_sections}
    return builders[report["report"]](report)


def _lines(sections: list[Section]):
    """Every exported line: section title, its note, column headings, rows, then a blank line."""
    for section in sections:
        yield [section.title]
        if section.note:
            yield [section.note]
        yield section.columns
        for row in section.rows:
            yield [neutralise_formula(_cell(value)) for value in row]
        yield []


def to_csv(sections: list[Section]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for line in _lines(sections):
        writer.writerow([neutralise_formula(value) for value in line])
    return out.getvalue()


def to_xlsx(sections: list[Section], sheet_title: str) -> bytes:
    """One sheet laid out like the CSV, section titles and headings in bold, numbers as numbers."""
    book = Workbook()
    sheet = book.active
    sheet.title = sheet_title[:31]
    bold = Font(bold=True)
    for section in sections:
        sheet.append([neutralise_formula(section.title)])
        sheet.cell(sheet.max_row, 1).font = Font(bold=True, size=12)
        if section.note:
            sheet.append([neutralise_formula(section.note)])
        sheet.append([neutralise_formula(column) for column in section.columns])
        for cell in sheet[sheet.max_row]:
            cell.font = bold
        for row in section.rows:
            sheet.append([neutralise_formula(_cell(value)) for value in row])
        sheet.append([])
    sheet.column_dimensions["A"].width = 40
    for letter in "BCDEFGHI":
        sheet.column_dimensions[letter].width = 16
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def export_filename(report: dict, extension: str) -> str:
    if "date_from" in report:
        return f"ccd_{report['report']}_{report['date_from']}_{report['date_to']}.{extension}"
    return f"ccd_vacancy_{report['as_of']}.{extension}"


def sheet_title(report: dict) -> str:
    return entity_label(f"{report['report']}_report")

