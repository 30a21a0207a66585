"""Several workers, one truth: real worker processes (tests/worker_proc.py) on one real PostgreSQL database.

Four workers write at once and the chain neither forks nor loses a row; a revocation through one worker applies
at the very next step of a turn running on another; an erasure through one deletes the threads others created;
a conversation started on one worker goes on, or resumes from its consent pause, on another by thread id.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.store import Store
from tests.fakes import FakeFaceEngine
from tests.multiworker import WorkerProc, start_workers, stress

VERIFY = ["call", "verify_faces", {"image_a": "img1", "image_b": "img2"}]


@pytest.fixture(scope="module")
def shared(postgres: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    yield postgres.new_schema(), tmp_path_factory.mktemp("workers")


@pytest.fixture(scope="module")
def workers(shared: tuple[str, Path]) -> Iterator[dict[str, WorkerProc]]:
    url, home = shared
    procs = start_workers(["A", "B", "C"], home, url)
    yield {w.name: w for w in procs}
    for w in procs:
        w.close()


def _photos(folder: Path, person: str, n: int = 2) -> list[dict[str, str]]:
    """Photo files of ``person`` that every worker can attach (the parent makes them, the workers read them)."""
    engine = FakeFaceEngine()
    out = []
    for i in range(n):
        path = folder / f"{person}-{i}.png"
        if not path.exists():
            path.write_bytes(engine.photo(person, variant=i))
        out.append({"path": str(path), "person": person, "subject": person})
    return out


def _checkpointed_threads(url: str) -> set[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT thread_id FROM checkpoints UNION SELECT thread_id FROM checkpoint_writes "
            "UNION SELECT thread_id FROM checkpoint_blobs"
        ).fetchall()
    return {r[0] for r in rows}


def test_four_workers_write_at_once_and_the_chain_neither_forks_nor_loses_a_row(postgres: Any, tmp_path: Path) -> None:
    n = 20
    summary = stress(postgres.new_schema(), tmp_path, workers=4, n=n, verify_every=5)
    figures = {k: v for k, v in summary.items() if k != "workers_detail"}
    print("\nmulti-worker:", json.dumps(figures))  # the figures, with pytest -s
    assert summary["rows"] == summary["expected_rows"] == 4 * n * 3
    assert summary["per_worker_rows"] == {f"w{i}": n * 3 for i in range(4)}
    assert summary["forks"] == 0 and summary["seq_range"] == [1, 4 * n * 3]
    assert summary["chain_ok"] and summary["verify_failures_during_run"] == 0
    assert summary["verifies_during_run"] == 4 * (n // 5)  # each verified while the others were writing


def test_a_revocation_through_one_worker_applies_at_the_next_step_of_a_turn_on_another(
    workers: dict[str, WorkerProc], tmp_path: Path
) -> None:
    a, b = workers["A"], workers["B"]
    a.send(op="grant", subject="alice", caps=["face_verification"], purposes=["customer_service"])
    flag = tmp_path / "revoked"
    # A's turn: verify (allowed), then its reasoner stops between two steps until B has revoked, then verify again
    a.post(op="ask", purpose="customer_service", images=_photos(tmp_path, "alice"),
           steps=[VERIFY, ["wait", str(flag)], VERIFY, ["say", "done"]])  # fmt: skip
    deadline = time.monotonic() + 60
    while not Path(f"{flag}.here").exists():
        assert time.monotonic() < deadline, "worker A never reached the second step"
        time.sleep(0.01)
    assert b.send(op="revoke", subject="alice")["revoked"]  # through another process
    flag.touch()
    reply = a.result()
    assert reply["decisions"] == [["allow", "consent.active"], ["deny", "consent.revoked"]]
    assert [o[1] for o in reply["outcomes"]] == ["ok", "denied"]


def test_an_erasure_through_one_worker_reaches_the_threads_others_created(
    workers: dict[str, WorkerProc], shared: tuple[str, Path], tmp_path: Path
) -> None:
    url, _ = shared
    a, b, c = workers["A"], workers["B"], workers["C"]
    a.send(op="grant", subject="carol", caps=["face_verification"], purposes=["mfa"])

    def converse(worker: WorkerProc, subject: str) -> str:
        steps = [["call", "consent_status", {"subject": subject}], ["say", f"about {subject}"]]
        reply = worker.send(op="ask", purpose="mfa", images=_photos(tmp_path, subject, 1), steps=steps)
        return str(reply["thread"])

    on_a, on_c, bob_on_c = converse(a, "carol"), converse(c, "carol"), converse(c, "bob")
    assert {on_a, on_c, bob_on_c} <= _checkpointed_threads(url)
    erased = b.send(op="erase", subject="carol")
    assert erased["threads_deleted"] == 2 and erased["consents_revoked"] == 1
    left = _checkpointed_threads(url)
    assert on_a not in left and on_c not in left and bob_on_c in left
    assert a.send(op="thread", thread=on_a)["turns"] == 0  # A reads the shared saver: its thread is gone
    assert c.send(op="thread", thread=bob_on_c)["turns"] > 0


def test_a_conversation_started_on_one_worker_goes_on_and_resumes_on_another(
    workers: dict[str, WorkerProc], shared: tuple[str, Path], tmp_path: Path
) -> None:
    url, _ = shared
    a, b, c = workers["A"], workers["B"], workers["C"]
    a.send(op="grant", subject="dave", caps=["face_verification"], purposes=["customer_service"])
    photos = _photos(tmp_path, "dave")
    first = a.send(op="ask", purpose="customer_service", thread="t-dave", images=photos,
                   steps=[VERIFY, ["say", "same person"]])  # fmt: skip
    assert (first["turns"], first["outcomes"][0][1]) == (1, "ok")
    # the next turn on B: the images attached again (checkpoints hold hashes, not pixels), the transcript A wrote
    second = b.send(op="ask", purpose="customer_service", thread="t-dave", images=photos,
                    steps=[VERIFY, ["say", "still the same"]])  # fmt: skip
    assert (second["turns"], second["purpose"], second["outcomes"][0][1]) == (2, "customer_service", "ok")
    b.post(op="ask", purpose="ux_research", thread="t-dave", images=[], steps=[["say", "x"]])
    refused = b._read()  # B knows the thread's purpose from A's checkpoint: another one is refused
    assert refused.get("error") == "UserError" and "customer_service" in refused["message"]

    # paused at a consent question on A, answered through C
    paused = a.send(op="ask", purpose="ux_research", thread="t-eileen", images=_photos(tmp_path, "eileen", 1),
                    human_present=True, steps=[["call", "analyze_expression", {"image": "img1"}]])  # fmt: skip
    assert paused["status"] == "awaiting_consent"
    done = c.send(op="resume", thread="t-eileen", granted=True, steps=[["say", "attach the photo again"]])
    assert done["status"] == "done" and done["decisions"] == [["allow", "consent.active"]]
    # as in one process after a restart: the run goes on, and the tool asks for the image C never had
    assert done["outcomes"] == [["analyze_expression", "error", "not_found"]]
    with Store.connect(url) as store:
        [record] = store.consents_for("eileen")
        assert record.evidence is not None and record.evidence.recorded_by == "C"
