"""A write that SQLite refuses (at a statement or at COMMIT) surfaces as one typed StoreError and loses nothing.

Real failures, no mocks: a full file system (a 256 KiB tmpfs, when this process may mount one), SQLite's own
page limit (``PRAGMA max_page_count``, which fails the same way everywhere), and a deferred foreign-key
violation that only COMMIT detects. Before the fix, a COMMIT on a full disk was followed by a ROLLBACK that
raised "cannot rollback - no transaction is active": a bare sqlite3 traceback instead of the typed error.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.errors import StoreError
from agent.store import AuditEvent, Store
from agent.store.db import Database


def _event(n: int) -> AuditEvent:
    # a large-ish summary so that each append needs fresh pages (the point is to run out of them)
    return AuditEvent(kind="decision", actor="test", outcome="allow", rule_id="consent.active",
                      summary={"n": n, "pad": [f"{n}-{i}-" + "x" * 1000 for i in range(6)]})  # fmt: skip


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tiny"
    mount.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=384k", "tmpfs", str(mount)],
                              capture_output=True, check=False)  # fmt: skip
    except FileNotFoundError:
        pytest.skip("no mount command here")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_at_commit_is_a_store_error_and_the_log_stays_intact(tiny_fs: Path) -> None:
    store = Store.open(tiny_fs / "facegate.db")
    appended = 0
    with pytest.raises(StoreError) as info:
        for n in range(1000):
            store.audit.append(_event(n))
            appended += 1
    assert "full" in str(info.value)
    assert appended > 0  # some rows went in before the disk filled up
    report = store.audit.verify()
    assert report.ok, report.problem
    assert report.rows == appended  # the refused row left nothing behind, the others are all there
    assert not store._db.conn.in_transaction
    store.close()


def test_running_out_of_pages_mid_transaction_is_a_store_error_and_the_store_keeps_working(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "facegate.db")
    store.audit.append(_event(0))
    conn = store._db.conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count={pages + 2}")
    with pytest.raises(StoreError, match="full"), store.transaction():
        for n in range(1, 50):
            store.audit.append(_event(n))
    assert not conn.in_transaction
    conn.execute("PRAGMA max_page_count=1073741823")
    store.audit.append(_event(99))  # the connection is usable again
    report = store.audit.verify()
    assert report.ok, report.problem
    assert report.rows == 2  # the first row and the last: the whole failed transaction was undone
    store.close()


def test_a_constraint_only_commit_detects_is_a_store_error_and_nothing_of_the_transaction_stays(
    tmp_path: Path,
) -> None:
    db = Database(tmp_path / "x.db")
    db.conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    db.conn.execute("CREATE TABLE child (parent_id INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)")
    with db.transaction() as conn:
        conn.execute("INSERT INTO parent VALUES (1)")
        conn.execute("INSERT INTO child VALUES (1)")
    with pytest.raises(StoreError, match="commit failed"), db.transaction() as conn:
        conn.execute("INSERT INTO parent VALUES (2)")
        conn.execute("INSERT INTO child VALUES (99)")  # no parent 99: detected only at COMMIT
    assert not db.conn.in_transaction
    assert db.conn.execute("SELECT id FROM parent ORDER BY id").fetchall() == [(1,)]
    assert db.conn.execute("SELECT parent_id FROM child").fetchall() == [(1,)]
    db.close()


def test_a_statement_error_inside_a_transaction_is_typed_and_other_errors_pass_through(tmp_path: Path) -> None:
    db = Database(tmp_path / "x.db")
    db.conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    with pytest.raises(StoreError, match="write failed"), db.transaction() as conn:
        conn.execute("INSERT INTO t VALUES (1)")
        conn.execute("INSERT INTO t VALUES (1)")  # duplicate key
    marker = f"boom-{uuid.uuid4()}"
    with pytest.raises(KeyError, match=marker), db.transaction() as conn:
        conn.execute("INSERT INTO t VALUES (2)")
        raise KeyError(marker)
    assert db.conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0
    db.close()
