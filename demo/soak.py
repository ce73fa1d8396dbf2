"""The soak: mixed channel traffic at a running server, then the invariants, read back
from the database the server writes.

``Driver.run`` drives the channel API over HTTP (httpx; a thread pool sized for the rate,
paced open-loop to the target rate) against the customers already in the database:
events, inbound decisions, leases on push/SMS/e-mail and their acks (sending the lease id
back), responses to released offers, consent grants and revokes (revokes aimed first at
customers whose message was just leased and not yet acknowledged, then at customers with
a sales message queued or leased on that channel), and a few erasures (customers with
messages pending first). ``SoakLog`` keeps what was sent and answered, with the time each
revoke's and erasure's 2xx answer arrived.

``check_invariants`` then reads the database:

- every accepted event processed exactly once (after waiting a bounded time for the
  queue to drain): none left ``accepted``, no (event, campaign) with two decisions;
- every released offer audited: each lease answer's (message, lease id) has its
  ``message_leased`` record, each leased message as many as it was leased, each inbound
  release its ``inbound_offer_released`` record;
- the audit ledger verifies (``ledger.verify.verify_ledger``);
- nothing released after a revoke (a sales offer on that channel, every channel for
  ``all``) or an erasure (anything at all) answered;
- no answer >= 500, and no request left without an answer.

The demo package is imported by nothing, so the driver may read every layer's models.
"""

from __future__ import annotations

import math
import random
import threading
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import numpy as np
from django.db import connections
from django.db.models import Count, F
from django.db.models.functions import Mod
from django.utils import timezone

from core.channels import INBOUND, OUTBOUND
from core.choices import Role
from core.models import ApiClient
from crosssell.services import api_client_create
from customers.choices import EventStatus
from customers.models import Customer, Event
from decisioning.choices import DecisionMode, MessageStatus
from decisioning.models import Contact, Decision, Message
from ledger.choices import AuditKind
from ledger.models import AuditRecord
from ledger.sealer import seal_all_pending
from ledger.verify import verify_ledger
from offers.choices import OfferKind

API = "/api/v1"
ACTOR = "system:soak"
INBOUND_CHANNELS = ("mobile_app", "web", "branch", "contact_center")
OUTBOUND_CHANNELS = ("push", "sms", "email")
EVENT_CHANNELS = ("mobile_app", "web")
CONSENT_ALL = "all"
LEASE_SECONDS = 60
MAX_POOL = 5_000
# How many examples of a violation the report names.
EXAMPLES = 5

# The mix, by share of requests. Acks and responses need something leased or released
# first; until there is, their turn goes to an event.
MIX: dict[str, int] = {
    "event": 30,
    "decision": 22,
    "lease": 8,
    "ack": 14,
    "response": 14,
    "consent": 12,
}
OUTCOMES = (("impression", 40), ("click", 25), ("accept", 10), ("decline", 20), ("dismiss", 5))
LOAN_PAGES = ("/loans/personal", "/loans/car", "/loans", "/loans/home?step=2")
OTHER_PAGES = ("/", "/cards/gold", "/mortgages/rates", "/investments")
MERCHANTS = ("fuel", "grocery", "pharmacy", "travel", "restaurants")


# --- what happened ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Call:
    endpoint: str
    status: int  # 0: no answer (connection error or timeout)
    latency_ms: float


@dataclass(frozen=True, slots=True)
class RightsChange:
    """A revoke (``channel`` a channel or ``all``) or an erasure (``channel`` empty), with
    the moment its 2xx answer arrived."""

    customer_id: int
    pseudonym: str
    channel: str
    answered_at: datetime
    cancelled_messages: int = 0


@dataclass(frozen=True, slots=True)
class Released:
    """An offer the driver saw released, to respond to: an inbound decision's or a
    delivered message's."""

    customer: str
    offer_code: str
    channel: str
    decision_id: str | None = None
    message_id: str | None = None


@dataclass
class SoakLog:
    """Everything the invariants need from the client side. Appends are locked."""

    tag: str
    started_at: datetime
    first_seq: int
    finished_at: datetime | None = None
    calls: list[Call] = field(default_factory=list)
    accepted_events: set[str] = field(default_factory=set)
    leases: list[tuple[str, str]] = field(default_factory=list)  # (message id, lease id)
    inbound: dict[str, int] = field(default_factory=dict)  # decision id -> offers released
    revokes: list[RightsChange] = field(default_factory=list)
    erasures: list[RightsChange] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def event_prefix(self) -> str:
        return f"soak-{self.tag}-"

    def add_call(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def note(self, kind: str, item: Any) -> None:
        with self._lock:
            if kind == "event":
                self.accepted_events.add(item)
            elif kind == "lease":
                self.leases.append(item)
            elif kind == "inbound":
                self.inbound[item[0]] = item[1]
            elif kind == "revoke":
                self.revokes.append(item)
            elif kind == "erasure":
                self.erasures.append(item)
            elif kind == "error" and len(self.errors) < 50:
                self.errors.append(item)


def new_log(tag: str | None = None) -> SoakLog:
    """A log starting now, remembering where the ledger stood."""
    last = AuditRecord.objects.order_by("-seq").values_list("seq", flat=True).first()
    return SoakLog(tag=tag or uuid.uuid4().hex[:10], started_at=timezone.now(), first_seq=last or 0)


# --- figures ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EndpointFigures:
    endpoint: str
    requests: int
    statuses: dict[int, int]
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True, slots=True)
class Figures:
    requests: int
    seconds: float
    endpoints: tuple[EndpointFigures, ...]
    server_errors: int
    no_answer: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def figures(log: SoakLog) -> Figures:
    by_endpoint: dict[str, list[Call]] = defaultdict(list)
    for call in log.calls:
        by_endpoint[call.endpoint].append(call)
    rows = []
    for endpoint in sorted(by_endpoint):
        calls = by_endpoint[endpoint]
        latencies = np.array([c.latency_ms for c in calls if c.status])
        p50, p99 = np.percentile(latencies, [50, 99]) if latencies.size else (math.nan,) * 2
        rows.append(
            EndpointFigures(
                endpoint=endpoint,
                requests=len(calls),
                statuses=dict(sorted(Counter(c.status for c in calls).items())),
                p50_ms=float(p50),
                p99_ms=float(p99),
            )
        )
    end = log.finished_at or timezone.now()
    return Figures(
        requests=len(log.calls),
        seconds=(end - log.started_at).total_seconds(),
        endpoints=tuple(rows),
        server_errors=sum(1 for c in log.calls if c.status >= 500),
        no_answer=sum(1 for c in log.calls if c.status == 0),
    )


# --- the driver --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SoakOptions:
    seconds: float
    rate: float
    base_url: str = "http://127.0.0.1:8000"
    seed: int = 1
    workers: int | None = None
    erasures: int | None = None
    timeout_seconds: float = 30.0

    def pool_size(self) -> int:
        """Threads for the rate: enough for requests of up to ~200 ms in flight at once."""
        if self.workers:
            return self.workers
        return max(4, min(64, math.ceil(self.rate / 5)))

    def erasure_count(self) -> int:
        """A few: about three a minute, at least two, at most twenty."""
        if self.erasures is not None:
            return self.erasures
        return max(2, min(20, round(self.seconds / 20)))


@dataclass(frozen=True, slots=True)
class Keys:
    channel: str
    compliance: str
    names: tuple[str, ...]


def create_keys(tag: str) -> Keys:
    """One channel client for every channel the soak acts for, and a compliance client
    for erasures; their keys are shown to no one and deactivated by ``retire_keys``."""
    channel_name, compliance_name = f"soak-{tag}-channels", f"soak-{tag}-compliance"
    _client, channel_key = api_client_create(
        actor=ACTOR,
        name=channel_name,
        role=Role.CHANNEL,
        channels=sorted({*INBOUND_CHANNELS, *OUTBOUND_CHANNELS}),
    )
    _client, compliance_key = api_client_create(
        actor=ACTOR, name=compliance_name, role=Role.COMPLIANCE
    )
    return Keys(
        channel=channel_key, compliance=compliance_key, names=(channel_name, compliance_name)
    )


def retire_keys(keys: Keys) -> None:
    ApiClient.objects.filter(name__in=keys.names).update(is_active=False)


@dataclass(frozen=True, slots=True)
class Person:
    pk: int
    external_id: str
    pseudonym: str


def load_people() -> list[Person]:
    rows = (
        Customer.objects.filter(erased_at__isnull=True)
        .order_by("pk")
        .values_list("pk", "external_id", "pseudonym")
    )
    return [Person(*row) for row in rows]


class Driver:
    """Sends the mix at the target rate. Revokes and erasures go to customers with an odd
    id, grants to those with an even one: a grant never reopens a channel the soak closed,
    so every revoke's window runs to the end of the soak."""

    def __init__(
        self,
        options: SoakOptions,
        keys: Keys,
        log: SoakLog,
        people: list[Person],
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not people:
            raise ValueError("the database has no customers to drive traffic for")
        self.options = options
        self.log = log
        self.rng = random.Random(options.seed)
        self.people = people
        self.by_pk = {p.pk: p for p in people}
        self.by_external_id = {p.external_id: p for p in people}
        # Customers (odd id) with a message just leased and not acknowledged yet: the next
        # revokes go to them, racing the gateway's ack.
        self.revoke_next: deque[tuple[Person, str]] = deque(maxlen=200)
        self.granting = [p for p in people if p.pk % 2 == 0]
        self.closing = [p for p in people if p.pk % 2 == 1]
        self.erased: set[int] = set()
        self.released: deque[Released] = deque(maxlen=MAX_POOL)
        self.to_ack: deque[tuple[str, str, str, str, str]] = deque(maxlen=MAX_POOL)
        self.sent_events: deque[dict[str, Any]] = deque(maxlen=MAX_POOL)
        self.counter = 0
        self._pick_lock = threading.Lock()
        pool = options.pool_size()
        self.client = httpx.Client(
            base_url=options.base_url,
            transport=transport,
            timeout=options.timeout_seconds,
            limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
        )
        self.channel_auth = {"Authorization": f"Token {keys.channel}"}
        self.compliance_auth = {"Authorization": f"Token {keys.compliance}"}
        self.pool = pool

    # --- pacing ------------------------------------------------------------------------------

    def run(self, on_done: Callable[[Call], None] | None = None) -> SoakLog:
        total = max(1, round(self.options.seconds * self.options.rate))
        interval = 1.0 / self.options.rate
        erasures = self.options.erasure_count()
        erase_at = (
            {round((i + 0.5) * total / erasures) for i in range(erasures)} if erasures else set()
        )
        in_flight = threading.BoundedSemaphore(self.pool * 4)
        start = time.monotonic()

        def task(kind: str, rng: random.Random) -> None:
            try:
                call = self._act(kind, rng)
                if call is not None:
                    self.log.add_call(call)
                    if on_done is not None:
                        on_done(call)
            except Exception as exc:  # a driver bug must not hide as a missing request
                self.log.note("error", f"{kind}: {type(exc).__name__}: {exc}")
            finally:
                connections.close_all()
                in_flight.release()

        with ThreadPoolExecutor(max_workers=self.pool, thread_name_prefix="soak") as pool:
            for index in range(total):
                delay = start + index * interval - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                kind = "erasure" if index in erase_at else self._kind()
                in_flight.acquire()
                pool.submit(task, kind, random.Random(self.rng.getrandbits(64)))
        self.log.finished_at = timezone.now()
        self.client.close()
        return self.log

    def _kind(self) -> str:
        kind = self.rng.choices(list(MIX), weights=list(MIX.values()))[0]
        if kind == "ack" and not self.to_ack:
            return "event"
        if kind == "response" and not self.released:
            return "event"
        return kind

    # --- one request -------------------------------------------------------------------------

    def _send(
        self, endpoint: str, method: str, path: str, *, headers: dict[str, str], body: Any = None
    ) -> tuple[Call, httpx.Response | None]:
        began = time.perf_counter()
        try:
            answer = self.client.request(method, path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            self.log.note("error", f"{endpoint}: {type(exc).__name__}: {exc}")
            return Call(endpoint, 0, (time.perf_counter() - began) * 1000), None
        return Call(endpoint, answer.status_code, (time.perf_counter() - began) * 1000), answer

    def _act(self, kind: str, rng: random.Random) -> Call | None:
        return {
            "event": self._event,
            "decision": self._decision,
            "lease": self._lease,
            "ack": self._ack,
            "response": self._response,
            "consent": self._consent,
            "erasure": self._erasure,
        }[kind](rng)

    def _event(self, rng: random.Random) -> Call:
        body: dict[str, Any] | None = None
        if self.sent_events and rng.random() < 0.05:
            # A repeat, same body: answered as a duplicate, changes nothing.
            body = self.sent_events[rng.randrange(len(self.sent_events))]
        if body is None:
            with self._pick_lock:
                self.counter += 1
                number = self.counter
            person = rng.choice(self.people)
            event_type, payload = _event_payload(rng)
            occurred = timezone.now() - timedelta(seconds=rng.uniform(0, 300))
            body = {
                "event_id": f"{self.log.event_prefix}{number}",
                "type": event_type,
                "occurred_at": occurred.isoformat(),
                "customer": {"external_id": person.external_id},
                "channel": rng.choice(EVENT_CHANNELS),
                "payload": payload,
            }
            self.sent_events.append(body)
        call, answer = self._send(
            "POST /events/", "POST", f"{API}/events/", headers=self.channel_auth, body=body
        )
        if answer is not None and answer.status_code == 202:
            data = answer.json()
            if data.get("status") == EventStatus.ACCEPTED:
                self.log.note("event", data["event_id"])
        return call

    def _decision(self, rng: random.Random) -> Call:
        person = rng.choice(self.people)
        channel = rng.choice(INBOUND_CHANNELS)
        body: dict[str, Any] = {
            "customer": {"external_id": person.external_id},
            "channel": channel,
            "max_offers": rng.randint(1, 3),
        }
        roll = rng.random()
        if roll < 0.25:
            body["context"] = {"page": rng.choice(LOAN_PAGES + OTHER_PAGES)}
        elif roll < 0.35:
            body["context"] = {"event_type": "loan_calculator_used"}
        call, answer = self._send(
            "POST /decisions/", "POST", f"{API}/decisions/", headers=self.channel_auth, body=body
        )
        if answer is not None and answer.status_code == 200:
            data = answer.json()
            offers = data.get("offers") or []
            self.log.note("inbound", (data["decision_id"], len(offers)))
            for offer in offers:
                self.released.append(
                    Released(
                        customer=person.external_id,
                        offer_code=offer["offer_code"],
                        channel=offer.get("channel") or channel,
                        decision_id=data["decision_id"],
                    )
                )
        return call

    def _lease(self, rng: random.Random) -> Call:
        channel = rng.choice(OUTBOUND_CHANNELS)
        call, answer = self._send(
            "POST /channels/{channel}/messages/lease/",
            "POST",
            f"{API}/channels/{channel}/messages/lease/",
            headers=self.channel_auth,
            body={"max": rng.randint(1, 20), "lease_seconds": LEASE_SECONDS},
        )
        if answer is not None and answer.status_code == 200:
            for message in answer.json().get("messages", []):
                self.log.note("lease", (message["message_id"], message["lease_id"]))
                person = self.by_external_id.get(message["customer"])
                if person is not None and person.pk % 2 == 1:
                    self.revoke_next.append((person, channel))
                self.to_ack.append(
                    (
                        message["message_id"],
                        message["lease_id"],
                        message["offer_code"],
                        channel,
                        message["customer"],
                    )
                )
        return call

    def _ack(self, rng: random.Random) -> Call | None:
        try:
            message_id, lease_id, offer_code, channel, customer = self.to_ack.popleft()
        except IndexError:
            return self._event(rng)
        delivered = rng.random() < 0.85
        body: dict[str, Any] = {
            "status": MessageStatus.DELIVERED if delivered else MessageStatus.FAILED,
            "lease_id": lease_id,
        }
        if delivered:
            body["provider_ref"] = f"soak-{uuid.UUID(int=rng.getrandbits(128)).hex[:12]}"
        else:
            body["error"] = "provider timeout"
        call, answer = self._send(
            "POST /messages/{id}/ack/",
            "POST",
            f"{API}/messages/{message_id}/ack/",
            headers=self.channel_auth,
            body=body,
        )
        if answer is not None and answer.status_code == 200 and delivered:
            self.released.append(
                Released(
                    customer=customer, offer_code=offer_code, channel=channel, message_id=message_id
                )
            )
        return call

    def _response(self, rng: random.Random) -> Call:
        try:
            released = self.released[rng.randrange(len(self.released))]
        except (IndexError, ValueError):
            return self._event(rng)
        outcome = rng.choices([o for o, _ in OUTCOMES], weights=[w for _, w in OUTCOMES])[0]
        body: dict[str, Any] = {
            "response_id": f"{self.log.event_prefix}r{rng.getrandbits(64):x}",
            "offer_code": released.offer_code,
            "outcome": outcome,
            "occurred_at": timezone.now().isoformat(),
            "channel": released.channel,
        }
        if released.decision_id:
            body["decision_id"] = released.decision_id
        if released.message_id:
            body["message_id"] = released.message_id
        if released.channel in ("branch", "contact_center"):
            body["agent_id"] = f"agent-{rng.randint(1, 40)}"
        call, _answer = self._send(
            "POST /responses/", "POST", f"{API}/responses/", headers=self.channel_auth, body=body
        )
        return call

    def _consent(self, rng: random.Random) -> Call:
        grant = bool(self.granting) and (not self.closing or rng.random() < 0.5)
        if grant:
            person = rng.choice(self.granting)
            channel = rng.choice(OUTBOUND_CHANNELS)
            status = "granted"
        else:
            status = "revoked"
            try:
                person, channel = self.revoke_next.pop()
            except IndexError:
                channel = CONSENT_ALL if rng.random() < 0.1 else rng.choice(OUTBOUND_CHANNELS)
                person = self._with_queued(rng, channel, sales_only=True) or rng.choice(
                    self.closing
                )
        call, answer = self._send(
            "PUT /customers/{id}/consents/{channel}/",
            "PUT",
            f"{API}/customers/{person.external_id}/consents/{channel}/",
            headers=self.channel_auth,
            body={
                "status": status,
                "source": "soak preference centre",
                "captured_at": timezone.now().isoformat(),
            },
        )
        if status == "revoked" and answer is not None and answer.status_code == 200:
            answered_at = timezone.now()
            cancelled = answer.json().get("cancelled_messages") or 0
            self.log.note(
                "revoke",
                RightsChange(person.pk, person.pseudonym, channel, answered_at, cancelled),
            )
        return call

    def _erasure(self, rng: random.Random) -> Call:
        with self._pick_lock:
            left = [p for p in self.closing if p.pk not in self.erased]
            person = self._with_queued(rng, CONSENT_ALL, exclude=self.erased) or (
                rng.choice(left) if left else None
            )
            if person is None:  # no one (odd id) left to erase
                return self._event(rng)
            self.erased.add(person.pk)
        call, answer = self._send(
            "DELETE /customers/{id}/",
            "DELETE",
            f"{API}/customers/{person.external_id}/",
            headers=self.compliance_auth,
        )
        if answer is not None and answer.status_code == 202:
            self.log.note("erasure", RightsChange(person.pk, person.pseudonym, "", timezone.now()))
        return call

    def _with_queued(
        self,
        rng: random.Random,
        channel: str,
        *,
        exclude: Iterable[int] = (),
        sales_only: bool = False,
    ) -> Person | None:
        """A customer (odd id, not erased) with a message queued or leased on the channel
        (any outbound channel for ``all``): the revokes and erasures that have something
        to cancel. A revoke cancels sales messages only, so ``sales_only`` asks for one."""
        queued = Message.objects.filter(
            status__in=[MessageStatus.QUEUED, MessageStatus.LEASED],
            customer__erased_at__isnull=True,
        )
        if sales_only:
            queued = queued.filter(contact__kind=OfferKind.SALES)
        if channel != CONSENT_ALL:
            queued = queued.filter(channel=channel)
        ids = list(
            queued.annotate(odd=Mod(F("customer_id"), 2))
            .filter(odd=1)
            .exclude(customer_id__in=list(exclude))
            .order_by("-created_at")
            .values_list("customer_id", flat=True)[:50]
        )
        people = [self.by_pk[pk] for pk in ids if pk in self.by_pk]
        return rng.choice(people) if people else None


def _event_payload(rng: random.Random) -> tuple[str, dict[str, Any]]:
    kind = rng.choices(
        [
            "payment_failed",
            "card_transaction",
            "page_view",
            "salary_deposit",
            "large_transfer_out",
            "loan_calculator_used",
            "app_login",
        ],
        weights=[12, 30, 25, 10, 5, 8, 10],
    )[0]
    if kind == "payment_failed":
        return kind, {"amount": round(rng.uniform(20, 900), 2), "reason": "insufficient_funds"}
    if kind == "card_transaction":
        amount = round(rng.uniform(5, 250), 2) * (-1 if rng.random() < 0.05 else 1)
        return kind, {"merchant_category": rng.choice(MERCHANTS), "amount": amount}
    if kind == "page_view":
        pages = LOAN_PAGES if rng.random() < 0.5 else OTHER_PAGES
        return kind, {"page": rng.choice(pages)}
    if kind == "salary_deposit":
        return kind, {"amount": round(rng.uniform(800, 6000), 2)}
    if kind == "large_transfer_out":
        return kind, {"amount": round(rng.uniform(5_000, 60_000), 2)}
    if kind == "loan_calculator_used":
        return kind, {"amount": rng.randrange(2_000, 50_000, 500), "term_months": 60}
    return kind, {}


# --- the invariants ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Invariant:
    name: str
    held: bool
    numbers: dict[str, Any]
    examples: tuple[str, ...] = ()


def wait_for_drain(log: SoakLog, *, timeout_seconds: float, poll_seconds: float = 1.0) -> float:
    """Wait until no event the soak had accepted is still ``accepted`` (or the timeout);
    returns the seconds waited."""
    began = time.monotonic()
    while _still_accepted(log).exists() and time.monotonic() - began < timeout_seconds:
        time.sleep(poll_seconds)
    return time.monotonic() - began


def _still_accepted(log: SoakLog):
    return Event.objects.filter(
        event_id__startswith=log.event_prefix, status=EventStatus.ACCEPTED
    ).filter(event_id__in=list(log.accepted_events))


def check_events_once(log: SoakLog) -> Invariant:
    events = Event.objects.filter(event_id__startswith=log.event_prefix)
    statuses = Counter(
        events.filter(event_id__in=list(log.accepted_events)).values_list("status", flat=True)
    )
    left = sorted(_still_accepted(log).values_list("event_id", flat=True)[:EXAMPLES])
    twice = list(
        Decision.objects.filter(event__event_id__startswith=log.event_prefix)
        .values("event__event_id", "campaign__code")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .order_by("event__event_id")
    )
    decisions = Decision.objects.filter(event__event_id__startswith=log.event_prefix).count()
    return Invariant(
        "every accepted event processed exactly once",
        held=not statuses.get(EventStatus.ACCEPTED) and not twice,
        numbers={
            "accepted": len(log.accepted_events),
            "processed": statuses.get(EventStatus.PROCESSED, 0),
            "erased since": statuses.get(EventStatus.ERASED, 0),
            "still accepted": statuses.get(EventStatus.ACCEPTED, 0),
            "decisions": decisions,
            "(event, campaign) decided twice": len(twice),
        },
        examples=tuple(
            [f"event {e} still accepted" for e in left]
            + [
                f"event {t['event__event_id']} x {t['campaign__code']}: {t['n']} decisions"
                for t in twice[:EXAMPLES]
            ]
        ),
    )


def _chunks(items: list[Any], size: int = 2_000) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def check_releases_audited(log: SoakLog) -> Invariant:
    released = AuditRecord.objects.filter(kind=AuditKind.OFFER_RELEASED)
    # Each lease answer: its (message, lease id) has its message_leased record.
    answered = set(log.leases)
    recorded: set[tuple[str, str]] = set()
    for chunk in _chunks(sorted({m for m, _ in answered})):
        recorded.update(
            (object_id, str(lease_id))
            for object_id, lease_id in released.filter(
                action="message_leased", seq__gt=log.first_seq, object_id__in=chunk
            ).values_list("object_id", "data__lease_id")
        )
    unaudited_leases = sorted(answered - recorded)
    # Each message leased during the soak: one record per lease it has had.
    leased = dict(
        Message.objects.filter(lease_count__gt=0, updated_at__gte=log.started_at).values_list(
            "pk", "lease_count"
        )
    )
    per_message: Counter[str] = Counter()
    for chunk in _chunks([str(pk) for pk in leased]):
        per_message.update(
            released.filter(action="message_leased", object_id__in=chunk).values_list(
                "object_id", flat=True
            )
        )
    short = sorted(
        f"message {pk}: leased {n} times, {per_message[str(pk)]} records"
        for pk, n in leased.items()
        if per_message[str(pk)] < n
    )
    # Each inbound release (the decision's contacts without a message): its record.
    contacts = Counter(
        str(pk)
        for pk in Contact.objects.filter(
            message__isnull=True,
            released_at__gte=log.started_at,
            decision__mode__in=[DecisionMode.INBOUND, DecisionMode.EVENT, DecisionMode.ABSENCE],
        ).values_list("decision_id", flat=True)
    )
    inbound_records = Counter(
        released.filter(action="inbound_offer_released", seq__gt=log.first_seq).values_list(
            "object_id", flat=True
        )
    )
    expected = Counter(contacts)
    for decision_id, offers in log.inbound.items():
        expected[decision_id] = max(expected[decision_id], offers)
    missing = sorted(
        f"decision {d}: {n} released inbound, {inbound_records[d]} records"
        for d, n in expected.items()
        if inbound_records[d] < n
    )
    return Invariant(
        "every released offer audited",
        held=not unaudited_leases and not short and not missing,
        numbers={
            "leased (answers)": len(answered),
            "lease answers without their record": len(unaudited_leases),
            "messages leased": len(leased),
            "messages missing a lease record": len(short),
            "inbound releases": sum(expected.values()),
            "inbound releases without their record": sum(
                max(0, n - inbound_records[d]) for d, n in expected.items()
            ),
        },
        examples=tuple(
            [
                f"message {m}, lease {lease} has no message_leased record"
                for m, lease in unaudited_leases[:EXAMPLES]
            ]
            + short[:EXAMPLES]
            + missing[:EXAMPLES]
        ),
    )


def check_ledger(*, seal_first: bool) -> Invariant:
    sealed = seal_all_pending(time_budget_seconds=60.0) if seal_first else 0
    report = verify_ledger()
    examples = []
    if report.broken_record_seq is not None:
        examples.append(f"record #{report.broken_record_seq}: {report.broken_record_reason}")
    if report.broken_seal_seq is not None:
        examples.append(f"seal #{report.broken_seal_seq}: {report.broken_seal_reason}")
    if report.stale_unsealed_records:
        examples.append(
            f"{report.stale_unsealed_records} records unsealed for over "
            f"{report.stale_after_seconds} s (oldest #{report.oldest_stale_seq})"
        )
    return Invariant(
        "the audit chain verifies",
        held=report.ok,
        numbers={
            "records": report.records,
            "seals": report.seals,
            "unsealed": report.unsealed_records,
            "sealed by the soak": sealed,
            "intact": report.intact,
        },
        examples=tuple(examples),
    )


def _after_revoke(change: RightsChange) -> list[str]:
    """Sales releases to the customer on the revoked channel (every channel for ``all``)
    stamped after the revoke answered."""
    channels = sorted({*INBOUND, *OUTBOUND}) if change.channel == CONSENT_ALL else [change.channel]
    since = f"after the {change.channel} revoke answered at {change.answered_at.isoformat()}"
    records = AuditRecord.objects.filter(
        kind=AuditKind.OFFER_RELEASED,
        customer_ref=change.pseudonym,
        created_at__gt=change.answered_at,
        channel__in=channels,
        data__kind=OfferKind.SALES,
    ).values_list("seq", "channel", "created_at")
    contacts = Contact.objects.filter(
        customer_id=change.customer_id,
        released_at__gt=change.answered_at,
        channel__in=channels,
        kind=OfferKind.SALES,
    ).values_list("decision_id", "channel", "released_at")
    return [
        f"record #{seq}: {channel} release at {at.isoformat()} {since}"
        for seq, channel, at in records
    ] + [
        f"contact of decision {decision}: {channel} release at {at.isoformat()} {since}"
        for decision, channel, at in contacts
    ]


def _after_erasure(change: RightsChange) -> list[str]:
    """Anything released to the customer after the erasure answered."""
    since = f"after the erasure answered at {change.answered_at.isoformat()}"
    records = AuditRecord.objects.filter(
        kind=AuditKind.OFFER_RELEASED,
        customer_ref=change.pseudonym,
        created_at__gt=change.answered_at,
    ).values_list("seq", "created_at")
    contacts = Contact.objects.filter(
        customer_id=change.customer_id, released_at__gt=change.answered_at
    ).values_list("decision_id", "released_at")
    decisions = Decision.objects.filter(
        customer_id=change.customer_id,
        created_at__gt=change.answered_at,
        offers_released__gt=0,
    ).values_list("pk", "created_at")
    return (
        [f"record #{seq}: released at {at.isoformat()} {since}" for seq, at in records]
        + [
            f"contact of decision {decision}: released at {at.isoformat()} {since}"
            for decision, at in contacts
        ]
        + [f"decision {pk}: released at {at.isoformat()} {since}" for pk, at in decisions]
    )


def check_nothing_released_after_rights(log: SoakLog) -> Invariant:
    """After a revoke answered, no sales offer released to that customer on that channel
    (every channel for ``all``; service actions are exempt from marketing consent by
    design); after an erasure answered, nothing released to them at all. Releases are the
    ``offer_released`` records (leases and inbound decisions, stamped when the request
    began, before anything is read) and the contacts decisions wrote (queued messages
    included)."""
    after_revoke = [found for change in log.revokes for found in _after_revoke(change)]
    after_erasure = [found for change in log.erasures for found in _after_erasure(change)]
    found = after_revoke + after_erasure
    return Invariant(
        "nothing released after a revoke or an erasure",
        held=not found,
        numbers={
            "revokes": len(log.revokes),
            "revokes of all": sum(1 for c in log.revokes if c.channel == CONSENT_ALL),
            "revokes that cancelled queued messages": sum(
                1 for c in log.revokes if c.cancelled_messages
            ),
            "erasures": len(log.erasures),
            "released after a revoke": len(after_revoke),
            "released after an erasure": len(after_erasure),
        },
        examples=tuple(found[:EXAMPLES]),
    )


def check_no_server_errors(log: SoakLog) -> Invariant:
    server = [c for c in log.calls if c.status >= 500]
    unanswered = [c for c in log.calls if c.status == 0]
    return Invariant(
        "no answer >= 500",
        held=not server and not unanswered and not log.errors,
        numbers={
            "requests": len(log.calls),
            "answers >= 500": len(server),
            "no answer": len(unanswered),
            "driver errors": len(log.errors),
        },
        examples=tuple(
            [f"{c.endpoint} answered {c.status}" for c in server[:EXAMPLES]] + log.errors[:EXAMPLES]
        ),
    )


def check_invariants(
    log: SoakLog, *, seal_first: bool, drain_seconds: float = 0.0
) -> tuple[float, list[Invariant]]:
    """Wait for the queue to drain (bounded), then every invariant; returns the seconds
    waited and the report."""
    waited = wait_for_drain(log, timeout_seconds=drain_seconds) if drain_seconds else 0.0
    return waited, [
        check_events_once(log),
        check_releases_audited(log),
        check_ledger(seal_first=seal_first),
        check_nothing_released_after_rights(log),
        check_no_server_errors(log),
    ]
