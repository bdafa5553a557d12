"""What every process that builds the app gets, whoever builds it (web server, CLI, worker)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_an_app_built_by_any_process_can_queue_every_task_by_name(tmp_path):
    """Services queue tasks by name (app_task); the CLI's demo seed once failed to queue restriction
    notices because only the worker had imported the task modules. A fresh interpreter, so no test
    has imported them first."""
    script = (
        "from app import create_app\n"
        f"app = create_app({{'SQLALCHEMY_DATABASE_URI': 'sqlite:///{tmp_path}/x.db', 'TESTING': True}})\n"
        "names = set(app.extensions['celery'].tasks)\n"
        "wanted = {'ccd.notify_new_restrictions', 'ccd.notify_restricted_enrollments'}\n"
        "print(sorted(wanted - names))\n"
    )
    found = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert found.returncode == 0, found.stderr[-2000:]
    assert found.stdout.strip().splitlines()[-1] == "[]"
