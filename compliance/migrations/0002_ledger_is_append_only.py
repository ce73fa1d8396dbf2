"""The database itself refuses UPDATE and DELETE on the audit ledger's tables."""

from django.db import migrations

from ledger.triggers import DROP_FUNCTION_SQL, FUNCTION_SQL, LEDGER_TABLES, drop_sql, trigger_sql


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


def install_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # The body's % are PL/pgSQL format markers, not placeholders.
        schema_editor.execute(FUNCTION_SQL, params=None)


def drop_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_FUNCTION_SQL)


class Migration(migrations.Migration):
    dependencies = [("compliance", "0001_initial")]

    operations = [
        migrations.RunPython(install_function, drop_function),
        migrations.RunPython(install, uninstall),
    ]
