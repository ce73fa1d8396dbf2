"""The ledger's models, which lived in ``compliance`` until the ledger moved to the ground.

State only: the tables (``compliance_audit*``), their rows and their append-only triggers
stay exactly where they are; ``compliance/0005`` drops the models from compliance's state.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [("compliance", "0004_sealer_state")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
        migrations.CreateModel(
            name='AuditRecord',
            fields=[
                ('seq', models.BigAutoField(primary_key=True, serialize=False)),
                ('created_at', models.DateTimeField()),
                ('kind', models.CharField(choices=[('offer_released', 'Offer released to a channel'), ('decision', 'Decision made'), ('message', 'Message lifecycle'), ('response', 'Customer response'), ('override', 'Banker or agent override'), ('consent', 'Consent change'), ('suppression', 'Suppression'), ('approval', 'Approval'), ('catalog', 'Catalog change'), ('campaign', 'Campaign change'), ('policy', 'Contact policy change'), ('customer', 'Customer data change'), ('erasure', 'Erasure'), ('model', 'Propensity model'), ('access', 'Access and API clients'), ('exemption', 'Service exemption from marketing rules'), ('benchmark', 'Ledger benchmark (manage.py bench_ledger)')], max_length=32)),
                ('action', models.CharField(max_length=64)),
                ('actor', models.CharField(max_length=150)),
                ('request_id', models.CharField(blank=True, max_length=64)),
                ('object_type', models.CharField(blank=True, max_length=64)),
                ('object_id', models.CharField(blank=True, max_length=64)),
                ('object_repr', models.CharField(blank=True, max_length=200)),
                ('customer_ref', models.CharField(blank=True, max_length=64)),
                ('channel', models.CharField(blank=True, max_length=20)),
                ('data', models.JSONField(default=dict)),
                ('record_hash', models.CharField(max_length=64)),
            ],
            options={
                'db_table': 'compliance_auditrecord',
            },
        ),
        migrations.CreateModel(
            name='AuditSeal',
            fields=[
                ('seq', models.BigAutoField(primary_key=True, serialize=False)),
                ('created_at', models.DateTimeField()),
                ('prev_hash', models.CharField(max_length=64)),
                ('records_hash', models.CharField(max_length=64)),
                ('seal_hash', models.CharField(max_length=64, unique=True)),
                ('record_count', models.PositiveIntegerField()),
                ('first_record_seq', models.BigIntegerField()),
                ('last_record_seq', models.BigIntegerField()),
            ],
            options={
                'db_table': 'compliance_auditseal',
            },
        ),
        migrations.CreateModel(
            name='AuditSealerState',
            fields=[
                ('id', models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ('high_water_seq', models.BigIntegerField(default=0)),
                ('open_gaps', models.JSONField(blank=True, default=list)),
                ('last_run_at', models.DateTimeField(blank=True, null=True)),
                ('last_sweep_at', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'db_table': 'compliance_auditsealerstate',
            },
        ),
        migrations.CreateModel(
            name='AuditSealMembership',
            fields=[
                ('record', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, primary_key=True, related_name='membership', serialize=False, to='ledger.auditrecord')),
            ],
            options={
                'db_table': 'compliance_auditsealmembership',
            },
        ),
        migrations.AddIndex(
            model_name='auditrecord',
            index=models.Index(fields=['customer_ref', 'seq'], name='audit_customer_idx'),
        ),
        migrations.AddIndex(
            model_name='auditrecord',
            index=models.Index(fields=['kind', 'seq'], name='audit_kind_idx'),
        ),
        migrations.AddIndex(
            model_name='auditrecord',
            index=models.Index(fields=['created_at'], name='audit_time_idx'),
        ),
        migrations.AddField(
            model_name='auditsealmembership',
            name='seal',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='memberships', to='ledger.auditseal'),
        ),
        migrations.AddIndex(
            model_name='auditsealmembership',
            index=models.Index(fields=['seal', 'record'], name='audit_membership_seal_idx'),
        ),
            ],
        ),
    ]
