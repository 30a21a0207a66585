"""The audit chain: appends, queries, every kind of tampering, concurrent writers and a killed writer, on SQLite
and on PostgreSQL (``target`` is a SQLite file's path or a PostgreSQL URL: see tests/db_fixtures.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.cli.main import main
from agent.errors import AuditIntegrityError
from agent.store import GENESIS_HASH, AuditEvent, Store, canonical_json, chain_hash
from tests.audit_helpers import event, fill, open_target, raw

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def db(target: str) -> str:
    fill(target, 10, batch=3)
    return target


def verify(path: str | Path, **kw):  # type: ignore[no-untyped-def]
    store = open_target(path)
    try:
        return store.audit.verify(**kw)
    finally:
        store.close()


def test_intact_log_verifies_and_chains(db: str) -> None:
    report = verify(db)
    assert (report.ok, report.rows, report.first_bad_seq) == (True, 10, None)
    rows = raw(db).execute("SELECT seq, body, prev_hash, row_hash FROM audit_log ORDER BY seq").fetchall()
    prev = GENESIS_HASH
    for _seq, body, prev_hash, row_hash in rows:
        assert prev_hash == prev and row_hash == chain_hash(prev, body)
        prev = row_hash
    assert report.head_hash == prev


def test_sql_updates_and_deletes_are_refused(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "facegate.db"  # SQLite here; PostgreSQL's triggers: tests/test_store_migrations.py
    fill(db, 10)
    conn = sqlite3.connect(db)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit_log SET actor = 'x' WHERE seq = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit_log WHERE seq = 1")


def _swap(conn, a: int, b: int) -> None:  # type: ignore[no-untyped-def]
    cols = "ts, kind, actor, session_id, subjects, body, prev_hash, row_hash"
    ra = conn.execute(f"SELECT {cols} FROM audit_log WHERE seq = ?", (a,)).fetchone()
    rb = conn.execute(f"SELECT {cols} FROM audit_log WHERE seq = ?", (b,)).fetchone()
    sets = ", ".join(f"{c.strip()} = ?" for c in cols.split(","))
    conn.execute(f"UPDATE audit_log SET {sets} WHERE seq = ?", (*rb, a))
    conn.execute(f"UPDATE audit_log SET {sets} WHERE seq = ?", (*ra, b))


TAMPERING = {
    "edited body": ("UPDATE audit_log SET body = replace(body, '\"allow\"', '\"deny\"') WHERE seq = 5", 5, "edited"),
    "edited column": ("UPDATE audit_log SET actor = 'mallory' WHERE seq = 5", 5, "columns"),
    "edited subjects column": ("UPDATE audit_log SET subjects = '[\"bob\"]' WHERE seq = 4", 4, "columns"),
    "edited row hash": ("UPDATE audit_log SET row_hash = 'ab' || substr(row_hash, 3) WHERE seq = 5", 5, "edited"),
    "edited prev hash": ("UPDATE audit_log SET prev_hash = row_hash WHERE seq = 3", 3, "chain"),
    "deleted middle row": ("DELETE FROM audit_log WHERE seq = 5", 6, "missing"),
    "deleted first row": ("DELETE FROM audit_log WHERE seq = 1", 2, "missing"),
    "deleted and renumbered": (
        "DELETE FROM audit_log WHERE seq = 5; UPDATE audit_log SET seq = seq - 1 WHERE seq > 5",
        5,
        "chain",
    ),
    "truncated tail": ("DELETE FROM audit_log WHERE seq > 7", 8, "truncated"),
    "everything deleted": ("DELETE FROM audit_log", 1, "truncated"),
    "head row deleted": ("DELETE FROM audit_head", None, "head"),
    "forged row appended": (
        "INSERT INTO audit_log SELECT 11, ts, kind, actor, session_id, subjects, body, row_hash, row_hash "
        "FROM audit_log WHERE seq = 10",
        11,
        "",
    ),
}


@pytest.mark.parametrize("name", list(TAMPERING))
def test_tampering_is_detected_and_located(db: str, name: str) -> None:
    sql, bad, problem = TAMPERING[name]
    conn = raw(db)
    for statement in sql.split("; "):
        conn.execute(statement)
    conn.close()
    report = verify(db)
    assert not report.ok
    assert report.first_bad_seq == bad, report.problem
    assert problem in (report.problem or ""), report.problem


def test_reordered_rows_are_detected(db: str) -> None:
    conn = raw(db)
    _swap(conn, 4, 5)
    conn.close()
    report = verify(db)
    assert not report.ok and report.first_bad_seq == 4


def test_truncation_hidden_by_rewriting_the_head_needs_the_anchor(db: str) -> None:
    anchor = verify(db).head_hash
    conn = raw(db)
    conn.execute("DELETE FROM audit_log WHERE seq > 7")
    conn.execute("UPDATE audit_head SET count = 7, last_hash = (SELECT row_hash FROM audit_log WHERE seq = 7)")
    conn.close()
    assert verify(db).ok  # locally consistent: only an external anchor can tell
    report = verify(db, expect_head=anchor)
    assert not report.ok and "anchored" in (report.problem or "")


def test_full_rewrite_is_caught_by_the_anchor(db: str) -> None:
    anchor = verify(db).head_hash
    conn = raw(db)
    prev = GENESIS_HASH
    for seq, body in conn.execute("SELECT seq, body FROM audit_log ORDER BY seq").fetchall():
        import json

        data = json.loads(body)
        data["outcome"] = "deny"
        body = canonical_json(data)
        row_hash = chain_hash(prev, body)
        conn.execute(
            "UPDATE audit_log SET body = ?, prev_hash = ?, row_hash = ? WHERE seq = ?", (body, prev, row_hash, seq)
        )
        prev = row_hash
    conn.execute("UPDATE audit_head SET last_hash = ?", (prev,))
    conn.close()
    assert verify(db).ok
    assert not verify(db, expect_head=anchor).ok


def test_anchor_of_an_earlier_head_still_verifies_after_growth(target: str) -> None:
    path = target
    fill(path, 5)
    anchor = verify(path).head_hash
    store = open_target(path)
    store.audit.append(event(99))
    store.close()
    assert verify(path, expect_head=anchor).ok
    assert not verify(path, expect_head="f" * 64).ok


def test_append_refuses_to_extend_a_damaged_chain(db: str) -> None:
    conn = raw(db)
    conn.execute("DELETE FROM audit_log WHERE seq > 7")
    conn.close()
    store = open_target(db)
    with pytest.raises(AuditIntegrityError):
        store.audit.append(event(1))
    store.close()


def test_cli_verify_exit_codes_and_first_bad_row(
    target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if target.startswith("postgresql://"):
        monkeypatch.setenv("FACEGATE_DATABASE_URL", target)  # the command finds the store where a worker would
    fill(target, 6)
    assert main(["--home", str(tmp_path), "audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "6 rows" in out
    head = out.split("head ")[1].split()[0]
    assert main(["--home", str(tmp_path), "audit", "head"]) == 0
    assert capsys.readouterr().out.strip() == head
    assert main(["--home", str(tmp_path), "audit", "verify", "--expect-head", head]) == 0
    conn = raw(target)
    conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
    conn.close()
    code = main(["--home", str(tmp_path), "audit", "verify"])
    err = capsys.readouterr().err
    assert code == AuditIntegrityError.exit_code != 0
    assert "row 3" in err and len(err.strip().splitlines()) == 1


def test_query_filters(store: Store) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for i, (subject, session) in enumerate([("alice", "s1"), ("bob", "s1"), ("alice", "s2"), ("carol", None)]):
        store.audit.append(
            event(i, subject=subject, session=session).model_copy(update={"ts": t0 + timedelta(hours=i)})
        )
    assert [e.seq for e in store.audit.query(subject="alice")] == [1, 3]
    assert [e.seq for e in store.audit.query(session="s1")] == [1, 2]
    assert [e.seq for e in store.audit.query(since=t0 + timedelta(hours=1), until=t0 + timedelta(hours=2))] == [2, 3]
    assert [e.seq for e in store.audit.query(limit=2)] == [3, 4]
    assert store.audit.query(kind="erasure") == []
    assert store.audit.query(subject="ali") == []  # exact subject match, not a substring


def test_summaries_refuse_pixels_and_embeddings() -> None:
    with pytest.raises(ValidationError):
        AuditEvent(kind="tool_run", actor="a", summary={"image": b"\x89PNG"})
    with pytest.raises(ValidationError):
        AuditEvent(kind="tool_run", actor="a", summary={"embedding": [0.1] * 128})
    with pytest.raises(ValidationError):
        AuditEvent(kind="tool_run", actor="a", summary={"b64": "A" * 10_000})


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); {code}"]


def test_two_processes_writing_at_once_lose_no_row(target: str) -> None:
    path = target  # not created beforehand: both processes race to create and migrate it
    n = 150
    code = "from tests.audit_helpers import append_n; append_n(sys.argv[1], sys.argv[2], int(sys.argv[3]))"
    procs = [subprocess.Popen([*_python(code), str(path), tag, str(n)]) for tag in ("p1", "p2")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    report = verify(path)
    assert report.ok and report.rows == 2 * n
    store = open_target(path)
    assert len(store.audit.query(session="p1")) == n and len(store.audit.query(session="p2")) == n
    store.close()


@pytest.mark.parametrize("after_rows", [20, 120])
def test_writer_killed_mid_write_leaves_a_verifiable_log(target: str, after_rows: int) -> None:
    path = target
    open_target(path).close()
    code = "from tests.audit_helpers import append_forever; append_forever(sys.argv[1], 'k')"
    proc = subprocess.Popen([*_python(code), str(path)])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            watcher = open_target(path)
            count, _ = watcher.audit.head()
            watcher.close()
            if count >= after_rows:
                break
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    report = verify(path)
    assert report.ok, report.problem
    assert report.rows >= after_rows
    store = open_target(path)
    grants = store.audit.query(kind="consent_grant")
    # every consent row has its audit row and vice versa (same transaction)
    assert len(grants) == len(store.list_subjects())
    store.audit.append(event(1))  # the log stays appendable
    store.close()
    assert verify(path).ok
