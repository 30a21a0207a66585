"""Helpers for audit tests and the 10,000-row benchmark (``python -m tests.audit_helpers N``).

A *target* is where the store is, as a string a child process can be handed: a SQLite file's path or a
``postgresql://`` URL (tests/db_fixtures.py makes one per test for each backend).
"""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from agent.store import AuditEvent, Store

# Every trigger that keeps the log append-only (SQLite migration 2, PostgreSQL migration 2): dropped by `raw`.
_TRIGGERS = {
    "audit_log": ("audit_log_no_update", "audit_log_no_delete", "audit_log_no_truncate", "audit_log_extends_head"),
    "audit_head": ("audit_head_no_delete", "audit_head_no_truncate", "audit_head_moves_forward"),
}


def is_url(target: str | Path) -> bool:
    return str(target).startswith(("postgresql://", "postgres://"))


def open_target(target: str | Path) -> Store:
    return Store.connect(str(target)) if is_url(target) else Store.open(Path(target))


def event(i: int, *, subject: str = "alice", session: str | None = "s1") -> AuditEvent:
    return AuditEvent(
        kind="decision",
        actor="tester",
        session_id=session,
        purpose="customer_service",
        subjects=[subject],
        capability="face_verification",
        outcome="allow",
        rule_id="consent.active",
        policy_hash="p" * 64,
        input_hashes=[f"{i:064x}"],
        summary={"i": i},
    )


def fill(target: str | Path, n: int, *, batch: int = 1000) -> None:
    store = open_target(target)
    try:
        for start in range(0, n, batch):
            store.audit.append_many(event(i) for i in range(start, min(n, start + batch)))
    finally:
        store.close()


def raw(target: str | Path) -> Any:
    """A plain connection (autocommit, ``?`` placeholders) with the append-only triggers dropped: what someone
    holding the file, or the tables' owner role, can do."""
    if is_url(target):
        import psycopg

        from agent.store.postgres import _Connection

        pg = psycopg.connect(str(target), autocommit=True)
        for table, names in _TRIGGERS.items():
            for name in names:
                pg.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        return _RawPostgres(pg, _Connection(pg))
    lite = sqlite3.connect(target, isolation_level=None)
    for name in _TRIGGERS["audit_log"]:
        lite.execute(f"DROP TRIGGER IF EXISTS {name}")
    return lite


class _RawPostgres:
    def __init__(self, pg: Any, conn: Any) -> None:
        self._pg, self._conn = pg, conn

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self._conn.execute(sql, params)

    def close(self) -> None:
        self._pg.close()


def append_forever(target: str, tag: str) -> None:
    """Used by the kill test: append (and grant consents) until killed."""
    from agent.policy import Capability, Evidence
    from agent.store import ConsentGrant

    store = open_target(target)
    i = 0
    while True:
        if i % 5 == 0:
            store.grant_consent(
                ConsentGrant(
                    subject_id=f"{tag}{i}",
                    capabilities=frozenset({Capability.FACE_VERIFICATION}),
                    purposes=frozenset({"customer_service"}),
                    notice="v1",
                    evidence=Evidence(method="m", recorded_by="r"),
                    term_days=1,
                ),
                actor=tag,
            )
        else:
            store.audit.append(event(i, subject=tag))
        i += 1


def append_n(target: str, tag: str, n: int) -> None:
    store = open_target(target)
    for i in range(n):
        store.audit.append(event(i, subject=tag, session=tag))
    store.close()


if __name__ == "__main__":  # pragma: no cover - benchmark entry point
    import tempfile

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        t0 = time.perf_counter()
        fill(db, n)
        t1 = time.perf_counter()
        store = Store.open(db)
        report = store.audit.verify()
        store.close()
        t2 = time.perf_counter()
        print(
            f"rows={report.rows} ok={report.ok} fill_s={t1 - t0:.2f} verify_ms={report.elapsed_ms:.1f} "
            f"open+verify_ms={(t2 - t1) * 1000:.1f}"
        )
