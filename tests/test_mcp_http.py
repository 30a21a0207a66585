"""``facegate mcp serve --transport http``: the SDK's real streamable-HTTP client against the real server process.

The server listens on a free loopback port (``--port 0``; the test reads the URL it prints), runs the real face
engine on the package photos, and is stopped with SIGTERM at the end of each test. API keys are made in the
home's key file as ``facegate keys add`` makes them (their audit rows included). After the calls the audit chain
is verified from this process, as an auditor would.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

pytest.importorskip("mcp", reason="needs the optional extra: pip install 'facegate[mcp]'")

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from agent.apikeys import KeyRing
from agent.graph.messages import ToolOutcome
from agent.mcp.http import loopback_address
from agent.store import Store
from tests.test_mcp_server import FACEGATE, MAX_IMAGE_BYTES, audit, head, home, images, server_env, text_of

pytestmark = pytest.mark.slow
__all__ = ["home", "images"]  # the stdio tests' module fixtures: the same home (consents, template) and photos

LAUNCH_ACTOR = "launch-operator"
REQUEST_LIMIT = 2 * 4 * -(-MAX_IMAGE_BYTES // 3) + 64 * 1024
INITIALIZE = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
}  # fmt: skip
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def add_key(home: Path, name: str, role: str) -> str:
    with Store.open(home / "facegate.db", create=False) as store:
        _, secret = KeyRing(home / "api_keys.json").add(name, role, actor="tests", audit=store.writer)
    return secret


def revoke_key(home: Path, name: str) -> None:
    with Store.open(home / "facegate.db", create=False) as store:
        KeyRing(home / "api_keys.json").revoke(name, actor="tests", audit=store.writer)


@contextmanager
def http_server(home: Path, images: Path, **env: str) -> Iterator[str]:
    """The server on a free loopback port; yields its URL. Stopped with SIGTERM: it must exit 0, having printed
    nothing on stdout but the URL."""
    args = ["mcp", "serve", "--purpose", "mfa", "--image-dir", str(images), "--transport", "http", "--port", "0",
            "--actor", LAUNCH_ACTOR]  # fmt: skip
    proc = subprocess.Popen([FACEGATE, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=server_env(home, **env))  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    stderr: list[bytes] = []
    drain = threading.Thread(target=lambda: stderr.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
    drain.start()
    try:
        line = proc.stdout.readline().decode()
        assert line.startswith("http://127.0.0.1:") and line.endswith("/mcp\n"), (line, b"".join(stderr))
        yield line.strip()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, b"".join(stderr).decode()
        assert proc.stdout.read() == b""  # one line, the URL: nothing else reached stdout
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        drain.join(10)
    assert b"Traceback" not in b"".join(stderr), b"".join(stderr).decode()


@asynccontextmanager
async def connect(url: str, key: str, mode: str = "legacy") -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=httpx2.Timeout(30, read=300)) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,  # type: ignore[arg-type]
    ):
        yield client


def post(url: str, body: Any, **headers: str) -> httpx2.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx2.post(url, content=data, headers={**ACCEPT, **headers}, timeout=30)


# --- loopback only ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("host", "bound"), [("127.0.0.1", "127.0.0.1"), ("localhost", "127.0.0.1"),
                                             ("::1", "::1"), ("[::1]", "::1"), ("127.0.0.2", "127.0.0.2")])  # fmt: skip
def test_loopback_hosts_are_accepted(host: str, bound: str) -> None:
    assert loopback_address(host) == bound


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.com", "", "127.0.0.1.nip.io"])
def test_the_server_refuses_a_non_loopback_host_with_one_line(home: Path, images: Path, host: str) -> None:
    start = head(home)
    done = subprocess.run(
        [FACEGATE, "mcp", "serve", "--purpose", "mfa", "--image-dir", str(images), "--transport", "http",
         "--host", host, "--port", "0"],
        capture_output=True, timeout=60, env=server_env(home), stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == b""
    (line,) = done.stderr.decode().splitlines()
    assert line.startswith("facegate: config_error: ") and "loopback only" in line and "reverse proxy" in line
    assert head(home) == start


# --- an operator's session ---------------------------------------------------------------------------------


def test_an_operator_key_verifies_and_is_refused_by_consent_with_rows_naming_the_key(home: Path, images: Path) -> None:
    key = add_key(home, "door-7", "operator")
    start = head(home)

    async def session(url: str) -> None:
        async with connect(url, key) as client:  # the handshake era (what hosts speak today)
            listed = await client.list_tools()
            assert sorted(t.name for t in listed.tools) == sorted(
                ["verify_identity", "verify_faces", "analyze_expression", "consent_status"]
            )
            ok = await client.call_tool(
                "verify_identity", {"image": {"path": str(images / "obama2.jpg")}, "claimed_subject": "obama"}
            )
            outcome = ToolOutcome.model_validate(ok.structured_content)
            assert not ok.is_error and outcome.result is not None and outcome.result.kind == "verification"
            assert outcome.result.verified and outcome.probe_dropped
            assert text_of(ok).startswith("Verified: the face in image (probe) matches the enrolled template of obama")

            needs = await client.call_tool("verify_faces", {
                "image_a": {"path": str(images / "obama2.jpg"), "subject": "obama"},
                "image_b": {"path": str(images / "biden.jpg"), "subject": "biden"},
            })  # fmt: skip
            outcome = ToolOutcome.model_validate(needs.structured_content)
            assert needs.is_error and outcome.decision is not None and outcome.decision.outcome == "needs_consent"
            assert "consent.missing" in text_of(needs) and "I cannot record it" in text_of(needs)

        async with connect(url, key, mode="auto") as client:  # the SDK default: the per-request era
            status = await client.call_tool("consent_status", {"subject": "obama"})
            assert not status.is_error and "An active consent for" in text_of(status)

    with http_server(home, images) as url:
        anyio.run(session, url)
    rows = audit(home, start)  # verifies the chain
    assert [(r.kind, r.outcome) for r in rows] == [
        ("decision", "allow"), ("tool_run", "ok"),  # the verification
        ("session", "images_attached"), ("decision", "needs_consent"),  # biden has no consent: nothing ran
        ("decision", "allow"), ("tool_run", "ok"),  # consent_status, per-request era
    ]  # fmt: skip
    assert {r.actor for r in rows} == {"door-7"} and {r.purpose for r in rows} == {"mfa"}
    sessions = [r.session_id for r in rows]
    assert all(s and s.startswith("mcp-") for s in sessions) and sessions[0] == sessions[3] != sessions[4]
    with Store.open(home / "facegate.db", create=False) as store:
        assert store.consents_for("biden") == []


# --- keys: none, wrong, revoked, another's session, an auditor's ------------------------------------------


def test_no_bad_or_revoked_key_gets_401_and_nothing_runs(home: Path, images: Path) -> None:
    key = add_key(home, "kiosk-2", "operator")
    other = add_key(home, "kiosk-3", "operator")
    start = head(home)
    with http_server(home, images) as url:
        for headers in ({}, {"Authorization": "Bearer fg_not-a-key"}, {"X-Api-Key": "fg_nope"},
                        {"Authorization": f"Basic {key}"}):  # fmt: skip
            refused = post(url, INITIALIZE, **headers)
            assert refused.status_code == 401 and "mcp-session-id" not in refused.headers
            assert refused.headers["www-authenticate"].startswith("Bearer")
            assert "API key is required" in refused.json()["error"]["message"]
        opened = post(url, INITIALIZE, **{"X-Api-Key": key})  # X-Api-Key works as well as Bearer
        assert opened.status_code == 200
        session_id = opened.headers["mcp-session-id"]
        # a session belongs to the key that opened it: another key is told it does not exist
        assert post(url, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, **{
            "Authorization": f"Bearer {other}", "Mcp-Session-Id": session_id, "Mcp-Protocol-Version": "2025-06-18",
        }).status_code == 404  # fmt: skip

        async def revoked_mid_session() -> None:
            async with connect(url, key) as client:
                await client.list_tools()
                revoke_key(home, "kiosk-2")  # from the next request on
                with pytest.raises(MCPError, match="API key is required"):  # the 401 body, as the SDK raises it
                    await client.call_tool("consent_status", {"subject": "obama"})

        anyio.run(revoked_mid_session)
        assert post(url, INITIALIZE, Authorization=f"Bearer {key}").status_code == 401
    rows = audit(home, start)
    assert [(r.kind, r.outcome, r.summary.get("name")) for r in rows] == [("api_key", "revoked", "kiosk-2")]


def test_an_auditor_key_lists_the_tools_but_every_call_is_refused_and_audited(home: Path, images: Path) -> None:
    key = add_key(home, "dpo", "auditor")
    start = head(home)

    async def session(url: str) -> None:
        async with connect(url, key) as client:
            assert len((await client.list_tools()).tools) == 4
            for tool, args in (("verify_identity", {"image": {"path": str(images / "obama2.jpg")},
                                                    "claimed_subject": "obama"}),
                               ("consent_status", {"subject": "obama"})):  # fmt: skip
                refused = await client.call_tool(tool, args)
                outcome = ToolOutcome.model_validate(refused.structured_content)
                assert refused.is_error and outcome.status == "denied" and outcome.decision is not None
                assert outcome.decision.rule_id == "access.role_not_permitted"
                assert "auditor key may list the tools but not call them" in text_of(refused)

    with http_server(home, images) as url:
        anyio.run(session, url)
    rows = audit(home, start)
    assert [(r.kind, r.outcome, r.rule_id, r.actor, r.summary["tool"]) for r in rows] == [
        ("decision", "deny", "access.role_not_permitted", "dpo", "verify_identity"),
        ("decision", "deny", "access.role_not_permitted", "dpo", "consent_status"),
    ]
    assert all(r.subjects == [] for r in rows)  # the arguments were not read: no one is named


# --- bounds ------------------------------------------------------------------------------------------------


def test_an_oversize_body_is_413_and_audited_and_sessions_are_capped(home: Path, images: Path) -> None:
    key = add_key(home, "door-9", "operator")
    start = head(home)
    bearer = {"Authorization": f"Bearer {key}"}
    with http_server(home, images, FACEGATE_MCP_HTTP_MAX_SESSIONS="1") as url:
        call = {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {"name": "analyze_expression", "arguments": {"image": {"data": "A" * REQUEST_LIMIT}}},
        }
        big = post(url, call, **bearer)  # fmt: skip
        assert big.status_code == 413 and f"{REQUEST_LIMIT}-byte limit" in big.json()["error"]["message"]
        assert post(url, INITIALIZE, **bearer).status_code == 200  # the one session allowed
        assert post(url, INITIALIZE, **bearer).status_code == 503  # a second one is refused
    (row,) = audit(home, start)
    assert (row.kind, row.outcome, row.rule_id, row.actor) == ("decision", "deny", "tool.invalid_arguments", "door-9")
    assert row.summary["tool"] == "(oversize request)" and f"audit row {row.audit_id}" in big.json()["error"]["message"]
