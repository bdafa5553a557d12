"""Production refuses to start without the settings it cannot guess; the embedded default needs none."""

import pytest

from app.config import ConfigurationError, load_config, normalise_database_url


def test_embedded_default_needs_nothing(tmp_path):
    config = load_config(str(tmp_path), environ={})
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert config["CELERY"]["task_always_eager"] is True
    assert len(config["SECRET_KEY"]) >= 32
    assert load_config(str(tmp_path), environ={})["SECRET_KEY"] == config["SECRET_KEY"], "key survives restarts"


@pytest.mark.parametrize("environ,missing", [
    ({"CCD_ENV": "production"}, "SECRET_KEY and DATABASE_URL"),
    ({"CCD_ENV": "production", "SECRET_KEY": "k" * 40}, "DATABASE_URL"),
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
    config = load_config(str(tmp_path), environ={"CCD_ENV": "production", "SECRET_KEY": "s" * 40,
                                                 "DATABASE_URL": "postgres://u@db/ccd",
                                                 "REDIS_URL": "redis://redis:6379/0"})
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/ccd"
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["CELERY"]["task_always_eager"] is False


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
    assert scheduled == {"ccd.backup", "ccd.notify_restrictions", "ccd.send_reports"}
    assert scheduled <= set(celery.tasks)
