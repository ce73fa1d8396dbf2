import pytest
from django.core.exceptions import ImproperlyConfigured

from core.env import Env, parse_database_url


@pytest.mark.parametrize(
    ("reader", "value", "named"),
    [
        (lambda e: e.bool("DJANGO_DEBUG"), "maybe", "DJANGO_DEBUG"),
        (
            lambda e: e.int("CROSSSELL_DECISION_TTL_SECONDS", 1, minimum=1),
            "ten",
            "CROSSSELL_DECISION_TTL_SECONDS",
        ),
        (
            lambda e: e.int("CROSSSELL_DECISION_TTL_SECONDS", 1, minimum=1),
            "0",
            "CROSSSELL_DECISION_TTL_SECONDS",
        ),
        (
            lambda e: e.float("CROSSSELL_IDENTITY_MIN_CONFIDENCE", 0.9, minimum=0, maximum=1),
            "1.5",
            "CROSSSELL_IDENTITY_MIN_CONFIDENCE",
        ),
        (
            lambda e: e.float("CROSSSELL_IDENTITY_MIN_CONFIDENCE", 0.9, minimum=0, maximum=1),
            "nan",
            "CROSSSELL_IDENTITY_MIN_CONFIDENCE",
        ),
        (
            lambda e: e.time_zone("CROSSSELL_BANK_TIME_ZONE", "UTC"),
            "Mars/Olympus",
            "CROSSSELL_BANK_TIME_ZONE",
        ),
        (lambda e: e.redis_url("CELERY_BROKER_URL"), "amqp://localhost", "CELERY_BROKER_URL"),
        (
            lambda e: e.redis_url("CELERY_BROKER_URL"),
            "redis://localhost:port/0",
            "CELERY_BROKER_URL",
        ),
        (lambda e: e.database("DATABASE_URL", "x"), "mysql://db/x", "DATABASE_URL"),
        (lambda e: e.database("DATABASE_URL", "x"), "postgres://host:99999999/db", "DATABASE_URL"),
        (lambda e: e.database("DATABASE_URL", "x"), "postgres://host/", "DATABASE_URL"),
    ],
)
def test_malformed_setting_stops_start_up_naming_it(reader, value, named):
    variable = named
    with pytest.raises(ImproperlyConfigured, match=named):
        reader(Env({variable: value}))


def test_unset_settings_fall_back_to_the_embedded_defaults():
    env = Env({})
    assert env.database("DATABASE_URL", "/tmp/x.sqlite3")["ENGINE"] == "django.db.backends.sqlite3"
    assert env.redis_url("CELERY_BROKER_URL") == ""
    assert env.bool("DJANGO_DEBUG", False) is False


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


def test_importing_settings_with_a_malformed_value_fails(monkeypatch):
    import importlib

    import crosssell.settings.base as base

    monkeypatch.setenv("CROSSSELL_IDENTITY_MIN_CONFIDENCE", "high")
    with pytest.raises(ImproperlyConfigured, match="CROSSSELL_IDENTITY_MIN_CONFIDENCE"):
        importlib.reload(base)
    monkeypatch.delenv("CROSSSELL_IDENTITY_MIN_CONFIDENCE")
    importlib.reload(base)
