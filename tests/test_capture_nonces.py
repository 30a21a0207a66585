"""Liveness nonces: issued for a purpose (and person), spent once, atomically, across processes; the CLI."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from agent.capture import issue_nonce
from agent.cli.main import main
from agent.errors import UnknownPurpose, UserError
from agent.store import MIGRATIONS, Store
from agent.store.nonces import nonce_digest
from tests.audit_helpers import open_target
from tests.policy_cases import NOW, POLICY

ROOT = Path(__file__).resolve().parents[1]


def test_issue_then_spend_once(store: Store) -> None:
    issued = issue_nonce(store, POLICY, purpose="access_control", actor="desk", ttl_seconds=120, now=NOW)
    assert len(issued.nonce) >= 32 and issued.expires_at == NOW + timedelta(seconds=120)
    assert issued.assertion["label"] == "org.facegate.liveness" and issued.assertion["data"]["nonce"] == issued.nonce
    ledger = store.nonces
    assert ledger.status(issued.nonce, purpose="access_control", now=NOW) == "fresh"
    assert ledger.spend({issued.nonce: None}, purpose="access_control", actor="door", session_id="s1", now=NOW).ok
    assert ledger.status(issued.nonce, purpose="access_control", now=NOW) == "spent"
    again = ledger.spend({issued.nonce: None}, purpose="access_control", actor="door", now=NOW)
    assert not again.ok and again.statuses == {issued.nonce: "spent"}
    record = ledger.get(issued.nonce)
    assert record is not None and record.spent_session == "s1" and record.issued_by == "desk"


def test_audit_rows_carry_the_nonce_hash_not_the_nonce(store: Store) -> None:
    issued = issue_nonce(store, POLICY, purpose="mfa", subject_id="alice", actor="desk", ttl_seconds=60, now=NOW)
    store.nonces.spend({issued.nonce: "alice"}, purpose="mfa", actor="door", now=NOW)
    store.nonces.spend({issued.nonce: "alice"}, purpose="mfa", actor="door", now=NOW)  # refused: no row
    rows = store.audit.query(kind="capture_nonce")
    assert [(r.outcome, r.purpose, r.subjects) for r in rows] == [
        ("issued", "mfa", ["alice"]),
        ("spent", "mfa", ["alice"]),
    ]
    assert rows[0].summary["nonce_sha256"] == nonce_digest(issued.nonce)
    assert issued.nonce not in json.dumps([r.model_dump(mode="json") for r in rows])
    assert store.audit.verify().ok


@pytest.mark.parametrize(
    ("purpose", "subject", "at", "status"),
    [
        ("access_control", "alice", NOW, "fresh"),
        ("access_control", "alice", NOW + timedelta(seconds=59), "fresh"),
        ("access_control", "alice", NOW + timedelta(seconds=60), "expired"),
        ("mfa", "alice", NOW, "mismatch"),
        ("access_control", "bob", NOW, "mismatch"),
        ("access_control", None, NOW, "mismatch"),
    ],
)
def test_status_of_a_nonce_bound_to_a_person(store: Store, purpose: str, subject: str | None, at, status: str) -> None:  # type: ignore[no-untyped-def]
    kw = {"subject_id": "alice", "actor": "d", "ttl_seconds": 60, "now": NOW}
    issued = issue_nonce(store, POLICY, purpose="access_control", **kw)  # type: ignore[arg-type]
    assert store.nonces.status(issued.nonce, purpose=purpose, subject_id=subject, now=at) == status
    spent = store.nonces.spend({issued.nonce: subject}, purpose=purpose, actor="door", now=at)
    assert spent.ok == (status == "fresh") and spent.statuses[issued.nonce] == status


def test_unbound_nonce_serves_anyone_for_its_purpose(store: Store) -> None:
    issued = issue_nonce(store, POLICY, purpose="mfa", actor="d", ttl_seconds=60, now=NOW)
    assert store.nonces.status(issued.nonce, purpose="mfa", subject_id="carol", now=NOW) == "fresh"
    assert store.nonces.status("never-issued-0123456789", purpose="mfa", now=NOW) == "unknown"


def test_spending_is_all_or_nothing(store: Store) -> None:
    good = issue_nonce(store, POLICY, purpose="mfa", actor="d", ttl_seconds=60, now=NOW).nonce
    used = issue_nonce(store, POLICY, purpose="mfa", actor="d", ttl_seconds=60, now=NOW).nonce
    assert store.nonces.spend({used: None}, purpose="mfa", actor="d", now=NOW).ok
    result = store.nonces.spend({good: None, used: None}, purpose="mfa", actor="d", now=NOW)
    assert not result.ok and result.statuses == {good: "fresh", used: "spent"}
    assert store.nonces.status(good, purpose="mfa", now=NOW) == "fresh"  # rolled back with the rest


def test_bad_issues_write_nothing(store: Store) -> None:
    with pytest.raises(UnknownPurpose):
        issue_nonce(store, POLICY, purpose="moon_landing", actor="d", ttl_seconds=60)
    with pytest.raises(UserError, match=r"1\.\.86400"):
        issue_nonce(store, POLICY, purpose="mfa", actor="d", ttl_seconds=0)
    with pytest.raises(UserError, match="invalid subject id"):
        issue_nonce(store, POLICY, purpose="mfa", actor="d", ttl_seconds=60, subject_id="a b")
    assert store.audit.query(kind="capture_nonce") == []


def test_migration_4_adds_the_nonce_table_to_an_existing_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
    for number, statements in MIGRATIONS[:3]:
        for statement in statements:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (?, 'then')", (number,))
    conn.commit()
    conn.close()
    with Store.open(path) as store:
        assert store.schema_version() >= 4
        issued = issue_nonce(store, POLICY, purpose="mfa", actor="d", ttl_seconds=60)
        assert store.nonces.status(issued.nonce, purpose="mfa") == "fresh"


_RACER = """
import sys, time, json
sys.path.insert(0, {root!r})
from tests.audit_helpers import open_target
store = open_target(sys.argv[1])
start = float(sys.argv[3])
while time.time() < start:
    pass
result = store.nonces.spend({{sys.argv[2]: None}}, purpose="mfa", actor=sys.argv[4])
print(json.dumps(result.ok))
store.close()
"""


def test_of_several_processes_presenting_one_nonce_exactly_one_wins(target: str) -> None:
    path = target
    with open_target(path) as store:
        nonce = issue_nonce(store, POLICY, purpose="mfa", actor="desk", ttl_seconds=120).nonce
    start = time.time() + 1.5  # every process is up and spinning when the gun goes
    code = _RACER.format(root=str(ROOT))
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(path), nonce, str(start), f"door{i}"], stdout=subprocess.PIPE)
        for i in range(4)
    ]
    outs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert sorted(outs) == [False, False, False, True]
    with open_target(path) as store:
        spent = [r for r in store.audit.query(kind="capture_nonce") if r.outcome == "spent"]
        assert len(spent) == 1 and store.audit.verify().ok


# --- the command line -----------------------------------------------------------------------------------


def test_capture_nonce_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = ["--home", str(tmp_path)]
    assert main([*home, "capture", "nonce", "--purpose", "access_control", "--subject", "alice", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["purpose"] == "access_control" and out["subject_id"] == "alice"
    assert out["assertion"] == {
        "label": "org.facegate.liveness",
        "data": {"version": 1, "nonce": out["nonce"], "result": "pass", "method": "<your liveness method>"},
    }
    assert main([*home, "capture", "nonce", "--purpose", "mfa", "--ttl", "30"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and "org.facegate.liveness" in lines[2]
    with Store.open(tmp_path / "facegate.db") as store:
        assert store.nonces.status(out["nonce"], purpose="access_control", subject_id="alice") == "fresh"
        assert store.nonces.status(lines[0], purpose="mfa") == "fresh"
        record = store.nonces.get(lines[0])
        assert record is not None and record.expires_at - record.issued_at == timedelta(seconds=30)


@pytest.mark.parametrize(
    ("argv", "code", "fragment"),
    [
        (["--purpose", "moon_landing"], 2, "unknown_purpose"),
        (["--purpose", "mfa", "--ttl", "0"], 2, "1<=x<=86400"),
        (["--purpose", "mfa", "--subject", "a b"], 2, "invalid subject id"),
        ([], 2, "usage_error"),
    ],
)
def test_capture_nonce_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], code: int, fragment: str
) -> None:
    try:
        got = main(["--home", str(tmp_path), "capture", "nonce", *argv])
    except SystemExit as exc:  # argparse usage errors
        got = int(exc.code or 0)
    err = capsys.readouterr().err
    assert got == code and fragment in err and len(err.strip().splitlines()) == 1
