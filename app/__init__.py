"""The CCD application factory."""

import gc
import os
from pathlib import Path

from flask import Flask, redirect, url_for

from app import sqlite_engine  # noqa: F401  (SQLite connection settings for the embedded default)
from app.config import check_production_settings, engine_options, load_config
from app.extensions import db, login_manager, migrate

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def freeze_startup_objects() -> None:
    """Take everything built at start-up out of the garbage collector's scans, for a serving process.

    The app, its models, mappers and admin screens are about 200,000 objects that live as
    long as the process. Python's full collections, which come every few hundred requests,
    scanned them all each time: a 95 ms pause landing on whichever request was running
    (bench/run's p95). Frozen, they are never scanned again; what requests create still is.
    """
    gc.collect()
    gc.freeze()


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(load_config(app.instance_path))
    if test_config:
        app.config.update(test_config)
    check_production_settings(app.config)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config["SQLALCHEMY_DATABASE_URI"],
                                                             app.config.get("SQLALCHEMY_ENGINE_OPTIONS"))

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), compare_type=True)
    login_manager.init_app(app)

    from app import security
    security.init_app(app)

    from app import audit, guard, models  # noqa: F401  (models registers every table on the metadata)
    from app.services import restrictions
    guard.install()
    restrictions.install()
    audit.install(mapper.class_ for mapper in db.Model.registry.mappers)
    from app.services import access_log, restriction_notices
    restriction_notices.install()
    access_log.install()

    from app.auth import bp as auth_bp
    app.register_blueprint(auth_bp)
    from app.health import bp as health_bp
    app.register_blueprint(health_bp)

    from admin_views import init_admin
    init_admin(app)
    from admin_views import error_pages
    error_pages.install(app)

    from app.cli import ccd_cli
    app.cli.add_command(ccd_cli)

    from app.celery_app import celery_init_app
    celery_init_app(app)
    # Every process that builds the app can queue every task (the CLI's demo seed and imports queue
    # restriction notices by name), not only the worker, which imported them itself.
    import tasks  # noqa: F401

    @app.get("/")
    def home():
        return redirect(url_for("admin.index"))

    return app
