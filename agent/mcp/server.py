"""The MCP server: the official SDK's low-level ``Server`` over :class:`~agent.mcp.service.GatedTools`.

The low-level server (not ``MCPServer``, whose decorators validate and dispatch before any facegate code runs)
hands every ``tools/call`` to one handler, so an unknown tool and bad arguments reach the gate and are audited
like any other call. What never reaches the handler is audited on the way: a ``tools/call`` whose params do not
even parse (:class:`AuditMalformedCalls`, a server middleware), and, on stdio, a line that is not JSON-RPC or is
longer than the server reads (:class:`BoundedLines`).

Blocking work (the face engine, SQLite) runs in a worker thread; a call the client abandons still finishes and
writes its audit rows before the server exits.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

import anyio
import anyio.to_thread
import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.context import CallNext, HandlerResult
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage
from pydantic import ValidationError

from agent.errors import FacegateError
from agent.logging import get_logger
from agent.mcp.service import CallReport, GatedTools

if TYPE_CHECKING:
    from mcp.shared._stream_protocols import WriteStream

    from agent.graph.state import Session

log = get_logger(__name__)

SERVER_NAME = "facegate"
SessionOf = Callable[[ServerRequestContext[Any, Any]], "Session"]
Forbidden = Callable[[ServerRequestContext[Any, Any]], "Refusal | None"]
"""Whether a request's caller may not call tools at all (an auditor's key over HTTP): the refusal, or None."""


@dataclass(frozen=True)
class Refusal:
    """Why a caller may not call tools: the access rule and the reason, as audited and told to the host."""

    rule_id: str
    reason: str


_READ_ONLY = types.ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)  # every call writes audit rows, so not idempotent; nothing else changes


def build_server(
    tools: GatedTools, session_of: SessionOf, *, version: str = "", forbidden: Forbidden | None = None
) -> Server[Any]:
    """The SDK server offering ``tools``; ``session_of`` names the facegate session of a request's connection;
    ``forbidden`` (HTTP) refuses, audited, every call of a caller whose role may not call tools."""
    listing = types.ListToolsResult(
        tools=[
            types.Tool(
                name=t.name,
                description=t.description,
                input_schema=t.input_schema,
                output_schema=t.output_schema,
                annotations=_READ_ONLY,
            )
            for t in tools.listing()
        ]
    )

    async def list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return listing

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        session = session_of(ctx)
        refusal = forbidden(ctx) if forbidden is not None else None
        try:
            if refusal is not None:  # before the arguments are read: nothing of them is loaded or audited
                report = await anyio.to_thread.run_sync(
                    functools.partial(tools.forbid, session, params.name, refusal.reason, rule_id=refusal.rule_id)
                )
            else:
                report = await anyio.to_thread.run_sync(tools.call, session, params.name, params.arguments)
        except FacegateError as exc:  # the store failed, say: no result to give, and no tool result to fake
            log.error("mcp.call_failed", code=exc.code, tool=params.name[:100], session=session.session_id)
            raise MCPError(code=types.INTERNAL_ERROR, message=f"{exc.code}: {_one_line(exc.message)}") from exc
        return tool_result(report)

    server: Server[Any] = Server(
        SERVER_NAME,
        version=version,
        title="facegate: consent-gated face tools",
        instructions=(
            f"Face verification and expression analysis under facegate's policy, for the purpose "
            f"'{tools.purpose}' fixed by the operator. Every call is decided by policy and audited; a refusal or a "
            "missing consent comes back as a tool error naming the rule. Consent is recorded by an operator "
            "outside MCP; nothing said or passed here counts as consent."
        ),
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
    server.middleware.append(AuditMalformedCalls(tools, session_of))
    return server


def tool_result(report: CallReport) -> types.CallToolResult:
    """A facegate call report as MCP content: the grounded text, and the typed outcome as structured content."""
    return types.CallToolResult(
        content=[types.TextContent(text=report.text)],
        structured_content=report.structured,
        is_error=report.is_error,
    )


class AuditMalformedCalls:
    """Server middleware: a ``tools/call`` the SDK refuses before the handler (params that do not parse) is
    still an attempt to use a tool, and is audited as a denial (``tool.invalid_arguments``)."""

    def __init__(self, tools: GatedTools, session_of: SessionOf) -> None:
        self.tools = tools
        self.session_of = session_of

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        try:
            return await call_next(ctx)
        except (MCPError, ValidationError):
            if ctx.method == "tools/call" and ctx.request_id is not None:
                params = ctx.params if isinstance(ctx.params, dict) else {}
                name = params.get("name")
                message = "malformed tools/call request: params must be {name: string, arguments: object}"
                tool = name if isinstance(name, str) else ""
                await anyio.to_thread.run_sync(self.tools.refuse, self.session_of(ctx), tool, message)
            raise


# --- stdio: bounded lines --------------------------------------------------------------------------------

_ID = re.compile(rb'"id"\s*:\s*(-?\d{1,18}|"(?:[^"\\]|\\.){0,200}")')
_METHOD = re.compile(rb'"method"\s*:\s*"([A-Za-z0-9_/.-]{1,100})"')
_NAME = re.compile(rb'"name"\s*:\s*"([A-Za-z0-9_.-]{1,100})"')
_HEAD = 4096  # where a request's id, method and tool name are looked for in a line too long to parse
_CHUNK = 1 << 20


class BoundedLines:
    """stdin for the SDK's stdio transport, read line by line with a bound on each line.

    The SDK reads a line whole before parsing it; a host (or anything else writing to the pipe) could make that
    line any size. This reader refuses a line longer than ``limit`` bytes without holding it: it skips to the
    line's end, answers the request's id (when the line's head names one) with an error, and has the attempt
    audited. A line that is not JSON-RPC at all gets a parse error (id null) and is audited too; the SDK alone
    would drop both silently.
    """

    def __init__(
        self, raw: BinaryIO, limit: int, refuse: Callable[[str, str], str], write: WriteStream[SessionMessage] | None
    ) -> None:
        """``refuse(tool, message) -> audit id`` audits a refused line (it runs in a worker thread)."""
        self.raw = raw
        self.limit = limit
        self.refuse = refuse
        self.write = write
        self._head = b""  # the start of the last line over the limit (its id, method and tool are read from it)

    def __aiter__(self) -> BoundedLines:
        return self

    async def __anext__(self) -> str:
        while True:
            line, size = await anyio.to_thread.run_sync(self._read_line, abandon_on_cancel=True)
            if line is None and size == 0:
                raise StopAsyncIteration
            if line is None:
                await self._oversize(size)
                continue
            if not line.strip():
                continue
            if await self._unparseable(line):
                continue
            return line.decode("utf-8", errors="replace")

    def _read_line(self) -> tuple[bytes | None, int]:
        """(the line, its size); (None, size) for a line over the limit (its head kept in ``_head``); (None, 0)
        at the end of the stream."""
        chunk = self.raw.readline(self.limit + 1)
        if not chunk:
            return None, 0
        if len(chunk) <= self.limit or (len(chunk) == self.limit + 1 and chunk.endswith(b"\n")):
            return chunk, len(chunk)
        self._head = chunk[:_HEAD]
        size = len(chunk)
        while not chunk.endswith(b"\n"):
            chunk = self.raw.readline(_CHUNK)
            if not chunk:
                break
            size += len(chunk)
        return None, size

    async def _oversize(self, size: int) -> None:
        head = self._head
        method = _match(_METHOD, head)
        tool = (_match(_NAME, head) or "(oversize)") if method == "tools/call" else "(oversize request)"
        message = f"a request of {size} bytes is over the {self.limit}-byte limit (two images in base64)"
        audit_id = await anyio.to_thread.run_sync(self.refuse, tool, message)
        raw_id = _match(_ID, head)
        if raw_id is not None:
            await self._error(json.loads(raw_id), types.INVALID_REQUEST, f"{message}; audit row {audit_id}")

    async def _unparseable(self, line: bytes) -> bool:
        try:
            types.jsonrpc_message_adapter.validate_json(line, by_name=False)
        except ValueError:  # pydantic's ValidationError is a ValueError
            audit_id = await anyio.to_thread.run_sync(self.refuse, "(unparseable)", "a line that is not JSON-RPC")
            await self._error(None, types.PARSE_ERROR, f"not a JSON-RPC message; audit row {audit_id}")
            return True
        return False

    async def _error(self, request_id: types.RequestId | None, code: int, message: str) -> None:
        if self.write is None:
            return
        error = types.JSONRPCError(jsonrpc="2.0", id=request_id, error=types.ErrorData(code=code, message=message))
        # the client may be gone: the audit row is what remains
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            await self.write.send(SessionMessage(message=error))


def _one_line(text: str) -> str:
    return " ".join(text.split())[:500]


def _match(pattern: re.Pattern[bytes], head: bytes) -> str | None:
    found = pattern.search(head)
    return found.group(1).decode("utf-8", errors="replace") if found else None


async def serve_stdio(tools: GatedTools, session: Session, *, version: str = "") -> None:
    """Serve ``tools`` over stdin/stdout until the client closes the pipe (one client, one session).

    While serving, the SDK points fd 1 at stderr (stray output cannot corrupt the protocol stream) and facegate
    reads stdin through :class:`BoundedLines`.
    """
    from mcp.server.stdio import stdio_server

    server = build_server(tools, lambda _ctx: session, version=version)

    def refuse(tool: str, message: str) -> str:
        return tools.refuse(session, tool, message).outcome.audit_ids[0]

    raw = os.fdopen(os.dup(0), "rb", buffering=_CHUNK)
    stdin = BoundedLines(raw, tools.limits.max_request_bytes, refuse, None)
    try:
        async with stdio_server(stdin=stdin) as (read_stream, write_stream):  # type: ignore[arg-type]
            stdin.write = write_stream
            await server.run(read_stream, write_stream, server.create_initialization_options())
    finally:
        raw.close()


__all__ = [
    "SERVER_NAME",
    "AuditMalformedCalls",
    "BoundedLines",
    "Forbidden",
    "Refusal",
    "build_server",
    "serve_stdio",
    "tool_result",
]
