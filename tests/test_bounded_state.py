"""Issue 9 item 10 (the graph's part): what a model's step brings into the state is bounded before any checkpoint
keeps it. Tool arguments nested hundreds deep or megabytes long are refused as malformed (audited with their
sizes, never their content); threads.db does not grow with them. Measured with a real SQLite checkpointer."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.graph.messages import MAX_ARG_DEPTH, ToolCall, argument_problem
from agent.reasoners.base import ReasonerStep
from agent.sdk import FaceAgent, ImageInput
from agent.settings import Settings
from tests.fakes import FakeFaceEngine, ScriptedReasoner, say


def _deep(n: int) -> object:
    value: object = "img1"
    for _ in range(n):
        value = {"a": value}
    return value


HOSTILE = {
    "5 MB string": {"image_a": "img1", "image_b": "x" * 5_000_000},
    "500 deep": {"image_a": "img1", "image_b": _deep(500)},
    "200,000 values": {"image_a": "img1", "image_b": list(range(200_000))},
    "4,000 keys": {"image_a": "img1", **{f"k{i}": "v" * 10 for i in range(4000)}},
    "huge key": {"image_a": "img1", "k" * 100_000: 1},
}


@pytest.fixture
def scripted() -> ScriptedReasoner:
    return ScriptedReasoner()


@pytest.fixture
def agent(tmp_path: Path, scripted: ScriptedReasoner) -> Iterator[FaceAgent]:
    settings = Settings(home=tmp_path, reasoner="offline", actor="tester")
    with FaceAgent(settings, engine=FakeFaceEngine(settings), reasoner=scripted) as a:  # SQLite checkpoints
        yield a


def _size(agent: FaceAgent) -> int:
    path = agent.settings.resolved_checkpoint_path
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # count what the checkpointer wrote, WAL included
    finally:
        con.close()
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


@pytest.mark.parametrize("args", list(HOSTILE.values()), ids=list(HOSTILE))
def test_oversized_arguments_are_refused_before_any_checkpoint(
    agent: FaceAgent, scripted: ScriptedReasoner, args: dict
) -> None:
    engine = agent.engine
    assert isinstance(engine, FakeFaceEngine)
    images = [ImageInput(source=engine.photo("alice"), subject="alice")]
    scripted.enqueue(say("warm-up"))
    warm = agent.ask("hello", purpose="mfa", images=images)
    before = _size(agent)
    scripted.enqueue(ReasonerStep(tool_calls=[ToolCall(id="c1", name="verify_faces", args=args)]), say("Refused."))
    reply = agent.ask("compare", purpose="mfa", thread_id=warm.thread_id)
    growth = _size(agent) - before
    print(f"\nthreads.db growth for one hostile call: {growth:,} bytes")
    assert growth < 64 * 1024  # the arguments alone are 5 MB / 500 levels / 200,000 values
    (o,) = reply.tool_outcomes
    assert o.status == "malformed" and o.args == {} and o.decision is not None
    assert o.decision.rule_id == "tool.invalid_arguments" and engine.ran("verify") == 0
    row = next(r for r in agent.audit_entries(reply.thread_id) if r.rule_id == "tool.invalid_arguments")
    assert len(json.dumps(row.summary)) < 1000 and "xxxxxxxx" not in json.dumps(row.summary)
    assert "were not kept" in row.summary["reason"]


def test_a_flood_of_calls_keeps_sixteen(agent: FaceAgent, scripted: ScriptedReasoner) -> None:
    calls = [ToolCall(id=f"c{i}", name="consent_status", args={"subject": "alice"}) for i in range(500)]
    scripted.enqueue(ReasonerStep(tool_calls=calls), say("done"))
    reply = agent.ask("x", purpose="mfa")
    assert len(reply.tool_outcomes) == 17 and reply.tool_outcomes[-1].status == "malformed"
    assert "484 more function calls" in (reply.tool_outcomes[-1].error or "")


def test_a_megabyte_answer_is_cut(agent: FaceAgent, scripted: ScriptedReasoner) -> None:
    scripted.enqueue(say("a" * 2_000_000))
    reply = agent.ask("x", purpose="mfa")
    assert len(reply.answer) < 33_000 and "was cut" in reply.answer


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ({"image": "img1"}, None),
        ({"image": _deep(MAX_ARG_DEPTH - 2)}, None),
        ({"image": _deep(MAX_ARG_DEPTH)}, "nested more than"),
        ({"image": "x" * 5000}, "a string of 5,000 characters"),
        ({"l": [1] * 600}, "a list of 600 values"),
        ({"s": ["y" * 4000] * 5}, "more than 16,384 characters in all"),
        ([1, 2], "not an object"),
    ],
)
def test_argument_problems_name_sizes_only(args: object, problem: str | None) -> None:
    found = argument_problem(args)
    assert (found is None) if problem is None else (found is not None and problem in found)
