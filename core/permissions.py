"""Who may open which console screen.

People get console roles through Django groups named after ``core.choices.Role``
(``marketer``, ``compliance``, ``analyst``, ``admin``; created by a migration). A view
names the roles it admits; an anonymous visitor is sent to the login page (for an htmx
request, with ``HX-Redirect`` so the whole page moves), a signed-in user without one of
the roles gets 403.

Segregation of duties: roles are not a ladder. ``admin`` runs the system (health, Django
admin, reading the ledger) but does not write catalog, campaigns or approvals, and a
superuser is not silently every role. The services enforce the business rules (a checker
is never the maker) again below the console.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django_htmx.http import HttpResponseClientRedirect

from core.choices import CONSOLE_GROUPS, Role

MARKETER = Role.MARKETER.value
COMPLIANCE = Role.COMPLIANCE.value
ANALYST = Role.ANALYST.value
ADMIN = Role.ADMIN.value
CONSOLE_ROLES = frozenset(role.value for role in CONSOLE_GROUPS)

# The screens, by who may use them. Views refer to these names, tests walk them.
ANY_ROLE = CONSOLE_ROLES
CATALOG_READ = frozenset({MARKETER, COMPLIANCE, ANALYST, ADMIN})
CATALOG_WRITE = frozenset({MARKETER})
CAMPAIGN_READ = frozenset({MARKETER, COMPLIANCE, ANALYST, ADMIN})
CAMPAIGN_WRITE = frozenset({MARKETER})
POLICY_WRITE = frozenset({MARKETER})
CUSTOMER_READ = frozenset({MARKETER, COMPLIANCE, ANALYST})
CUSTOMER_RIGHTS = frozenset({COMPLIANCE})
DECISION_READ = frozenset({MARKETER, COMPLIANCE, ANALYST, ADMIN})
APPROVAL_READ = frozenset({COMPLIANCE})
APPROVAL_ACT = frozenset({COMPLIANCE})
AUDIT_READ = frozenset({COMPLIANCE, ADMIN})
AUDIT_EXPORT = frozenset({COMPLIANCE})
LEDGER_VERIFY = frozenset({COMPLIANCE, ADMIN})
ERASURE = frozenset({COMPLIANCE})
OPERATIONS = frozenset({ADMIN})

_CACHE_ATTR = "_crosssell_console_roles"


def roles_of(user: Any) -> frozenset[str]:
    """The console roles of a user (cached on the user object for the request)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        names = user.groups.filter(name__in=CONSOLE_ROLES).values_list("name", flat=True)
        cached = frozenset(names)
        setattr(user, _CACHE_ATTR, cached)
    return cached


def has_role(user: Any, roles: Iterable[str]) -> bool:
    return bool(roles_of(user) & frozenset(roles))


def _to_login(request: HttpRequest) -> HttpResponse:
    if getattr(request, "htmx", False):
        login_url = resolve_url(settings.LOGIN_URL)
        return HttpResponseClientRedirect(f"{login_url}?next={request.get_full_path()}")
    return redirect_to_login(request.get_full_path(), resolve_url(settings.LOGIN_URL))


def check_roles(request: HttpRequest, roles: Iterable[str]) -> HttpResponse | None:
    """None when the request may go on; a redirect to login for anonymous visitors.

    Raises ``PermissionDenied`` (403) for signed-in users without one of the roles.
    """
    if not request.user.is_authenticated:
        return _to_login(request)
    if not has_role(request.user, roles):
        raise PermissionDenied("Your console role does not include this screen.")
    return None


def role_required(roles: Iterable[str]) -> Callable:
    """Decorator for function views: ``@role_required(permissions.CATALOG_WRITE)``."""
    allowed = frozenset(roles)

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            refusal = check_roles(request, allowed)
            if refusal is not None:
                return refusal
            return view(request, *args, **kwargs)

        wrapper.console_roles = allowed  # type: ignore[attr-defined]
        return wrapper

    return decorator


class RoleRequiredMixin:
    """Class-based views: set ``roles``; unsafe methods may require ``write_roles``."""

    roles: frozenset[str] = frozenset()
    write_roles: frozenset[str] | None = None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        roles = self.roles
        if self.write_roles is not None and request.method not in ("GET", "HEAD", "OPTIONS"):
            roles = self.write_roles
        refusal = check_roles(request, roles)
        if refusal is not None:
            return refusal
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
