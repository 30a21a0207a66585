"""MCP over streamable HTTP, on loopback only, behind facegate's API keys (``facegate mcp serve --transport http``).

The same :class:`~agent.mcp.service.GatedTools` and low-level ``Server`` as stdio
(:func:`agent.mcp.server.build_server`), served by the SDK's :class:`StreamableHTTPSessionManager` under
uvicorn. In front of the SDK stands :class:`KeyDoor`, a plain ASGI layer that every request passes first:

1. **Who.** The request's API key (``Authorization: Bearer <key>`` or ``X-Api-Key``) is checked by
   :func:`agent.apikeys.authenticate` (the key file read afresh, hashes compared in constant time) in a worker
   thread, on every request: no key, an unknown or a revoked key is HTTP 401 and the SDK never sees the request
   (no MCP session is made, nothing is audited). A key revoked with ``facegate keys revoke`` is refused from its
   next request on, mid-session too.
2. **How much.** A ``POST`` body is read up to two images in base64 plus 64 KiB (the stdio line limit,
   :attr:`agent.mcp.arguments.Limits.max_request_bytes`); a longer one is HTTP 413 and, since its sender is known,
   audited as a denial (``tool.invalid_arguments``, as on stdio). At most ``mcp_http_max_sessions`` requests are
   served at once and (the SDK's cap) as many sessions are open: one more is HTTP 503. Calls still run one at a
   time through the engine (``GatedTools`` holds a lock).
3. **As what.** The key's name is the actor of every audit row a request writes (not the launch ``--actor``),
   and the SDK binds a session to the key that opened it (another key gets 404). Only an ``operator`` key may
   call tools; an ``auditor`` key may connect and list them, and each ``tools/call`` it makes is refused as a
   tool error and audited under :data:`~agent.policy.rules.ACCESS_ROLE_NOT_PERMITTED`, before its arguments are
   read. The auditor's channel is the audit log (``facegate audit``), not the face tools.

TLS and exposure beyond this machine are a reverse proxy's job: the server refuses to bind anything but a
loopback address, and the SDK's DNS-rebinding check (Host and Origin must name the loopback address and port)
is on, so a web page in a local browser cannot drive it either.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import secrets
import signal
import socket
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import uvicorn
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.apikeys import Principal, authenticate, presented_key
from agent.errors import ConfigError
from agent.graph.state import Session
from agent.logging import get_logger
from agent.mcp.server import Refusal, build_server
from agent.policy.rules import ACCESS_ROLE_NOT_PERMITTED

if TYPE_CHECKING:
    from mcp.server import ServerRequestContext

    from agent.mcp.service import GatedTools
    from agent.settings import Settings

log = get_logger(__name__)

MCP_PATH = "/mcp"
PRINCIPAL = "facegate.principal"
"""The ASGI scope key under which :class:`KeyDoor` hands the authenticated principal to the MCP handlers."""
_SESSION_HEADER = b"mcp-session-id"
_WWW = (b"www-authenticate", b'Bearer realm="facegate"')


def loopback_address(host: str) -> str:
    """The loopback address to bind for ``host`` (``localhost`` is 127.0.0.1).

    Raises:
        ConfigError: ``host`` is not a loopback address (``0.0.0.0``, a LAN address, any other name).
    """
    if host.lower() == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise ConfigError(
            f"mcp serve --transport http listens on loopback only (127.0.0.1, ::1 or localhost), not {host!r}: "
            "put a reverse proxy with TLS in front of it to reach it from elsewhere",
            host=host[:100],
        )
    return str(address)


class Sessions:
    """Who each request is, as the MCP handlers need it: the facegate session (its actor the key's name) and
    whether the key's role may call tools."""

    def __init__(self, tools: GatedTools) -> None:
        self.tools = tools
        self._salt = secrets.token_hex(8)  # session ids of one server process are unlinkable to another's

    def of_scope(self, scope: Scope, principal: Principal) -> Session:
        """One facegate session per MCP session (the handshake era's ``Mcp-Session-Id``); in the per-request era,
        which has no sessions, one per key for the server's lifetime."""
        mcp_session = dict(scope.get("headers") or []).get(_SESSION_HEADER, b"").decode("latin-1")[:200]
        seed = f"{self._salt}:{'session:' + mcp_session if mcp_session else 'key:' + principal.name}"
        session_id = "mcp-" + hashlib.sha256(seed.encode()).hexdigest()[:12]
        return self.tools.session(session_id, actor=principal.name)

    def of(self, ctx: ServerRequestContext[Any, Any]) -> Session:
        return self.of_scope(*_scope_and_principal(ctx))

    def forbidden(self, ctx: ServerRequestContext[Any, Any]) -> Refusal | None:
        _, principal = _scope_and_principal(ctx)
        if principal.may_run:
            return None
        return Refusal(
            ACCESS_ROLE_NOT_PERMITTED,
            f"an {principal.role} key may list the tools but not call them; tool calls need an operator key",
        )


def _scope_and_principal(ctx: ServerRequestContext[Any, Any]) -> tuple[Scope, Principal]:
    request = ctx.request
    scope = getattr(request, "scope", None)
    principal = scope.get(PRINCIPAL) if isinstance(scope, dict) else None
    if not isinstance(principal, Principal):
        # every HTTP request passes KeyDoor first; a handler without a principal means a wiring mistake
        raise RuntimeError("an MCP request reached facegate's handlers without passing the API-key check")
    assert isinstance(scope, dict)
    return scope, principal


class KeyDoor:
    """The ASGI layer in front of the SDK's session manager: API key, body size, requests in flight."""

    def __init__(self, app: ASGIApp, settings: Settings, sessions: Sessions, *, max_body: int, max_in_flight: int):
        self.app = app
        self.settings = settings
        self.sessions = sessions
        self.max_body = max_body
        self.max_in_flight = max_in_flight
        self._in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # uvicorn runs with lifespan off; websockets are not MCP
        if scope["path"].rstrip("/") != MCP_PATH:
            await _respond(send, 404, "not found: the MCP endpoint is " + MCP_PATH)
            return
        headers = dict(scope.get("headers") or [])
        key = presented_key(headers)
        principal = await anyio.to_thread.run_sync(authenticate, self.settings, key) if key else None
        if principal is None:
            await _respond(send, 401, "a valid facegate API key is required (Authorization: Bearer <key>)", [_WWW])
            return
        scope = {**scope, PRINCIPAL: principal, "user": _user(principal, key or "")}
        if scope["method"] != "POST":  # GET (the handshake era's event stream) and DELETE carry no body
            await self.app(scope, receive, send)
            return
        if self._in_flight >= self.max_in_flight:
            await _respond(send, 503, f"busy: {self.max_in_flight} requests are being served; retry shortly")
            return
        self._in_flight += 1
        try:
            body = await _read_body(receive, self.max_body)
            if body is None:
                await self._oversize(scope, principal, send)
                return
            await self.app(scope, _replay(body, receive), send)
        finally:
            self._in_flight -= 1

    async def _oversize(self, scope: Scope, principal: Principal, send: Send) -> None:
        message = f"a request over the {self.max_body}-byte limit (two images in base64)"
        session = self.sessions.of_scope(scope, principal)
        report = await anyio.to_thread.run_sync(self.sessions.tools.refuse, session, "(oversize request)", message)
        await _respond(send, 413, f"{message}; audit row {report.outcome.audit_ids[0]}")


def _user(principal: Principal, key: str) -> AuthenticatedUser:
    """The SDK's notion of the caller: it binds a session to it (a request for that session with another key is
    answered 404). The key's fingerprint tells two keys of one name apart; the key itself is not kept."""
    from agent.apikeys import key_fingerprint

    token = AccessToken(
        token=key_fingerprint(key), client_id=principal.name, scopes=[principal.role], subject=key_fingerprint(key)
    )
    return AuthenticatedUser(token)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it passes ``limit`` (the rest is not held)."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return bytes(body)  # the client went away: what came is what the app will see
        body.extend(message.get("body", b""))
        if len(body) > limit:
            return None
        if not message.get("more_body", False):
            return bytes(body)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # http.disconnect, when the client goes

    return replay


async def _respond(send: Send, status: int, message: str, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    """A JSON-RPC error (id null) with an HTTP status: what the SDK itself answers a request it refuses."""
    code = -32600 if status in (404, 413) else -32001 if status == 401 else -32603
    body = json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}).encode()
    await send({
        "type": "http.response.start", "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})


class _Uvicorn(uvicorn.Server):
    """uvicorn without its own signal handling (it re-raises SIGTERM after shutting down, which would skip
    facegate's clean-up); :func:`serve_http` handles the signals. Says where it listens once it does."""

    def __init__(self, config: uvicorn.Config, on_listening: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_listening = on_listening

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_listening()


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on the loopback ``host`` (port 0: a free one)."""
    address = loopback_address(host)
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {address} port {port}: {exc.strerror}", host=address, port=port) from exc
    sock.setblocking(False)
    return sock


def url_of(sock: socket.socket) -> str:
    address, port = sock.getsockname()[:2]
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{port}{MCP_PATH}"


async def serve_http(
    tools: GatedTools, settings: Settings, sock: socket.socket, *, version: str = "",
    on_listening: Callable[[str], None] = lambda _url: None,
) -> None:  # fmt: skip
    """Serve ``tools`` over streamable HTTP on ``sock`` (from :func:`bind`) until SIGINT or SIGTERM.

    ``on_listening(url)`` is called once the server accepts requests. On a signal the server stops taking
    requests, lets those in flight finish (a call already running writes its audit rows), and returns.
    """
    sessions = Sessions(tools)
    server = build_server(tools, sessions.of, version=version, forbidden=sessions.forbidden)
    address, port = sock.getsockname()[:2]
    names = [f"[{address}]" if ":" in address else address] + (["localhost"] if address == "127.0.0.1" else [])
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[f"{n}:{port}" for n in names],
        allowed_origins=[f"http://{n}:{port}" for n in names],
    )
    cap = settings.mcp_http_max_sessions
    limit = tools.limits.max_request_bytes
    manager = StreamableHTTPSessionManager(
        server, security_settings=security, max_request_body_size=limit, max_sessions=cap
    )
    door = KeyDoor(manager.handle_request, settings, sessions, max_body=limit, max_in_flight=cap)
    config = uvicorn.Config(
        door, lifespan="off", log_config=None, access_log=False, timeout_graceful_shutdown=30, server_header=False
    )
    url = url_of(sock)
    http = _Uvicorn(config, lambda: on_listening(url))
    async with manager.run(), anyio.create_task_group() as tg:

        async def stop_on_signal() -> None:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    http.should_exit = True
                    return

        tg.start_soon(stop_on_signal)
        log.info("mcp.http.listening", url=url, purpose=tools.purpose, max_sessions=cap, max_body=limit)
        await http.serve(sockets=[sock])
        tg.cancel_scope.cancel()


__all__ = ["MCP_PATH", "PRINCIPAL", "KeyDoor", "Sessions", "bind", "loopback_address", "serve_http", "url_of"]
