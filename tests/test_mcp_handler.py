"""The MCP server's handlers in process (the SDK's in-memory transport, fake engine): the output schema holds for
real results (the SDK's client validates ``structuredContent`` against it), and a storage failure is a protocol
error with its code, never a tool result. ``tests/test_mcp_server.py`` runs the real process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

pytest.importorskip("mcp", reason="needs the optional extra: pip install 'facegate[mcp]'")

from mcp import Client
from mcp.shared.exceptions import MCPError

from agent.errors import StoreError
from agent.mcp.server import build_server
from agent.mcp.service import GatedTools
from agent.sdk import FaceAgent
from agent.settings import Settings
from tests.fakes import FakeFaceEngine


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[FaceAgent]:
    images = tmp_path / "images"
    images.mkdir()
    settings = Settings(home=tmp_path / "home", reasoner="offline", allowed_image_dirs=[images])
    agent = FaceAgent.for_eval(settings, engine=FakeFaceEngine(settings))  # type: ignore[arg-type]
    try:
        yield agent
    finally:
        agent.close()


def serve(tools: GatedTools, work: Any, mode: str = "legacy") -> Any:
    """``work(client)`` with a client of the SDK connected in process to the server over ``tools``."""
    session = tools.session()

    async def run() -> Any:
        async with Client(build_server(tools, lambda _ctx: session), mode=mode) as client:
            return await work(client)

    return anyio.run(run)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_results_match_the_output_schema_the_listing_declares(agent: FaceAgent, tmp_path: Path, mode: str) -> None:
    engine = agent.deps.engine
    assert isinstance(engine, FakeFaceEngine)
    agent.grant_consent("eve", capabilities=["expression_analysis"], purposes=["ux_research"], notice="told",
                        evidence_method="form")  # fmt: skip
    (tmp_path / "images" / "eve.png").write_bytes(engine.photo("eve"))
    tools = GatedTools(agent.deps, purpose="ux_research", actor="host")

    async def work(client: Client) -> Any:
        listed = await client.list_tools()
        args = {"image": {"path": str(tmp_path / "images" / "eve.png"), "subject": "eve"}}
        # the client raises if structuredContent does not validate against the tool's output schema
        return listed, await client.call_tool("analyze_expression", args)

    listed, result = serve(tools, work, mode)
    assert all(t.output_schema and t.annotations and t.annotations.read_only_hint for t in listed.tools)
    assert not result.is_error and result.structured_content["result"]["faces"][0]["dominant"] == "happy"
    assert "Caveat: this is an appearance-based expression estimate" in result.content[0].text


def test_a_storage_failure_is_a_protocol_error_with_its_code(agent: FaceAgent, monkeypatch: pytest.MonkeyPatch) -> None:
    tools = GatedTools(agent.deps, purpose="mfa", actor="host")

    def broken(*_args: Any, **_kw: Any) -> Any:
        raise StoreError("database is locked")

    monkeypatch.setattr(tools, "call", broken)

    async def work(client: Client) -> MCPError:
        with pytest.raises(MCPError) as caught:
            await client.call_tool("consent_status", {"subject": "eve"})
        return caught.value

    error = serve(tools, work)
    assert error.error.code == -32603 and error.error.message == "store_error: database is locked"
