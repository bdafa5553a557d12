"""The report pages: Organizational Summary and Vacancy Tracker, their CSV/XLSX exports and drill-down links.

Thin on purpose: read the inputs, call app/services/reports/, render the sections of
app/services/report_export.py (the same ones the exports and the CLI write). Who may open
or export a page is the role-rule table's answer for the page's key; whose programs are
counted is the visibility rule, applied by the service.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Response, abort, current_app, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user

from admin_views.chart_palette import category_colours, colour_at
from admin_views.clients import DEMOGRAPHIC_FILTERS, SERVED_FILTERS
from admin_views.filters import (
    DataQualityFilter, EnrollmentReportFilter, data_quality_filter_value, enrollment_report_filter_value,
)
from admin_views.roles import current_roles, refuse
from app.choices import AGE_BANDS, NOT_STATED
from app.labels import AGE_BAND_LABELS, NOT_STATED_LABEL
from app.permissions import Action, may
from app.services.report_export import (
    cell_text, export_filename, report_sections, sheet_title, to_csv, to_xlsx,
)
from app.services.access_review import access_report, staff_choices
from app.services.data_quality import DEFAULT_STALE_DAYS, data_quality_report, stale_days_from
from app.services.report_enrollment_history import enrollment_history
from app.services.report_department_summary import department_summary
from app.services.report_outcomes import outcomes_report
from app.services.report_program_performance import program_performance
from app.services.reports import (
    DIMENSIONS, ReportError, last_full_month, org_summary, parse_day, report_choices, stated_options,
    vacancy_report,
)

EXPORT_TYPES = {"csv": "text/csv; charset=utf-8",
                "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _list_view(endpoint: str):
    return next(view for view in current_app.extensions["ccd_admin"]._views if view.endpoint == endpoint)


def _client_list_view():
    return _list_view("clients")


def _data_quality_url(drill: dict) -> str:
    """The client or enrollment list filtered to exactly the records a Data quality count flagged."""
    endpoint = "clients" if drill["level"] == "client" else "client_program_enrollments"
    view = _list_view(endpoint)
    flt = next(f for f in view._filters if isinstance(f, DataQualityFilter))
    arg = f"flt0_{view.get_filter_arg(view._filters.index(flt), flt)}"
    return url_for(f"{endpoint}.index_view", **{arg: data_quality_filter_value(drill)})


def _enrollments_url(drill: dict) -> str:
    """The enrollment list filtered to exactly the enrollments an Enrollment history or Outcomes count counted."""
    view = _list_view("client_program_enrollments")
    flt = next(f for f in view._filters if isinstance(f, EnrollmentReportFilter))
    arg = f"flt0_{view.get_filter_arg(view._filters.index(flt), flt)}"
    return url_for("client_program_enrollments.index_view", **{arg: enrollment_report_filter_value(drill)})


def drill_down_url(drill: dict) -> str:
    """The client list filtered to exactly the clients a report count counted."""
    if drill.get("report") == "data_quality":
        return _data_quality_url(drill)
    if drill.get("report") == "enrollments":
        return _enrollments_url(drill)
    period = f"{drill['date_from']} to {drill['date_to']}"
    coverage = drill["coverage"]
    chosen = [(SERVED_FILTERS[(drill["kind"], coverage and coverage[0])],
               f"{coverage[1]}, {period}" if coverage else period)]
    demographics = list(drill["filters"].items()) + ([drill["row_filter"]] if drill["row_filter"] else [])
    for key, value in demographics:
        chosen.append((DEMOGRAPHIC_FILTERS[key], f"{value} on {drill['date_to']}" if key == "age_band" else value))
    view = _client_list_view()
    args = {f"flt{position}_{view.get_filter_arg(view._filters.index(flt), flt)}": value
            for position, (flt, value) in enumerate(chosen)}
    return url_for("clients.index_view", **args)


def _today():
    return datetime.now(ZoneInfo(current_app.config["TIMEZONE"])).date()


def _acting_staff():
    """The signed-in staff member; never None here, because None would mean "the system, no limit"."""
    staff = current_user.staff
    if staff is None:
        abort(403)
    return staff


def _bar(chart_id: str, title: str, labels: list, datasets: list, kind: str = "bar", horizontal: bool = False):
    return {"id": chart_id, "title": title, "type": kind, "horizontal": horizontal, "labels": labels,
            "datasets": datasets}


def _per_category(chart_id: str, title: str, rows: list[dict], label_key: str, kind: str = "bar",
                  horizontal: bool = False):
    """One bar or slice per category that counted someone, each in its category's colour (chart_palette)."""
    shown = [row for row in rows if row["clients"]]
    labels = [row[label_key] for row in shown]
    colours = category_colours([row[label_key] for row in rows], labels)
    return _bar(chart_id, title, labels, [{"label": "Clients", "data": [row["clients"] for row in shown],
                                           "backgroundColor": colours}], kind, horizontal)


class ReportPage(BaseView):
    """A report page guarded by its key in the role-rule table (LIST to open, EXPORT to download)."""

    rule_key = ""
    template = ""
    lead_sections = 1  # sections shown above the charts (what the report is, and its headline)

    def is_accessible(self):
        return current_user.is_authenticated and may(current_roles(), self.rule_key, Action.LIST)

    def inaccessible_callback(self, name, **kwargs):
        return refuse()

    @property
    def can_export(self) -> bool:
        return may(current_roles(), self.rule_key, Action.EXPORT)

    def build(self, args) -> dict:
        raise NotImplementedError

    def form(self, args) -> dict:
        raise NotImplementedError

    def charts(self, report: dict) -> list[dict]:
        raise NotImplementedError

    @expose("/")
    def index(self):
        try:
            report = self.build(request.args)
        except ReportError as exc:
            return self.render(self.template, error=str(exc), report=None, sections=[], charts=[],
                               form=self.form(request.args)), 400
        links = may(current_roles(), "clients", Action.LIST)
        sections = [
            {
                "section": section,
                "rows": [[(cell_text(value), isinstance(value, (int, float)) and not isinstance(value, bool))
                          for value in row] for row in section.rows],
                "urls": [drill_down_url(drill) if links and drill else None for drill in section.drill_downs],
                "cell_urls": [{column: drill_down_url(drill) for column, drill in cells.items()} if links else {}
                              for cells in section.cell_drill_downs],
            }
            for section in report_sections(report)
        ]
        return self.render(self.template, error=None, report=report, sections=sections,
                           charts=self.charts(report), form=self.form(request.args),
                           export_args=request.args.to_dict())

    @expose("/export/<kind>")
    def export(self, kind):
        if not self.can_export:
            abort(403)
        if kind not in EXPORT_TYPES:
            abort(404)
        try:
            report = self.build(request.args)
        except ReportError as exc:
            flash(str(exc), "error")
            return redirect(url_for(".index", **request.args.to_dict()))
        sections = report_sections(report)
        body = to_csv(sections).encode("utf-8-sig") if kind == "csv" else to_xlsx(sections, sheet_title(report))
        return Response(body, mimetype=EXPORT_TYPES[kind], headers={
            "Content-Disposition": f'attachment; filename="{export_filename(report, kind)}"'})


class OrgSummaryView(ReportPage):
    rule_key = "org_summary_report"
    template = "admin/reports/org_summary.html"
    lead_sections = 2

    def build(self, args) -> dict:
        default_from, default_to = last_full_month(_today())
        return org_summary(
            parse_day(args.get("date_from"), "From", default_from),
            parse_day(args.get("date_to"), "To", default_to),
            department_id=args.get("department") or None,
            program_id=args.get("program") or None,
            filters={d.key: args[d.key] for d in DIMENSIONS if args.get(d.key)},
            staff=_acting_staff(),
        )

    def form(self, args) -> dict:
        default_from, default_to = last_full_month(_today())
        dimensions = []
        for dimension in DIMENSIONS:
            if dimension.key == "age_band":
                options = [(key, AGE_BAND_LABELS[key]) for key, _, _ in AGE_BANDS]
            else:
                options = [(value, value) for value in stated_options(dimension.list_key)]
            dimensions.append({"key": dimension.key, "label": dimension.label,
                               "options": options + [(NOT_STATED, NOT_STATED_LABEL)],
                               "selected": args.get(dimension.key, "")})
        return {
            "date_from": args.get("date_from") or default_from.isoformat(),
            "date_to": args.get("date_to") or default_to.isoformat(),
            "department": args.get("department", ""), "program": args.get("program", ""),
            "dimensions": dimensions, **report_choices(_acting_staff()),
        }

    def charts(self, report: dict) -> list[dict]:
        charts = []
        for key, kind, horizontal in (("gender", "doughnut", False), ("age_band", "bar", False),
                                      ("citizenship_status", "bar", True), ("languages_spoken", "bar", True)):
            breakdown = report["breakdowns"][key]
            charts.append(_per_category(f"chart-{key}", breakdown["label"], breakdown["rows"], "label", kind,
                                        horizontal))
        charts.append(_per_category("chart-by-program", "Clients by program", report["by_program"], "program",
                                    horizontal=True))
        return charts


class VacancyView(ReportPage):
    rule_key = "vacancy_report"
    template = "admin/reports/vacancy.html"

    def build(self, args) -> dict:
        return vacancy_report(parse_day(args.get("as_of"), "As of", _today()),
                              department_id=args.get("department") or None, staff=_acting_staff())

    def form(self, args) -> dict:
        return {"as_of": args.get("as_of") or _today().isoformat(), "department": args.get("department", ""),
                "departments": report_choices(_acting_staff())["departments"]}

    def charts(self, report: dict) -> list[dict]:
        limited = [row for row in report["rows"] if not row["no_capacity_limit"]]
        return [_bar("chart-occupancy", "Occupancy by program", [row["program"] for row in limited], [
            {"label": "Occupied", "data": [row["occupied"] for row in limited], "backgroundColor": colour_at(0)},
            {"label": "Capacity", "data": [row["capacity"] for row in limited], "backgroundColor": colour_at(1)},
        ], horizontal=True)]


class DataQualityView(ReportPage):
    rule_key = "data_quality_report"
    template = "admin/reports/data_quality.html"
    lead_sections = 2

    def build(self, args) -> dict:
        default_from, default_to = last_full_month(_today())
        return data_quality_report(
            parse_day(args.get("date_from"), "From", default_from),
            parse_day(args.get("date_to"), "To", default_to),
            department_id=args.get("department") or None, program_id=args.get("program") or None,
            stale_days=stale_days_from(args.get("stale_days")), staff=_acting_staff())

    def form(self, args) -> dict:
        default_from, default_to = last_full_month(_today())
        return {"date_from": args.get("date_from") or default_from.isoformat(),
                "date_to": args.get("date_to") or default_to.isoformat(),
                "department": args.get("department", ""), "program": args.get("program", ""),
                "stale_days": args.get("stale_days") or DEFAULT_STALE_DAYS, **report_choices(_acting_staff())}

    def charts(self, report: dict) -> list[dict]:
        return []


class AccessReportView(ReportPage):
    """Who read how many clients' data in a period; one staff member's reads one by one."""

    rule_key = "access_report"
    template = "admin/reports/access.html"
    lead_sections = 2

    def build(self, args) -> dict:
        today = _today()
        return access_report(parse_day(args.get("date_from"), "From", today - timedelta(days=6)),
                             parse_day(args.get("date_to"), "To", today), staff_id=args.get("staff") or None)

    def form(self, args) -> dict:
        today = _today()
        return {"date_from": args.get("date_from") or (today - timedelta(days=6)).isoformat(),
                "date_to": args.get("date_to") or today.isoformat(), "staff": args.get("staff", ""),
                "staff_choices": staff_choices()}

    def charts(self, report: dict) -> list[dict]:
        return []


class PeriodReportView(ReportPage):
    """A report over a period, for a department or program: the form every such report shares."""

    template = "admin/reports/period.html"
    service = None
    intro = ""

    def build(self, args) -> dict:
        default_from, default_to = last_full_month(_today())
        return type(self).service(parse_day(args.get("date_from"), "From", default_from),
                                  parse_day(args.get("date_to"), "To", default_to),
                                  department_id=args.get("department") or None,
                                  program_id=args.get("program") or None, staff=_acting_staff())

    def form(self, args) -> dict:
        default_from, default_to = last_full_month(_today())
        return {"date_from": args.get("date_from") or default_from.isoformat(),
                "date_to": args.get("date_to") or default_to.isoformat(),
                "department": args.get("department", ""), "program": args.get("program", ""),
                **report_choices(_acting_staff())}

    def charts(self, report: dict) -> list[dict]:
        return []


class EnrollmentHistoryView(PeriodReportView):
    rule_key = "enrollment_history_report"
    service = staticmethod(enrollment_history)
    intro = ("Enrollments started, ended and open at the end of each month of the period: every count opens the "
             "list of exactly the enrollments it counted.")



class OutcomesView(PeriodReportView):
    rule_key = "outcomes_report"
    service = staticmethod(outcomes_report)
    intro = ("Discharges in the period per program and reason, and the share that were planned or successful "
             "completions (which reasons count is an option list under Settings): every count opens the list of "
             "exactly the enrollments it counted.")



class ProgramPerformanceView(PeriodReportView):
    rule_key = "program_performance_report"
    service = staticmethod(program_performance)
    intro = ("Per program for the period: clients served and new, discharges, average occupancy against the "
             "capacity in force each day, and turnover. Client counts open the clients, discharges and occupancy "
             "the enrollments behind them.")



class DepartmentSummaryView(PeriodReportView):
    rule_key = "department_summary_report"
    intro = ("The Organizational Summary for each department side by side, and for all of them: a client served "
             "in several programs of a department counts once there. Every count opens its clients.")

    def build(self, args) -> dict:
        default_from, default_to = last_full_month(_today())
        return department_summary(parse_day(args.get("date_from"), "From", default_from),
                                  parse_day(args.get("date_to"), "To", default_to), staff=_acting_staff())

    def form(self, args) -> dict:
        default_from, default_to = last_full_month(_today())
        return {"date_from": args.get("date_from") or default_from.isoformat(),
                "date_to": args.get("date_to") or default_to.isoformat(), "per_department": True}


# (category, view class, rule key, url); the page's name is its label in app/labels.py.
REPORT_PAGES = (
    ("Reports", OrgSummaryView, "org_summary_report", "/admin/reports/org-summary"),
    ("Reports", VacancyView, "vacancy_report", "/admin/reports/vacancy"),
    ("Reports", DataQualityView, "data_quality_report", "/admin/reports/data-quality"),
    ("Reports", EnrollmentHistoryView, "enrollment_history_report", "/admin/reports/enrollment-history"),
    ("Reports", OutcomesView, "outcomes_report", "/admin/reports/outcomes"),
    ("Reports", ProgramPerformanceView, "program_performance_report", "/admin/reports/program-performance"),
    ("Reports", DepartmentSummaryView, "department_summary_report", "/admin/reports/department-summary"),
    ("Reports", AccessReportView, "access_report", "/admin/reports/access"),
)
