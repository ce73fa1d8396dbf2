"""Rows every installation needs, re-created after migrate and after a flush.

Data migrations create them the first time; ``post_migrate`` (which Django also sends
after ``flush``) puts them back if they went missing, so a flushed database — or the
test database between transactional tests — still has the console groups, the catalog
version counter and a default contact policy (``campaigns.policy_defaults``).
"""

from campaigns.policy_defaults import default_contact_policy
from core.choices import CONSOLE_GROUPS


def ensure_baseline(using: str = "default", **kwargs) -> None:
    from django.contrib.auth.models import Group

    from campaigns.models import ContactPolicy
    from compliance.models import CatalogVersion

    for name in CONSOLE_GROUPS:
        Group.objects.using(using).get_or_create(name=str(name))
    CatalogVersion.objects.using(using).get_or_create(pk=1)
    if not ContactPolicy.objects.using(using).exists():
        ContactPolicy.objects.using(using).create(
            version=1,
            is_active=True,
            note="Bank default contact policy",
            created_by="system:baseline",
            **default_contact_policy(),
        )
