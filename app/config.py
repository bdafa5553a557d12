"""Configuration from the environment.

CCD runs in two shapes: the embedded default (SQLite file, Celery eager, mail to a
local outbox) so a newcomer needs no services, and production (PostgreSQL, Redis),
which refuses to start without the settings it cannot safely guess.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from celery.schedules import crontab
from limits import parse_many


class ConfigurationError(RuntimeError):
    """A setting is missing or unsafe; the message says which and how to fix it."""


def normalise_database_url(url: str) -> str:
    """Let operators paste the usual ``postgres://`` URL; SQLAlchemy needs the driver named."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


# PostgreSQL JIT-compiles any query it rates as expensive. CCD's scoped pages (an OR over
# row-by-row visibility probes, read newest first with a LIMIT) are rated in the billions and
# spent seconds compiling for milliseconds of work; off for every connection of the app.
POSTGRES_SESSION_OPTIONS = "-c jit=off"


def engine_options(database_uri: str, options: dict | None) -> dict:
    """SQLAlchemy engine options for this database: the PostgreSQL session settings added."""
    options = dict(options or {})
    if database_uri.startswith("postgresql"):
        connect_args = dict(options.get("connect_args") or {})
        connect_args.setdefault("options", POSTGRES_SESSION_OPTIONS)
        options["connect_args"] = connect_args
    return options


def _embedded_secret_key(instance_path: str) -> str:
    """A per-installation key kept in the instance folder, so sign-ins survive restarts."""
    key_file = Path(instance_path) / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


MIN_SECRET_KEY_LENGTH = 32
# Rows an import writes per transaction (INGEST_BATCH_SIZE). A run that stops starts again from the top, so
# a batch bounds only how long one transaction holds its locks. 100,000 rows against a million clients:
# 57.1-62.6 s at 1,000 against 60.1-62.5 s at 500 (alternating runs, bench/RESULTS.md), the same peak memory.
DEFAULT_INGEST_BATCH_SIZE = 1000
# Words that mark a key someone copied from an example instead of generating one.
_PLACEHOLDER_WORDS = ("change", "secret", "example", "default", "placeholder", "password", "insecure")
_TRUE_WORDS = {"1", "true", "yes", "on"}


def secret_key_problem(secret_key: str) -> str | None:
    """Why this SECRET_KEY is unsafe for production, or None when it looks generated."""
    if not secret_key:
        return "SECRET_KEY is missing"
    if len(secret_key) < MIN_SECRET_KEY_LENGTH:
        return f"SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters in production"
    if len(set(secret_key)) < 10:
        return "SECRET_KEY repeats too few characters to be random"
    lowered = secret_key.lower()
    if any(word in lowered for word in _PLACEHOLDER_WORDS):
        return "SECRET_KEY looks like a placeholder copied from an example"
    return None


def check_production_settings(config) -> None:
    """Refuse settings that are unsafe in production; the message says how to fix them.

    Called on the loaded environment and again on the app's final configuration, so an
    override (``FLASK_DEBUG``, a test mapping) cannot slip past.
    """
    if config.get("CCD_ENV") != "production":
        return
    if config.get("DEBUG"):
        raise ConfigurationError(
            "CCD_ENV=production refuses DEBUG: the debugger runs any code a visitor sends. "
            "Unset FLASK_DEBUG (and do not pass --debug)."
        )
    problem = secret_key_problem(str(config.get("SECRET_KEY") or ""))
    if problem:
        raise ConfigurationError(
            f"{problem}. Generate one with: python3 -c 'import secrets; print(secrets.token_hex(32))'"
        )


def _minutes(environ, name: str, default: int) -> timedelta:
    raw = environ.get(name, "").strip()
    if not raw:
        return timedelta(minutes=default)
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigurationError(f"{name} must be a whole number of minutes (1 or more), not {raw!r}.")
    return timedelta(minutes=int(raw))


def _log_level(environ) -> str:
    level = environ.get("CCD_LOG_LEVEL", "").strip().upper() or "INFO"
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ConfigurationError(f"CCD_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {level!r}.")
    return level


def _rate_limit(environ, name: str, default: str) -> str:
    raw = environ.get(name, "").strip() or default
    try:
        parse_many(raw)
    except ValueError:
        raise ConfigurationError(
            f"{name} must be a rate such as '5 per minute' or '30 per 15 minutes', not {raw!r}."
        ) from None
    return raw


def _flag(environ, name: str) -> bool:
    value = environ.get(name, "").strip().lower()
    if value in {"", "0", "false", "no", "off"}:
        return False
    if value in {"1", "true", "yes", "on"}:
        return True
    raise ConfigurationError(f"{name} must be true or false (1/0, yes/no), not {value!r}.")


def _whole_number(environ, name: str, default: int, minimum: int = 0) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, not {raw!r}.") from None
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, not {value}.")
    return value


def mail_settings(environ) -> dict:
    """SMTP settings under Flask-Mail's names; no MAIL_SERVER means mail goes to the outbox folder."""
    use_tls, use_ssl = _flag(environ, "MAIL_USE_TLS"), _flag(environ, "MAIL_USE_SSL")
    if use_tls and use_ssl:
        raise ConfigurationError("Set MAIL_USE_TLS (STARTTLS, usually port 587) or MAIL_USE_SSL "
                                 "(usually port 465), not both.")
    return {
        "MAIL_SERVER": environ.get("MAIL_SERVER", "").strip(),
        "MAIL_PORT": _whole_number(environ, "MAIL_PORT", 465 if use_ssl else (587 if use_tls else 25), 1),
        "MAIL_USE_TLS": use_tls,
        "MAIL_USE_SSL": use_ssl,
        "MAIL_USERNAME": environ.get("MAIL_USERNAME", "").strip() or None,
        "MAIL_PASSWORD": environ.get("MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": environ.get("MAIL_DEFAULT_SENDER", "").strip() or "CCD <ccd@localhost>",
        "MAIL_TIMEOUT": _whole_number(environ, "MAIL_TIMEOUT", 30, 1),
        # A failed send is tried again MAIL_MAX_RETRIES times, waiting 1, 2, 4… x MAIL_RETRY_BACKOFF seconds.
        "MAIL_MAX_RETRIES": _whole_number(environ, "MAIL_MAX_RETRIES", 4),
        "MAIL_RETRY_BACKOFF": _whole_number(environ, "MAIL_RETRY_BACKOFF", 60, 1),
    }


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


# The agency's day, in its own time zone: backups at night, restriction alerts before the
# morning shift, reports once the day (or week, or month) before is complete.
BEAT_SCHEDULE = {
    "nightly-backup": {"task": "ccd.backup", "schedule": crontab(hour=2, minute=15)},
    "expiring-restriction-alerts": {"task": "ccd.notify_restrictions", "schedule": crontab(hour=6, minute=0)},
    # Yesterday's reads of client data, checked once the day is over (app/services/access_review.py).
    "unusual-access-check": {"task": "ccd.check_access", "schedule": crontab(hour=1, minute=30)},
    "daily-reports": {"task": "ccd.send_reports", "schedule": crontab(hour=7, minute=0),
                      "kwargs": {"frequency": "daily"}},
    "weekly-reports": {"task": "ccd.send_reports", "schedule": crontab(hour=7, minute=5, day_of_week="mon"),
                       "kwargs": {"frequency": "weekly"}},
    "monthly-reports": {"task": "ccd.send_reports", "schedule": crontab(hour=7, minute=10, day_of_month="1"),
                        "kwargs": {"frequency": "monthly"}},
    # The matching model relearns from the week's clients and review decisions (Sunday night).
    "weekly-matcher-training": {"task": "ccd.train_matcher", "schedule": crontab(hour=3, minute=30,
                                                                                 day_of_week="sun")},
}


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
        check_production_settings({
            "CCD_ENV": env, "SECRET_KEY": secret_key,
            "DEBUG": environ.get("FLASK_DEBUG", "").strip().lower() in _TRUE_WORDS,
        })

    timezone = environ.get("CCD_TIMEZONE", "America/Toronto").strip()
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(f"CCD_TIMEZONE {timezone!r} is not a time zone name such as America/Toronto.") \
            from None

    if not database_url:
        database_url = "sqlite:///" + str(Path(instance_path) / "ccd.sqlite3")

    from app.services.matching import (
        DEFAULT_ACCEPT_THRESHOLD, DEFAULT_MATCH_MARGIN, DEFAULT_REVIEW_THRESHOLD,
    )
    from app.services.matching.model import (
        DEFAULT_ADDRESS_MAX_WEIGHT, DEFAULT_CITY_MAX_WEIGHT, DEFAULT_DIFFERENT_ID_WEIGHT, DEFAULT_PLACEHOLDER_DOBS,
        parse_placeholder_dobs,
    )

    imports_dir = Path(environ.get("INGEST_DIR", "") or Path(instance_path) / "imports")
    accept = _float_setting(environ, "INGEST_ACCEPT_THRESHOLD", DEFAULT_ACCEPT_THRESHOLD)
    review = _float_setting(environ, "INGEST_REVIEW_THRESHOLD", DEFAULT_REVIEW_THRESHOLD)
    if not 0 < review <= accept <= 1:
        raise ConfigurationError("INGEST_REVIEW_THRESHOLD and INGEST_ACCEPT_THRESHOLD must satisfy "
                                 "0 < review <= accept <= 1.")
    stale_minutes = _float_setting(environ, "INGEST_STALE_MINUTES", 30)
    if stale_minutes < 5:
        # A working import touches its log every minute, more rarely in long steps; less would end live runs.
        raise ConfigurationError("INGEST_STALE_MINUTES must be at least 5.")

    # Birth dates that stand for "unknown" in source systems (no evidence when compared), and how
    # many bits a client holding another id of the source being imported weighs against a match.
    try:
        placeholder_dobs = sorted(parse_placeholder_dobs(environ.get("MATCH_PLACEHOLDER_DOBS", "").strip()
                                                         or DEFAULT_PLACEHOLDER_DOBS))
    except ValueError as error:
        raise ConfigurationError(str(error)) from None
    different_id_weight = _float_setting(environ, "MATCH_SAME_SOURCE_DIFFERENT_ID_WEIGHT",
                                         DEFAULT_DIFFERENT_ID_WEIGHT)
    if different_id_weight > 0:
        raise ConfigurationError("MATCH_SAME_SOURCE_DIFFERENT_ID_WEIGHT must be 0 or negative: it is evidence "
                                 "against a match.")
    city_max_weight = _float_setting(environ, "MATCH_CITY_MAX_WEIGHT", DEFAULT_CITY_MAX_WEIGHT)
    if city_max_weight < 0:
        raise ConfigurationError("MATCH_CITY_MAX_WEIGHT must be 0 or more (0: a shared city is no evidence).")
    address_max_weight = _float_setting(environ, "MATCH_ADDRESS_MAX_WEIGHT", DEFAULT_ADDRESS_MAX_WEIGHT)
    if address_max_weight < 0:
        raise ConfigurationError("MATCH_ADDRESS_MAX_WEIGHT must be 0 or more (0: a shared address is no evidence).")

    config = {
        "CCD_ENV": env,
        "AGENCY_NAME": environ.get("AGENCY_NAME", "Community Services Agency"),
        "SECRET_KEY": secret_key or _embedded_secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        # Row values never reach error messages and logs (they are clients' personal data).
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
        # The __Host- prefix makes browsers refuse the cookie unless it is Secure, host-only and path /.
        "SESSION_COOKIE_NAME": "__Host-ccd_session" if production else "ccd_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        # A signed-in session ends this long after sign-in, or after this long without a request.
        "PERMANENT_SESSION_LIFETIME": _minutes(environ, "CCD_SESSION_LIFETIME_MINUTES", 12 * 60),
        "SESSION_IDLE_TIMEOUT": _minutes(environ, "CCD_SESSION_IDLE_MINUTES", 30),
        # Failed sign-ins in a row before an account is locked, and for how long.
        "SIGN_IN_LOCKOUT_FAILURES": _whole_number(environ, "CCD_SIGN_IN_LOCKOUT_FAILURES", 5, 1),
        "SIGN_IN_LOCKOUT_DURATION": _minutes(environ, "CCD_SIGN_IN_LOCKOUT_MINUTES", 15),
        # Failed sign-ins allowed per submitted email and per client address (Flask-Limiter rates).
        "SIGN_IN_LIMIT_PER_ACCOUNT": _rate_limit(environ, "CCD_SIGN_IN_LIMIT_PER_ACCOUNT", "5 per minute"),
        "SIGN_IN_LIMIT_PER_ADDRESS": _rate_limit(environ, "CCD_SIGN_IN_LIMIT_PER_ADDRESS", "30 per 15 minutes"),
        # Shared counters across workers need Redis; one process can count in memory.
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_STRATEGY": "moving-window",
        "RATELIMIT_HEADERS_ENABLED": True,
        "RATELIMIT_KEY_PREFIX": "ccd-limits",
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        # Reverse proxies in front of CCD whose X-Forwarded-For is trusted (0: none; the
        # per-address sign-in limit needs the real client address).
        "TRUSTED_PROXY_COUNT": _whole_number(environ, "CCD_TRUSTED_PROXIES", 0),
        "LOG_LEVEL": _log_level(environ),
        "PASSWORD_HASH_METHOD": "scrypt",
        "TIMEZONE": timezone,
        # Links in emails and notifications point here (the address people open CCD at).
        "BASE_URL": environ.get("CCD_BASE_URL", "http://127.0.0.1:5000").strip().rstrip("/"),
        "MAIL_OUTBOX_DIR": environ.get("MAIL_OUTBOX_DIR", str(Path(instance_path) / "outbox")),
        **mail_settings(environ),
        "BACKUP_DIR": environ.get("BACKUP_DIR", "").strip() or str(Path(instance_path) / "backups"),
        # Client photos: re-encoded uploads, served only through the client screen's own scope check
        # (never a static URL), so the folder must not be one the web server publishes.
        "CLIENT_PHOTO_DIR": environ.get("CLIENT_PHOTO_DIR", "").strip() or str(Path(instance_path) / "client_photos"),
        "CLIENT_PHOTO_MAX_MB": _float_setting(environ, "CLIENT_PHOTO_MAX_MB", 5),
        "BACKUP_S3_BUCKET": environ.get("BACKUP_S3_BUCKET", "").strip() or None,
        "BACKUP_S3_PREFIX": environ.get("BACKUP_S3_PREFIX", "ccd-backups/").strip(),
        "BACKUP_S3_ENDPOINT_URL": environ.get("BACKUP_S3_ENDPOINT_URL", "").strip() or None,
        # Imports: uploaded files wait in INGEST_UPLOAD_DIR for the worker (web and worker must share it);
        # the daily job imports INGEST_DROP_DIR/<source>/ and moves the files to INGEST_ARCHIVE_DIR.
        "INGEST_UPLOAD_DIR": environ.get("INGEST_UPLOAD_DIR", str(imports_dir / "uploads")),
        "INGEST_DROP_DIR": environ.get("INGEST_DROP_DIR", str(imports_dir / "drop")),
        "INGEST_ARCHIVE_DIR": environ.get("INGEST_ARCHIVE_DIR", str(imports_dir / "archive")),
        "INGEST_MAX_UPLOAD_MB": _float_setting(environ, "INGEST_MAX_UPLOAD_MB", 200),
        "INGEST_BATCH_SIZE": int(_float_setting(environ, "INGEST_BATCH_SIZE", DEFAULT_INGEST_BATCH_SIZE)),
        # A running import whose upload log has not moved for this long is taken as dead (ccd ingest-reap).
        "INGEST_STALE_MINUTES": stale_minutes,
        # Files past these are refused before their rows are read (a workbook's XML is what memory holds).
        "INGEST_MAX_ROWS": int(_float_setting(environ, "INGEST_MAX_ROWS", 2_000_000)),
        "INGEST_MAX_XLSX_UNPACKED_MB": _float_setting(environ, "INGEST_MAX_XLSX_UNPACKED_MB", 500),
        # openpyxl holds a workbook's distinct strings for the whole read (~80 bytes each): 2 million ~ 160 MB.
        "INGEST_MAX_XLSX_SHARED_STRINGS": int(_float_setting(environ, "INGEST_MAX_XLSX_SHARED_STRINGS", 2_000_000)),
        "INGEST_ACCEPT_THRESHOLD": accept,
        "INGEST_REVIEW_THRESHOLD": review,
        "INGEST_MATCH_MARGIN": _float_setting(environ, "INGEST_MATCH_MARGIN", DEFAULT_MATCH_MARGIN),
        "MATCH_PLACEHOLDER_DOBS": placeholder_dobs,
        # A restriction in force that ends within this many days is "ending soon": amber on the client's
        # record, listed on the home page.
        "CCD_RESTRICTION_ENDING_SOON_DAYS": _whole_number(environ, "CCD_RESTRICTION_ENDING_SOON_DAYS", 14),
        "MATCH_SAME_SOURCE_DIFFERENT_ID_WEIGHT": different_id_weight,
        "MATCH_CITY_MAX_WEIGHT": city_max_weight,
        "MATCH_ADDRESS_MAX_WEIGHT": address_max_weight,
        "CELERY": {
            "broker_url": redis_url or "memory://",
            "result_backend": redis_url or None,
            "task_always_eager": not redis_url,
            "task_eager_propagates": True,
            "task_ignore_result": True,
            "timezone": timezone,
            "beat_schedule": {
                **BEAT_SCHEDULE,
                "ccd-ingest-drop-folder": {
                    "task": "ccd.ingest.drop_folder",
                    "schedule": _daily_at(environ.get("INGEST_DROP_TIME", "02:30"), "INGEST_DROP_TIME"),
                },
                # Imports whose process died are ended (failed, resumable) once they stop moving.
                "ccd-ingest-reap": {"task": "ccd.ingest.reap", "schedule": crontab(minute="*/10")},
            },
        },
    }
    return config
