"""The scan task and command run the same service and report what they flagged."""

from datetime import date

import sqlalchemy as sa

from app.extensions import db
from app.models import ClientDuplicate
from tasks.duplicates import SCAN_TASK
from tests import factories


def lookalike_pair():
    db.session.add_all([factories.client(first_name="Margaret", last_name="Tremblay", dob=date(1961, 11, 3)),
                        factories.client(first_name="Maggie", last_name="Tremblay", dob=date(1961, 11, 3))])
    db.session.commit()


def test_the_task_flags_and_reports(app, db_session):
    lookalike_pair()
    task = app.extensions["celery"].tasks[SCAN_TASK]  # this app's Celery, whichever app was created last
    assert "1 new possible duplicate" in task.apply().get()
    assert db.session.scalar(sa.select(ClientDuplicate.detection_source)) == "scan"


def test_the_command_flags_and_reports(app, db_session):
    lookalike_pair()
    result = app.test_cli_runner().invoke(args=["ccd", "scan-duplicates", "--batch-size", "1"])
    assert result.exit_code == 0, result.output
    assert "Scanned 2 clients; 1 new possible duplicate" in result.output
