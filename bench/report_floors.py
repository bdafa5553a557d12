"""Hand-written SQL floors for the Enrollment history, Outcomes, Program performance, Department summary and
Data quality reports: each computes the report's headline numbers (the Data quality report's: every cell) by the
definitions in app/services/ as directly as PostgreSQL allows, and is checked against the report in the same run (a
faster query of other numbers is no floor). bench/run times them next to the pages; a check gets the floor's rows.
"""

from datetime import date

# An enrollment the reports count: not archived, its client neither archived nor merged away.
COUNTED = """NOT e.is_archived AND NOT EXISTS (
    SELECT 1 FROM clients c WHERE c.id = e.client_id AND (c.is_archived OR c.merged_into_id IS NOT NULL))"""
REASON = """(SELECT min(d.reason) FROM discharges d WHERE d.client_id = e.client_id AND d.program_id = e.program_id
             AND d.discharge_date = e.end_date)"""

ENROLLMENT_HISTORY_SQL = f"""
SELECT
  (SELECT count(*) FROM client_program_enrollments e
    WHERE {COUNTED} AND e.start_date BETWEEN %(from)s AND %(to)s) AS started,
  (SELECT count(*) FROM client_program_enrollments e
    WHERE {COUNTED} AND e.start_date < %(from)s AND (e.end_date IS NULL OR e.end_date >= %(from)s)) AS open_before,
  (SELECT json_object_agg(coalesce(reason, ''), n) FROM (
     SELECT {REASON} AS reason, count(*) AS n FROM client_program_enrollments e
      WHERE {COUNTED} AND e.end_date BETWEEN %(from)s AND %(to)s GROUP BY 1) r) AS ended_by_reason,
  (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY e.end_date - e.start_date) FROM client_program_enrollments e
    WHERE {COUNTED} AND e.end_date BETWEEN %(from)s AND %(to)s) AS median_stay
"""

OUTCOMES_SQL = f"""
SELECT count(*) AS discharges,
       count(*) FILTER (WHERE reason IN (SELECT value FROM choice_options
                                         WHERE list_key = 'successful_discharge_reason' AND is_active)) AS successful
FROM (SELECT {REASON} AS reason FROM client_program_enrollments e
      WHERE {COUNTED} AND e.end_date BETWEEN %(from)s AND %(to)s) ended
"""

# Served and new per program, discharges, and the client-days active (one place per client and day).
PROGRAM_PERFORMANCE_SQL = f"""
WITH served AS (
  SELECT e.client_id, e.program_id, bool_or(e.start_date < %(from)s) AS started_before,
         greatest(e.start_date, %(from)s) AS s, least(coalesce(e.end_date, %(to)s), %(to)s) AS f
  FROM client_program_enrollments e
  WHERE {COUNTED} AND e.start_date <= %(to)s AND (e.end_date IS NULL OR e.end_date >= %(from)s)
  GROUP BY e.client_id, e.program_id, 4, 5
), pairs AS (
  SELECT client_id, program_id, bool_or(started_before) AS started_before FROM served GROUP BY 1, 2
), days AS (
  SELECT program_id, greatest(0, f - greatest(s, coalesce(max(f) OVER w, s - 1) + 1) + 1) AS added
  FROM served WINDOW w AS (PARTITION BY program_id, client_id ORDER BY s, f ROWS BETWEEN UNBOUNDED PRECEDING
                                                                           AND 1 PRECEDING)
)
SELECT (SELECT count(*) FROM pairs) AS served_pairs,
       (SELECT count(*) FROM pairs p WHERE NOT p.started_before
          AND NOT EXISTS (SELECT 1 FROM client_program_enrollments x WHERE x.client_id = p.client_id
                          AND x.program_id = p.program_id AND x.start_date < %(from)s AND NOT x.is_archived)
          AND NOT EXISTS (SELECT 1 FROM intakes i WHERE i.client_id = p.client_id AND i.program_id = p.program_id
                          AND i.intake_date < %(from)s)) AS new_pairs,
       (SELECT count(*) FROM client_program_enrollments e
         WHERE {COUNTED} AND e.end_date BETWEEN %(from)s AND %(to)s) AS discharged,
       (SELECT sum(added) FROM days) AS client_days,
       (SELECT count(DISTINCT client_id) FROM pairs) AS served,
       (SELECT count(*) FROM (SELECT client_id FROM pairs GROUP BY client_id HAVING NOT bool_or(started_before)) c
         WHERE NOT EXISTS (SELECT 1 FROM client_program_enrollments x WHERE x.client_id = c.client_id
                           AND x.start_date < %(from)s AND NOT x.is_archived)
           AND NOT EXISTS (SELECT 1 FROM intakes i WHERE i.client_id = c.client_id
                           AND i.intake_date < %(from)s)) AS new
"""

# Distinct clients served per department and new to its programs (the Summary's headline, per department).
DEPARTMENT_SUMMARY_SQL = f"""
WITH pairs AS (
  SELECT e.client_id, p.department_id, bool_or(e.start_date < %(from)s) AS started_before
  FROM client_program_enrollments e JOIN programs p ON p.id = e.program_id
  WHERE {COUNTED} AND e.start_date <= %(to)s AND (e.end_date IS NULL OR e.end_date >= %(from)s)
  GROUP BY 1, 2
)
SELECT count(*) AS served_pairs,
       count(*) FILTER (WHERE NOT started_before
         AND NOT EXISTS (SELECT 1 FROM client_program_enrollments x JOIN programs q ON q.id = x.program_id
                         WHERE x.client_id = pairs.client_id AND q.department_id = pairs.department_id
                           AND x.start_date < %(from)s AND NOT x.is_archived)
         AND NOT EXISTS (SELECT 1 FROM intakes i JOIN programs q ON q.id = i.program_id
                         WHERE i.client_id = pairs.client_id AND q.department_id = pairs.department_id
                           AND i.intake_date < %(from)s)) AS new_pairs,
       (SELECT count(DISTINCT client_id) FROM pairs) AS served,
       (SELECT json_object_agg(gender_key, n) FROM (
          SELECT p.department_id::text || ':' || coalesce(c.gender, '') AS gender_key, count(*) AS n
          FROM pairs p JOIN clients c ON c.id = p.client_id GROUP BY 1) g) AS by_gender
FROM pairs
"""


# Every cell of the Data quality report: served clients and enrollments and each check, per program, per
# source and overall. Each served (client, program) pair is found once with its enrollments' checks, each
# served client once with its checks (placeholder birth date: the default 1900-01-01; stale: the default
# 180 days before the period's end); programs add up their pairs, sources and the whole their clients.
# The pairs go to an analysed temporary table, as the report's do: over a CTE the planner guesses 200
# clients and probes the clients' index half a million times.
NOT_STATED = "{0} IS NULL OR lower(trim({0})) IN ('', 'unknown')"
# A list that is empty or begins with a stated item needs no listing of its items.
NO_STATED_ITEM = """CASE WHEN {0} = '[]' THEN true WHEN NOT (""" + NOT_STATED.format("{0} ->> 0") + """) THEN false
    ELSE NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(
                       CASE WHEN jsonb_typeof({0}) = 'array' THEN {0} ELSE '[]' END) v
                     WHERE NOT (""" + NOT_STATED.format("v") + ")) END"
DATA_QUALITY_CLIENT_CHECKS = {
    "dob_missing": "c.dob IS NULL",
    "dob_placeholder": "c.dob = DATE '1900-01-01'",
    **{f"{field}_not_stated": NOT_STATED.format(f"c.{field}")
       for field in ("gender", "sexual_orientation", "citizenship_status", "indigenous_status", "race")},
    **{f"{field}_not_stated": NO_STATED_ITEM.format(f"c.{field}") for field in ("ethnicity", "languages_spoken")},
    "in_duplicate_review": """c.id IN (SELECT primary_client_id FROM client_duplicates WHERE status = 'pending'
                              UNION ALL SELECT duplicate_client_id FROM client_duplicates WHERE status = 'pending')""",
}
DATA_QUALITY_SUMS = ("enrollments", "enrollment_without_intake", "stale_open_enrollment")
DATA_QUALITY_COLUMNS = ("clients", *DATA_QUALITY_SUMS, *DATA_QUALITY_CLIENT_CHECKS)
_CLIENT_SUMS = ", ".join(f"sum(c.{key})" for key in DATA_QUALITY_CLIENT_CHECKS)
DATA_QUALITY_SQL = (f"""
CREATE TEMPORARY TABLE dq_floor_pairs ON COMMIT DROP AS
  SELECT e.client_id, e.program_id, count(*)::int AS enrollments,
         (count(*) FILTER (WHERE NOT EXISTS (
           SELECT 1 FROM intakes i WHERE i.client_id = e.client_id AND i.program_id = e.program_id)))::int
           AS enrollment_without_intake,
         (count(*) FILTER (WHERE e.end_date IS NULL AND e.start_date < %(to)s::date - 180
           AND NOT EXISTS (SELECT 1 FROM intakes i WHERE i.client_id = e.client_id AND i.program_id = e.program_id
                             AND i.intake_date BETWEEN %(to)s::date - 180 AND %(to)s)
           AND NOT EXISTS (SELECT 1 FROM discharges d WHERE d.client_id = e.client_id AND d.program_id = e.program_id
                             AND d.discharge_date BETWEEN %(to)s::date - 180 AND %(to)s)))::int AS stale_open_enrollment
  FROM client_program_enrollments e
  WHERE NOT e.is_archived AND e.start_date <= %(to)s AND (e.end_date IS NULL OR e.end_date >= %(from)s)
  GROUP BY e.client_id, e.program_id
""", "ANALYZE dq_floor_pairs", f"""
WITH people AS MATERIALIZED (
  SELECT c.id, coalesce(c.source_system, 'CCD') AS source, {", ".join(f"s.{key}" for key in DATA_QUALITY_SUMS)},
         {", ".join(f"({sql})::int AS {key}" for key, sql in DATA_QUALITY_CLIENT_CHECKS.items())}
  FROM (SELECT client_id, {", ".join(f"sum({key}) AS {key}" for key in DATA_QUALITY_SUMS)}
        FROM dq_floor_pairs GROUP BY client_id) s
  JOIN clients c ON c.id = s.client_id
  WHERE NOT c.is_archived AND c.merged_into_id IS NULL
)
SELECT 'program' AS kind, p.program_id::text AS key, count(*),
       {", ".join(f"sum(p.{key})" for key in DATA_QUALITY_SUMS)}, {_CLIENT_SUMS}
FROM dq_floor_pairs p JOIN people c ON c.id = p.client_id GROUP BY p.program_id
UNION ALL
SELECT CASE WHEN grouping(c.source) = 0 THEN 'source' ELSE 'overall' END, c.source, count(*),
       {", ".join(f"sum(c.{key})" for key in DATA_QUALITY_SUMS)}, {_CLIENT_SUMS}
FROM people c GROUP BY GROUPING SETS ((c.source), ())
""")


def _check(name: str, floor: tuple, report: tuple) -> None:
    if floor != report:
        raise SystemExit(f"The {name} floor counts differently from the report: floor {floor}, report {report}")
    shown = tuple(f"{len(value)} values" if isinstance(value, dict) and len(value) > 8 else value for value in floor)
    print(f"{name} floor and report agree: {shown}")


def check_enrollment_history(rows, report: dict) -> None:
    (row,) = rows
    started, open_before, by_reason, median = row
    reasons = {("not-stated" if key == "" else key): n for key, n in (by_reason or {}).items()}
    _check("Enrollment history", (started, open_before, reasons, None if median is None else float(median)),
           (report["totals"]["started"], report["open_at_start"],
            {r["reason"]: r["total"] for r in report["ended_by_reason"]}, report["totals"]["median_stay_days"]))


def check_outcomes(rows, report: dict) -> None:
    (row,) = rows
    _check("Outcomes", tuple(row), (report["overall"]["discharges"], report["overall"]["successful"]))


def check_program_performance(rows, report: dict) -> None:
    (row,) = rows
    rows = report["by_program"]
    _check("Program performance", (row[0], row[1], row[2], int(row[3] or 0), row[4], row[5]),
           (sum(r["served"] for r in rows), sum(r["new"] for r in rows), report["total"]["discharged"],
            report["total"]["occupied_client_days"], report["total"]["served"], report["total"]["new"]))


def check_department_summary(rows, report: dict) -> None:
    (row,) = rows
    from app.services.reports import NOT_STATED_WORDS

    served = next(m for m in report["measures"] if m["key"] == "distinct_clients_served")["clients"]
    new = next(m for m in report["measures"] if m["key"] == "new_clients")["clients"]
    genders: dict = {}
    for key, n in (row[3] or {}).items():
        department, _, gender = key.partition(":")
        value = "not-stated" if gender.strip().lower() in ("", *NOT_STATED_WORDS) else gender
        genders[(department, value)] = genders.get((department, value), 0) + n
    reported = {(column["department_id"], r["value"]): r["clients"][position]
                for position, column in enumerate(report["departments"][:-1])
                for r in report["breakdowns"]["gender"]["rows"] if r["clients"][position]}
    _check("Department summary", (row[0], row[1], row[2], genders),
           (sum(served[:-1]), sum(new[:-1]), served[-1], reported))


def check_data_quality(rows, report: dict) -> None:
    """Every cell: each program's, each source's and the overall clients, enrollments and check counts."""
    from app.services.data_quality import CHECKS

    missing = {c.key for c in CHECKS} - set(DATA_QUALITY_COLUMNS)
    if missing:
        raise SystemExit(f"The Data quality floor does not count {sorted(missing)}: no floor for the same output")

    def cells(row: dict) -> dict:
        return {"clients": row["clients"], "enrollments": row["enrollments"], **row["counts"]}

    floor = {(kind, key): {column: int(value or 0) for column, value in zip(DATA_QUALITY_COLUMNS, values)}
             for kind, key, *values in rows}
    reported = {("overall", None): cells(report["overall"]),
                **{("program", r["program_id"]): cells(r) for r in report["by_program"]},
                **{("source", r["source"]): cells(r) for r in report["by_source"]}}
    if floor != reported:
        wrong = sorted((key for key in floor.keys() | reported.keys() if floor.get(key) != reported.get(key)),
                       key=str)[:3]
        raise SystemExit("The Data quality floor counts differently from the report: "
                         + "; ".join(f"{key}: floor {floor.get(key)}, report {reported.get(key)}" for key in wrong))
    overall = floor[("overall", None)]
    print(f"Data quality floor and report agree on all {len(floor)} rows of {len(DATA_QUALITY_COLUMNS)} cells: "
          f"{overall['clients']:,} clients, {overall['enrollments']:,} enrollments overall")


def services():
    from app.services.data_quality import data_quality_report
    from app.services.report_department_summary import department_summary
    from app.services.report_enrollment_history import enrollment_history
    from app.services.report_outcomes import outcomes_report
    from app.services.report_program_performance import program_performance
    return {"enrollment-history": enrollment_history, "outcomes": outcomes_report,
            "program-performance": program_performance, "department-summary": department_summary,
            "data-quality": data_quality_report}


# kind -> (floor SQL, check against the report)
FLOORS = {
    "enrollment-history": (ENROLLMENT_HISTORY_SQL, check_enrollment_history),
    "outcomes": (OUTCOMES_SQL, check_outcomes),
    "program-performance": (PROGRAM_PERFORMANCE_SQL, check_program_performance),
    "department-summary": (DEPARTMENT_SUMMARY_SQL, check_department_summary),
    "data-quality": (DATA_QUALITY_SQL, check_data_quality),
}


def run_floor(conn, sql, period: dict) -> list:
    """A floor's rows: one statement, or several in one transaction whose last one answers (a floor may
    fill a temporary table, as its report does)."""
    statements = (sql,) if isinstance(sql, str) else sql
    for statement in statements[:-1]:
        conn.execute(statement, period if "%(" in statement else None)
    rows = conn.execute(statements[-1], period).fetchall()
    conn.commit()
    return rows


def period(year: int) -> dict:
    return {"from": date(year, 1, 1), "to": date(year, 12, 31)}
