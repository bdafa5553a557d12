"""Configuration from the environment.

CCD runs in two shapes: the embedded default (SQLite file, Celery eager, mail to a
local outbox) so a newcomer needs no services, and production (PostgreSQL, Redis),
which refuses to start without the settings it cannot safely guess.
"""

import os
import secrets
from pathlib import Path

from celery.schedules import crontab


class ConfigurationError(RuntimeError):
    """A setting is missing or unsafe; the message says which and how to fix it."""


def normalise_database_url(url: str) -> str:
    """Let operators paste the usual ``postgres://`` URL; SQLAlchemy needs the driver named."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _embedded_secret_key(instance_path: str) -> str:
    """A per-installation key kept in the instance folder, so sign-ins survive restarts."""
    key_file = Path(instance_path) / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def _daily_at(value: str, setting: str) -> crontab:
    try:
        hour, minute = (int(part) for part in value.split(":"))
        if not (0 <= hour < 24 and 0 <= minute < 60):
            raise ValueError
    except ValueError:
        raise ConfigurationError(f"{setting} must be a time of day like 02:30, not {value!r}.") from None
    return crontab(hour=hour, minute=minute)


def _float_setting(environ, name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, not {raw!r}.") from None


def load_config(instance_path: str, environ=os.environ) -> dict:
    """Build the Flask config mapping for the environment CCD is started in."""
    env = environ.get("CCD_ENV", "development").strip().lower()
    if env not in {"development", "production"}:
        raise ConfigurationError(f"CCD_ENV must be 'development' or 'production', not {env!r}.")
    production = env == "production"

    database_url = environ.get("DATABASE_URL", "").strip()
    secret_key = environ.get("SECRET_KEY", "").strip()
    redis_url = environ.get("REDIS_URL", "").strip()

    if production:
        missing = [name for name, value in (("SECRET_KEY", secret_key), ("DATABASE_URL", database_url)) if not value]
        if missing:
            raise ConfigurationError(
                "CCD_ENV=production needs " + " and ".join(missing)
                + " in the environment; CCD will not start without them."
            )
        if len(secret_key) < 32:
            raise ConfigurationError("SECRET_KEY must be at least 32 characters in production.")

    if not database_url:
        database_url = "sqlite:///" + str(Path(instance_path) / "ccd.sqlite3")

    from app.services.matching import (
        DEFAULT_ACCEPT_THRESHOLD, DEFAULT_MATCH_MARGIN, DEFAULT_REVIEW_THRESHOLD,
    )

    imports_dir = Path(environ.get("INGEST_DIR", "") or Path(instance_path) / "imports")
    accept = _float_setting(environ, "INGEST_ACCEPT_THRESHOLD", DEFAULT_ACCEPT_THRESHOLD)
    review = _float_setting(environ, "INGEST_REVIEW_THRESHOLD", DEFAULT_REVIEW_THRESHOLD)
    if not 0 < review <= accept <= 1:
        raise ConfigurationError("INGEST_REVIEW_THRESHOLD and INGEST_ACCEPT_THRESHOLD must satisfy "
                                 "0 < review <= accept <= 1.")

    config = {
        "CCD_ENV": env,
        "AGENCY_NAME": environ.get("AGENCY_NAME", "Community Services Agency"),
        "SECRET_KEY": secret_key or _embedded_secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SECURE": production,
        "PASSWORD_HASH_METHOD": "scrypt",
        "TIMEZONE": environ.get("CCD_TIMEZONE", "America/Toronto"),
        "MAIL_OUTBOX_DIR": environ.get("MAIL_OUTBOX_DIR", str(Path(instance_path) / "outbox")),
        # Imports: uploaded files wait in INGEST_UPLOAD_DIR for the worker (web and worker must share it);
        # the daily job imports INGEST_DROP_DIR/<source>/ and moves the files to INGEST_ARCHIVE_DIR.
        "INGEST_UPLOAD_DIR": environ.get("INGEST_UPLOAD_DIR", str(imports_dir / "uploads")),
        "INGEST_DROP_DIR": environ.get("INGEST_DROP_DIR", str(imports_dir / "drop")),
        "INGEST_ARCHIVE_DIR": environ.get("INGEST_ARCHIVE_DIR", str(imports_dir / "archive")),
        "INGEST_MAX_UPLOAD_MB": _float_setting(environ, "INGEST_MAX_UPLOAD_MB", 200),
        "INGEST_BATCH_SIZE": int(_float_setting(environ, "INGEST_BATCH_SIZE", 500)),
        "INGEST_ACCEPT_THRESHOLD": accept,
        "INGEST_REVIEW_THRESHOLD": review,
        "INGEST_MATCH_MARGIN": _float_setting(environ, "INGEST_MATCH_MARGIN", DEFAULT_MATCH_MARGIN),
        "CELERY": {
            "broker_url": redis_url or "memory://",
            "result_backend": redis_url or None,
            "task_always_eager": not redis_url,
            "task_eager_propagates": True,
            "task_ignore_result": True,
            "timezone": environ.get("CCD_TIMEZONE", "America/Toronto"),
            "beat_schedule": {
                "ccd-ingest-drop-folder": {
                    "task": "ccd.ingest.drop_folder",
                    "schedule": _daily_at(environ.get("INGEST_DROP_TIME", "02:30"), "INGEST_DROP_TIME"),
                },
            },
        },
    }
    return config
