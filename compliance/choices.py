from django.db import models


class ConsentChannel(models.TextChoices):
    """A consent is per channel, or ``all`` for the global marketing opt-out."""

    ALL = "all", "All marketing"
    MOBILE_APP = "mobile_app", "Mobile app"
    WEB = "web", "Web"
    BRANCH = "branch", "Branch banker"
    CONTACT_CENTER = "contact_center", "Contact center"
    ATM = "atm", "ATM"
    PUSH = "push", "Push"
    SMS = "sms", "SMS"
    EMAIL = "email", "E-mail"


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
