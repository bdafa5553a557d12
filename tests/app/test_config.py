"""Production refuses to start without the settings it cannot guess; the embedded default needs none."""

import secrets
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app import create_app
from app.config import ConfigurationError, engine_options, load_config, normalise_database_url
from app.extensions import db

STRONG_KEY = secrets.token_hex(32)
PRODUCTION = {"CCD_ENV": "production", "SECRET_KEY": STRONG_KEY, "DATABASE_URL": "postgresql://db/ccd"}


def test_embedded_default_needs_nothing(tmp_path):
    config = load_config(str(tmp_path), environ={})
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert config["CELERY"]["task_always_eager"] is True
    assert len(config["SECRET_KEY"]) >= 32
    assert load_config(str(tmp_path), environ={})["SECRET_KEY"] == config["SECRET_KEY"], "key survives restarts"


@pytest.mark.parametrize("environ,missing", [
    ({"CCD_ENV": "production"}, "SECRET_KEY and DATABASE_URL"),
    ({"CCD_ENV": "production", "SECRET_KEY": STRONG_KEY}, "DATABASE_URL"),
    ({"CCD_ENV": "production", "DATABASE_URL": "postgresql://db/ccd"}, "SECRET_KEY"),
])
def test_production_refuses_to_start_without_secrets(tmp_path, environ, missing):
    with pytest.raises(ConfigurationError, match=missing):
        load_config(str(tmp_path), environ=environ)


def test_production_refuses_a_short_secret_key(tmp_path):
    with pytest.raises(ConfigurationError, match="32 characters"):
        load_config(str(tmp_path), environ={"CCD_ENV": "production", "SECRET_KEY": "short",
                                            "DATABASE_URL": "postgresql://db/ccd"})


def test_production_with_settings_uses_them(tmp_path):
    config = load_config(str(tmp_path), environ={**PRODUCTION, "DATABASE_URL": "postgres://u@db/ccd",
                                                 "REDIS_URL": "redis://redis:6379/0"})
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/ccd"
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["CELERY"]["task_always_eager"] is False
    assert config["RATELIMIT_STORAGE_URI"] == "redis://redis:6379/0", "sign-in throttle shared by all workers"


@pytest.mark.parametrize("weak_key,reason", [
    ("short", "32 characters"),
    ("a" * 64, "too few characters"),
    ("abababababababababababababababab12", "too few characters"),
    ("change-me-to-a-long-random-string-0123456789", "placeholder"),
    ("django-insecure-0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c", "placeholder"),
])
def test_production_refuses_a_weak_secret_key(tmp_path, weak_key, reason):
    with pytest.raises(ConfigurationError, match=reason):
        load_config(str(tmp_path), environ={**PRODUCTION, "SECRET_KEY": weak_key})


@pytest.mark.parametrize("flag", ["1", "true", "Yes"])
def test_production_refuses_debug(tmp_path, flag):
    with pytest.raises(ConfigurationError, match="refuses DEBUG"):
        load_config(str(tmp_path), environ={**PRODUCTION, "FLASK_DEBUG": flag})


def test_development_allows_debug_and_its_own_key(tmp_path):
    config = load_config(str(tmp_path), environ={"FLASK_DEBUG": "1", "SECRET_KEY": "dev"})
    assert config["SECRET_KEY"] == "dev"


@pytest.mark.parametrize("override,message", [
    ({"DEBUG": True}, "refuses DEBUG"),
    ({"SECRET_KEY": "k" * 40}, "too few characters"),
])
def test_app_factory_refuses_unsafe_overrides_in_production(monkeypatch, tmp_path, override, message):
    """create_app checks the final configuration too, so FLASK_DEBUG or an override cannot slip past."""
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=message):
        create_app(override)


def test_session_cookies_are_httponly_lax_and_secure_only_in_production(tmp_path):
    development = load_config(str(tmp_path), environ={})
    production = load_config(str(tmp_path), environ=PRODUCTION)
    for config in (development, production):
        assert config["SESSION_COOKIE_HTTPONLY"] is True
        assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert development["SESSION_COOKIE_SECURE"] is False
    assert production["SESSION_COOKIE_SECURE"] is True
    assert production["SESSION_COOKIE_NAME"].startswith("__Host-"), "browser enforces Secure, host-only, path /"


def test_session_and_sign_in_limits_come_from_the_environment(tmp_path):
    config = load_config(str(tmp_path), environ={
        "CCD_SESSION_LIFETIME_MINUTES": "480", "CCD_SESSION_IDLE_MINUTES": "10",
        "CCD_SIGN_IN_LOCKOUT_FAILURES": "3", "CCD_SIGN_IN_LOCKOUT_MINUTES": "30",
        "CCD_SIGN_IN_LIMIT_PER_ACCOUNT": "3 per minute", "CCD_SIGN_IN_LIMIT_PER_ADDRESS": "50 per hour",
    })
    assert config["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=8)
    assert config["SESSION_IDLE_TIMEOUT"] == timedelta(minutes=10)
    assert config["SIGN_IN_LOCKOUT_FAILURES"] == 3
    assert config["SIGN_IN_LOCKOUT_DURATION"] == timedelta(minutes=30)
    assert config["SIGN_IN_LIMIT_PER_ACCOUNT"] == "3 per minute"
    assert config["SIGN_IN_LIMIT_PER_ADDRESS"] == "50 per hour"
    assert config["RATELIMIT_STORAGE_URI"] == "memory://", "the embedded default counts in memory"


@pytest.mark.parametrize("name,value", [
    ("CCD_SESSION_IDLE_MINUTES", "0"), ("CCD_SESSION_LIFETIME_MINUTES", "a day"),
    ("CCD_SIGN_IN_LOCKOUT_FAILURES", "-1"), ("CCD_SIGN_IN_LIMIT_PER_ACCOUNT", "lots"),
    ("CCD_TRUSTED_PROXIES", "one"), ("CCD_LOG_LEVEL", "chatty"),
])
def test_bad_security_settings_are_named(tmp_path, name, value):
    with pytest.raises(ConfigurationError, match=name):
        load_config(str(tmp_path), environ={name: value})


def test_unknown_environment_is_an_error(tmp_path):
    with pytest.raises(ConfigurationError):
        load_config(str(tmp_path), environ={"CCD_ENV": "staging"})


def test_database_url_normalised():
    assert normalise_database_url("postgresql://a/b") == "postgresql+psycopg://a/b"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_mail_settings_use_flask_mail_names_and_default_to_the_outbox(tmp_path):
    embedded = load_config(str(tmp_path), environ={})
    assert embedded["MAIL_SERVER"] == "" and embedded["MAIL_OUTBOX_DIR"].endswith("outbox")
    config = load_config(str(tmp_path), environ={
        "MAIL_SERVER": "smtp.agency.example", "MAIL_USE_TLS": "true", "MAIL_USERNAME": "ccd",
        "MAIL_PASSWORD": "pw", "MAIL_DEFAULT_SENDER": "CCD <ccd@agency.example>"})
    assert (config["MAIL_SERVER"], config["MAIL_PORT"], config["MAIL_USE_TLS"], config["MAIL_USE_SSL"]) == (
        "smtp.agency.example", 587, True, False)
    assert config["MAIL_USERNAME"] == "ccd" and config["MAIL_DEFAULT_SENDER"] == "CCD <ccd@agency.example>"
    assert load_config(str(tmp_path), environ={"MAIL_USE_SSL": "1"})["MAIL_PORT"] == 465


@pytest.mark.parametrize("environ,message", [
    ({"MAIL_USE_TLS": "1", "MAIL_USE_SSL": "1"}, "not both"),
    ({"MAIL_USE_TLS": "maybe"}, "MAIL_USE_TLS must be true or false"),
    ({"MAIL_PORT": "twenty-five"}, "MAIL_PORT must be a whole number"),
    ({"MAIL_MAX_RETRIES": "-1"}, "MAIL_MAX_RETRIES must be at least 0"),
    ({"CCD_TIMEZONE": "Mars/Olympus"}, "not a time zone name"),
])
def test_bad_job_settings_are_refused_with_the_setting_named(tmp_path, environ, message):
    with pytest.raises(ConfigurationError, match=message):
        load_config(str(tmp_path), environ=environ)


def test_beat_runs_in_the_agency_time_zone_and_every_scheduled_task_exists(app):
    import tasks  # noqa: F401  (registers the tasks, as celery_worker does)

    celery = app.extensions["celery"]
    assert celery.conf.timezone == app.config["TIMEZONE"] == "America/Toronto"
    scheduled = {entry["task"] for entry in celery.conf.beat_schedule.values()}
    assert scheduled == {"ccd.backup", "ccd.notify_restrictions", "ccd.send_reports", "ccd.ingest.drop_folder",
                         "ccd.ingest.reap", "ccd.train_matcher", "ccd.check_access"}
    assert scheduled <= set(celery.tasks)


@pytest.mark.postgres_only
def test_postgresql_sessions_run_without_jit(db_session):
    # JIT compiling cost seconds per scoped page for milliseconds of work (bench/RESULTS.md).
    assert db.session.scalar(sa.text("SHOW jit")) == "off"


def test_jit_setting_is_only_sent_to_postgresql():
    assert engine_options("sqlite:///ccd.sqlite3", {"pool_pre_ping": True}) == {"pool_pre_ping": True}
    options = engine_options("postgresql+psycopg://db/ccd", {"connect_args": {"sslmode": "require"}})
    assert options["connect_args"] == {"sslmode": "require", "options": "-c jit=off"}


def test_matching_settings_come_from_the_environment(tmp_path):
    embedded = load_config(str(tmp_path), environ={})
    assert embedded["MATCH_PLACEHOLDER_DOBS"] == [date(1900, 1, 1)]
    assert embedded["MATCH_SAME_SOURCE_DIFFERENT_ID_WEIGHT"] == -4.0
    assert embedded["MATCH_CITY_MAX_WEIGHT"] == 4.0 and embedded["MATCH_ADDRESS_MAX_WEIGHT"] == 3.0
    config = load_config(str(tmp_path), environ={"MATCH_PLACEHOLDER_DOBS": "1900-01-01, 1901-01-01",
                                                 "MATCH_SAME_SOURCE_DIFFERENT_ID_WEIGHT": "-4",
                                                 "MATCH_CITY_MAX_WEIGHT": "0", "MATCH_ADDRESS_MAX_WEIGHT": "1.5"})
    assert config["MATCH_PLACEHOLDER_DOBS"] == [date(1900, 1, 1), date(1901, 1, 1)]
    assert config["MATCH_SAME_SOURCE_DIFFERENT_ID_WEIGHT"] == -4.0
    assert config["MATCH_CITY_MAX_WEIGHT"] == 0.0 and config["MATCH_ADDRESS_MAX_WEIGHT"] == 1.5


@pytest.mark.parametrize("environ,message", [
    ({"MATCH_PLACEHOLDER_DOBS": "1900-02-30"}, "MATCH_PLACEHOLDER_DOBS"),
    ({"MATCH_SAME_SOURCE_DIFFERENT_ID_WEIGHT": "3"}, "must be 0 or negative"),
    ({"MATCH_CITY_MAX_WEIGHT": "-1"}, "MATCH_CITY_MAX_WEIGHT must be 0 or more"),
    ({"MATCH_ADDRESS_MAX_WEIGHT": "-2"}, "MATCH_ADDRESS_MAX_WEIGHT must be 0 or more"),
])
def test_bad_matching_settings_are_refused_with_the_setting_named(tmp_path, environ, message):
    with pytest.raises(ConfigurationError, match=message):
        load_config(str(tmp_path), environ=environ)


def test_import_run_settings_come_from_the_environment_and_a_too_short_stale_time_is_refused(tmp_path):
    config = load_config(str(tmp_path), environ={"INGEST_STALE_MINUTES": "45", "INGEST_MAX_ROWS": "1000"})
    assert (config["INGEST_STALE_MINUTES"], config["INGEST_MAX_ROWS"]) == (45.0, 1000)
    with pytest.raises(ConfigurationError, match="INGEST_STALE_MINUTES must be at least 5"):
        load_config(str(tmp_path), environ={"INGEST_STALE_MINUTES": "1"})


def test_restrictions_ending_soon_is_two_weeks_unless_set(tmp_path):
    assert load_config(str(tmp_path), environ={})["CCD_RESTRICTION_ENDING_SOON_DAYS"] == 14
    set_to = load_config(str(tmp_path), environ={"CCD_RESTRICTION_ENDING_SOON_DAYS": "30"})
    assert set_to["CCD_RESTRICTION_ENDING_SOON_DAYS"] == 30
    with pytest.raises(ConfigurationError, match="CCD_RESTRICTION_ENDING_SOON_DAYS must be a whole number"):
        load_config(str(tmp_path), environ={"CCD_RESTRICTION_ENDING_SOON_DAYS": "two weeks"})
