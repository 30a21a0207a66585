"""Liveness nonces: issued for a purpose (and optionally a person), spent exactly once.

A capture app puts the nonce in its signed ``org.facegate.liveness`` assertion; the policy accepts the capture only
while the nonce is fresh, and the allow that rests on it spends it. Spending is one conditional ``UPDATE`` inside
a write transaction: of two processes presenting the same capture at once, exactly one wins; the other sees
``spent`` (a replay). Issuing and spending write their audit rows in the same transaction; the audit rows carry
the nonce's sha256, not the nonce.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from agent.clock import iso, parse_iso, utcnow
from agent.errors import UserError
from agent.policy.models import NonceStatus
from agent.store.backend import Backend
from agent.store.writer import AuditWriter

_COLS = "nonce, purpose, subject_id, issued_at, expires_at, issued_by, spent_at, spent_session"
MAX_TTL_S = 86_400


class CaptureNonce(BaseModel):
    """A nonce as stored."""

    model_config = ConfigDict(frozen=True)

    nonce: str
    purpose: str
    subject_id: str | None
    issued_at: datetime
    expires_at: datetime
    issued_by: str
    spent_at: datetime | None = None
    spent_session: str | None = None

    def status(self, *, purpose: str, subject_id: str | None, now: datetime) -> NonceStatus:
        """What this nonce is worth for a capture presented for ``purpose`` (and ``subject_id``) at ``now``."""
        if self.spent_at is not None:
            return "spent"
        if self.expires_at <= now:
            return "expired"
        if self.purpose != purpose or (self.subject_id is not None and self.subject_id != subject_id):
            return "mismatch"
        return "fresh"


class SpendResult(BaseModel):
    """``ok``: every nonce was spent now. Otherwise none was, and ``statuses`` says why."""

    ok: bool
    statuses: dict[str, NonceStatus]


class _NotSpendable(Exception):
    """Rolls the spend transaction back (all or nothing)."""


def nonce_digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode("utf-8")).hexdigest()


class NonceLedger:
    """The ``capture_nonces`` table of one database (``Store.nonces``)."""

    def __init__(self, db: Backend, writer: AuditWriter) -> None:
        self._db = db
        self._writer = writer

    def issue(
        self,
        *,
        purpose: str,
        ttl_seconds: int,
        actor: str,
        subject_id: str | None = None,
        session_id: str | None = None,
        now: datetime | None = None,
    ) -> CaptureNonce:
        """Issue a fresh nonce (and its audit row, in one transaction). The caller checks the purpose exists."""
        if not 1 <= ttl_seconds <= MAX_TTL_S:
            raise UserError(f"a nonce lives 1..{MAX_TTL_S} seconds, not {ttl_seconds}", ttl_seconds=ttl_seconds)
        now = now or utcnow()
        record = CaptureNonce(
            nonce=secrets.token_urlsafe(24),
            purpose=purpose,
            subject_id=subject_id,
            issued_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
            issued_by=actor,
        )
        with self._db.transaction() as conn:
            conn.execute(
                f"INSERT INTO capture_nonces ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
                (
                    record.nonce,
                    purpose,
                    subject_id,
                    iso(record.issued_at),
                    iso(record.expires_at),
                    actor,
                ),
            )
            self._writer.nonce_issued(
                actor=actor,
                session_id=session_id,
                purpose=purpose,
                subject_id=subject_id,
                nonce_sha256=nonce_digest(record.nonce),
                expires_at=record.expires_at,
                ts=now,
            )
        return record

    def get(self, nonce: str) -> CaptureNonce | None:
        with self._db.reading() as conn:
            row = conn.execute(f"SELECT {_COLS} FROM capture_nonces WHERE nonce = ?", (nonce,)).fetchone()
        return None if row is None else _from_row(row)

    def status(
        self, nonce: str, *, purpose: str, subject_id: str | None = None, now: datetime | None = None
    ) -> NonceStatus:
        """Look without spending (before ``decide()``): fresh, spent, expired, mismatch or unknown."""
        record = self.get(nonce)
        if record is None:
            return "unknown"
        return record.status(purpose=purpose, subject_id=subject_id, now=now or utcnow())

    def spend(
        self,
        presented: Mapping[str, str | None],
        *,
        purpose: str,
        actor: str,
        session_id: str | None = None,
        now: datetime | None = None,
    ) -> SpendResult:
        """Spend every nonce now, or none of them (one transaction, with its audit row).

        Args:
            presented: each nonce -> the subject its capture is presented for (None: nobody claimed).
        """
        now = now or utcnow()
        statuses: dict[str, NonceStatus] = {}
        try:
            with self._db.transaction() as conn:
                for nonce, subject_id in presented.items():
                    # The whole check is in the WHERE clause: whoever's UPDATE lands first spends it.
                    spent = conn.execute(
                        "UPDATE capture_nonces SET spent_at = ?, spent_session = ? WHERE nonce = ? "
                        "AND spent_at IS NULL AND expires_at > ? AND purpose = ? "
                        "AND (subject_id IS NULL OR subject_id = ?)",
                        (iso(now), session_id, nonce, iso(now), purpose, subject_id),
                    ).rowcount
                    if spent == 1:
                        statuses[nonce] = "fresh"
                        continue
                    row = conn.execute(f"SELECT {_COLS} FROM capture_nonces WHERE nonce = ?", (nonce,)).fetchone()
                    statuses[nonce] = (
                        "unknown"
                        if row is None
                        else _from_row(row).status(purpose=purpose, subject_id=subject_id, now=now)
                    )
                if any(s != "fresh" for s in statuses.values()):
                    raise _NotSpendable
                self._writer.nonces_spent(
                    actor=actor,
                    session_id=session_id,
                    purpose=purpose,
                    subjects=presented.values(),
                    nonce_sha256=[nonce_digest(n) for n in presented],
                    ts=now,
                )
        except _NotSpendable:
            return SpendResult(ok=False, statuses=statuses)
        return SpendResult(ok=True, statuses=statuses)


def _from_row(row: Sequence[Any]) -> CaptureNonce:
    return CaptureNonce(
        nonce=row[0],
        purpose=row[1],
        subject_id=row[2],
        issued_at=parse_iso(row[3]),  # type: ignore[arg-type]
        expires_at=parse_iso(row[4]),  # type: ignore[arg-type]
        issued_by=row[5],
        spent_at=parse_iso(row[6]),
        spent_session=row[7],
    )
