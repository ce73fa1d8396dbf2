"""The foreign keys' own single-column indexes that a composite (or partial unique) index
leading with the same column already serves, dropped: nine index insertions fewer per
released batch customer.

    decision.customer  decision_customer_time_idx       (customer_id, created_at DESC)
    decision.campaign  decision_campaign_time_idx       (campaign_id, created_at DESC)
    decision.run       decision_one_per_run_customer    (run_id, customer_id) WHERE run_id IS NOT NULL
    decision.event     decision_one_per_event_campaign  (event_id, campaign_id) WHERE event_id IS NOT NULL
    message.decision   message_one_per_decision_offer   (decision_id, offer_id, channel)
    message.customer   message_customer_status_idx      (customer_id, status)
    contact.customer   contact_customer_time_idx        (customer_id, released_at DESC)
    contact.decision   contact_one_per_decision_offer   (decision_id, offer_id, channel)
    contact.campaign   contact_campaign_time_idx        (campaign_id, released_at)

A partial index ``WHERE col IS NOT NULL`` serves ``col = value`` (the operator is strict),
the foreign-key checks of a delete included (their query is ``WHERE $1 = col``).

Only the indexes are dropped: Django's own AlterField would also drop and re-add each
foreign-key constraint, re-validating every row of these tables under an exclusive lock
(on SQLite it would rebuild the tables). The index names are Django's, the same on both.
"""

import django.db.models.deletion
from django.db import migrations, models

DROPPED = (
    ("decisioning_contact", "campaign_id", "decisioning_contact_campaign_id_4f123992"),
    ("decisioning_contact", "customer_id", "decisioning_contact_customer_id_9104a8ef"),
    ("decisioning_contact", "decision_id", "decisioning_contact_decision_id_3b7b2b06"),
    ("decisioning_decision", "campaign_id", "decisioning_decision_campaign_id_55a30ce2"),
    ("decisioning_decision", "customer_id", "decisioning_decision_customer_id_9a353dfd"),
    ("decisioning_decision", "event_id", "decisioning_decision_event_id_3c7b70d8"),
    ("decisioning_decision", "run_id", "decisioning_decision_run_id_4fd462d0"),
    ("decisioning_message", "customer_id", "decisioning_message_customer_id_f9eb17b1"),
    ("decisioning_message", "decision_id", "decisioning_message_decision_id_4e2f00bc"),
)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0005_readable_constraint_messages"),
        ("customers", "0004_identity_customer_type_idx"),
        ("decisioning", "0005_models_registry"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql=[f'DROP INDEX IF EXISTS "{name}"' for _table, _column, name in DROPPED],
                    reverse_sql=[
                        f'CREATE INDEX "{name}" ON "{table}" ("{column}")'
                        for table, column, name in DROPPED
                    ],
                )
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="contact",
                    name="campaign",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="contacts",
                        to="campaigns.campaign",
                    ),
                ),
                migrations.AlterField(
                    model_name="contact",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="contacts",
                        to="customers.customer",
                    ),
                ),
                migrations.AlterField(
                    model_name="contact",
                    name="decision",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="contacts",
                        to="decisioning.decision",
                    ),
                ),
                migrations.AlterField(
                    model_name="decision",
                    name="campaign",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="decisions",
                        to="campaigns.campaign",
                    ),
                ),
                migrations.AlterField(
                    model_name="decision",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="decisions",
                        to="customers.customer",
                    ),
                ),
                migrations.AlterField(
                    model_name="decision",
                    name="event",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="decisions",
                        to="customers.event",
                    ),
                ),
                migrations.AlterField(
                    model_name="decision",
                    name="run",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="decisions",
                        to="campaigns.campaignrun",
                    ),
                ),
                migrations.AlterField(
                    model_name="message",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="messages",
                        to="customers.customer",
                    ),
                ),
                migrations.AlterField(
                    model_name="message",
                    name="decision",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="messages",
                        to="decisioning.decision",
                    ),
                ),
            ],
        )
    ]
