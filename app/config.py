"""Configuration from the environment.

CCD runs in two shapes: the embedded default (SQLite file, Celery eager, mail to a
local outbox) so a newcomer needs no services, and production (PostgreSQL, Redis),
which refuses to start without the settings it cannot safely guess.
"""

import os
import secrets
from pathlib import Path


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
        "CELERY": {
            "broker_url": redis_url or "memory://",
            "result_backend": redis_url or None,
            "task_always_eager": not redis_url,
            "task_eager_propagates": True,
            "task_ignore_result": True,
            "timezone": environ.get("CCD_TIMEZONE", "America/Toronto"),
            "beat_schedule": {},
        },
    }
    return config
