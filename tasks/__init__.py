"""Celery tasks: thin wrappers that call service functions in ``app.services``.

Each task module is imported here so ``celery_worker`` registers it; tasks take ids,
never ORM objects, and carry explicit names that the beat schedule refers to.
"""

from tasks import access, backups, duplicates, ingest, mail, matching, reports, restrictions  # noqa: F401
