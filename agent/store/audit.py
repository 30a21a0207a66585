"""The audit log: append-only, hash-chained, with a head row that makes truncation visible.

Each row's ``body`` is the canonical JSON of the event plus its ``seq`` and ``ts``;
``row_hash = sha256(prev_hash || body)``. The previous hash is read inside the same transaction that inserts the
row and moves ``audit_head`` (SQLite: under ``BEGIN IMMEDIATE``; PostgreSQL: with the head row locked ``FOR
UPDATE``), so concurrent writers, in any number of processes, never fork the chain, and a killed writer leaves
either the whole row or nothing. Rows never hold pixels or embeddings.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from agent.clock import iso, utcnow
from agent.store.backend import Backend, Connection
from agent.store.migrations import GENESIS_HASH
from agent.store.models import AuditEntry, AuditEvent, AuditKind, AuditVerifyReport


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def chain_hash(prev_hash: str, body: str) -> str:
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


_INDEXED = ("ts", "kind", "actor", "session_id", "subjects")


class AuditLog:
    """Appends, verifies and queries the audit chain of one database."""

    def __init__(self, db: Backend) -> None:
        self._db = db

    def append(self, event: AuditEvent) -> AuditEntry:
        """Append one event in its own transaction (or the caller's, when one is open)."""
        with self._db.transaction() as conn:
            return self._append_locked(conn, event)

    def append_many(self, events: Iterable[AuditEvent]) -> list[AuditEntry]:
        """Append several events in one transaction (all or none)."""
        with self._db.transaction() as conn:
            return [self._append_locked(conn, e) for e in events]

    def _append_locked(self, conn: Connection, event: AuditEvent) -> AuditEntry:
        count, prev_hash = conn.execute(
            f"SELECT count, last_hash FROM audit_head WHERE id = 1{self._db.dialect.lock_head}"
        ).fetchone()
        last = conn.execute("SELECT seq, row_hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        if (last is None and count != 0) or (last is not None and (last[0] != count or last[1] != prev_hash)):
            # Never extend a chain whose head disagrees with its rows: that would bury the damage.
            from agent.errors import AuditIntegrityError

            raise AuditIntegrityError(
                f"audit head (count {count}) disagrees with the log's last row; run `facegate audit verify`"
            )
        seq = count + 1
        ts = event.ts or utcnow()
        fields = event.model_dump(mode="json", exclude={"ts"})
        fields.update(seq=seq, ts=iso(ts))
        body = canonical_json(fields)
        row_hash = chain_hash(prev_hash, body)
        conn.execute(
            "INSERT INTO audit_log (seq, ts, kind, actor, session_id, subjects, body, prev_hash, row_hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                seq,
                fields["ts"],
                event.kind,
                event.actor,
                event.session_id,
                canonical_json(event.subjects),
                body,
                prev_hash,
                row_hash,
            ),
        )
        conn.execute("UPDATE audit_head SET count = ?, last_hash = ? WHERE id = 1", (seq, row_hash))
        return AuditEntry(**{**fields, "ts": ts}, prev_hash=prev_hash, row_hash=row_hash)

    def head(self) -> tuple[int, str]:
        """(row count, last row hash) as recorded in the head row."""
        with self._db.reading() as conn:
            row = conn.execute("SELECT count, last_hash FROM audit_head WHERE id = 1").fetchone()
        if row is None:
            return (-1, "")
        return int(row[0]), str(row[1])

    def verify(self, *, expect_head: str | None = None) -> AuditVerifyReport:
        """Walk the chain; report the first row edited, deleted or reordered, or where truncation begins.

        Args:
            expect_head: a head hash anchored earlier outside the database; the chain must still contain it.
        """
        started = time.perf_counter()

        def report(
            ok: bool, rows: int, head: str, bad: int | None = None, problem: str | None = None
        ) -> AuditVerifyReport:
            return AuditVerifyReport(
                ok=ok,
                rows=rows,
                first_bad_seq=bad,
                problem=problem,
                head_hash=head,
                elapsed_ms=round((time.perf_counter() - started) * 1000, 3),
            )

        with self._db.snapshot() as conn:  # a consistent view even while other processes append
            head_row = conn.execute("SELECT count, last_hash FROM audit_head WHERE id = 1").fetchone()
            rows = conn.execute(
                "SELECT seq, ts, kind, actor, session_id, subjects, body, prev_hash, row_hash "
                "FROM audit_log ORDER BY seq"
            ).fetchall()

        prev = GENESIS_HASH
        expected = 1
        seen_anchor = expect_head is None or expect_head == GENESIS_HASH
        for seq, ts, kind, actor, session_id, subjects, body, prev_hash, row_hash in rows:
            if seq != expected:
                return report(
                    False,
                    expected - 1,
                    prev,
                    seq,
                    f"row {seq} follows row {expected - 1}: rows {expected}..{seq - 1} are missing",
                )
            if prev_hash != prev:
                return report(
                    False,
                    expected - 1,
                    prev,
                    seq,
                    f"row {seq} does not chain to row {seq - 1} (rows deleted, inserted or reordered)",
                )
            if chain_hash(prev_hash, body) != row_hash:
                return report(False, expected - 1, prev, seq, f"row {seq} was edited (its hash does not match)")
            try:
                data = json.loads(body)
            except ValueError:
                return report(False, expected - 1, prev, seq, f"row {seq} body is not JSON")
            columns = {"ts": ts, "kind": kind, "actor": actor, "session_id": session_id}
            if (
                data.get("seq") != seq
                or any(data.get(k) != v for k, v in columns.items())
                or canonical_json(data.get("subjects")) != subjects
            ):
                return report(
                    False,
                    expected - 1,
                    prev,
                    seq,
                    f"row {seq} columns were edited (they disagree with its hashed body)",
                )
            prev = row_hash
            expected += 1
            if not seen_anchor and row_hash == expect_head:
                seen_anchor = True
        n = expected - 1
        if head_row is None:
            return report(False, n, prev, None, "the audit head row is missing")
        head_count, head_hash = int(head_row[0]), str(head_row[1])
        if head_count != n or head_hash != prev:
            if head_count > n:
                return report(
                    False,
                    n,
                    prev,
                    n + 1,
                    f"log truncated: the head records {head_count} rows, {n} remain (from row {n + 1})",
                )
            return report(
                False,
                n,
                prev,
                min(head_count + 1, n) if n else None,
                f"the audit head (count {head_count}) does not match the log ({n} rows)",
            )
        if not seen_anchor:
            return report(
                False,
                n,
                prev,
                None,
                "the anchored head hash is not in the chain (the log was rewritten or truncated)",
            )
        return report(True, n, prev)

    def query(
        self,
        *,
        subject: str | None = None,
        session: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        kind: AuditKind | None = None,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        """Entries matching every filter given, oldest first; ``limit`` keeps the most recent ones.

        Raises:
            UserError: ``limit`` is not positive (SQLite would read a negative limit as "no limit").
        """
        if limit is not None and int(limit) < 1:
            from agent.errors import UserError

            raise UserError(f"limit must be a positive number of rows, not {limit}")
        where: list[str] = []
        params: list[str | int] = []
        if subject is not None:
            where.append(self._db.dialect.subject_in_list)
            params.append(subject)
        if session is not None:
            where.append("session_id = ?")
            params.append(session)
        if since is not None:
            where.append("ts >= ?")
            params.append(iso(since))
        if until is not None:
            where.append("ts <= ?")
            params.append(iso(until))
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        sql = "SELECT body, prev_hash, row_hash FROM audit_log"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._db.reading() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [AuditEntry(**json.loads(body), prev_hash=p, row_hash=h) for body, p, h in reversed(rows)]
