"""The health check orchestrators poll: open to anyone, silent about data, honest about the database."""

from unittest import mock

import sqlalchemy as sa


def test_healthz_answers_ok_without_a_sign_in(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok\n"
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_says_unavailable_when_the_database_does_not_answer(client, db_session):
    with mock.patch.object(db_session, "execute", side_effect=sa.exc.OperationalError("SELECT 1", {}, Exception("down"))):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert "down" not in response.get_data(as_text=True)
