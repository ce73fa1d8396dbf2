"""Verification: every record hash and every seal recomputed; records left unsealed for
longer than the stale threshold fail it too."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from ledger.hashing import HASHED_FIELDS, ZERO_HASH, record_hash_of, seal_hash_of
from ledger.models import AuditRecord, AuditSeal, AuditSealMembership

DEFAULT_STALE_AFTER_SECONDS = 60

# Why verification failed, in the order they are reported (``failures``, ``broken``).
BROKEN_RECORD = "record"
BROKEN_SEAL = "seal"
STALE_UNSEALED = "stale_unsealed"


def stale_threshold_seconds() -> int:
    """The threshold past which an unsealed record fails verification (a sealer down)."""
    return int(
        getattr(settings, "CROSSSELL_AUDIT_STALE_AFTER_SECONDS", DEFAULT_STALE_AFTER_SECONDS)
    )


@dataclass(frozen=True, slots=True)
class LedgerReport:
    """What verification found. ``ok`` means intact (every record and seal hash holds)
    AND no record has waited longer than ``stale_after_seconds`` for a seal: a record no
    seal covers can be deleted or rewritten with its own hash recomputed and nothing
    would notice, so a sealer that stopped is a failure, not a warning."""

    ok: bool
    records: int
    seals: int
    sealed_records: int
    unsealed_records: int
    stale_unsealed_records: int
    stale_after_seconds: int
    oldest_unsealed_seq: int | None = None
    oldest_stale_seq: int | None = None
    broken_record_seq: int | None = None
    broken_record_reason: str = ""
    broken_seal_seq: int | None = None
    broken_seal_reason: str = ""

    @property
    def intact(self) -> bool:
        """Every record hash and seal link holds (staleness aside)."""
        return self.broken_record_seq is None and self.broken_seal_seq is None

    @property
    def failures(self) -> list[str]:
        found = []
        if self.broken_record_seq is not None:
            found.append(BROKEN_RECORD)
        if self.broken_seal_seq is not None:
            found.append(BROKEN_SEAL)
        if self.stale_unsealed_records:
            found.append(STALE_UNSEALED)
        return found

    @property
    def broken(self) -> str | None:
        """The first failure: ``record``, ``seal`` or ``stale_unsealed``."""
        failures = self.failures
        return failures[0] if failures else None

    @property
    def broken_seq(self) -> int | None:
        """The first thing found wrong: a broken record's seq, else a broken seal's, else
        the oldest record that waited too long for a seal."""
        if self.broken_record_seq is not None:
            return self.broken_record_seq
        if self.broken_seal_seq is not None:
            return self.broken_seal_seq
        return self.oldest_stale_seq

    @property
    def stale_reason(self) -> str:
        if not self.stale_unsealed_records:
            return ""
        return (
            f"{self.stale_unsealed_records} record(s) unsealed for more than "
            f"{self.stale_after_seconds}s (oldest #{self.oldest_stale_seq}): is the sealer "
            "running?"
        )

    @property
    def reason(self) -> str:
        return "; ".join(
            part
            for part in (self.broken_record_reason, self.broken_seal_reason, self.stale_reason)
            if part
        )

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": self.ok,
            "records": self.records,
            "seals": self.seals,
            "sealed_records": self.sealed_records,
            "unsealed_records": self.unsealed_records,
            "stale_unsealed_records": self.stale_unsealed_records,
            "stale_after_seconds": self.stale_after_seconds,
            "oldest_unsealed_seq": self.oldest_unsealed_seq,
            "intact": self.intact,
            "failures": self.failures,
        }
        if not self.ok:
            body.update(
                {
                    "seq": self.broken_seq,
                    "broken": self.broken,
                    "broken_record_seq": self.broken_record_seq,
                    "broken_seal_seq": self.broken_seal_seq,
                    "oldest_stale_seq": self.oldest_stale_seq,
                    "reason": self.reason,
                }
            )
        return body

    def summary(self) -> str:
        if self.ok:
            return (
                f"audit ledger OK: {self.records} records, {self.seals} seals, "
                f"{self.sealed_records} sealed, {self.unsealed_records} awaiting a seal "
                f"(none for more than {self.stale_after_seconds}s)"
            )
        parts = []
        if self.broken_record_seq is not None:
            parts.append(f"record #{self.broken_record_seq}: {self.broken_record_reason}")
        if self.broken_seal_seq is not None:
            parts.append(f"seal #{self.broken_seal_seq}: {self.broken_seal_reason}")
        if self.stale_unsealed_records:
            parts.append(self.stale_reason)
        head = "audit ledger BROKEN: " if not self.intact else "audit ledger NOT VERIFIED: "
        return head + "; ".join(parts)


def _first_broken_record(chunk_size: int) -> tuple[int | None, str]:
    columns = ("seq", "record_hash", *HASHED_FIELDS)
    rows = AuditRecord.objects.order_by("seq").values_list(*columns)
    for row in rows.iterator(chunk_size=chunk_size):
        fields = dict(zip(HASHED_FIELDS, row[2:], strict=True))
        if record_hash_of(fields) != row[1]:
            return row[0], "its content does not match its record_hash"
    return None, ""


def _first_broken_seal(chunk_size: int) -> tuple[int | None, str]:
    """(seq of the first broken seal, why) or (None, "").

    Sealers are serialised and a seal commits with its memberships, so bounding both
    streams by the last seal seen first gives them the same view while sealing goes on.
    """
    last_seal = AuditSeal.objects.aggregate(last=Max("seq"))["last"] or 0
    memberships = (
        AuditSealMembership.objects.filter(seal_id__lte=last_seal)
        .order_by("seal_id", "record_id")
        .values_list("seal_id", "record_id", "record__record_hash")
        .iterator(chunk_size=chunk_size)
    )
    seals = (
        AuditSeal.objects.filter(seq__lte=last_seal)
        .order_by("seq")
        .values_list(
            "seq",
            "prev_hash",
            "records_hash",
            "seal_hash",
            "record_count",
            "first_record_seq",
            "last_record_seq",
        )
        .iterator(chunk_size=chunk_size)
    )
    expected_prev = ZERO_HASH
    pending = next(memberships, None)
    for seq, prev_hash, records_hash, seal_hash, count, first, last in seals:
        if pending is not None and pending[0] < seq:
            return seq, f"the membership of record #{pending[1]} names a missing seal"
        digest = hashlib.sha256()
        members: list[int] = []
        while pending is not None and pending[0] == seq:
            digest.update(f"{pending[1]}:{pending[2]}\n".encode())
            members.append(pending[1])
            pending = next(memberships, None)
        if prev_hash != expected_prev:
            return seq, "its prev_hash is not the previous seal's hash"
        if len(members) != count:
            return seq, f"it says {count} records but covers {len(members)}"
        if members and (members[0] != first or members[-1] != last):
            return seq, "its first/last record seq do not match what it covers"
        if digest.hexdigest() != records_hash:
            return seq, "the records it covers no longer hash to its records_hash"
        recomputed = seal_hash_of(
            prev_hash=prev_hash,
            records_hash=records_hash,
            record_count=count,
            first_record_seq=first,
            last_record_seq=last,
        )
        if recomputed != seal_hash:
            return seq, "its seal_hash does not match its fields"
        expected_prev = seal_hash
    return None, ""


def verify_ledger(
    *, chunk_size: int = 2000, stale_after_seconds: int | None = None
) -> LedgerReport:
    """Recompute every record hash and every seal, streaming; report the first break.

    Also counts records no seal covers yet, and those older than ``stale_after_seconds``
    (default: ``settings.CROSSSELL_AUDIT_STALE_AFTER_SECONDS``, 60). Any such stale
    record makes the report not ``ok``: an unsealed record is protected only by its own
    hash, which whoever can write the table can recompute.
    """
    if stale_after_seconds is None:
        stale_after_seconds = stale_threshold_seconds()
    broken_record, record_reason = _first_broken_record(chunk_size)
    broken_seal, seal_reason = _first_broken_seal(chunk_size)
    cutoff = timezone.now() - timedelta(seconds=stale_after_seconds)
    stale = Q(created_at__lt=cutoff)
    stats = AuditRecord.objects.filter(membership__isnull=True).aggregate(
        count=Count("seq"),
        oldest=Min("seq"),
        stale=Count("seq", filter=stale),
        oldest_stale=Min("seq", filter=stale),
    )
    intact = broken_record is None and broken_seal is None
    return LedgerReport(
        ok=intact and not stats["stale"],
        records=AuditRecord.objects.count(),
        seals=AuditSeal.objects.count(),
        sealed_records=AuditSealMembership.objects.count(),
        unsealed_records=stats["count"],
        stale_unsealed_records=stats["stale"],
        stale_after_seconds=stale_after_seconds,
        oldest_unsealed_seq=stats["oldest"],
        oldest_stale_seq=stats["oldest_stale"],
        broken_record_seq=broken_record,
        broken_record_reason=record_reason,
        broken_seal_seq=broken_seal,
        broken_seal_reason=seal_reason,
    )
