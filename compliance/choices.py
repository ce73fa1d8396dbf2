from django.db import models

from core.choices import Channel

# A consent is per channel, or ``all`` for the global marketing opt-out.
ConsentChannel = models.TextChoices(
    "ConsentChannel",
    [("ALL", ("all", "All marketing"))]
    + [(channel.name, (channel.value, channel.label)) for channel in Channel],
)


class ConsentStatus(models.TextChoices):
    GRANTED = "granted", "Granted"
    REVOKED = "revoked", "Revoked"


class SuppressionScope(models.TextChoices):
    ALL = "all", "All offers"
    FAMILY = "family", "Product family"
    PRODUCT = "product", "Product"
    OFFER = "offer", "Offer"
    CHANNEL = "channel", "Channel"


class ApprovalSubject(models.TextChoices):
    OFFER_CONTENT = "offer_content", "Offer content version"
    CAMPAIGN_TARGETING = "campaign_targeting", "Campaign targeting"


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "Pending review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    WITHDRAWN = "withdrawn", "Withdrawn"


class ErasureStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    COMPLETED = "completed", "Completed"


class AuditKind(models.TextChoices):
    OFFER_RELEASED = "offer_released", "Offer released to a channel"
    DECISION = "decision", "Decision made"
    MESSAGE = "message", "Message lifecycle"
    RESPONSE = "response", "Customer response"
    OVERRIDE = "override", "Banker or agent override"
    CONSENT = "consent", "Consent change"
    SUPPRESSION = "suppression", "Suppression"
    APPROVAL = "approval", "Approval"
    CATALOG = "catalog", "Catalog change"
    CAMPAIGN = "campaign", "Campaign change"
    POLICY = "policy", "Contact policy change"
    CUSTOMER = "customer", "Customer data change"
    ERASURE = "erasure", "Erasure"
    MODEL = "model", "Propensity model"
    ACCESS = "access", "Access and API clients"
    EXEMPTION = "exemption", "Service exemption from marketing rules"
    BENCHMARK = "benchmark", "Ledger benchmark (manage.py bench_ledger)"
