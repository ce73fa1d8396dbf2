from django.db import models


class Group(models.TextChoices):
    """Which side of a campaign's control split a decision fell on."""

    TREATED = "treated", "Treated (offer released)"
    CONTROL = "control", "Control group (held out)"


class Segment(models.TextChoices):
    """The segment dimensions uplift is broken down by (``results.segments``)."""

    AGE = "age_band", "Age band"
    TENURE = "tenure_band", "Tenure band"
    HOLDINGS = "holdings_band", "Products held"
