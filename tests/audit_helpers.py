"""Helpers for audit tests and the 10,000-row benchmark (``python -m tests.audit_helpers N``)."""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path

from agent.store import AuditEvent, Store


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


def fill(path: Path, n: int, *, batch: int = 1000) -> None:
    store = Store.open(path)
    try:
        for start in range(0, n, batch):
            store.audit.append_many(event(i) for i in range(start, min(n, start + batch)))
    finally:
        store.close()


def raw(path: Path) -> sqlite3.Connection:
    """A plain connection with the append-only triggers dropped: what someone holding the file can do."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    return conn


def append_forever(path: str, tag: str) -> None:
    """Used by the kill test: append (and grant consents) until killed."""
    from agent.policy import Capability, Evidence
    from agent.store import ConsentGrant

    store = Store.open(Path(path))
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


def append_n(path: str, tag: str, n: int) -> None:
    store = Store.open(Path(path))
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
