from django.db import models


class CampaignKind(models.TextChoices):
    REALTIME = "realtime", "Real-time (event-triggered)"
    BATCH = "batch", "Batch (scheduled)"
    INBOUND = "inbound", "Inbound next best offer"


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING_APPROVAL = "pending_approval", "Awaiting approval"
    APPROVED = "approved", "Approved, not launched"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    ARCHIVED = "archived", "Archived"


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class ChunkStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
