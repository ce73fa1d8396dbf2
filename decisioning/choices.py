from django.db import models


class DecisionMode(models.TextChoices):
    EVENT = "event", "Real-time, on an event"
    ABSENCE = "absence", "Real-time, on an absent follow-up event"
    INBOUND = "inbound", "Inbound request"
    BATCH = "batch", "Batch run"


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    LEASED = "leased", "Leased by a channel"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Delivery failed"
    CANCELLED = "cancelled", "Cancelled"


class Outcome(models.TextChoices):
    IMPRESSION = "impression", "Impression"
    CLICK = "click", "Click"
    ACCEPT = "accept", "Accept"
    DECLINE = "decline", "Decline"
    DISMISS = "dismiss", "Dismiss"


class OverrideAction(models.TextChoices):
    REPLACE = "replace", "Replaced the recommendation"
    SUPPRESS = "suppress", "Suppressed the recommendation"


class ModelStatus(models.TextChoices):
    CANDIDATE = "candidate", "Candidate"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"
