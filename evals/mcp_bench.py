"""``facegate eval mcp``: what the MCP layer costs per call, tool time excluded.

A throwaway home (the configured home's weights linked in; obama consented and enrolled for ``mfa`` from the
package photos) is served by a real ``facegate mcp serve`` process over stdio (or, ``--transport http``, over
streamable HTTP on a free loopback port with an operator key of its own), and a real client from the ``mcp``
SDK times round trips. Each round trip is paired with the same call made in this process without MCP, through
:class:`agent.mcp.service.GatedTools` (argument checks, image load, gate, audit rows, rendering), and for a
verification also straight through :class:`agent.graph.gate.ToolGate` (load, admit, run, forget: what an SDK
turn does); the pairs share the machine's load of the moment, and the medians of the pairwise differences are
reported:

- ``consent_status`` and a refused call (``analyze_expression`` under ``mfa``, on a tiny image): tool time is
  nil, so round trip minus in-process call is the MCP layer (SDK, stdio framing, worker thread, JSON);
- ``verify_identity`` on the real engine: round trip minus ``ToolGate`` directly.

Both protocol eras the SDK speaks are timed (``legacy``: the initialize handshake most hosts speak today;
``auto``: the SDK default, the 2026-07-28 per-request envelope). Timings share the machine with whatever else
runs; nothing here asserts a threshold.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

from pydantic import BaseModel

from evals.errors import EvalError

if TYPE_CHECKING:
    from agent.mcp.service import GatedTools
    from agent.settings import Settings

Transport = Literal["stdio", "http"]
PURPOSE = "mfa"
SUBJECT = "obama"


class CallTiming(BaseModel):
    """One kind of call, timed in pairs (in process, then over MCP, then ToolGate directly for a verification)
    so that each pair shares the machine's load of the moment. Medians in milliseconds."""

    call: str
    in_process_ms: float  # GatedTools.call: argument checks, image load, gate, audit, rendering
    mcp_ms: float  # the client's round trip
    overhead_ms: float  # median of (round trip - in process), pair by pair: the MCP layer
    direct_gate_ms: float | None = None  # ToolGate.admit + run (and the image load) without the MCP service
    mcp_minus_gate_ms: float | None = None  # median of (round trip - ToolGate directly), pair by pair
    statuses: dict[str, int]  # outcome statuses seen, in process and over MCP: the timings are of the right thing


class Era(BaseModel):
    """One protocol era over stdio: ``legacy`` (the initialize handshake most hosts speak today) or ``auto``
    (the SDK's default: the 2026-07-28 per-request envelope when the server offers it)."""

    mode: str
    protocol_version: str
    server_start_ms: float  # process start until the tools are listed (interpreter, imports, store, handshake)
    list_tools_ms: float
    calls: list[CallTiming]


class McpBench(BaseModel):
    repeats: int
    transport: Transport = "stdio"
    photos_sha256: str  # of the enrolment photo and the probe, in that order
    eras: list[Era]


def run_mcp_bench(settings: Settings, *, photos: Path, repeats: int = 30, transport: Transport = "stdio") -> McpBench:
    """Time MCP round trips against in-process calls (see the module docstring)."""
    import anyio

    from tools.sample_photos import ensure_sample_photos, sample_photo
    from tools.weights import ensure_ready

    ensure_ready(settings)
    ensure_sample_photos(photos)
    with tempfile.TemporaryDirectory(prefix="facegate-mcp-bench-") as tmp:
        home = Path(tmp) / "home"
        images = Path(tmp) / "images"
        images.mkdir()
        probe, enrol = images / "obama2.jpg", images / "obama.jpg"
        probe.write_bytes(sample_photo("obama2.jpg", photos).read_bytes())
        enrol.write_bytes(sample_photo("obama.jpg", photos).read_bytes())
        local = _provision(settings, home, enrol, images)
        eras = [anyio.run(_era, local, probe, repeats, mode, transport) for mode in ("legacy", "auto")]
        digest = hashlib.sha256(b"".join(hashlib.sha256(p.read_bytes()).digest() for p in (enrol, probe)))
    return McpBench(repeats=repeats, photos_sha256=digest.hexdigest(), transport=transport, eras=eras)


def _provision(settings: Settings, home: Path, enrol: Path, images: Path) -> Settings:
    """A home with obama consented and enrolled, the configured home's weights linked in; its settings."""
    from agent.consent import grant_consent
    from agent.enrollment import enroll
    from agent.policy import load_policy
    from agent.store import Store
    from tools.engine import FaceEngine

    home.mkdir(parents=True)
    (home / ".deepface").symlink_to(settings.home / ".deepface", target_is_directory=True)
    local = settings.model_copy(update={"home": home, "db_path": None, "allowed_image_dirs": [images]})
    policy = load_policy(local.policy_file)
    with Store.open(local.resolved_db_path) as store:
        grant_consent(store, policy, subject_id=SUBJECT, capabilities=["face_verification", "enrollment"],
                      purposes=[PURPOSE], notice="bench", evidence_method="bench", recorded_by="bench", term_days=1,
                      actor="bench")  # fmt: skip
        enroll(store, FaceEngine(local), policy, subject_id=SUBJECT, image=enrol, purpose=PURPOSE, actor="bench")
    return local


async def _era(settings: Settings, probe: Path, repeats: int, mode: str, transport: Transport) -> Era:
    started = time.perf_counter()
    async with _client(settings, mode, transport) as client:
        await client.list_tools()
        start_ms = round((time.perf_counter() - started) * 1000, 1)
        listing = [await _atimed(lambda: client.list_tools(cache_mode="refresh")) for _ in range(repeats)]
        timings = await _calls(settings, client, probe, repeats)
        return Era(mode=mode, protocol_version=client.protocol_version, server_start_ms=start_ms,
                   list_tools_ms=_median(listing), calls=timings)  # fmt: skip


@contextlib.asynccontextmanager
async def _client(settings: Settings, mode: str, transport: Transport) -> AsyncIterator[Any]:
    """A real server process and a real SDK client connected to it (over HTTP: with an operator key of its own,
    on a free loopback port)."""
    from mcp import Client, StdioServerParameters
    from mcp.client.stdio import stdio_client

    assert settings.allowed_image_dirs
    command = [sys.executable, "-m", "agent.cli.main", "mcp", "serve", "--purpose", PURPOSE,
               "--image-dir", str(settings.allowed_image_dirs[0]), "--actor", "bench"]  # fmt: skip
    # the server's stderr goes to a file next to its home (the SDK's default, sys.stderr, may have no fileno)
    with (settings.home.parent / f"server-{transport}-{mode}.log").open("w", encoding="utf-8") as errlog:
        if transport == "stdio":
            env = {"FACEGATE_HOME": str(settings.home)}
            params = StdioServerParameters(command=command[0], args=command[1:], env=env)
            async with Client(stdio_client(params, errlog=errlog), mode=mode) as client:
                yield client
            return
        async with _http_client(settings, command, mode, errlog) as client:
            yield client


@contextlib.asynccontextmanager
async def _http_client(settings: Settings, command: list[str], mode: str, errlog: TextIO) -> AsyncIterator[Any]:
    import anyio.to_thread
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    from agent.apikeys import KeyRing

    _, key = KeyRing.of(settings).add(f"bench-{mode}", "operator", actor="bench")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACEGATE_")} | {"FACEGATE_HOME": str(settings.home)}
    server = subprocess.Popen([*command, "--transport", "http", "--port", "0"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=errlog, env=env)  # fmt: skip
    try:
        assert server.stdout is not None
        url = (await anyio.to_thread.run_sync(server.stdout.readline)).decode().strip()
        if not url:
            raise EvalError(f"the HTTP server did not start (exit {server.wait()}); see {errlog.name}")
        headers = {"Authorization": f"Bearer {key}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300)) as http,
            Client(streamable_http_client(url, http_client=http), mode=mode) as client,  # type: ignore[arg-type]
        ):
            yield client
    finally:
        server.terminate()
        server.wait(60)


async def _calls(settings: Settings, client: Any, probe: Path, repeats: int) -> list[CallTiming]:
    from agent.mcp.service import open_gated_tools

    calls: dict[str, dict[str, Any]] = {
        "consent_status": {"subject": SUBJECT},
        # refused (not what mfa is for) on a tiny image: the time is the gate's and MCP's, not the JPEG decoder's
        "analyze_expression": {"image": {"path": str(_tiny_png(probe.parent / "tiny.png"))}},
        "verify_identity": {"image": {"path": str(probe)}, "claimed_subject": SUBJECT},
    }
    with open_gated_tools(settings, purpose=PURPOSE, actor="bench") as tools:
        session = tools.session()
        return [await _paired(tools, session, client, name, args, probe, repeats) for name, args in calls.items()]


async def _paired(
    tools: GatedTools, session: Any, client: Any, name: str, args: dict[str, Any], probe: Path, repeats: int
) -> CallTiming:
    direct = _direct_gate(tools, session, probe) if name == "verify_identity" else None
    local, remote, gate = [], [], []
    statuses: Counter[str] = Counter()
    for i in range(repeats + 1):  # the first round warms up (models, caches, first-call imports)
        t_local = _timed(lambda: statuses.update([tools.call(session, name, args).outcome.status]))
        t_remote = await _atimed(lambda: _remote(client, name, args, statuses))
        t_gate = _timed(direct) if direct is not None else 0.0
        if i:
            local.append(t_local)
            remote.append(t_remote)
            gate.append(t_gate)
    return CallTiming(
        call=name if name != "analyze_expression" else "refused (analyze_expression under mfa)",
        in_process_ms=_median(local),
        mcp_ms=_median(remote),
        overhead_ms=_median([r - t for r, t in zip(remote, local, strict=True)]),
        direct_gate_ms=_median(gate) if direct is not None else None,
        mcp_minus_gate_ms=_median([r - g for r, g in zip(remote, gate, strict=True)]) if direct is not None else None,
        statuses=dict(statuses),
    )


async def _remote(client: Any, name: str, args: dict[str, Any], statuses: Counter[str]) -> None:
    result = await client.call_tool(name, args)
    statuses.update([str((result.structured_content or {}).get("status"))])


def _direct_gate(tools: GatedTools, session: Any, probe: Path) -> Callable[[], None]:
    """verify_identity through ToolGate alone: load the probe, admit, run, forget (what an SDK turn does)."""
    from agent.graph.gate import Allowed, ToolGate
    from agent.graph.messages import ImageHandle, ToolCall

    deps = tools.deps
    gate = ToolGate(deps)
    call = ToolCall(id="bench", name="verify_identity", args={"image": "img1", "claimed_subject": SUBJECT})

    def verify() -> None:
        loaded = deps.engine.load(str(probe))
        deps.vault.put(loaded)
        handles = [ImageHandle(handle="img1", sha256=loaded.sha256)]
        admitted = gate.admit(call, session, handles)
        assert isinstance(admitted, Allowed)
        gate.run(call, admitted.licence, session, handles)
        deps.forget_image(loaded.sha256)

    return verify


def _tiny_png(path: Path) -> Path:
    from PIL import Image

    Image.new("RGB", (32, 32), (128, 128, 128)).save(path)
    return path


def _timed(run: Callable[[], Any]) -> float:
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) * 1000


async def _atimed(run: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await run()
    return (time.perf_counter() - start) * 1000


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def summary(report: McpBench) -> str:
    lines = [f"MCP over {report.transport}, medians of {report.repeats} paired calls (ms)"]
    for era in report.eras:
        lines += [
            "",
            f"{era.mode} ({era.protocol_version}): server start {era.server_start_ms}, tools/list {era.list_tools_ms}",
            "| call | in process | over MCP | MCP layer | ToolGate directly | MCP - ToolGate |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for c in era.calls:
            gate = "" if c.direct_gate_ms is None else f"{c.direct_gate_ms} | {c.mcp_minus_gate_ms}"
            lines.append(f"| {c.call} | {c.in_process_ms} | {c.mcp_ms} | {c.overhead_ms} | {gate or ' | '} |")
    return "\n".join(lines)
