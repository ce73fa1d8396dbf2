"""``create_app_role``: the PostgreSQL role the app runs as, which cannot rewrite the ledger.

The ledger's append-only triggers (``ledger.triggers``) bind every role except the tables'
owner and superusers: an owner may ``ALTER TABLE ... DISABLE TRIGGER`` and a superuser may
``SET session_replication_role = replica``, which silences triggers. So the processes
that serve requests and run tasks (gunicorn, Celery workers and beat) connect as a role
that is neither, and that may only read and append to the ledger. The role that owns the
schema (the one ``migrate`` runs as) runs this, after every ``migrate``::

    CROSSSELL_APP_DB_PASSWORD=... python manage.py create_app_role \\
        --role crosssell_app --password-env CROSSSELL_APP_DB_PASSWORD

It creates the role, or brings an existing one back to exactly this, in one transaction:

* ``LOGIN``, and none of ``SUPERUSER``, ``CREATEDB``, ``CREATEROLE``, ``REPLICATION``,
  ``BYPASSRLS``; the password is hashed here (SCRAM, by libpq) so the server's statement
  log never holds it. Without ``--password-env`` the password is left as it is.
* ``CONNECT`` on the database and ``USAGE`` on the schema;
* ``SELECT, INSERT, UPDATE, DELETE`` on every table of the schema and ``USAGE, SELECT`` on
  its sequences — except the ledger's tables, ``SELECT, INSERT`` only (no UPDATE, DELETE,
  TRUNCATE, TRIGGER), and ``django_migrations``, ``SELECT`` only;
* default privileges, so tables and sequences the owner creates in later migrations get
  the same read-write grants without waiting for the next run.

It refuses (and changes nothing) when the role would own a table, could act as the
ledger's owner, or ends up with more than that on the ledger; it says so when the role
could still create objects in the schema (PostgreSQL before 15 lets everyone create in
``public``). On SQLite there are no roles: it says it is not applicable and does nothing.
"""

from __future__ import annotations

import os
import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connections, transaction
from django.db.migrations.recorder import MigrationRecorder

from ledger.triggers import LEDGER_TABLES

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
APP_TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
LEDGER_PRIVILEGES = ("SELECT", "INSERT")
LEDGER_REFUSED = ("UPDATE", "DELETE", "TRUNCATE", "TRIGGER", "REFERENCES")
# pg_roles column -> the clause that turns it the way the app role needs it.
ATTRIBUTES = {
    "rolcanlogin": (True, "LOGIN"),
    "rolsuper": (False, "NOSUPERUSER"),
    "rolcreatedb": (False, "NOCREATEDB"),
    "rolcreaterole": (False, "NOCREATEROLE"),
    "rolreplication": (False, "NOREPLICATION"),
    "rolbypassrls": (False, "NOBYPASSRLS"),
}


class Command(BaseCommand):
    help = (
        "Create or update the PostgreSQL role the app runs as: LOGIN, no superuser or "
        "role/database creation, read-write on the app's tables, SELECT and INSERT only on "
        "the audit ledger. Run it as the schema's owner after every migrate."
    )

    def add_arguments(self, parser):
        parser.add_argument("--role", required=True, help="name of the app's role")
        parser.add_argument(
            "--password-env",
            metavar="VARIABLE",
            help="environment variable holding the role's password (never on the command "
            "line); without it an existing role keeps its password",
        )
        parser.add_argument("--schema", default="public")
        parser.add_argument("--database", default="default", help="database alias")

    def handle(self, *args: Any, role: str, password_env: str | None, **options: Any) -> None:
        connection = connections[options["database"]]
        if connection.vendor != "postgresql":
            self.stdout.write(
                f"create_app_role is not applicable on {connection.vendor}: it has no "
                "database roles (the ledger's triggers are its only guard). Nothing done."
            )
            return
        if not ROLE_NAME.match(role):
            raise CommandError(
                f"--role {role!r}: use lower-case letters, digits and _ (at most 63)."
            )
        password = self._password(password_env)
        with transaction.atomic(using=options["database"]):
            report = _AppRole(connection, role, options["schema"]).apply(password)
        self._report(role, report)

    def _password(self, variable: str | None) -> str | None:
        if variable is None:
            return None
        value = os.environ.get(variable, "")
        if not value:
            raise CommandError(f"--password-env {variable}: that environment variable is unset.")
        return value

    def _report(self, role: str, report: dict[str, Any]) -> None:
        self.stdout.write(
            f"Role {role} {report['done']}: LOGIN; no SUPERUSER, CREATEDB, CREATEROLE, "
            f"REPLICATION or BYPASSRLS; password {report['password']}."
        )
        self.stdout.write(
            f"Schema {report['schema']} of {report['database']}: {report['tables']} tables "
            f"{APP_TABLE_PRIVILEGES}; the ledger ({', '.join(LEDGER_TABLES)}) "
            f"{' and '.join(LEDGER_PRIVILEGES)} only; django_migrations SELECT only; tables "
            f"{report['owner']} creates later get the read-write grants by default."
        )
        for warning in report["warnings"]:
            self.stderr.write(self.style.WARNING(warning))


class _AppRole:
    """The statements, over one cursor inside the caller's transaction."""

    def __init__(self, connection, role: str, schema: str) -> None:
        self.connection = connection
        self.role = role
        self.schema = schema

    def apply(self, password: str | None) -> dict[str, Any]:
        with self.connection.cursor() as cursor:
            self.cursor = cursor
            owner, database = self._one("SELECT current_user, current_database()")
            if owner == self.role:
                raise CommandError(
                    f"{self.role} is the role running this command, the schema's owner: "
                    "the app role must be another one."
                )
            self._require_ledger(owner)
            done = self._create_or_alter(password)
            self._refuse_ownership()
            tables = self._grant(database)
            self._default_privileges(owner)
            self._verify()
            return {
                "done": done,
                "password": "set" if password else "unchanged",
                "owner": owner,
                "database": database,
                "schema": self.schema,
                "tables": tables,
                "warnings": self._warnings(database),
            }

    # --- SQL helpers ------------------------------------------------------------------

    @staticmethod
    def _quote(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    @property
    def _r(self) -> str:
        return self._quote(self.role)

    @property
    def _s(self) -> str:
        return self._quote(self.schema)

    def _table(self, table: str) -> str:
        return f"{self._s}.{self._quote(table)}"

    def _run(self, statement: str, params: list[Any] | None = None) -> None:
        self.cursor.execute(statement, params)

    def _one(self, query: str, params: list[Any] | None = None) -> tuple[Any, ...]:
        self.cursor.execute(query, params)
        return self.cursor.fetchone()

    def _all(self, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        self.cursor.execute(query, params)
        return self.cursor.fetchall()

    # --- steps ------------------------------------------------------------------------

    def _require_ledger(self, owner: str) -> None:
        found = dict(
            self._all(
                "SELECT tablename, tableowner FROM pg_tables "
                "WHERE schemaname = %s AND tablename = ANY(%s)",
                [self.schema, list(LEDGER_TABLES)],
            )
        )
        missing = [table for table in LEDGER_TABLES if table not in found]
        if missing:
            raise CommandError(
                f"no ledger tables {', '.join(missing)} in schema {self.schema}: run migrate "
                "(as this owner) first."
            )
        if any(found[table] != owner for table in LEDGER_TABLES):
            raise CommandError(
                f"the ledger's tables are owned by {sorted(set(found.values()))}, not by "
                f"{owner}: run this as the role that owns the schema (the one migrate runs as)."
            )

    def _create_or_alter(self, password: str | None) -> str:
        columns = ", ".join(ATTRIBUTES)
        row = self._all(f"SELECT {columns} FROM pg_roles WHERE rolname = %s", [self.role])
        hashed = self._hash(password) if password else None
        if not row:
            clauses = " ".join(clause for _, clause in ATTRIBUTES.values())
            if hashed:
                self._run(f"CREATE ROLE {self._r} WITH {clauses} PASSWORD %s", [hashed])
            else:
                self._run(f"CREATE ROLE {self._r} WITH {clauses}")
            return "created"
        # Name only what must change: a non-superuser owner (CREATEROLE) may not even
        # restate NOSUPERUSER or NOREPLICATION.
        current = dict(zip(ATTRIBUTES, row[0], strict=True))
        clauses = " ".join(
            clause for column, (wanted, clause) in ATTRIBUTES.items() if current[column] != wanted
        )
        if hashed:
            self._run(f"ALTER ROLE {self._r} WITH {clauses} PASSWORD %s", [hashed])
        elif clauses:
            self._run(f"ALTER ROLE {self._r} WITH {clauses}")
        return "updated"

    def _hash(self, password: str) -> str:
        """The server's kind of password hash (SCRAM-SHA-256 by default), made by libpq."""
        self.connection.ensure_connection()
        pgconn = self.connection.connection.pgconn
        return pgconn.encrypt_password(password.encode(), self.role.encode()).decode()

    def _refuse_ownership(self) -> None:
        owned = [
            name
            for (name,) in self._all(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND pg_get_userbyid(c.relowner) = %s ORDER BY 1",
                [self.schema, self.role],
            )
        ]
        if owned:
            raise CommandError(
                f"{self.role} owns {', '.join(owned)} in {self.schema}: an owner can disable "
                f"triggers. Give them to the schema's owner first (REASSIGN OWNED BY {self.role} "
                "TO <owner>, as a superuser), then run this again."
            )
        (member,) = self._one(
            "SELECT pg_has_role(%s, pg_get_userbyid(c.relowner), 'MEMBER') FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
            "AND c.relname = %s",
            [self.role, self.schema, LEDGER_TABLES[0]],
        )
        if member:
            raise CommandError(
                f"{self.role} is a member of the role that owns the ledger, so it can act as "
                f"the owner: REVOKE that membership from {self.role} first."
            )

    def _grant(self, database: str) -> int:
        role, schema = self._r, self._s
        self._run(f"GRANT CONNECT ON DATABASE {self._quote(database)} TO {role}")
        self._run(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
        # Start from nothing so a re-run also takes back what an earlier one (or a hand)
        # granted beyond this.
        self._run(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role}")
        self._run(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {role}")
        self._run(f"GRANT {APP_TABLE_PRIVILEGES} ON ALL TABLES IN SCHEMA {schema} TO {role}")
        self._run(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}")
        ledger = ", ".join(self._table(table) for table in LEDGER_TABLES)
        self._run(f"REVOKE UPDATE, DELETE ON {ledger} FROM {role}")
        migrations = self._table(MigrationRecorder.Migration._meta.db_table)
        self._run(f"REVOKE INSERT, UPDATE, DELETE ON {migrations} FROM {role}")
        (tables,) = self._one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = %s AND NOT tablename = ANY(%s)",
            [self.schema, [*LEDGER_TABLES, MigrationRecorder.Migration._meta.db_table]],
        )
        return int(tables)

    def _default_privileges(self, owner: str) -> None:
        role, schema, owner_ = self._r, self._s, self._quote(owner)
        prefix = f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner_} IN SCHEMA {schema}"
        self._run(f"{prefix} GRANT {APP_TABLE_PRIVILEGES} ON TABLES TO {role}")
        self._run(f"{prefix} GRANT USAGE, SELECT ON SEQUENCES TO {role}")

    def _verify(self) -> None:
        """Read back what the role may do; anything wrong rolls the whole run back."""
        problems = []
        columns = ", ".join(ATTRIBUTES)
        row = self._one(f"SELECT {columns} FROM pg_roles WHERE rolname = %s", [self.role])
        for (wanted, clause), value in zip(ATTRIBUTES.values(), row, strict=True):
            if value != wanted:
                problems.append(f"the role is not {clause}")
        for table in LEDGER_TABLES:
            qualified = self._table(table)
            for privilege in LEDGER_PRIVILEGES:
                if not self._privilege(qualified, privilege):
                    problems.append(f"{privilege} on {table} is missing")
            for privilege in LEDGER_REFUSED:
                if self._privilege(qualified, privilege):
                    problems.append(f"{privilege} on {table} is still granted (to it or PUBLIC)")
        if self.connection.pg_version >= 150000:
            (can_set,) = self._one(
                "SELECT has_parameter_privilege(%s, 'session_replication_role', 'SET')",
                [self.role],
            )
            if can_set:
                problems.append("it may SET session_replication_role (GRANT SET ON PARAMETER)")
        if problems:
            raise CommandError(f"{self.role} is not safe to run the app as: " + "; ".join(problems))

    def _privilege(self, table: str, privilege: str) -> bool:
        (granted,) = self._one(
            "SELECT has_table_privilege(%s, %s, %s)", [self.role, table, privilege]
        )
        return bool(granted)

    def _warnings(self, database: str) -> list[str]:
        warnings = []
        (schema_create, database_create) = self._one(
            "SELECT has_schema_privilege(%s, %s, 'CREATE'), "
            "has_database_privilege(%s, %s, 'CREATE')",
            [self.role, self.schema, self.role, database],
        )
        if schema_create:
            warnings.append(
                f"{self.role} may still create tables in {self.schema} (granted to PUBLIC "
                f"before PostgreSQL 15): REVOKE CREATE ON SCHEMA {self.schema} FROM PUBLIC."
            )
        if database_create:
            warnings.append(
                f"{self.role} may create schemas in {database}: REVOKE CREATE ON DATABASE "
                f"{database} FROM PUBLIC, {self.role}."
            )
        return warnings
