"""No one let in who must not be, no one refused who must be let in: every route of the
project (walked from the URL resolver) x every method it serves x every principal.

Principals: an anonymous visitor; a signed-in person per console role, one with no role
(``outsider``) and a superuser with no console role (``staff``); an API client per role,
and a channel client whose channels exclude the one acted for (``channel-elsewhere``).
The rows (who is let in) are in ``tests/security/matrix.py``, written from DESIGN.md and
API.md.

"Let in" is anything but a refusal — 200, 201, 204, 400, 404, 405, 409, 422 and
redirects other than to a sign-in page all count (a page's own status is pinned where
the row says so). A refusal is, by surface: console 302 to the login page (no session)
or 403 (signed in, role not listed); API 401 ``not_authenticated`` (no key) or 403
``permission_denied`` (role not listed, or channel not the client's); admin 302 to the
admin's login (not staff).

The dataset is built once for the module (one transaction rolled back at the end), and
every request runs in its own savepoint, rolled back, so an action let in (a pause, an
approval, an erasure) changes nothing the next request sees. Maker-checker — the author
of a change never approves it — is a business rule tested with the approvals, not here.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import transaction
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, path, resolve, reverse
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils import timezone

from campaigns.models import Campaign, CampaignRun
from compliance import services as compliance_services
from compliance.models import ApprovalRequest, SuppressionEntry
from crosssell.services import api_client_create
from customers.models import Customer
from decisioning.decisions.snapshots import snapshots
from decisioning.models import Decision, Message
from offers.models import Offer, OfferContent, Product
from tests.console.conftest import build_bank
from tests.factories import persona
from tests.security import matrix
from tests.security.matrix import ELSEWHERE_CHANNEL, Call, Route, Surface

# --- the routes ---------------------------------------------------------------------


@dataclass(frozen=True)
class FoundRoute:
    """One URL pattern of the project, as the resolver has it."""

    key: str  # namespaced name, or the route string of an unnamed pattern
    namespace: str
    route: str
    chain: tuple[Any, ...]  # the patterns from the root down to this one
    callback: Any


def project_routes(urlconf: str | None = None) -> list[FoundRoute]:
    found: list[FoundRoute] = []

    def walk(patterns, chain: tuple[Any, ...], namespaces: tuple[str, ...]) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                inner = namespaces + ((entry.namespace,) if entry.namespace else ())
                walk(entry.url_patterns, (*chain, entry.pattern), inner)
            elif isinstance(entry, URLPattern):
                route = "".join(str(p) for p in (*chain, entry.pattern))
                key = ":".join((*namespaces, entry.name)) if entry.name else route
                found.append(
                    FoundRoute(
                        key=key,
                        namespace=namespaces[0] if namespaces else "",
                        route=route,
                        chain=(*chain, entry.pattern),
                        callback=entry.callback,
                    )
                )

    walk(get_resolver(urlconf).url_patterns, (), ())
    return found


def undeclared(routes: list[FoundRoute]) -> list[str]:
    return sorted(r.key for r in routes if matrix.row_for(r.key, r.namespace) is None)


ROUTES = project_routes()
ROUTE_KEYS = {r.key for r in ROUTES}

_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")
_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_UNNAMED_GROUP = re.compile(r"\((?!\?)[^)]*\)")


def _fill(pattern: Any, values: dict[str, Any]) -> str:
    def value(match: re.Match) -> str:
        return quote(str(values[match[1]]), safe="/")

    if isinstance(pattern, RoutePattern):
        return _CONVERTER.sub(value, str(pattern))
    assert isinstance(pattern, RegexPattern), pattern
    regex = str(pattern).removeprefix("^").removesuffix("$").removesuffix("\\Z")
    return _UNNAMED_GROUP.sub("0", _GROUP.sub(value, regex))


def url_of(found: FoundRoute, values: dict[str, Any]) -> str:
    url = "/" + "".join(_fill(p, values) for p in found.chain)
    match = resolve(urlsplit(url).path)
    assert match.func is found.callback, f"{url} resolves to {match.func}, not {found.key}"
    return url


# --- the principals -----------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    name: str
    role: str | None = None
    session: bool = False  # a signed-in person
    key: bool = False  # an API client
    staff: bool = False
    channels: tuple[str, ...] = ()
    # a channel client whose channels exclude every channel the dataset acts for
    elsewhere: bool = False


EVERY_CHANNEL = ("mobile_app", "web", "branch", "contact_center", "atm", "push", "sms", "email")
PRINCIPALS = (
    Principal("anonymous"),
    *(Principal(f"person-{role}", role, session=True) for role in sorted(matrix.EVERY_PERSON)),
    Principal("person-outsider", session=True),
    Principal("person-staff", session=True, staff=True),
    Principal("key-channel", matrix.CHANNEL, key=True, channels=EVERY_CHANNEL),
    Principal(
        "key-channel-elsewhere",
        matrix.CHANNEL,
        key=True,
        channels=(ELSEWHERE_CHANNEL,),
        elsewhere=True,
    ),
    *(
        Principal(f"key-{role}", role, key=True)
        for role in sorted(matrix.EVERY_CLIENT - {matrix.CHANNEL})
    ),
)


def let_in(route: Route, call: Call, principal: Principal) -> bool:
    if route.surface is Surface.PUBLIC:
        return True
    if route.surface is Surface.ADMIN:
        return principal.staff
    if route.surface is Surface.CONSOLE:
        return principal.session and principal.role in call.roles
    if not principal.key or principal.role not in call.roles:
        return False
    return not (call.channel_scoped and principal.elsewhere)


# --- the dataset --------------------------------------------------------------------


@dataclass
class Dataset:
    now: datetime
    product: Product
    offer: Offer
    content: OfferContent
    approval: ApprovalRequest
    campaign: Campaign
    run: CampaignRun
    customer: Customer
    customer_type: ContentType
    decision: Decision
    message: Message
    suppression: SuppressionEntry
    sessions: dict[str, str]
    keys: dict[str, str]


def _build() -> Dataset:
    people: dict[str, User] = {
        "marketer": persona("maker", "marketer"),
        "compliance": persona("checker", "compliance"),
        "analyst": persona("analyst", "analyst"),
        "admin": persona("admin", "admin"),
        "outsider": persona("outsider"),
    }
    staff = persona("staff")
    staff.is_staff = staff.is_superuser = True
    staff.save(update_fields=["is_staff", "is_superuser"])
    people["staff"] = staff
    bank = build_bank(people)
    now = timezone.now()
    message = Message.objects.create(
        decision=bank.decision,
        customer=bank.customer,
        campaign=bank.campaign,
        offer=bank.offer,
        content=bank.content,
        channel="sms",
        status="leased",
        deliver_after=now,
        lease_expires_at=now + timedelta(minutes=5),
        lease_id=uuid.uuid4(),
        lease_count=1,
        created_at=now,
    )
    suppression = compliance_services.suppression_add(
        actor=people["compliance"], customer=bank.customer, scope="all", reason="complaint"
    )
    sessions = {}
    for principal in PRINCIPALS:
        if principal.session:
            client = Client()
            client.force_login(people[principal.name.removeprefix("person-")])
            sessions[principal.name] = client.cookies[settings.SESSION_COOKIE_NAME].value
    keys = {}
    for principal in PRINCIPALS:
        if principal.key:
            _client, keys[principal.name] = api_client_create(
                actor="system:tests",
                name=principal.name,
                role=principal.role,
                channels=list(principal.channels) if principal.role == matrix.CHANNEL else None,
            )
    return Dataset(
        now=now,
        product=bank.product,
        offer=bank.offer,
        content=bank.content,
        approval=bank.approval,
        campaign=bank.campaign,
        run=bank.run,
        customer=bank.customer,
        customer_type=ContentType.objects.get_for_model(Customer),
        decision=bank.decision,
        message=message,
        suppression=suppression,
        sessions=sessions,
        keys=keys,
    )


@pytest.fixture(scope="module")
def dataset(django_db_setup, django_db_blocker) -> Iterator[Dataset]:
    """Built once, inside a transaction the module's end rolls back; each test's own
    transaction (``db``) and each request's savepoint nest inside it."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield _build()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def fresh_caches():
    cache.clear()
    snapshots.clear()
    yield
    snapshots.clear()
    cache.clear()


# --- one request --------------------------------------------------------------------


_CLIENT = Client()  # one handler (middleware loaded once); cookies reset per request


def send(dataset: Dataset, route: Route, call: Call, principal: Principal, url: str):
    client = _CLIENT
    client.cookies = SimpleCookie()
    headers: dict[str, str] = {}
    if principal.session:
        client.cookies[settings.SESSION_COOKIE_NAME] = dataset.sessions[principal.name]
    if principal.key:
        headers["HTTP_AUTHORIZATION"] = f"Token {dataset.keys[principal.name]}"
    body = dict(call.body(dataset)) if call.body else None
    method = call.method.lower()
    if route.surface is Surface.API or url.startswith("/api/"):
        data = json.dumps(body, default=str) if body is not None else ""
        if method in ("get", "delete"):
            return getattr(client, method)(url, **headers)
        return getattr(client, method)(url, data=data, content_type="application/json", **headers)
    if method == "get":
        return client.get(url, **headers)
    return getattr(client, method)(url, data=body or {}, **headers)


def _redirects_to(response: HttpResponse, name: str, *, sign_in: bool = True) -> bool:
    """A redirect to the page ``name``; to sign in, it carries where to go next."""
    if response.status_code != 302:
        return False
    location = urlsplit(response["Location"])
    return location.path == reverse(name) and (not sign_in or "next=" in location.query)


def refusal_problem(route: Route, principal: Principal, response: HttpResponse) -> str | None:
    """None when ``response`` is the refusal this surface owes ``principal``."""
    status = response.status_code
    if status >= 500:
        return f"answered {status}"
    if route.surface is Surface.CONSOLE and principal.session:
        return None if status == 403 else f"expected 403, got {status}"
    if route.surface in (Surface.CONSOLE, Surface.ADMIN):
        target = route.refused_to or (
            "login" if route.surface is Surface.CONSOLE else "admin:login"
        )
        if _redirects_to(response, target, sign_in=not route.refused_to):
            return None
        return f"expected a redirect to {target}, got {status} {response.get('Location', '')}"
    is_json = response.get("Content-Type", "").startswith("application/json")
    code = (response.json() if is_json else {}).get("error", {}).get("code")
    if not principal.key:
        if (status, code) == (401, "not_authenticated"):
            return None
        return f"expected 401 not_authenticated, got {status} {code}"
    if (status, code) != (403, "permission_denied"):
        return f"expected 403 permission_denied, got {status} {code}"
    return None


def admission_problem(route: Route, call: Call, response: HttpResponse) -> str | None:
    """None when ``response`` lets the request in (and has the status the call pins)."""
    status = response.status_code
    if status >= 500:
        return f"answered {status}"
    if _redirects_to(response, "login") or _redirects_to(response, "admin:login"):
        return f"sent to sign in ({response['Location']})"
    # Past the admin site's gate, a ModelAdmin may still refuse a change (read-only
    # admins): that is the model's rule, not the site's.
    if status in (401, 403) and route.surface is not Surface.ADMIN:
        return f"refused with {status}"
    if call.status is not None and status != call.status:
        return f"expected {call.status}, got {status}"
    return None


def _request_once(dataset, route, call, principal, url) -> HttpResponse | Exception:
    """One request in a savepoint that is always rolled back."""
    try:
        with transaction.atomic():
            try:
                return send(dataset, route, call, principal, url)
            finally:
                transaction.set_rollback(True)
    except Exception as exc:  # reported with the principal, not as the first failure
        return exc


# --- the tests ----------------------------------------------------------------------


def test_every_route_has_a_declared_row():
    assert not undeclared(ROUTES), (
        "routes with no row in tests/security/matrix.py (declare who may reach them)"
    )


def test_every_row_names_a_route_that_exists():
    stale = sorted(set(matrix.ROUTES) - ROUTE_KEYS)
    assert not stale, f"rows for routes that no longer exist: {stale}"


def _new_screen(request):
    return HttpResponse("new")


urlpatterns = [
    *get_resolver().url_patterns,
    path("reports/new/", _new_screen, name="new_report"),
]


def test_a_route_added_without_a_row_is_reported():
    """The check above can fail: this module's URLconf is the project's plus one screen."""
    assert undeclared(project_routes(__name__)) == ["new_report"]


def _served_methods(callback: Any) -> set[str]:
    actions = getattr(callback, "actions", None)
    if actions:
        return {method.upper() for method in actions if method not in ("options", "head")}
    view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view is None:
        return set()
    return {
        method.upper()
        for method in view.http_method_names
        if method not in ("options", "head") and hasattr(view, method)
    }


@pytest.mark.parametrize(
    "found", [r for r in ROUTES if r.route.startswith("api/v1/")], ids=lambda r: r.key
)
def test_every_method_an_api_endpoint_serves_has_a_call(found):
    row = matrix.row_for(found.key, found.namespace)
    assert row is not None
    assert {call.method for call in row.calls} == _served_methods(found.callback)


CASES = [
    (found, call)
    for found in ROUTES
    if (row := matrix.row_for(found.key, found.namespace)) is not None
    for call in row.calls
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("found", "call"), CASES, ids=[f"{found.key}-{call.name}" for found, call in CASES]
)
def test_each_principal_is_let_in_or_refused_as_the_matrix_says(dataset, fresh_caches, found, call):
    row = matrix.row_for(found.key, found.namespace)
    assert row is not None
    values = (
        dict(matrix.ADMIN_PATH_VALUES) if row is matrix.ADMIN_GROUP else dict(row.path(dataset))
    )
    url = url_of(found, values) + (f"?{call.query}" if call.query else "")
    problems = []
    for principal in PRINCIPALS:
        response = _request_once(dataset, row, call, principal, url)
        expected_in = let_in(row, call, principal)
        if isinstance(response, Exception):
            problems.append(f"{principal.name}: raised {response!r}")
            continue
        problem = (
            admission_problem(row, call, response)
            if expected_in
            else refusal_problem(row, principal, response)
        )
        if problem:
            verdict = "let in" if expected_in else "refused"
            problems.append(f"{principal.name} (should be {verdict}): {problem}")
    assert not problems, f"{call.method} {url}\n  " + "\n  ".join(problems)


@pytest.mark.django_db
def test_a_channel_client_elsewhere_is_refused_for_the_channel_not_the_role(dataset):
    """Where the matrix says channel-elsewhere is refused but the channel role is let in,
    the 403 names the channel."""
    elsewhere = next(p for p in PRINCIPALS if p.name == "key-channel-elsewhere")
    checked = 0
    for found, call in CASES:
        row = matrix.row_for(found.key, found.namespace)
        if row is None or not call.channel_scoped:
            continue
        url = url_of(found, dict(row.path(dataset)))
        response = _request_once(dataset, row, call, elsewhere, url)
        assert not isinstance(response, Exception), response
        assert response.status_code == 403, (url, response.content)
        assert "may not act for" in response.json()["error"]["message"], url
        checked += 1
    assert checked >= 8
