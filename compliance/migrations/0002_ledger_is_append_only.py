"""The database itself refuses UPDATE and DELETE on the audit ledger's tables."""

from django.db import migrations

LEDGER_TABLES = ("compliance_auditrecord", "compliance_auditseal", "compliance_auditsealmembership")


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in LEDGER_TABLES:
        for statement in trigger_sql(vendor, table):
            schema_editor.execute(statement)


def uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in LEDGER_TABLES:
        for statement in drop_sql(vendor, table):
            schema_editor.execute(statement)


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


def install_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            """
            CREATE OR REPLACE FUNCTION crosssell_ledger_is_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'the audit ledger is append-only: % refused on %', TG_OP, TG_TABLE_NAME
                    USING ERRCODE = 'insufficient_privilege';
            END;
            $$ LANGUAGE plpgsql;
            """,
            params=None,  # the body's % are PL/pgSQL format markers, not placeholders
        )


def drop_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS crosssell_ledger_is_append_only();")


class Migration(migrations.Migration):
    dependencies = [("compliance", "0001_initial")]

    operations = [
        migrations.RunPython(install_function, drop_function),
        migrations.RunPython(install, uninstall),
    ]
