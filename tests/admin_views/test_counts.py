"""The list pager's count: exact up to the cap, then "N+", with search and scope still applied."""

from datetime import date
from math import ceil

import pytest
import sqlalchemy as sa

from admin_views import counts
from app.extensions import db
from app.models import Client


@pytest.fixture
def five_clients(db_session):
    db.session.add_all(Client(first_name=f"Robin{i}", last_name="Countable", dob=date(1980, 1, i + 1))
                       for i in range(5))
    db.session.commit()


def test_below_the_cap_the_count_is_exact(client, sign_in_as, five_clients, monkeypatch):
    monkeypatch.setattr(counts, "LIST_COUNT_CAP", 5)
    sign_in_as("Coordinator")
    assert "List (5)" in client.get("/admin/clients/").get_data(as_text=True)


def test_past_the_cap_the_list_says_so_and_stops_counting(client, sign_in_as, five_clients, monkeypatch):
    monkeypatch.setattr(counts, "LIST_COUNT_CAP", 3)
    sign_in_as("Coordinator")
    page = client.get("/admin/clients/").get_data(as_text=True)
    assert "List (3+)" in page
    assert "Countable" in page


def test_a_search_is_counted_within_the_cap(client, sign_in_as, five_clients, monkeypatch):
    monkeypatch.setattr(counts, "LIST_COUNT_CAP", 3)
    sign_in_as("Coordinator")
    page = client.get("/admin/clients/?search=1980-01-02").get_data(as_text=True)
    assert "List (1)" in page


def test_a_search_counted_with_its_page_is_capped_too(client, sign_in_as, five_clients, monkeypatch):
    monkeypatch.setattr(counts, "LIST_COUNT_CAP", 3)
    sign_in_as("Coordinator")
    assert "List (3+)" in client.get("/admin/clients/?search=Countable").get_data(as_text=True)
    assert "List (3+)" in client.get("/admin/clients/?search=Countable&page=9").get_data(as_text=True)


def test_a_person_with_no_clients_in_scope_counts_none(client, sign_in_as, five_clients, monkeypatch):
    monkeypatch.setattr(counts, "LIST_COUNT_CAP", 3)
    sign_in_as("Staff")
    page = client.get("/admin/clients/").get_data(as_text=True)
    assert "Countable" not in page and "List (" not in page


def test_a_capped_count_pages_like_the_cap():
    capped = counts.AtLeast(10_000)
    assert str(capped) == "10,000+"
    assert ceil(capped / 25.0) == 400



@pytest.fixture
def staff_with_three_clients(db_session, sign_in_as):
    """A Staff member of one program with three enrolled clients, one of them merged into another,
    and a client of another program."""
    from app.models import StaffProgramAssignment
    from tests import factories

    program, other = factories.program(), factories.program()
    kept, also_kept, merged = (factories.enrollment(program=program, client=factories.client(last_name=name))
                               for name in ("Countwell", "Countmore", "Countgone"))
    db.session.add_all([program, other, kept, also_kept, merged, factories.enrollment(program=other)])
    db.session.flush()
    merged.client.merged_into_id = kept.client.id
    staff = sign_in_as("Staff")
    db.session.add(StaffProgramAssignment(staff=staff, program=program))
    db.session.commit()
    return staff


def test_a_restricted_list_counts_its_scope_less_merged_records(client, staff_with_three_clients):
    page = client.get("/admin/clients/").get_data(as_text=True)
    assert "List (2)" in page
    assert "Countwell" in page and "Countmore" in page and "Countgone" not in page


def test_a_search_in_a_restricted_list_is_counted_by_its_own_query(client, staff_with_three_clients):
    assert "List (1)" in client.get("/admin/clients/?search=Countmore").get_data(as_text=True)
    assert "List (1)" in client.get("/admin/clients/?search=Countm").get_data(as_text=True)


@pytest.mark.parametrize("role", ["Manager", "Leader"])
def test_a_scoped_list_counts_each_client_once_and_its_pager_has_no_empty_page(client, sign_in_as, db_session,
                                                                                role):
    import re

    from app.models import DepartmentLeaderAssignment, Enrollment, ProgramManagerAssignment
    from tests import factories

    person = sign_in_as(role)
    department = factories.department()
    programs = [factories.program(department=department) for _ in range(2)]
    for program in programs:
        db.session.add(ProgramManagerAssignment(staff=person, program=program) if role == "Manager"
                       else DepartmentLeaderAssignment(staff=person, department=department))
        if role == "Leader":
            break
    people = [Client(first_name=f"Dana{i}", last_name="Twiceenrolled", dob=date(1975, 1, i + 1)) for i in range(12)]
    for index, someone in enumerate(people):
        db.session.add(Enrollment(client=someone, program=programs[0], start_date=date(2024, 1, 1)))
        if index % 2 == 0:
            db.session.add(Enrollment(client=someone, program=programs[1], start_date=date(2024, 2, 1)))
    db.session.commit()
    expected = db.session.scalar(sa.select(sa.func.count(sa.distinct(Enrollment.client_id)))
                                 .where(Enrollment.program_id.in_([p.id for p in programs])))
    assert expected == len(people)

    page = client.get("/admin/clients/?page_size=10").get_data(as_text=True)
    assert f"List ({expected})" in page
    last_page = ceil(expected / 10) - 1
    assert re.search(rf"[?&]page={last_page}\b", page)
    assert not re.search(rf"[?&]page={last_page + 1}\b", page)
    assert "Twiceenrolled" in client.get(f"/admin/clients/?page_size=10&page={last_page}").get_data(as_text=True)
