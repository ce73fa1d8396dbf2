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
    """What a maker-checker approval covers: every change of who gets what.

    Subject id and version per type: offer content (content row id, its version);
    campaign targeting (campaign id, ``targeting_version``); offer targeting (offer id,
    ``OfferTargeting.version``); contact policy (``ContactPolicy`` row id, its version).
    """

    OFFER_CONTENT = "offer_content", "Offer content version"
    CAMPAIGN_TARGETING = "campaign_targeting", "Campaign targeting"
    OFFER_TARGETING = "offer_targeting", "Offer targeting"
    CONTACT_POLICY = "contact_policy", "Contact policy"


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "Pending review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    WITHDRAWN = "withdrawn", "Withdrawn"


class ErasureStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    COMPLETED = "completed", "Completed"
