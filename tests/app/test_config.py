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
