"""Celery entry point: ``celery -A celery_worker worker`` and ``celery -A celery_worker beat``."""

from app import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]

import tasks  # noqa: E402,F401  (registers the task modules with this Celery app)
