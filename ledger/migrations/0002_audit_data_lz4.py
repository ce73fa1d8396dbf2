"""An audit record's data is compressed with lz4 (``core.db.compress_with_lz4``): every
offer released writes one, with the explanation of what was released."""

from django.db import migrations

from core.db import compress_with_lz4


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [compress_with_lz4("compliance_auditrecord", "data")]
