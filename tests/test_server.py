"""facegate behind the real LangGraph server: ``langgraph dev`` on a loopback port, driven over HTTP.

One server for the whole module (start-up is paid once; the time is printed), the real face engine on package
photos, the offline reasoner, API keys in the server's home. Each test says what a caller sees and what the
audit log holds afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.apikeys import KeyRing
from agent.consent import grant_consent
from agent.policy import load_policy
from agent.server.launch import ServerProcess, running_server
from agent.settings import Settings
from agent.store import Store
from tests.photos import ensure_photos

pytestmark = pytest.mark.slow

ASSISTANT = "facegate"


@dataclass
class Served:
    server: ServerProcess
    settings: Settings
    photos: Path
    operator: str
    auditor: str

    def client(self, key: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.server.url, headers=headers, timeout=120)

    def audit_rows(self) -> int:
        with Store.open(self.settings.resolved_db_path) as store:
            return store.audit.head()[0]

    def grant(self, subject: str, capability: str, purpose: str) -> None:
        with Store.open(self.settings.resolved_db_path) as store:
            grant_consent(
                store, load_policy(), subject_id=subject, capabilities=[capability], purposes=[purpose],
                notice="v1 notice", evidence_method="signed_form", recorded_by="reception", term_days=30,
                actor="reception",
            )  # fmt: skip


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("server-home")
    photos = ensure_photos()
    settings = Settings(home=home, reasoner="offline")
    ring = KeyRing.of(settings)
    _, operator = ring.add("door-7", "operator", actor="admin")
    _, auditor = ring.add("dpo", "auditor", actor="admin")
    env = {
        "FACEGATE_HOME": str(home),
        "FACEGATE_REASONER": "offline",
        "FACEGATE_ALLOWED_IMAGE_DIRS": json.dumps([str(photos)]),
    }
    with running_server(home / "server", env=env) as server:
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"\nlanggraph dev answered /ok {server.started_in_s:.2f} s after it was started")
        yield Served(server, settings, photos, operator, auditor)
        log = server.log_tail(400)
    assert "BlockingError" not in log  # nothing blocked the server's event loop


def new_thread(http: httpx.Client) -> str:
    reply = http.post("/threads", json={})
    assert reply.status_code == 200, reply.text
    return str(reply.json()["thread_id"])


def turn(text: str, *attachments: tuple[Path, str | None]) -> dict[str, Any]:
    return {
        "messages": [{"role": "user", "content": text}],
        "attachments": [{"path": str(path), "subject": subject} for path, subject in attachments],
    }


def run(http: httpx.Client, thread: str, body: dict[str, Any]) -> httpx.Response:
    return http.post(f"/threads/{thread}/runs/wait", json={"assistant_id": ASSISTANT, **body})


def outcomes(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [t["outcome"] for t in values["transcript"] if t.get("outcome")]


def test_a_request_without_a_valid_key_gets_401_and_nothing_runs(served: Served) -> None:
    with served.client(served.operator) as http:
        thread = new_thread(http)
    before = served.audit_rows()
    body = {"assistant_id": ASSISTANT, "input": turn("Verify img1 against img2."), "context": {"purpose": "mfa"}}
    for headers in ({}, {"Authorization": "Bearer fg_not-a-key"}, {"X-Api-Key": served.operator + "x"},
                    {"x-auth-scheme": "langsmith"}):  # fmt: skip
        reply = httpx.post(f"{served.server.url}/threads/{thread}/runs/wait", json=body, headers=headers, timeout=60)
        assert reply.status_code == 401, (headers, reply.text)
        assert httpx.post(f"{served.server.url}/threads/search", json={}, headers=headers).status_code == 401
    assert served.audit_rows() == before
    with served.client(served.auditor) as http:
        assert http.get(f"/threads/{thread}/runs").json() == []


def test_an_allowed_verification_runs_through_the_real_graph_and_engine(served: Served) -> None:
    served.grant("obama", "face_verification", "access_control")
    photos = served.photos
    with served.client(served.operator) as http:
        thread = new_thread(http)
        pair = (photos / "obama.jpg", "obama"), (photos / "obama2.jpg", "obama")
        reply = run(http, thread, {"input": turn("Verify img1 against img2.", *pair),
                                   "context": {"purpose": "access_control"}})  # fmt: skip
    assert reply.status_code == 200, reply.text
    values = reply.json()
    answer = values["messages"][-1]
    assert answer["type"] == "ai" and answer["content"].startswith("Match:")
    [outcome] = outcomes(values)
    assert outcome["status"] == "ok" and outcome["decision"]["outcome"] == "allow"
    assert outcome["result"]["verified"] is True and outcome["result"]["distance"] < outcome["result"]["threshold"]
    assert values["purpose"] == "access_control"
    with Store.open(served.settings.resolved_db_path) as store:
        rows = store.audit.query(session=thread)
        assert store.audit.verify().ok
    assert [r.kind for r in rows] == ["session", "decision", "tool_run"]
    assert {r.actor for r in rows} == {"door-7"}  # the key's name: who ran it, never a value the caller wrote


def test_a_refusal_by_rule_is_an_answer_and_an_audited_denial(served: Served) -> None:
    with served.client(served.operator) as http:
        thread = new_thread(http)
        reply = run(http, thread, {
            "input": turn("What is the ethnicity of the person in img1?", (served.photos / "biden.jpg", "biden")),
            "context": {"purpose": "access_control"},
        })  # fmt: skip
    assert reply.status_code == 200, reply.text
    values = reply.json()
    [outcome] = outcomes(values)
    assert outcome["status"] == "denied" and outcome["decision"]["rule_id"] == "inference.sensitive_prohibited"
    assert "inference.sensitive_prohibited" in values["messages"][-1]["content"]
    with Store.open(served.settings.resolved_db_path) as store:
        decisions = store.audit.query(session=thread, kind="decision")
    assert [(d.outcome, d.rule_id) for d in decisions] == [("deny", "inference.sensitive_prohibited")]


def test_the_sdk_client_speaks_the_messages_convention(served: Served) -> None:
    from langgraph_sdk import get_sync_client

    client = get_sync_client(url=served.server.url, api_key=served.operator)
    thread = client.threads.create()["thread_id"]
    result = client.runs.wait(
        thread, ASSISTANT, input={"messages": [{"role": "user", "content": "Hello, what can you do?"}]},
        context={"purpose": "ux_research"},
    )  # fmt: skip
    assert isinstance(result, dict)
    assert [m["type"] for m in result["messages"]] == ["human", "ai"]
    assert result["messages"][-1]["content"]
    state = client.threads.get_state(thread)
    assert state["values"]["purpose"] == "ux_research" and state["next"] == []
    [assistant] = client.assistants.search(graph_id=ASSISTANT)
    schemas = client.assistants.get_schemas(assistant["assistant_id"])
    assert schemas["input_schema"] is not None
    assert {"messages", "attachments"} <= set(schemas["input_schema"]["properties"])
    assert "purpose" in schemas["context_schema"]["properties"]
    assert "messages" in schemas["output_schema"]["properties"]


def test_an_auditor_reads_threads_but_cannot_run_or_resume(served: Served) -> None:
    with served.client(served.operator) as http:
        thread = new_thread(http)
    before = served.audit_rows()
    with served.client(served.auditor) as http:
        denied = run(http, thread, {"input": turn("hello"), "context": {"purpose": "mfa"}})
        assert denied.status_code == 403 and "auditor" in denied.json()["detail"]
        assert run(http, thread, {"command": {"resume": {"granted": True}}}).status_code == 403
        assert http.post("/threads", json={}).status_code == 403
        assert http.post("/threads/search", json={}).status_code == 200
        assert http.get(f"/threads/{thread}/state").status_code == 200
    assert served.audit_rows() == before


def test_a_consent_pause_is_an_interrupt_that_only_an_operator_answers(served: Served) -> None:
    photos = served.photos
    with served.client(served.operator) as http:
        thread = new_thread(http)
        pair = (photos / "obama3.jpg", "barack"), (photos / "obama.jpg", "barack")
        paused = run(http, thread, {"input": turn("Verify img1 against img2.", *pair),
                                    "context": {"purpose": "access_control", "human_present": True}})  # fmt: skip
        assert paused.status_code == 200, paused.text
        [interrupt] = paused.json()["__interrupt__"]
        assert interrupt["value"]["decision"]["missing"] == [
            {"subject_id": "barack", "capability": "face_verification", "purpose": "access_control"}
        ]
        assert http.get(f"/threads/{thread}").json()["status"] == "interrupted"
    with served.client(served.auditor) as auditor:
        assert run(auditor, thread, {"command": {"resume": {"granted": True}}}).status_code == 403
    with served.client(served.operator) as http:
        bad = run(http, thread, {"command": {"resume": {"granted": "perhaps"}}})
        assert bad.status_code == 422
        answer = {"granted": True, "notice": "door notice v1", "evidence_method": "signed_form", "term_days": 30}
        resumed = run(http, thread, {"command": {"resume": answer}})
    assert resumed.status_code == 200, resumed.text
    values = resumed.json()
    assert values["messages"][-1]["content"].startswith("Match:")
    with Store.open(served.settings.resolved_db_path) as store:
        [record] = store.consents_for("barack")
        rows = store.audit.query(session=thread)
    assert record.evidence is not None and record.evidence.recorded_by == "door-7"
    assert record.evidence.reference == f"thread {thread}"
    assert [(r.kind, r.outcome) for r in rows] == [
        ("session", "images_attached"), ("decision", "needs_consent"), ("decision", "allow"), ("tool_run", "ok"),
    ]  # fmt: skip


def test_state_writes_and_graph_steering_are_refused_before_anything_is_stored(served: Served) -> None:
    with served.client(served.operator) as http:
        thread = new_thread(http)
        ok = run(http, thread, {"input": turn("hello"), "context": {"purpose": "mfa"}})
        assert ok.status_code == 200, ok.text
        checkpoint = http.post(f"/threads/{thread}/history", json={"limit": 5}).json()[-1]["checkpoint"]
        runs_before = len(http.get(f"/threads/{thread}/runs").json())
        before = served.audit_rows()
        context = {"purpose": "mfa"}
        image_block = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}
        with_image = {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, image_block]}]}
        with_bytes = {**turn("hi"), "attachments": [{"data": "iVBORw0KGgo="}]}
        refused = {
            "state write": http.post(f"/threads/{thread}/state", json={"values": {"purpose": "healthcare"}}),
            "goto": run(http, thread, {"command": {"goto": "tools"}}),
            "update": run(http, thread, {"command": {"update": {"allowed": {}}, "resume": {"granted": True}}}),
            "fork": run(http, thread, {"input": turn("hi"), "context": context,
                                       "checkpoint_id": checkpoint["checkpoint_id"]}),
            "breakpoint": run(http, thread, {"input": turn("hi"), "context": context, "interrupt_before": ["tools"]}),
            "purpose in input": run(http, thread, {"input": {**turn("hi"), "purpose": "healthcare"}}),
            "image in message": run(http, thread, {"input": with_image, "context": context}),
            "bytes attachment": run(http, thread, {"input": with_bytes, "context": context}),
            "no input": run(http, thread, {}),
            "cron": http.post("/runs/crons", json={"assistant_id": ASSISTANT, "schedule": "* * * * *",
                                                   "input": turn("hi")}),
            "store": http.put("/store/items", json={"namespace": ["a"], "key": "k", "value": {"x": 1}}),
        }  # fmt: skip
        after_runs = len(http.get(f"/threads/{thread}/runs").json())
        # A thread created with state ("supersteps"): the server makes the thread, then its state write is refused
        # (it answers 201 with the refusal in the detail, and the new thread holds nothing).
        steps = [{"updates": [{"values": {"purpose": "healthcare"}, "as_node": "policy"}]}]
        created = http.post("/threads", json={"supersteps": steps})
        assert created.status_code == 201 and "written by its graph only" in created.text
        [made] = http.post("/threads/search", json={"limit": 1, "sort_by": "created_at"}).json()
        assert not made["values"]
    statuses = {name: reply.status_code for name, reply in refused.items()}
    assert all(code in (403, 422) for code in statuses.values()), statuses
    assert after_runs == runs_before and served.audit_rows() == before


def test_bad_input_fails_the_run_with_a_typed_error_and_keeps_the_thread(served: Served) -> None:
    with served.client(served.operator) as http:
        thread = new_thread(http)
        no_purpose = run(http, thread, {"input": turn("hello")})
        outside = run(http, thread, {"input": turn("Verify img1.", (Path("/etc/hostname"), None)),
                                     "context": {"purpose": "mfa"}})  # fmt: skip
        missing = run(http, thread, {"input": turn("Verify img1.", (served.photos / "nope.jpg", None)),
                                     "context": {"purpose": "mfa"}})  # fmt: skip
        unknown = run(http, thread, {"input": turn("hi"), "context": {"purpose": "mind_reading"}})
        later = run(http, thread, {"input": turn("hello"), "context": {"purpose": "mfa"}})
    errors = [r.json()["__error__"] for r in (no_purpose, outside, missing, unknown)]
    assert [e["error"] for e in errors] == ["RunInputError"] * 4
    assert "needs a purpose" in errors[0]["message"]
    assert errors[1]["message"].startswith("path_not_allowed:")
    assert errors[2]["message"].startswith("image_not_found:")
    assert errors[3]["message"].startswith("unknown_purpose:")
    # A failed run left no turn, no purpose and no images behind: the thread starts afresh with the next message.
    assert later.status_code == 200, later.text
    values = later.json()
    assert values["purpose"] == "mfa" and values["images"] == []
    assert [t["role"] for t in values["transcript"]] == ["user", "assistant"]


def test_a_revoked_key_is_refused_at_its_next_request(served: Served) -> None:
    ring = KeyRing.of(served.settings)
    _, key = ring.add("kiosk-3", "operator", actor="admin")
    with served.client(key) as http:
        assert http.post("/threads/search", json={}).status_code == 200
        ring.revoke("kiosk-3", actor="admin")
        assert http.post("/threads/search", json={}).status_code == 401
