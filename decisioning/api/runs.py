"""Batch runs (an addition to API.md): read one, and resume one that failed or stalled.

Runs are started from the console; these endpoints let an operator's tooling watch a run
and resume it (the same service as the run page's button and ``manage.py resume_run``).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from campaigns.choices import ChunkStatus, RunStatus
from campaigns.models import CampaignRun
from core.api.permissions import roles
from core.api.schema import READ, WRITE, errors
from core.api.views import ApiView
from core.choices import Role
from core.exceptions import NotFound
from decisioning.runs.batch import campaign_run_resume
from decisioning.selectors import run_get

# A run id is a database id: anything past a signed 64-bit integer names no run.
MAX_RUN_ID = 2**63 - 1

RUN_ID_PATH = OpenApiParameter(
    "run_id",
    {"type": "integer", "minimum": 1, "maximum": MAX_RUN_ID},
    OpenApiParameter.PATH,
    description="The run's id (shown on the run page and in the run's audit records).",
)


class RunChunksSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    pending = serializers.IntegerField()


class RunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    campaign = serializers.CharField(help_text="The campaign's code.")
    status = serializers.ChoiceField(
        choices=RunStatus.choices,
        help_text="running: chunks are being evaluated (or wait to be queued again); "
        "failed: a chunk failed too many times, `error` says why; resumable while running "
        "or failed.",
    )
    shadow = serializers.BooleanField()
    requested_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    total_customers = serializers.IntegerField()
    processed_customers = serializers.IntegerField()
    progress_pct = serializers.FloatField()
    error = serializers.CharField(allow_blank=True)
    chunks = RunChunksSerializer()
    outcome_counts = serializers.DictField(child=serializers.IntegerField())
    suppression_counts = serializers.DictField(child=serializers.IntegerField())

    def to_representation(self, run: CampaignRun) -> dict[str, Any]:
        chunks = run.chunks.aggregate(
            total=Count("id"),
            done=Count("id", filter=Q(status=ChunkStatus.DONE)),
            pending=Count("id", filter=Q(status=ChunkStatus.PENDING)),
        )
        return {
            "id": run.pk,
            "campaign": run.campaign.code,
            "status": run.status,
            "shadow": run.shadow,
            "requested_by": run.requested_by,
            "created_at": run.created_at.isoformat(),
            "started_at": run.started_at.isoformat() if run.started_at else None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "total_customers": run.total_customers,
            "processed_customers": run.processed_customers,
            "progress_pct": run.progress_pct,
            "error": run.error,
            "chunks": chunks,
            "outcome_counts": dict(run.outcome_counts),
            "suppression_counts": dict(run.suppression_counts),
        }


class RunResumedSerializer(serializers.Serializer):
    run = RunSerializer()
    queued_chunks = serializers.IntegerField(
        help_text="Chunks handed to the task queue now; when fewer than the run's pending "
        "chunks, the queue did not answer and the sweeper queues the rest once it does."
    )

    def to_representation(self, resumed) -> dict[str, Any]:
        return {"run": RunSerializer(resumed.run).data, "queued_chunks": resumed.queued_chunks}


def run_or_404(run_id: int) -> CampaignRun:
    run = run_get(pk=run_id) if 0 < run_id <= MAX_RUN_ID else None
    if run is None:
        raise NotFound(f"No run {run_id}.")
    return run


class RunDetailView(ApiView):
    allowed_roles = roles(Role.MARKETER, Role.COMPLIANCE, Role.ADMIN)

    @extend_schema(
        operation_id="run_detail",
        summary="A batch run's progress (addition)",
        description="Marketer, compliance, admin. Status, progress, chunks and counts.",
        parameters=[RUN_ID_PATH],
        responses={200: RunSerializer, **errors(*READ, 404)},
        tags=["runs"],
    )
    def get(self, request, run_id):
        return Response(RunSerializer(run_or_404(run_id)).data)


class RunResumeView(ApiView):
    allowed_roles = roles(Role.MARKETER, Role.ADMIN)

    @extend_schema(
        operation_id="run_resume",
        summary="Resume a failed or stalled batch run (addition)",
        description=(
            "Marketer, admin. No body. Every chunk not done gets a fresh failure budget and is "
            "queued again; 202 with the run. Chunks already stored are never evaluated twice. "
            "409 when the run is completed or cancelled."
        ),
        parameters=[RUN_ID_PATH],
        request=None,
        responses={202: RunResumedSerializer, **errors(*WRITE, 404, 409)},
        tags=["runs"],
    )
    def post(self, request, run_id):
        resumed = campaign_run_resume(actor=self.client, run=run_or_404(run_id))
        return Response(RunResumedSerializer(resumed).data, status=202)
