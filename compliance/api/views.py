from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.response import Response

from compliance.api.serializers import (
    AuditQuerySerializer,
    AuditRecordSerializer,
    LedgerVerificationSerializer,
)
from compliance.selectors import audit_record_list
from core.api.filters import query_dict
from core.api.permissions import roles
from core.api.schema import READ, errors
from core.api.views import ApiMixin, ApiView, validated
from core.choices import Role
from ledger.verify import verify_ledger

COMPLIANCE = roles(Role.COMPLIANCE, Role.ADMIN)


class AuditRecordListView(ApiMixin, ListAPIView):
    allowed_roles = COMPLIANCE
    serializer_class = AuditRecordSerializer
    filter_backends: list = []
    query_parameters = frozenset({"customer", "since", "kind"})

    def get_queryset(self):
        query = validated(AuditQuerySerializer, query_dict(self.request.query_params))
        customer = query.get("customer")
        by_pseudonym = bool(customer) and customer.startswith("cust_")
        return audit_record_list(
            external_id=None if by_pseudonym else customer,
            customer_ref=customer if by_pseudonym else None,
            since=query.get("since"),
            kinds=[query["kind"]] if query.get("kind") else None,
        ).select_related("membership__seal")

    @extend_schema(
        operation_id="audit_list",
        summary="Audit records, newest last",
        description=(
            "Compliance, admin. Filter by `customer` (external_id or pseudonym), `since` "
            "and `kind`; paged with `limit`/`offset`. Each record carries its own `hash`; "
            "records are chained in batches by seals: `seal` is the covering seal, "
            "`prev_hash` the previous seal's hash recorded in it, `seal_hash` its own."
        ),
        parameters=[AuditQuerySerializer],
        responses={200: AuditRecordSerializer(many=True), **errors(*READ, 400)},
        tags=["audit"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AuditVerifyView(ApiView):
    allowed_roles = COMPLIANCE

    @extend_schema(
        operation_id="audit_verify",
        summary="Verify the audit ledger",
        description=(
            'Compliance, admin. Recomputes every record hash and every seal: `{"ok": true, '
            '"records": N, ...}`, or `ok: false` with the first broken `seq` and why. '
            "Records left unsealed for longer than `stale_after_seconds` (the sealer is not "
            "running) also make `ok` false: `stale_unsealed_records` says how many, "
            '`broken` is `"stale_unsealed"` when nothing else is wrong, and `intact` tells '
            "a tampered ledger from a stalled sealer."
        ),
        responses={200: LedgerVerificationSerializer, **errors(*READ)},
        tags=["audit"],
    )
    def get(self, request):
        return Response(LedgerVerificationSerializer(verify_ledger()).data)
