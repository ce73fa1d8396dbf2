"""Consent, suppression and audit-ledger shapes of the channel API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from compliance.choices import ConsentChannel, ConsentStatus, SuppressionScope
from compliance.models import Consent, SuppressionEntry
from core.api.fields import AwareDateTimeField, JSONObjectField, text
from ledger.choices import AuditKind
from ledger.models import AuditRecord


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


class ConsentInputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ConsentStatus.choices)
    source = text(100, help_text="Where the customer said it (app settings, call, branch form).")
    captured_at = AwareDateTimeField(
        help_text="When the customer said it; not in the future. A change captured before "
        "the one on record is ignored (the latest capture wins)."
    )


class ConsentSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=ConsentChannel.choices)
    status = serializers.ChoiceField(choices=ConsentStatus.choices)
    source = serializers.CharField(allow_blank=True)
    captured_at = serializers.DateTimeField()

    def to_representation(self, consent: Consent) -> dict[str, Any]:
        return {
            "channel": consent.channel,
            "status": consent.status,
            "source": consent.source,
            "captured_at": _iso(consent.captured_at),
        }


class ConsentChangeSerializer(ConsentSerializer):
    cancelled_messages = serializers.IntegerField(
        help_text="Queued and leased messages this revoke cancelled."
    )

    def to_representation(self, change) -> dict[str, Any]:
        body = super().to_representation(change.consent)
        body["cancelled_messages"] = change.cancelled_messages
        return body


class SuppressionSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(choices=SuppressionScope.choices)
    value = serializers.CharField(allow_blank=True, help_text="Family, product, offer or channel.")
    until = serializers.DateTimeField(allow_null=True, help_text="Empty means permanent.")
    reason = serializers.CharField()
    source = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()

    def to_representation(self, entry: SuppressionEntry) -> dict[str, Any]:
        return {
            "scope": entry.scope,
            "value": entry.value,
            "until": _iso(entry.until),
            "reason": entry.reason,
            "source": entry.source,
            "created_at": _iso(entry.created_at),
        }


class AuditQuerySerializer(serializers.Serializer):
    customer = text(
        64,
        required=False,
        help_text="The customer's external_id (turned into its pseudonym, so an erased "
        "customer's trail is still found), or the pseudonym itself (cust_...).",
    )
    since = AwareDateTimeField(required=False, help_text="Records created at or after.")
    kind = serializers.ChoiceField(choices=AuditKind.choices, required=False)


class AuditRecordSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    kind = serializers.ChoiceField(choices=AuditKind.choices)
    action = serializers.CharField()
    actor = serializers.CharField()
    request_id = serializers.CharField(allow_blank=True)
    object_type = serializers.CharField(allow_blank=True)
    object_id = serializers.CharField(allow_blank=True)
    object_repr = serializers.CharField(allow_blank=True)
    customer_ref = serializers.CharField(
        allow_blank=True, help_text="Pseudonymous customer reference; the ledger holds no PII."
    )
    channel = serializers.CharField(allow_blank=True)
    data = JSONObjectField()
    hash = serializers.CharField(help_text="SHA-256 of the record's canonical JSON.")
    seal = serializers.IntegerField(
        allow_null=True, help_text="seq of the seal covering the record; null until sealed."
    )
    prev_hash = serializers.CharField(
        allow_null=True,
        help_text="The chain link: the previous seal's hash as recorded in the seal covering "
        "this record (records are chained in batches by seals); null until sealed.",
    )
    seal_hash = serializers.CharField(allow_null=True, help_text="The covering seal's hash.")

    def to_representation(self, record: AuditRecord) -> dict[str, Any]:
        membership = getattr(record, "membership", None)
        seal = membership.seal if membership is not None else None
        return {
            "seq": record.seq,
            "created_at": _iso(record.created_at),
            "kind": record.kind,
            "action": record.action,
            "actor": record.actor,
            "request_id": record.request_id,
            "object_type": record.object_type,
            "object_id": record.object_id,
            "object_repr": record.object_repr,
            "customer_ref": record.customer_ref,
            "channel": record.channel,
            "data": record.data,
            "hash": record.record_hash,
            "seal": seal.seq if seal else None,
            "prev_hash": seal.prev_hash if seal else None,
            "seal_hash": seal.seal_hash if seal else None,
        }


class LedgerVerificationSerializer(serializers.Serializer):
    ok = serializers.BooleanField(
        help_text="Intact (every record hash and seal link holds) and no record has waited "
        "longer than `stale_after_seconds` for a seal."
    )
    records = serializers.IntegerField()
    seals = serializers.IntegerField()
    sealed_records = serializers.IntegerField()
    unsealed_records = serializers.IntegerField()
    stale_unsealed_records = serializers.IntegerField(
        help_text="Records unsealed for longer than `stale_after_seconds`; any makes `ok` false."
    )
    stale_after_seconds = serializers.IntegerField()
    oldest_unsealed_seq = serializers.IntegerField(allow_null=True)
    intact = serializers.BooleanField(
        help_text="Every record hash and seal link holds (staleness aside)."
    )
    failures = serializers.ListField(
        # plain strings: the values are ``broken``'s, and one choice set gets one enum name
        child=serializers.CharField(),
        help_text="What failed, in this order: `record` (a broken record), `seal` (a broken "
        "seal), `stale_unsealed` (records waiting too long for a seal); empty when ok.",
    )
    seq = serializers.IntegerField(
        required=False,
        help_text="When not ok: the first broken seq (a record's, else a seal's, else the "
        "oldest stale unsealed record's).",
    )
    broken = serializers.ChoiceField(
        choices=["record", "seal", "stale_unsealed"],
        required=False,
        help_text="When not ok: the first failure (`failures[0]`).",
    )
    broken_record_seq = serializers.IntegerField(required=False, allow_null=True)
    broken_seal_seq = serializers.IntegerField(required=False, allow_null=True)
    oldest_stale_seq = serializers.IntegerField(required=False, allow_null=True)
    reason = serializers.CharField(required=False)

    def to_representation(self, report) -> dict[str, Any]:
        return report.as_dict()
