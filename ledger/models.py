"""The audit ledger: append-only records, the seals that chain them, the sealer's state.

Records carry the hash of their own canonical JSON; seals chain them in batches (see
docs/ARCHITECTURE.md, "The audit ledger"). Database triggers refuse UPDATE and DELETE on
records, seals and memberships. The tables keep the names they had when the ledger lived
in ``compliance``.
"""

from __future__ import annotations

from django.db import models

from ledger.choices import AuditKind


class AuditRecord(models.Model):
    seq = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField()
    kind = models.CharField(max_length=32, choices=AuditKind.choices)
    action = models.CharField(max_length=64)
    actor = models.CharField(max_length=150)
    request_id = models.CharField(max_length=64, blank=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    # Pseudonymous customer reference (never PII), so erasure never touches the ledger.
    customer_ref = models.CharField(max_length=64, blank=True)
    channel = models.CharField(max_length=20, blank=True)
    data = models.JSONField(default=dict)
    record_hash = models.CharField(max_length=64)

    class Meta:
        db_table = "compliance_auditrecord"
        indexes = [
            models.Index(fields=["customer_ref", "seq"], name="audit_customer_idx"),
            models.Index(fields=["kind", "seq"], name="audit_kind_idx"),
            models.Index(fields=["created_at"], name="audit_time_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind}.{self.action}"


class AuditSeal(models.Model):
    """A batch of records chained to the previous seal."""

    seq = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64)
    records_hash = models.CharField(max_length=64)
    seal_hash = models.CharField(max_length=64, unique=True)
    record_count = models.PositiveIntegerField()
    first_record_seq = models.BigIntegerField()
    last_record_seq = models.BigIntegerField()

    class Meta:
        db_table = "compliance_auditseal"

    def __str__(self) -> str:
        return f"seal #{self.seq} ({self.record_count} records)"


class AuditSealMembership(models.Model):
    """Which seal covers a record; a record is covered exactly once (one-to-one)."""

    record = models.OneToOneField(
        AuditRecord, primary_key=True, on_delete=models.PROTECT, related_name="membership"
    )
    seal = models.ForeignKey(AuditSeal, on_delete=models.PROTECT, related_name="memberships")

    class Meta:
        db_table = "compliance_auditsealmembership"
        indexes = [models.Index(fields=["seal", "record"], name="audit_membership_seal_idx")]

    def __str__(self) -> str:
        return f"record #{self.record_id} in seal #{self.seal_id}"


class AuditSealerState(models.Model):
    """The sealer's bookkeeping (one row, not part of the ledger).

    Locking this row serialises sealers (appenders never touch it). ``high_water_seq`` is
    the highest record seq ever sealed; ``open_gaps`` lists the seq ranges below it that
    were not committed when the sealer passed — records of transactions still in flight,
    or seqs of rolled-back inserts — as ``[first, last, noticed_at_epoch]``. Each run
    re-checks them, so a late commit is sealed within a second; a gap older than the
    retention is assumed rolled back and left to the full sweep. Losing this row loses
    no evidence: ``verify_ledger`` reports unsealed records and a full sweep seals them.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    high_water_seq = models.BigIntegerField(default=0)
    open_gaps = models.JSONField(default=list, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_sweep_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "compliance_auditsealerstate"

    def __str__(self) -> str:
        return f"sealer at #{self.high_water_seq} ({len(self.open_gaps)} open gaps)"
