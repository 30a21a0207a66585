"""The SDK facade: lazy import, typed replies, hooks for evaluations, the logging redaction, the overhead bench."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import structlog

from agent.logging import REDACTED, redact_processor
from agent.sdk import AgentReply, FaceAgent, ImageInput
from agent.settings import Settings
from tests.fakes import FakeFaceEngine


def test_importing_agent_is_light() -> None:
    code = (
        "import sys, agent; from agent import FaceAgent, ImageInput; "
        "print(','.join(m for m in ('deepface', 'langgraph.graph', 'google.genai', 'cv2', 'tensorflow') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1]
    )
    assert out.stdout.strip() == ""


def test_ask_returns_a_typed_reply_with_decisions_and_audit_ids(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, reasoner="offline", actor="tester")
    engine = FakeFaceEngine(settings)
    with FaceAgent.for_eval(settings, engine=engine) as agent:
        agent.grant_consent("alice", capabilities=["face_verification"], purposes=["mfa"], notice="told")
        reply = agent.ask(
            "are these the same person?", purpose="mfa",
            images=[ImageInput(source=engine.photo("alice"), subject="alice"),
                    ImageInput(source=engine.photo("alice", 1), subject="alice")],
        )  # fmt: skip
        assert isinstance(reply, AgentReply)
        assert reply.status == "done" and reply.purpose == "mfa"
        assert [(d.tool, d.outcome) for d in reply.decisions] == [("verify_faces", "allow")]
        (o,) = reply.tool_outcomes
        assert o.args == {"image_a": "img1", "image_b": "img2"}  # handles only
        assert o.decision and o.decision.rule_id == reply.decisions[0].rule_id
        assert len(o.audit_ids) == 2 and set(o.audit_ids) <= set(reply.audit_ids)
        assert "Match" in reply.answer and "threshold" in reply.answer
        dumped = json.dumps(reply.model_dump(mode="json"))
        assert "vector" not in dumped
        rows = agent.audit_entries(reply.thread_id)
        assert {str(r.seq) for r in rows} == set(reply.audit_ids)


def test_images_accept_paths_bytes_and_arrays_and_get_handles(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, reasoner="offline")
    engine = FakeFaceEngine(settings)
    path = tmp_path / "a.png"
    path.write_bytes(engine.photo("a"))
    arr = np.zeros((8, 8, 3), dtype=np.uint8)
    with FaceAgent.for_eval(settings, engine=engine) as agent:
        reply = agent.ask("hello", purpose="mfa", images=[ImageInput(source=path, subject="a"),
                                                          ImageInput(source=engine.photo("b")),
                                                          ImageInput(source=arr, subject="c")])  # fmt: skip
        assert [(h.handle, h.subject) for h in reply.images] == [("img1", "a"), ("img2", None), ("img3", "c")]
        again = agent.ask(
            "hello", purpose="mfa", thread_id=reply.thread_id, images=[ImageInput(source=path, subject="a")]
        )
        assert len(again.images) == 3  # the same image and subject keeps its handle


def test_redaction_processor_removes_biometric_payloads() -> None:
    event = {
        "event": "x",
        "image": b"\xff\xd8",
        "embedding": [0.1] * 128,
        "nested": {"vector": (1.0, 2.0), "ok": "fine", "pixels_bgr": "..."},
        "anon": [0.5] * 64,
        "arr": np.zeros(3),
        "handle": "img1",
        "blob": b"abc",
    }
    out = redact_processor(None, "info", dict(event))
    assert out["image"] == REDACTED and out["embedding"] == REDACTED and out["arr"] == REDACTED
    assert out["nested"] == {"vector": REDACTED, "ok": "fine", "pixels_bgr": REDACTED}
    assert out["anon"] == REDACTED and out["blob"] == REDACTED
    assert out["handle"] == "img1" and out["event"] == "x"


def test_library_logging_is_silent_until_configured(capsys: pytest.CaptureFixture[str]) -> None:
    from agent.logging import configure_logging, get_logger

    structlog.reset_defaults()
    get_logger("t").info("hidden", image=b"x")
    assert capsys.readouterr().out == ""
    configure_logging("INFO", json=True)
    try:
        get_logger("t").info("shown", image=b"secret", embedding=[0.2] * 40)
        err = capsys.readouterr().err
        line = json.loads(err.strip().splitlines()[-1])
        assert line["event"] == "shown" and line["image"] == REDACTED and line["embedding"] == REDACTED
    finally:
        structlog.reset_defaults()


def test_overhead_benchmark_reports_medians() -> None:
    from evals.overhead import measure_overhead

    report = measure_overhead(turns=5, checkpointer="memory", warmup=1)
    assert report.turns == 5
    assert report.median_turn_ms >= report.median_overhead_ms > 0
    assert report.median_no_tool_turn_ms > 0


def test_make_graph_builds_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEGATE_HOME", str(tmp_path))
    monkeypatch.setenv("FACEGATE_REASONER", "offline")
    from agent.graph import make_graph

    graph = make_graph()
    assert set(graph.get_graph().nodes) >= {"reason", "policy", "tools", "consent"}
    config = json.loads((Path(__file__).parents[1] / "langgraph.json").read_text())
    # the server's factory builds the server graph off its event loop (tests/test_server_graph.py)
    assert config["graphs"]["facegate"] == "agent.server.graph:make_graph"
