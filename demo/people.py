"""The demo's people (console logins, one per role) and channel systems (API clients).

Passwords are fixed and printed: this is a local demo bank, never a deployment. API keys
are random (``crosssell.services.api_client_create``), shown once when created and
stored hashed.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group, User

from core.choices import Channel, Role
from core.models import ApiClient
from crosssell.services import api_client_create
from ledger.choices import AuditKind
from ledger.models import AuditRecord
from ledger.services import build_record


@dataclass(frozen=True, slots=True)
class DemoLogin:
    username: str
    password: str
    group: str
    first_name: str
    last_name: str
    superuser: bool = False

    @property
    def description(self) -> str:
        return Role(self.group).label


DEMO_LOGINS: tuple[DemoLogin, ...] = (
    DemoLogin("maria", "maria-demo", Role.MARKETER, "Maria", "Sousa"),
    DemoLogin("rui", "rui-demo", Role.MARKETER, "Rui", "Carvalho"),
    DemoLogin("carlos", "carlos-demo", Role.COMPLIANCE, "Carlos", "Mendes"),
    DemoLogin("ana", "ana-demo", Role.ANALYST, "Ana", "Ribeiro"),
    DemoLogin("admin", "admin-demo", Role.ADMIN, "Admin", "Exemplo", superuser=True),
)
MAKER = "maria"
CHECKER = "carlos"


def api_client_name(channel: str) -> str:
    return f"demo-{channel}"


@dataclass(frozen=True, slots=True)
class PeopleResult:
    users: dict[str, User]
    created: tuple[str, ...]  # usernames created now (the others existed already)
    audit: list[AuditRecord]


def ensure_demo_users(*, actor: str) -> PeopleResult:
    """Create the demo logins that do not exist yet; existing users are left alone."""
    users: dict[str, User] = {}
    created: list[str] = []
    records: list[AuditRecord] = []
    for login in DEMO_LOGINS:
        user = User.objects.filter(username=login.username).first()
        if user is None:
            user = User.objects.create_user(
                username=login.username,
                email=f"{login.username}@bancoexemplo.example",
                password=login.password,
                first_name=login.first_name,
                last_name=login.last_name,
                is_staff=login.superuser,
                is_superuser=login.superuser,
            )
            user.groups.add(Group.objects.get(name=login.group))
            created.append(login.username)
            records.append(
                build_record(
                    kind=AuditKind.ACCESS,
                    action="user_created",
                    actor=actor,
                    object_type="user",
                    object_id=user.pk,
                    object_repr=login.username,
                    data={"groups": [str(login.group)], "superuser": login.superuser},
                )
            )
        users[login.username] = user
    return PeopleResult(users=users, created=tuple(created), audit=records)


def ensure_channel_clients(*, actor: str) -> dict[str, str]:
    """One channel client per channel; returns the keys of the clients created now."""
    keys: dict[str, str] = {}
    for channel in Channel.values:
        name = api_client_name(channel)
        if ApiClient.objects.filter(name=name).exists():
            continue
        _client, key = api_client_create(
            actor=actor, name=name, role=Role.CHANNEL, channels=[channel]
        )
        keys[channel] = key
    return keys
