"""A decision's JSON columns are compressed with lz4 (``core.db.compress_with_lz4``)."""

from django.db import migrations

from core.db import compress_with_lz4


class Migration(migrations.Migration):
    dependencies = [("decisioning", "0007_ledger_indexes_hold_the_id")]

    operations = [compress_with_lz4("decisioning_decision", "explanation", "offers", "suppressed")]
