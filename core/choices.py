from django.db import models

from core.channels import CHANNELS


class Role(models.TextChoices):
    CHANNEL = "channel", "Channel system"
    MARKETER = "marketer", "Marketer"
    COMPLIANCE = "compliance", "Compliance officer"
    ANALYST = "analyst", "Analyst"
    ADMIN = "admin", "Administrator"


# Console groups (people); API clients use Role, which adds "channel" for systems.
CONSOLE_GROUPS = (Role.MARKETER, Role.COMPLIANCE, Role.ANALYST, Role.ADMIN)


# The registry's channels as Django choices (forms, filters, serializers, admin).
# django-stubs type the functional API as TextChoices(value, label), not (name, members).
Channel = models.TextChoices(  # type: ignore[call-overload]
    "Channel", [(spec.code.upper(), (spec.code, spec.label)) for spec in CHANNELS]
)
