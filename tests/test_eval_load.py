"""``facegate eval load``: its figures, its turn plan, and one small real run against a real server."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from evals.errors import EvalError
from evals.load import (
    PROBES,
    BackendLoad,
    Latency,
    LoadReport,
    _classify,
    backend_of,
    fresh_capture,
    make_plan,
    percentile,
    redact_url,
    render_markdown,
    run_load,
    server_run_times,
)
from tests.photos import ensure_photos


def test_percentiles_are_observed_values() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50.0, 95.0, 99.0)
    assert percentile([7.0], 99) == 7.0 and percentile([], 50) is None
    assert percentile([1.0, 2.0, 3.0], 50) == 2.0


def test_databases_are_named_without_their_passwords() -> None:
    assert backend_of(None) == backend_of("sqlite") == "sqlite"
    assert backend_of("postgresql://fg:secret@127.0.0.1:5433/facegate") == "postgresql"
    assert redact_url("postgresql://fg:secret@127.0.0.1:5433/facegate") == "postgresql://fg:***@127.0.0.1:5433/facegate"
    with pytest.raises(EvalError, match="unsupported database"):
        backend_of("mysql://u:secret@h/db")


def test_every_probe_is_a_fresh_capture_of_the_same_picture(tmp_path: Path) -> None:
    photos = ensure_photos()
    original = (photos / "obama2.jpg").read_bytes()
    a, b = fresh_capture(original, "load s1 t0"), fresh_capture(original, "load s1 t1")
    assert len({hashlib.sha256(x).hexdigest() for x in (original, a, b)}) == 3
    assert Image.open(io.BytesIO(a)).tobytes() == Image.open(io.BytesIO(original)).tobytes()
    with pytest.raises(EvalError, match="JPEG"):
        fresh_capture(b"\x89PNG....", "x")

    plan = make_plan(photos, tmp_path / "captures", sessions=3, turns=5)
    warmup, *sessions = plan
    assert [kind for kind, _ in warmup] == ["verification"] and len(sessions) == 3
    kinds = [kind for turns in sessions for kind, _ in turns]
    assert kinds.count("refusal") == 3 and kinds.count("verification") == 12
    paths = [t[1]["attachments"][0]["path"] for turns in plan for t in turns]
    assert len(set(paths)) == len(paths) == 16  # no two turns share a probe
    assert all(Path(p).parent == tmp_path / "captures" for p in paths)
    assert {Path(p).name.split("-", 2)[2] for p in paths} <= set(PROBES)


def test_the_servers_own_run_times_are_read_from_its_log() -> None:
    line = (
        "\x1b[2m2026-12-03T14:50:19Z\x1b[0m [\x1b[32minfo\x1b[0m] \x1b[1mBackground run succeeded\x1b[0m "
        "\x1b[36mrun_exec_ms\x1b[0m=\x1b[35m1166\x1b[0m \x1b[36mrun_wait_time_ms\x1b[0m=\x1b[35m500\x1b[0m"
    )
    log = "\n".join([line, "Background run failed run_exec_ms=9 run_wait_time_ms=9", line.replace("1166", "900")])
    assert server_run_times(log) == ([500.0, 500.0], [1166.0, 900.0])


def _values(status: str, **result: Any) -> dict[str, Any]:
    outcome = {"status": status, "result": result or None, "error_code": None}
    return {"messages": [{"type": "human"}, {"type": "ai"}], "transcript": [{"role": "tool", "outcome": outcome}]}


@pytest.mark.parametrize(
    ("kind", "values", "expected"),
    [
        ("verification", _values("ok", verified=True), ("match", None)),
        ("verification", _values("ok", verified=False), ("no_match", None)),
        ("refusal", _values("denied"), ("refused", None)),
        ("refusal", _values("ok", verified=True), (None, "not_refused:ok")),
        ("verification", _values("denied"), (None, "verification_denied:None")),
        ("verification", {"__error__": {"error": "RunInputError"}}, (None, "RunInputError")),
        ("verification", {"messages": [], "transcript": []}, (None, "no_answer")),
        ("verification", None, (None, "no_state")),
    ],
)
def test_each_turn_is_classified_from_what_the_server_returned(
    kind: str, values: Any, expected: tuple[str | None, str | None]
) -> None:
    assert _classify(kind, values) == expected


def test_the_table_puts_databases_side_by_side() -> None:
    common: dict[str, Any] = dict(
        sessions=4, turns_requested=20, turns_done=20, errors=0, outcomes={"match": 12}, wall_s=10.0,
        throughput_per_s=2.0, latency=Latency(p50_ms=900.0, p95_ms=1500.0, p99_ms=1800.0),
        verification_latency=Latency(p50_ms=1000.0), server_start_s=4.0, warmup_ms=5000.0,
        stopped_by_deadline=False,
    )  # fmt: skip
    report = LoadReport(
        sessions=4, turns_per_session=5, duration_limit_s=180, cpus=2, python="3.11", langgraph_api="0.16",
        backends=[BackendLoad(backend="sqlite", database="/h/facegate.db", audit_rows=60, audit_intact=True, **common),
                  BackendLoad(backend="postgresql", database="postgresql://fg:***@h/db", **common)],
    )  # fmt: skip
    table = render_markdown(report)
    assert "| | sqlite | postgresql |" in table
    assert "| turn latency p99 (ms) | 1800.0 | 1800.0 |" in table
    assert "| audit rows / intact | 60 / True | - |" in table


@pytest.mark.slow
def test_a_small_load_runs_against_a_real_server(tmp_path: Path) -> None:
    report = run_load(photos=ensure_photos(), sessions=2, turns=3, duration_s=120, out=tmp_path)
    [sqlite] = report.backends
    assert sqlite.backend == "sqlite" and sqlite.errors == 0, sqlite.error_kinds
    assert sqlite.turns_done == 6 and sum(sqlite.outcomes.values()) == 6
    assert sqlite.outcomes.get("refused", 0) >= 1 and sqlite.outcomes.get("match", 0) >= 1
    assert sqlite.latency.p50_ms is not None and sqlite.throughput_per_s > 0
    assert sqlite.server_execution.p50_ms is not None and sqlite.server_queue_wait.p50_ms is not None
    assert sqlite.audit_intact is True and sqlite.audit_rows is not None and sqlite.audit_rows > 6
    saved = json.loads((tmp_path / "load.json").read_text())
    assert saved["backends"][0]["turns_done"] == 6 and (tmp_path / "load.md").exists()


def test_more_servers_than_sessions_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match="3 servers for 2 sessions"):
        run_load(photos=tmp_path, sessions=2, turns=1, servers=[3], out=tmp_path)


@pytest.mark.slow
def test_two_servers_share_one_database_and_one_chain(tmp_path: Path) -> None:
    report = run_load(photos=ensure_photos(), sessions=2, turns=2, duration_s=120, servers=[2], out=tmp_path)
    [both] = report.backends
    assert both.servers == 2 and both.errors == 0 and both.turns_done == 4, both.error_kinds
    # two warm-ups (one per server) and four turns, every one audited in the one chain both servers append to
    assert both.audit_intact is True and both.audit_rows is not None and both.audit_rows > 6
    assert "sqlite x2 servers" in (tmp_path / "load.md").read_text()
