import importlib

import pytest
from environs import EnvError, validate

from core.env import NO_EMPTY_ITEMS, Env, parse_database_url, sqlite_database


@pytest.mark.parametrize(
    ("reader", "value", "named"),
    [
        (lambda e: e.bool("DJANGO_DEBUG"), "maybe", "DJANGO_DEBUG"),
        (
            lambda e: e.int("CROSSSELL_DECISION_TTL_SECONDS", 1, validate=validate.Range(min=1)),
            "ten",
            "CROSSSELL_DECISION_TTL_SECONDS",
        ),
        (
            lambda e: e.int("CROSSSELL_DECISION_TTL_SECONDS", 1, validate=validate.Range(min=1)),
            "0",
            "CROSSSELL_DECISION_TTL_SECONDS",
        ),
        (
            lambda e: e.float(
                "CROSSSELL_IDENTITY_MIN_CONFIDENCE", 0.9, validate=validate.Range(0, 1)
            ),
            "1.5",
            "CROSSSELL_IDENTITY_MIN_CONFIDENCE",
        ),
        (
            lambda e: e.float(
                "CROSSSELL_IDENTITY_MIN_CONFIDENCE", 0.9, validate=validate.Range(0, 1)
            ),
            "nan",
            "CROSSSELL_IDENTITY_MIN_CONFIDENCE",
        ),
        (
            lambda e: e.time_zone("CROSSSELL_BANK_TIME_ZONE", "UTC"),
            "Mars/Olympus",
            "CROSSSELL_BANK_TIME_ZONE",
        ),
        (lambda e: e.redis_url("CELERY_BROKER_URL", ""), "amqp://localhost", "CELERY_BROKER_URL"),
        (
            lambda e: e.redis_url("CELERY_BROKER_URL", ""),
            "redis://localhost:port/0",
            "CELERY_BROKER_URL",
        ),
        (
            lambda e: e.database("DATABASE_URL", sqlite_database("x")),
            "mysql://db/x",
            "DATABASE_URL",
        ),
        (
            lambda e: e.database("DATABASE_URL", sqlite_database("x")),
            "postgres://host:99999999/db",
            "DATABASE_URL",
        ),
        (
            lambda e: e.database("DATABASE_URL", sqlite_database("x")),
            "postgres://host/",
            "DATABASE_URL",
        ),
        (
            lambda e: e.list(
                "DJANGO_ALLOWED_HOSTS", [], subcast=str.strip, validate=NO_EMPTY_ITEMS
            ),
            "a.example,,b.example",
            "DJANGO_ALLOWED_HOSTS",
        ),
    ],
)
def test_malformed_setting_stops_start_up_naming_it(reader, value, named):
    variable = named
    with pytest.raises(EnvError, match=named):
        reader(Env({variable: value}))


def test_unset_settings_fall_back_to_the_embedded_defaults():
    env = Env({})
    assert env.database("DATABASE_URL", sqlite_database("/tmp/x.sqlite3")) == sqlite_database(
        "/tmp/x.sqlite3"
    )
    assert env.redis_url("CELERY_BROKER_URL", "") == ""
    assert env.bool("DJANGO_DEBUG", False) is False


def test_a_blank_setting_counts_as_unset_and_values_are_stripped():
    env = Env(
        {
            "CELERY_BROKER_URL": "",
            "DATABASE_URL": "  ",
            "DJANGO_SECRET_KEY": "",
            "CROSSSELL_DECISION_TTL_SECONDS": " 60 ",
        }
    )
    assert env.redis_url("CELERY_BROKER_URL", "") == ""
    assert env.database("DATABASE_URL", sqlite_database("/tmp/x"))["NAME"] == "/tmp/x"
    assert env.str("DJANGO_SECRET_KEY", "embedded") == "embedded"
    assert env.int("CROSSSELL_DECISION_TTL_SECONDS", 900) == 60


def test_values_are_used_verbatim_without_variable_expansion():
    env = Env({"DJANGO_SECRET_KEY": r"s3cr${HOME}t\$", "HOME": "/root"})
    assert env.str("DJANGO_SECRET_KEY", "") == r"s3cr${HOME}t\$"


def test_lists_are_comma_separated_with_items_stripped():
    env = Env({"DJANGO_ALLOWED_HOSTS": "a.example, b.example "})
    hosts = env.list("DJANGO_ALLOWED_HOSTS", [], subcast=str.strip, validate=NO_EMPTY_ITEMS)
    assert hosts == ["a.example", "b.example"]


def test_postgres_url_is_parsed_into_django_settings():
    parsed = parse_database_url("postgres://bank:s%40cret@db.internal:6543/crosssell")
    assert parsed["ENGINE"] == "django.db.backends.postgresql"
    assert (parsed["USER"], parsed["PASSWORD"], parsed["HOST"], parsed["PORT"], parsed["NAME"]) == (
        "bank",
        "s@cret",
        "db.internal",
        "6543",
        "crosssell",
    )


@pytest.mark.parametrize(
    ("url", "path"),
    [("sqlite:///tmp/a.db", "/tmp/a.db"), ("sqlite:////tmp/a%20b.db", "/tmp/a b.db")],
)
def test_sqlite_url_gets_the_embedded_sqlite_options(url, path):
    assert parse_database_url(url) == sqlite_database(path)
    assert sqlite_database(path)["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CROSSSELL_IDENTITY_MIN_CONFIDENCE", "high"),
        ("CROSSSELL_DECISION_TTL_SECONDS", "0"),
        ("CROSSSELL_LOG_LEVEL", "LOUD"),
        ("CROSSSELL_API_RATE", "lots"),
        ("CROSSSELL_BANNED_PHRASES", "free,"),
        ("DJANGO_CSRF_TRUSTED_ORIGINS", "https://a.example,,https://b.example"),
        ("CROSSSELL_DB_CONN_MAX_AGE", "-1"),
        ("CROSSSELL_DB_CONN_MAX_AGE", "forever"),
        ("CROSSSELL_PREPARED_STATEMENTS", "sometimes"),
    ],
)
def test_importing_settings_with_a_malformed_value_fails(monkeypatch, variable, value):
    import crosssell.settings.base as base

    monkeypatch.setenv(variable, value)
    with pytest.raises(EnvError, match=variable):
        importlib.reload(base)
    monkeypatch.delenv(variable)
    importlib.reload(base)


def test_settings_accept_log_levels_and_rates_in_their_usual_forms(monkeypatch):
    import crosssell.settings.base as base

    monkeypatch.setenv("CROSSSELL_LOG_LEVEL", "info")
    monkeypatch.setenv("CROSSSELL_API_RATE", "50/s")
    try:
        importlib.reload(base)
        assert base.LOGGING["root"]["level"] == 20
        assert base.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["api_client"] == "50/s"
    finally:
        monkeypatch.delenv("CROSSSELL_LOG_LEVEL")
        monkeypatch.delenv("CROSSSELL_API_RATE")
        importlib.reload(base)


def test_database_connections_are_kept_and_checked_unless_turned_off(monkeypatch):
    import crosssell.settings.base as base

    importlib.reload(base)
    assert base.DATABASES["default"]["CONN_MAX_AGE"] == 300
    assert base.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True
    monkeypatch.setenv("CROSSSELL_DB_CONN_MAX_AGE", "0")
    try:
        importlib.reload(base)
        assert base.DATABASES["default"]["CONN_MAX_AGE"] == 0
    finally:
        monkeypatch.delenv("CROSSSELL_DB_CONN_MAX_AGE")
        importlib.reload(base)
