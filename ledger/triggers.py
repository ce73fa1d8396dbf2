"""The database refuses UPDATE, DELETE and TRUNCATE on the ledger's tables.

The SQL lives here, with the ledger; the migration that installed it (``compliance/0002``,
from when the ledger lived in compliance) and the test helpers in ``ledger.testing`` use it.
"""

from __future__ import annotations

LEDGER_TABLES = ("compliance_auditrecord", "compliance_auditseal", "compliance_auditsealmembership")

FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION crosssell_ledger_is_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit ledger is append-only: % refused on %', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""
DROP_FUNCTION_SQL = "DROP FUNCTION IF EXISTS crosssell_ledger_is_append_only();"


def trigger_sql(vendor: str, table: str) -> list[str]:
    if vendor == "postgresql":
        return [
            f"""
            CREATE TRIGGER {table}_append_only
            BEFORE UPDATE OR DELETE OR TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION crosssell_ledger_is_append_only();
            """
        ]
    if vendor == "sqlite":
        return [
            f"""
            CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
            BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only: UPDATE refused'); END;
            """,
            f"""
            CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
            BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only: DELETE refused'); END;
            """,
        ]
    raise NotImplementedError(f"no append-only triggers for {vendor}")


def drop_sql(vendor: str, table: str) -> list[str]:
    if vendor == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};"]
    return [
        f"DROP TRIGGER IF EXISTS {table}_no_update;",
        f"DROP TRIGGER IF EXISTS {table}_no_delete;",
    ]
