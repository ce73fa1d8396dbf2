from django.db import migrations


def create(apps, schema_editor):
    apps.get_model("compliance", "CatalogVersion").objects.get_or_create(id=1)


class Migration(migrations.Migration):
    dependencies = [("compliance", "0002_ledger_is_append_only")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
