"""Settings read from the environment: environs, with the project's few parsers added.

Every reader is strict. A malformed value raises environs' ``EnvError`` (a ``ValueError``)
while the settings module is imported, with a message naming the variable
(``Environment variable "DATABASE_URL" invalid: ...``), so start-up stops with something
an operator can act on instead of a surprise at the first request.

What this module adds to ``environs.Env``:

* A blank value counts as unset, and values are stripped, as the project always had it:
  ``CELERY_BROKER_URL=`` means "no broker", and ``DJANGO_SECRET_KEY=`` or
  ``CROSSSELL_PSEUDONYM_KEY=`` must fall back to their defaults rather than become empty
  keys. environs has no option for this, so ``Env`` overrides ``_get_value``, the one hook
  environs' own ``FileAwareEnv`` overrides to change where values come from. The same
  hook lets tests pass a mapping instead of ``os.environ``.
* ``expand_vars`` stays off: values (secret keys, database passwords) are used verbatim,
  never rewritten for ``${NAME}`` or ``\\$``.
* Parsers registered with ``add_parser``: ``env.database(name, default)``,
  ``env.redis_url(name, default)`` and ``env.time_zone(name, default)``. environs calls a
  registered parser on the default too, so defaults are checked like values.

The database parser is kept hand-written (``parse_database_url``): environs'
``dj_db_url`` needs dj-database-url, which the project does not depend on, and the
project's URLs differ from that package's anyway (``sqlite:///path`` is an absolute path
here, and a SQLite database gets the WAL/IMMEDIATE options of ``sqlite_database``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import environs
from environs import ValidationError, validate

# For comma-separated lists read with ``subcast=str.strip``: "a,,b" is malformed.
NO_EMPTY_ITEMS = validate.ContainsNoneOf([""], error="has an empty item")


class Env(environs.Env):
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        super().__init__(eager=True, expand_vars=False)
        self.environ = os.environ if environ is None else environ
        self.add_parser("database", database)
        self.add_parser("redis_url", redis_url)
        self.add_parser("time_zone", time_zone)

    def _get_value(self, env_key: str, default: Any) -> Any:
        value = self.environ.get(env_key)
        if value is None or not value.strip():
            return default
        return value.strip()


def database(value: str | Mapping[str, Any]) -> dict[str, Any]:
    """A Django ``DATABASES`` entry from a URL; a default given as settings passes as is."""
    if isinstance(value, Mapping):
        return dict(value)
    return parse_database_url(value)


def redis_url(value: str) -> str:
    """``redis://host:port/db`` (or ``rediss://``); empty means none."""
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in {"redis", "rediss"} or not parts.hostname:
        raise ValidationError(f"must be a redis://host:port/db URL, got {value!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise ValidationError(f"has a malformed port: {value!r}") from None
    return value


def time_zone(value: str) -> str:
    """An IANA time zone name, checked against the time zone database."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"must be an IANA time zone name, got {value!r}") from None
    return value


def sqlite_database(path: str | Path) -> dict[str, Any]:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            # WAL lets the console read while a worker writes; IMMEDIATE avoids the
            # "database is locked" upgrade deadlock between two writers.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
            "transaction_mode": "IMMEDIATE",
        },
    }


def parse_database_url(url: str) -> dict[str, Any]:
    """``postgres://user:pass@host:port/db`` or ``sqlite:///path`` as Django settings."""
    parts = urlsplit(url)
    if parts.scheme in {"sqlite", "sqlite3"}:
        path = unquote(parts.path)
        if path.startswith("//"):
            path = path[1:]
        if not path or path == "/":
            raise ValidationError(f"names no SQLite file: {url!r}")
        return sqlite_database(path.lstrip("/") if parts.netloc == "." else path)
    if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise ValidationError(
            f"must start with postgres:// or sqlite:///, got scheme {parts.scheme!r}"
        )
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ValidationError(f"names no database: {url!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValidationError(f"has a malformed port: {url!r}") from None
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(port or ""),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }
