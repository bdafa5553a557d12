"""Celery bound to the Flask app, following Flask's documented pattern.

Tasks run inside an app context, so they use the same models and services as the
screens, and the audit trail names the task as the one who acted. With no ``REDIS_URL`` (the embedded default) tasks run eagerly in-process.
"""

from celery import Celery, Task
from flask import Flask

from app.audit import acting_as


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context(), acting_as(f"task {self.name}"):
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask)
    celery.config_from_object(app.config["CELERY"])
    celery.set_default()
    app.extensions["celery"] = celery
    return celery


def app_task(name: str) -> Task:
    """This Flask app's own copy of a task, by its explicit name.

    ``shared_task`` proxies follow whichever Celery app was created last; a process that
    builds several Flask apps (tests, the browser tests' served app) must dispatch
    through the app that is handling the request, or the task runs against another
    app's database.
    """
    from flask import current_app

    return current_app.extensions["celery"].tasks[name]
