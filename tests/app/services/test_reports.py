"""The reports count what their definitions say, on hand-built data where the right answer is known."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.choices import NOT_STATED
from app.extensions import db
from app.models import (
    ClientDuplicate, DepartmentLeaderAssignment, Intake, ProgramCapacity, ProgramManagerAssignment,
)
from app.services.reports import ReportError, last_full_month, org_summary, vacancy_report, years_before
from tests import factories
from tests.app.services.conftest import expected_summary
from tests.conftest import make_staff

FROM, TO = date(2024, 3, 1), date(2024, 3, 31)


def add(*rows):
    db.session.add_all(rows)
    db.session.commit()
    return rows[0] if len(rows) == 1 else rows


@pytest.fixture
def org(db_session):
    """Department A (programs A1, A2) and department B (program B1)."""
    dept_a, dept_b = factories.department(name="A dept"), factories.department(name="B dept")
    a1 = factories.program(name="A1 program", department=dept_a)
    a2 = factories.program(name="A2 program", department=dept_a)
    b1 = factories.program(name="B1 program", department=dept_b)
    add(a1, a2, b1)
    return {"A": dept_a, "B": dept_b, "A1": a1, "A2": a2, "B1": b1}


def enrol(client, program, start, end=None, **kw):
    return add(factories.enrollment(client=client, program=program, start_date=start, end_date=end, **kw))


def by_key(rows, key):
    return {row[key]: row["clients"] for row in rows}


def breakdown(report, key):
    return {row["value"]: row["clients"] for row in report["breakdowns"][key]["rows"]}


def test_client_in_three_programs_of_two_departments_counts_once_at_each_level(org):
    client = factories.client()
    enrol(client, org["A1"], date(2024, 1, 1))
    enrol(client, org["A2"], date(2024, 3, 10), date(2024, 3, 20))
    enrol(client, org["B1"], date(2024, 3, 31))

    report = org_summary(FROM, TO)

    assert report["distinct_clients_served"] == 1
    assert by_key(report["by_department"], "department") == {"A dept": 1, "B dept": 1}
    assert by_key(report["by_program"], "program") == {"A1 program": 1, "A2 program": 1, "B1 program": 1}
    assert report["breakdowns"]["gender"]["total"] == 1


def test_period_edges_enrollment_ending_the_day_before_is_out_starting_on_the_last_day_is_in(org):
    ended_before = factories.client(last_name="Ended")
    starts_last_day = factories.client(last_name="Starts")
    ends_first_day = factories.client(last_name="EndsFirst")
    starts_after = factories.client(last_name="After")
    enrol(ended_before, org["A1"], date(2024, 1, 1), date(2024, 2, 29))
    enrol(starts_last_day, org["A1"], date(2024, 3, 31))
    enrol(ends_first_day, org["A1"], date(2024, 1, 1), date(2024, 3, 1))
    enrol(starts_after, org["A1"], date(2024, 4, 1))

    report = org_summary(FROM, TO)

    assert report["distinct_clients_served"] == 2
    assert by_key(report["by_program"], "program")["A1 program"] == 2


def test_archived_enrollments_archived_clients_and_merged_away_clients_are_not_counted(org):
    kept, archived_client = factories.client(), factories.client(is_archived=True)
    merged_away = factories.client(merged_into=kept)  # app/services/merge.py also archives it; either is enough
    enrol(kept, org["A1"], date(2024, 1, 1))
    enrol(factories.client(), org["A1"], date(2024, 1, 1), is_archived=True)
    enrol(archived_client, org["A1"], date(2024, 1, 1))
    enrol(merged_away, org["A1"], date(2024, 1, 1))
    not_yet_merged = factories.client()
    enrol(not_yet_merged, org["A1"], date(2024, 1, 1))
    add(ClientDuplicate(primary_client=kept, duplicate_client=not_yet_merged, similarity_score=0.9,
                        match_type="name_dob", confidence_level="high", status="pending"))

    assert org_summary(FROM, TO)["distinct_clients_served"] == 2


def test_new_clients_have_no_earlier_enrollment_or_intake(org):
    continuing = factories.client()
    enrol(continuing, org["A1"], date(2023, 6, 1))
    first_enrolled_in_period = factories.client()
    enrol(first_enrolled_in_period, org["A1"], date(2024, 3, 5))
    intake_before = factories.client()
    enrol(intake_before, org["A1"], date(2024, 3, 5))
    add(Intake(client=intake_before, program=org["A1"], intake_date=date(2024, 2, 20)))
    returning = factories.client()
    enrol(returning, org["A1"], date(2022, 1, 1), date(2022, 6, 1))
    enrol(returning, org["A2"], date(2024, 3, 2))

    report = org_summary(FROM, TO)
    assert (report["distinct_clients_served"], report["new_clients"], report["continuing_clients"]) == (4, 1, 3)
    # New to the programs covered: A2 alone has never seen the returning client before.
    assert org_summary(FROM, TO, program_id=org["A2"].id)["new_clients"] == 1


def test_languages_count_once_per_language_and_unknown_is_kept(org):
    for languages in (["English", "French"], ["French"], [], ["Unknown"], ["English", "English", "Tamil"]):
        enrol(factories.client(languages_spoken=languages), org["A1"], date(2024, 1, 1))

    report = org_summary(FROM, TO)
    languages = breakdown(report, "languages_spoken")

    assert report["distinct_clients_served"] == 5
    assert (languages["English"], languages["French"], languages["Tamil"], languages[NOT_STATED]) == (2, 2, 1, 2)
    assert languages["Spanish"] == 0, "every option list value has a row, counted or not"
    assert report["breakdowns"]["languages_spoken"]["total"] == 7 > report["distinct_clients_served"]
    assert report["breakdowns"]["languages_spoken"]["multi_valued"] is True


def test_unknown_blank_and_missing_values_share_one_row_and_other_values_are_kept(org):
    for gender in ("Woman", "Woman", None, "", "Unknown", "  ", "Legacy value"):
        enrol(factories.client(gender=gender), org["A1"], date(2024, 1, 1))

    rows = org_summary(FROM, TO)["breakdowns"]["gender"]["rows"]
    counts = {row["value"]: row["clients"] for row in rows}

    assert counts["Woman"] == 2
    assert counts[NOT_STATED] == 4
    assert counts["Legacy value"] == 1, "a value no longer in the option list still counts"
    assert rows[-1]["label"] == "Unknown / not stated"
    assert sum(counts.values()) == 7


def test_unknown_row_is_present_even_when_nobody_is_in_it(org):
    enrol(factories.client(gender="Man"), org["A1"], date(2024, 1, 1))
    for key, section in org_summary(FROM, TO)["breakdowns"].items():
        assert section["rows"][-1]["value"] == NOT_STATED, key


def test_age_band_is_taken_on_the_last_day_of_the_period(org):
    turns_18_on_last_day = factories.client(dob=date(2006, 3, 31))
    turns_18_next_day = factories.client(dob=date(2006, 4, 1))
    no_birth_date = factories.client(dob=None)
    sixty_five = factories.client(dob=date(1959, 3, 31))
    for client in (turns_18_on_last_day, turns_18_next_day, no_birth_date, sixty_five):
        enrol(client, org["A1"], date(2024, 1, 1))

    bands = breakdown(org_summary(FROM, TO), "age_band")
    assert (bands["18-24"], bands["under-18"], bands[NOT_STATED], bands["65-plus"]) == (1, 1, 1, 1)


def test_years_before_handles_29_february():
    assert years_before(date(2024, 2, 29), 1) == date(2023, 2, 28)
    assert years_before(date(2024, 3, 31), 18) == date(2006, 3, 31)


def test_demographic_filters_narrow_every_count(org):
    enrol(factories.client(gender="Woman", languages_spoken=["French"]), org["A1"], date(2024, 1, 1))
    enrol(factories.client(gender="Woman", languages_spoken=["English"]), org["B1"], date(2024, 1, 1))
    enrol(factories.client(gender=None, languages_spoken=["French"]), org["B1"], date(2024, 1, 1))

    women = org_summary(FROM, TO, filters={"gender": "Woman"})
    assert women["distinct_clients_served"] == 2
    assert by_key(women["by_department"], "department") == {"A dept": 1, "B dept": 1}
    french_unstated = org_summary(FROM, TO, filters={"gender": NOT_STATED, "languages_spoken": "French"})
    assert french_unstated["distinct_clients_served"] == 1
    assert by_key(french_unstated["by_program"], "program")["B1 program"] == 1


def test_department_and_program_inputs_limit_the_report(org):
    client = factories.client()
    enrol(client, org["A1"], date(2024, 1, 1))
    enrol(factories.client(), org["B1"], date(2024, 1, 1))

    in_a = org_summary(FROM, TO, department_id=org["A"].id)
    assert in_a["distinct_clients_served"] == 1
    assert [row["program"] for row in in_a["by_program"]] == ["A1 program", "A2 program"]
    assert org_summary(FROM, TO, program_id=org["B1"].id)["distinct_clients_served"] == 1
    with pytest.raises(ReportError, match="not in the department"):
        org_summary(FROM, TO, department_id=org["A"].id, program_id=org["B1"].id)


@pytest.mark.parametrize("kwargs, message", [
    ({"date_from": TO, "date_to": FROM}, "starts"),
    ({"filters": {"shoe_size": "9"}}, "Unknown filter"),
    ({"filters": {"age_band": "10-12"}}, "Unknown age band"),
    ({"department_id": "not-an-id"}, "not a department id"),
])
def test_bad_input_gets_a_clear_error(org, kwargs, message):
    args = {"date_from": FROM, "date_to": TO} | kwargs
    with pytest.raises(ReportError, match=message):
        org_summary(args.pop("date_from"), args.pop("date_to"), **args)


def test_a_drill_down_of_an_unknown_kind_of_client_is_refused(org):
    from app.services.reports import served_client_ids

    with pytest.raises(ReportError, match="Unknown kind of served client 'returning'"):
        served_client_ids(FROM, TO, kind="returning")


def test_leader_and_manager_see_only_their_scope(org):
    enrol(factories.client(), org["A1"], date(2024, 1, 1))
    enrol(factories.client(), org["A2"], date(2024, 1, 1))
    enrol(factories.client(), org["B1"], date(2024, 1, 1))
    leader, manager = make_staff("Leader"), make_staff("Manager")
    add(DepartmentLeaderAssignment(staff=leader, department=org["B"]),
        ProgramManagerAssignment(staff=manager, program=org["A2"]))

    for staff, programs, served in ((leader, ["B1 program"], 1), (manager, ["A2 program"], 1),
                                    (make_staff("Analyst"), ["A1 program", "A2 program", "B1 program"], 3)):
        report = org_summary(FROM, TO, staff=staff)
        assert [row["program"] for row in report["by_program"]] == programs
        assert report["distinct_clients_served"] == served
        assert [row["program"] for row in vacancy_report(TO, staff=staff)["rows"]] == programs
    assert org_summary(FROM, TO, staff=make_staff("Manager"))["distinct_clients_served"] == 0


def test_org_summary_has_the_agreed_keys(org):
    report = org_summary(FROM, TO)
    assert {"distinct_clients_served", "new_clients", "breakdowns", "by_department", "by_program"} <= set(report)


def test_default_period_is_the_last_full_month():
    assert last_full_month(date(2024, 3, 15)) == (date(2024, 2, 1), date(2024, 2, 29))
    assert last_full_month(date(2024, 1, 1)) == (date(2023, 12, 1), date(2023, 12, 31))


# --- Vacancy Tracker ----------------------------------------------------------------------

def test_capacity_history_picks_the_entry_in_force_on_the_day(org):
    program = org["A1"]
    program.capacity_current = 10
    add(ProgramCapacity(program=program, effective_date=date(2024, 1, 1), capacity=5),
        ProgramCapacity(program=program, effective_date=date(2024, 6, 1), capacity=8))

    def capacity(day):
        return next(row for row in vacancy_report(day)["rows"] if row["program"] == "A1 program")["capacity"]

    assert capacity(date(2023, 12, 31)) == 10, "before any entry: the current capacity"
    assert capacity(date(2024, 5, 31)) == 5
    assert capacity(date(2024, 6, 1)) == 8


def test_vacancy_rows_and_totals(org):
    day = date(2024, 5, 1)
    org["A1"].capacity_current, org["A2"].capacity_current = 2, 1
    org["B1"].no_capacity_limit = True
    closed = factories.program(name="Closed program", department=org["A"], status="inactive")
    gone = factories.program(name="Archived program", department=org["A"], is_archived=True)
    add(closed, gone)
    enrol(factories.client(), org["A1"], date(2024, 1, 1))
    enrol(factories.client(), org["A1"], date(2024, 1, 1), date(2024, 4, 30))  # ended the day before
    for _ in range(3):
        enrol(factories.client(), org["A2"], date(2024, 5, 1))
    enrol(factories.client(), org["B1"], date(2024, 1, 1))

    report = vacancy_report(day)
    rows = {row["program"]: row for row in report["rows"]}

    assert set(rows) == {"A1 program", "A2 program", "B1 program"}
    assert {k: rows["A1 program"][k] for k in ("capacity", "occupied", "vacant", "occupancy_pct", "over_capacity")} \
        == {"capacity": 2, "occupied": 1, "vacant": 1, "occupancy_pct": 50.0, "over_capacity": False}
    assert (rows["A2 program"]["vacant"], rows["A2 program"]["over_capacity"]) == (-2, True)
    assert (rows["B1 program"]["capacity"], rows["B1 program"]["occupied"], rows["B1 program"]["vacant"]) \
        == (None, 1, None)
    overall = report["totals"]["overall"]
    assert (overall["capacity"], overall["occupied"], overall["vacant"]) == (3, 4, 1)
    assert (overall["no_limit_programs"], overall["occupied_no_limit"], overall["over_capacity_programs"]) == (1, 1, 1)
    per_department = {t["department"]: t for t in report["totals"]["by_department"]}
    assert (per_department["A dept"]["capacity"], per_department["B dept"]["capacity"]) == (3, 0)
    assert {"program", "department", "capacity", "occupied", "vacant", "occupancy_pct"} <= set(report["rows"][0])
    assert vacancy_report(day, department_id=org["B"].id)["rows"][0]["program"] == "B1 program"


def _occupied_by_plain_join(day: date) -> dict:
    """The Vacancy Tracker's "occupied" as its definition reads, one join over every enrollment: the reference."""
    import sqlalchemy as sa

    from app.models import Client, Enrollment, Program
    from app.services.reports import client_counted, enrollment_active_on

    rows = db.session.execute(
        sa.select(Program.name, sa.func.count(sa.distinct(Enrollment.client_id)))
        .join(Enrollment, Enrollment.program_id == Program.id).join(Client, Client.id == Enrollment.client_id)
        .where(enrollment_active_on(day), client_counted()).group_by(Program.name))
    return dict(rows.all())


def test_vacancy_counts_what_one_join_over_every_enrollment_counts(org):
    """Counted per program from the open-enrollments index, with the same result as the plain join."""
    day = date(2024, 5, 1)
    kept, archived_client = factories.client(), factories.client(is_archived=True)
    merged_away = factories.client(merged_into=kept)
    twice = factories.client()
    enrol(kept, org["A1"], date(2024, 1, 1))
    enrol(twice, org["A1"], date(2024, 1, 1))
    enrol(twice, org["A1"], date(2024, 2, 1), date(2024, 6, 30))  # the same client twice: one place
    enrol(twice, org["A2"], date(2024, 5, 1), date(2024, 5, 1))  # ends on the day: in
    enrol(factories.client(), org["A2"], date(2024, 1, 1), date(2024, 4, 30))  # ended the day before: out
    enrol(factories.client(), org["A2"], date(2024, 5, 2))  # starts the day after: out
    enrol(factories.client(), org["A1"], date(2024, 1, 1), is_archived=True)
    enrol(factories.client(), org["A1"], date(2024, 1, 1), date(2025, 1, 1), is_archived=True)
    enrol(archived_client, org["A1"], date(2024, 1, 1))
    enrol(merged_away, org["B1"], date(2024, 1, 1), date(2024, 12, 31))
    enrol(kept, org["B1"], date(2024, 3, 1), date(2024, 12, 31))

    occupied = {row["program"]: row["occupied"] for row in vacancy_report(day)["rows"]}
    assert occupied == {"A1 program": 2, "A2 program": 1, "B1 program": 1}
    for moment in (day, date(2024, 4, 30), date(2024, 7, 1), date(2026, 1, 1)):
        expected = _occupied_by_plain_join(moment)
        assert {p: n for p, n in ((row["program"], row["occupied"]) for row in vacancy_report(moment)["rows"])
                if n} == expected, moment


def test_the_two_parts_of_active_on_a_day_never_overlap_and_cover_it(org):
    import sqlalchemy as sa

    from app.models import Enrollment
    from app.services.reports import enrollment_active_on, enrollment_active_on_parts

    day = date(2024, 5, 1)
    for start, end, archived in [(date(2024, 1, 1), None, False), (date(2024, 1, 1), day, False),
                                 (date(2024, 1, 1), date(2024, 4, 30), False), (day, None, False),
                                 (date(2024, 5, 2), None, False), (date(2024, 1, 1), None, True),
                                 (date(2024, 1, 1), date(2024, 9, 1), False)]:
        enrol(factories.client(), org["A1"], start, end, is_archived=archived)

    def ids(condition):
        return set(db.session.scalars(sa.select(Enrollment.id).where(condition)))

    open_ended, ending_later = (ids(part) for part in enrollment_active_on_parts(day))
    assert not open_ended & ending_later
    assert open_ended | ending_later == ids(enrollment_active_on(day))
    assert len(open_ended) == 2 and len(ending_later) == 2


class StatementCounter:
    """How many SQL statements a block sends to the database."""

    def __init__(self):
        self.count = 0

    def __enter__(self):
        from sqlalchemy import event

        self.bind = db.session.get_bind()
        event.listen(self.bind, "before_cursor_execute", self._seen)
        return self

    def _seen(self, *args):
        self.count += 1

    def __exit__(self, *exc):
        from sqlalchemy import event

        event.remove(self.bind, "before_cursor_execute", self._seen)


def _grow(org, clients: int, programs: int):
    extra = [factories.program(department=org["A"]) for _ in range(programs)]
    db.session.add_all(extra)
    for n in range(clients):
        enrol(factories.client(languages_spoken=["English"]), extra[n % len(extra)] if extra else org["A1"],
              date(2024, 1, 1))


def test_queries_do_not_grow_with_clients_or_programs(org):
    """Counted in the database: the same statements for 2 clients in 3 programs as for 12 in 9."""
    def statements():
        db.session.expire_all()
        with StatementCounter() as summary:
            org_summary(FROM, TO)
        with StatementCounter() as vacancy:
            vacancy_report(TO)
        return summary.count, vacancy.count

    _grow(org, clients=2, programs=0)
    small = statements()
    _grow(org, clients=10, programs=6)
    assert statements() == small
    assert small[1] == 1, "the vacancy tracker is one query for all programs"


# --- The counts against the definitions, on random data, for every kind of scope -------------
#
# org_summary finds the served set once and groups raw values before applying the definitions;
# this recomputes every number of the report in Python, client by client, straight from
# DEFINITIONS, and compares them all, for each role's scope, with filters and with a department
# or program chosen. The drill-down query (served_client_ids) must list exactly the clients counted.

AGE_BAND_KEYS = ("under-18", "18-24", "25-34", "35-44", "45-54", "55-64", "65-plus")


@pytest.fixture
def world(db_session):
    """Two departments, five programs (one inactive, one archived), 70 clients with awkward values,
    enrollments and intakes scattered around March 2024, some archived, archived or merged clients."""
    import random

    rng = random.Random(20240301)
    dept_a, dept_b = factories.department(name="W dept A"), factories.department(name="W dept B")
    programs = [
        factories.program(name="W1", department=dept_a), factories.program(name="W2", department=dept_a),
        factories.program(name="W3", department=dept_b),
        factories.program(name="W4", department=dept_b, status="inactive"),
        factories.program(name="W5", department=dept_a, is_archived=True),
    ]
    add(*programs)
    singles = {"gender": ["Woman", "Man", "Unknown", "", "  ", None, "Legacy value"],
               "sexual_orientation": ["Straight", "unknown", None], "citizenship_status": ["Citizen", "Refugee", None],
               "indigenous_status": ["First Nations", None, "UNKNOWN"], "race": ["Black", "White", " ", None]}
    lists = [[], ["English"], ["French", "English"], ["English", "English", "Tamil"], ["Unknown"], ["", "French"],
             ["unknown", "  "]]
    clients = []
    for n in range(70):
        clients.append(factories.client(
            dob=None if n % 9 == 0 else date(1940, 1, 1) + timedelta(days=rng.randrange(84 * 365)),
            languages_spoken=rng.choice(lists), ethnicity=rng.choice(lists[:4]),
            is_archived=n % 23 == 5,
            **{key: rng.choice(values) for key, values in singles.items()},
        ))
    add(*clients)
    clients[7].merged_into = clients[8]
    enrollments, intakes = [], []
    for n in range(150):
        start = date(2023, 10, 1) + timedelta(days=rng.randrange(220))
        end = None if rng.random() < 0.3 else start + timedelta(days=rng.randrange(120))
        enrollments.append(factories.enrollment(client=rng.choice(clients), program=rng.choice(programs),
                                                start_date=start, end_date=end, is_archived=n % 17 == 3))
    for _ in range(40):
        intakes.append(Intake(client=rng.choice(clients), program=rng.choice(programs),
                              intake_date=date(2023, 12, 1) + timedelta(days=rng.randrange(150))))
    add(*enrollments, *intakes)
    return {"departments": (dept_a, dept_b), "programs": programs, "clients": clients,
            "enrollments": enrollments, "intakes": intakes}


def _scopes(world):
    """(staff, ids of the programs they see) for each kind of visibility."""
    from app.models import StaffProgramAssignment

    programs = world["programs"]
    manager, leader, staff = make_staff("Manager"), make_staff("Leader"), make_staff("Staff")
    add(ProgramManagerAssignment(staff=manager, program=programs[0]),
        ProgramManagerAssignment(staff=manager, program=programs[3]),
        DepartmentLeaderAssignment(staff=leader, department=world["departments"][1]),
        StaffProgramAssignment(staff=staff, program=programs[1]))
    return [
        (None, {p.id for p in programs}),
        (make_staff("Analyst"), {p.id for p in programs}),
        (manager, {programs[0].id, programs[3].id}),
        (leader, {p.id for p in programs if p.department is world["departments"][1]}),
        (staff, {programs[1].id}),
        (make_staff("Manager"), set()),
    ]


def _out_of_scope(staff, record) -> bool:
    """A department or program the person may not see (the report must answer as if it did not exist)."""
    from app.services.scope import restrict

    if record is None or staff is None:
        return False
    model = type(record)
    return db.session.scalar(restrict(sa.select(model.id).where(model.id == record.id), model, staff)) is None


@pytest.mark.parametrize("filters, where", [
    ({}, None),
    ({"gender": "Woman"}, None),
    ({"gender": NOT_STATED, "languages_spoken": "English"}, None),
    ({"languages_spoken": NOT_STATED}, None),
    ({"age_band": "65-plus"}, None),
    ({}, "department"),
    ({}, "program"),
])
def test_every_count_follows_the_definitions_for_every_scope(world, filters, where):
    from app.services.reports import served_client_ids

    periods = ((FROM, TO), (date(2024, 1, 1), date(2024, 1, 1)), (date(2023, 1, 1), date(2024, 12, 31)))
    for date_from, date_to in periods:
        for staff, visible in _scopes(world):
            department = world["departments"][0] if where == "department" else None
            program = world["programs"][2] if where == "program" else None
            covered = {p.id for p in world["programs"] if p.id in visible
                       and (department is None or p.department_id == department.id)
                       and (program is None or p.id == program.id)}
            if _out_of_scope(staff, department or program):
                with pytest.raises(ReportError, match="There is no"):  # its name is shown nowhere
                    org_summary(date_from, date_to, staff=staff, filters=filters,
                                department_id=department and department.id, program_id=program and program.id)
                continue
            expected = expected_summary(world, covered, date_from, date_to, filters)
            report = org_summary(date_from, date_to, staff=staff, filters=filters,
                                 department_id=department and department.id, program_id=program and program.id)
            about = f"{staff and staff.last_name} {date_from}–{date_to} {filters} {where}"

            assert report["distinct_clients_served"] == len(expected["served"]), about
            assert report["new_clients"] == len(expected["new"]), about
            for key, counts in expected["breakdowns"].items():
                found = {value: n for value, n in breakdown(report, key).items() if n}
                assert found == counts, f"{about}: {key}"
            assert by_key(report["by_program"], "program") == expected["by_program"], about
            assert by_key(report["by_department"], "department") == expected["by_department"], about

            where_ids = {"department_id": department and department.id, "program_id": program and program.id}
            links = served_client_ids(date_from, date_to, staff=staff, **where_ids)
            new_links = served_client_ids(date_from, date_to, staff=staff, kind="new", **where_ids)
            continuing_links = served_client_ids(date_from, date_to, staff=staff, kind="continuing", **where_ids)
            if not filters:
                assert set(db.session.scalars(links)) == expected["served"], about
                assert set(db.session.scalars(new_links)) == expected["new"], about
                assert set(db.session.scalars(continuing_links)) == expected["served"] - expected["new"], about


def test_the_report_leaves_no_temporary_table_behind(org):
    enrol(factories.client(), org["A1"], date(2024, 1, 1))
    first = org_summary(FROM, TO)
    assert org_summary(FROM, TO) == first, "a second report in the same transaction"
