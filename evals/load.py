"""``facegate eval load``: concurrent sessions against facegate behind LangGraph's server, on loopback.

For each database (SQLite in a fresh home; PostgreSQL at a URL you give), a ``langgraph dev`` server is started
with the offline reasoner and the real face engine, provisioned like a deployment (an operator key, one consent
on record, the package photos as the allowed image folder) and warmed up with one turn (the face models load
then). Then ``sessions`` clients run at once, each ``turns`` turns one after another, every turn on a new thread
(one door event each): four verifications through the policy gate and one request for a sensitive inference
(refused by rule, the engine does not run), in turn. A verification is a door's: a probe against the enrolled
template of the person it claims to be. Every probe is a fresh capture (a package photo with a JPEG comment
naming the turn, so its bytes and hash are its own): the engine detects and embeds each one. Bounded twice: by the
number of turns and by ``duration_s`` (no turn starts after it). Reported: turns done, errors, throughput,
p50/p95/p99 turn latency as the client saw it, and the server's start-up time, side by side per database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, Field

from evals.errors import EvalError

PURPOSE = "access_control"
SUBJECT = "obama"
ENROLLED = "obama.jpg"  # the consenting person's enrollment photo: their template
PROBES = ("obama2.jpg", "obama3.jpg", "biden.jpg", "obama_partial_face.jpg")  # biden: a no-match
REFUSAL = "What is the ethnicity of the person in img1?"
VERIFY = f"Verify img1 against enrolled {SUBJECT}."
CAVEAT = (
    "Client-side turn latency (thread created to run finished) through LangGraph's in-memory dev server on "
    "loopback, offline reasoner, real face engine on package photos; it includes the time a run waits in the "
    "server's queue (its worker polls for runs) and the graph's execution, both read from the server's log. Each "
    "server process's face engine runs one detection/embedding at a time; with several servers on one database "
    "the sessions are spread over them in turn. Timings move with whatever else the machine is doing."
)


class Latency(BaseModel):
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    mean_ms: float | None = None
    max_ms: float | None = None


class BackendLoad(BaseModel):
    """One database's run: what was asked, what came back, how fast."""

    backend: Literal["sqlite", "postgresql"]
    database: str  # a path, or the URL without its password
    servers: int = 1  # server processes sharing the database; sessions are spread over them in turn
    sessions: int
    turns_requested: int
    turns_done: int
    errors: int
    error_kinds: dict[str, int] = Field(default_factory=dict)
    outcomes: dict[str, int] = Field(default_factory=dict)  # match / no_match / refused
    wall_s: float
    throughput_per_s: float
    latency: Latency
    verification_latency: Latency  # the turns where the engine ran
    server_start_s: float
    warmup_ms: float
    # from the server's own log, per run after the warm-up: time in its run queue, and executing the graph
    server_queue_wait: Latency = Field(default_factory=Latency)
    server_execution: Latency = Field(default_factory=Latency)
    stopped_by_deadline: bool
    audit_rows: int | None = None  # rows in the chain after the run (provisioning included)
    audit_intact: bool | None = None


class LoadReport(BaseModel):
    sessions: int
    turns_per_session: int
    duration_limit_s: float
    cpus: int | None
    python: str
    langgraph_api: str | None
    backends: list[BackendLoad]
    caveat: str = CAVEAT


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100): a value that was observed, honest on small samples."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100), at least 1
    return round(ordered[int(rank) - 1], 1)


def latency_of(values: Sequence[float]) -> Latency:
    if not values:
        return Latency()
    return Latency(
        p50_ms=percentile(values, 50), p95_ms=percentile(values, 95), p99_ms=percentile(values, 99),
        mean_ms=round(sum(values) / len(values), 1), max_ms=round(max(values), 1),
    )  # fmt: skip


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def backend_of(url: str | None) -> Literal["sqlite", "postgresql"]:
    if url in (None, "", "sqlite"):
        return "sqlite"
    if urlsplit(url).scheme in ("postgresql", "postgres") or url.startswith("postgresql+"):
        return "postgresql"
    raise EvalError(f"unsupported database {redact_url(url)!r}: give 'sqlite' or a postgresql:// URL")


def run_load(
    *,
    photos: Path,
    databases: Sequence[str | None] = (None,),
    sessions: int = 4,
    turns: int = 5,
    duration_s: float = 180.0,
    servers: Sequence[int] = (1,),
    out: Path,
    progress: Any = None,
) -> LoadReport:
    """Run the load against fresh servers per database, once per count in ``servers`` (server processes sharing
    that database, the sessions spread over them); write load.json and load.md in ``out``."""
    from tools.sample_photos import ensure_sample_photos

    if sessions < 1 or turns < 1 or duration_s <= 0 or not servers or min(servers) < 1:
        raise EvalError("sessions, turns, duration and servers must be positive")
    if max(servers) > sessions:
        raise EvalError(f"{max(servers)} servers for {sessions} sessions: some servers would get no session")
    out.mkdir(parents=True, exist_ok=True)
    ensure_sample_photos(photos)
    missing = [name for name in (ENROLLED, *PROBES) if not (photos / name).exists()]
    if missing:
        raise EvalError(f"package photos missing in {photos}: {', '.join(sorted(set(missing)))}")
    results = [
        _run_backend(
            url, photos=photos, sessions=sessions, turns=turns, duration_s=duration_s, servers=n, progress=progress
        )
        for url in databases
        for n in servers
    ]
    report = LoadReport(
        sessions=sessions, turns_per_session=turns, duration_limit_s=duration_s, cpus=os.cpu_count(),
        python=platform.python_version(), langgraph_api=_version("langgraph-api"), backends=results,
    )  # fmt: skip
    (out / "load.json").write_text(json.dumps(report.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
    (out / "load.md").write_text(render_markdown(report), encoding="utf-8")
    return report


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def _run_backend(
    url: str | None, *, photos: Path, sessions: int, turns: int, duration_s: float, servers: int, progress: Any
) -> BackendLoad:
    from agent.apikeys import KeyRing
    from agent.server.launch import running_server
    from agent.settings import Settings
    from tools.weights import install_weights

    backend = backend_of(url)
    if backend == "postgresql" and "database_url" not in Settings.model_fields:
        raise EvalError(
            "this facegate has no PostgreSQL backend (FACEGATE_DATABASE_URL); run with --database sqlite, or on a "
            "build that includes it"
        )
    with tempfile.TemporaryDirectory(prefix="facegate-load-") as scratch:
        home = Path(scratch) / "home"
        captures = Path(scratch) / "captures"
        plan = make_plan(photos, captures, sessions=sessions, turns=turns)
        env = {
            "FACEGATE_HOME": str(home),
            "FACEGATE_REASONER": "offline",
            "FACEGATE_ALLOWED_IMAGE_DIRS": json.dumps([str(photos), str(captures)]),
        }
        if backend == "postgresql":
            assert url is not None
            env["FACEGATE_DATABASE_URL"] = url
        settings = Settings(home=home, reasoner="offline")
        install_weights(settings)
        _step(progress, f"{backend}: provisioning (an operator key; {SUBJECT}'s consent and template)")
        _, key = KeyRing.of(settings).add("load", "operator", actor="facegate eval load")
        _provision(env, photos / ENROLLED)
        _step(progress, f"{backend}: starting langgraph dev x{servers}")
        with contextlib.ExitStack() as stack:
            started = [
                stack.enter_context(running_server(Path(scratch) / f"server{n}", env=env, jobs_per_worker=sessions))
                for n in range(servers)
            ]
            _step(progress, f"{backend}: {servers} server(s) up; warming up (face models load)")
            result = asyncio.run(_drive([s.url for s in started], key, plan, duration_s, progress, backend))
        waits: list[float] = []
        runs: list[float] = []
        for server in started:  # each server's warm-up run is left out
            w, r = server_run_times(server.log_path.read_text(errors="replace"))
            waits, runs = waits + w[1:], runs + r[1:]
        database = str(settings.resolved_db_path) if backend == "sqlite" else redact_url(url or "")
        rows, intact = _audit_figures(env)
        return BackendLoad(
            backend=backend, database=database, servers=servers, audit_rows=rows, audit_intact=intact,
            server_start_s=round(max(s.started_in_s for s in started), 2), server_queue_wait=latency_of(waits),
            server_execution=latency_of(runs), **result,
        )  # fmt: skip


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_RUN_DONE = re.compile(r"Background run succeeded.*?run_exec_ms=(\d+).*?run_wait_time_ms=(\d+)")


def server_run_times(log: str) -> tuple[list[float], list[float]]:
    """(queue wait, execution) in ms of every run the server finished, in order, from its log lines."""
    found = [_RUN_DONE.search(line) for line in _ANSI.sub("", log).splitlines()]
    return [float(m.group(2)) for m in found if m], [float(m.group(1)) for m in found if m]


def _step(progress: Any, message: str) -> None:
    if progress is not None:
        progress.step(message)


def _provision(env: dict[str, str], photo: Path) -> None:
    """Consent and enrollment through the CLI, so that they land wherever the server's settings point (SQLite or
    PostgreSQL), recorded as an operator would."""
    from agent.server.launch import server_env

    facegate = _facegate()
    actor = ["--actor", "facegate eval load"]
    commands = [
        ["consent", "grant", SUBJECT, "--capability", "face_verification", "--capability", "enrollment",
         "--purpose", PURPOSE, "--notice", "load test notice", "--evidence-method", "signed_form",
         "--recorded-by", "facegate eval load", "--term-days", "1", *actor],
        ["enroll", SUBJECT, str(photo), "--purpose", PURPOSE, *actor],
    ]  # fmt: skip
    for args in commands:
        done = subprocess.run([facegate, *args], env=server_env(env), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise EvalError(f"could not provision the load test ({args[0]}): {done.stderr.strip()}")


def _audit_figures(env: dict[str, str]) -> tuple[int, bool]:
    """Rows in the chain and whether it verifies, through ``facegate audit verify`` on the server's settings (so
    the same for SQLite and PostgreSQL)."""
    from agent.server.launch import server_env

    done = subprocess.run(
        [_facegate(), "audit", "verify", "--json"], env=server_env(env), capture_output=True, text=True, check=False
    )
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise EvalError(f"facegate audit verify failed after the load: {done.stderr.strip()}") from None
    return int(report["rows"]), bool(report["ok"])


def _facegate() -> str:
    return shutil.which("facegate", path=str(Path(sys.executable).parent)) or "facegate"


Turn = tuple[str, dict[str, Any]]  # (kind, the run's input)


def make_plan(photos: Path, captures: Path, *, sessions: int, turns: int) -> list[list[Turn]]:
    """Every session's turns, written out before the clock starts (a warm-up turn first, as session -1)."""
    captures.mkdir(parents=True, exist_ok=True)
    plan: list[list[Turn]] = []
    for session in range(-1, sessions):
        mine: list[Turn] = []
        for turn in range(1 if session < 0 else turns):
            kind = (3 * max(session, 0) + turn) % (len(PROBES) + 1)  # sessions start at different points of the mix
            name = PROBES[kind % len(PROBES)]
            probe = captures / f"s{session + 1}-t{turn}-{name}"
            probe.write_bytes(fresh_capture((photos / name).read_bytes(), f"load s{session + 1} t{turn}"))
            image = {"path": str(probe), "subject": None}
            if kind == len(PROBES):
                mine.append(("refusal", _message(REFUSAL, image)))
            else:
                mine.append(("verification", _message(VERIFY, image)))
        plan.append(mine)
    return plan


def _message(text: str, *attachments: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], "attachments": list(attachments)}


def fresh_capture(jpeg: bytes, note: str) -> bytes:
    """The same picture with a JPEG comment segment after the start marker: other bytes, another hash."""
    if jpeg[:2] != b"\xff\xd8":
        raise EvalError("probe photos must be JPEG")
    comment = note.encode("ascii")
    return jpeg[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + jpeg[2:]


def _classify(kind: str, values: Any) -> tuple[str | None, str | None]:
    """(outcome, error kind) of one finished turn, from what the server returned."""
    if not isinstance(values, dict):
        return None, "no_state"
    if "__error__" in values:
        return None, str(values["__error__"].get("error", "run_error"))
    outcomes = [t["outcome"] for t in values.get("transcript", []) if t.get("outcome")]
    if not outcomes or not values.get("messages") or values["messages"][-1].get("type") != "ai":
        return None, "no_answer"
    last = outcomes[-1]
    if kind == "refusal":
        return ("refused", None) if last["status"] == "denied" else (None, f"not_refused:{last['status']}")
    if last["status"] != "ok":
        return None, f"verification_{last['status']}:{last.get('error_code')}"
    return ("match" if last["result"]["verified"] else "no_match"), None


async def _drive(
    urls: Sequence[str], key: str, plan: list[list[Turn]], duration_s: float, progress: Any, backend: str
) -> dict[str, Any]:
    from langgraph_sdk import get_client

    # connect, read, write, pool timeouts; one client per server, session i talks to server i mod n
    clients = [get_client(url=url, api_key=key, timeout=(10.0, 300.0, 300.0, 10.0)) for url in urls]
    context = {"purpose": PURPOSE}

    async def one_turn(client: Any, kind: str, given: dict[str, Any]) -> tuple[str, float, Any]:
        started = time.perf_counter()
        thread = await client.threads.create()
        values = await client.runs.wait(thread["thread_id"], "facegate", input=given, context=context,
                                        raise_error=False)  # fmt: skip
        return kind, (time.perf_counter() - started) * 1000, values

    warmup, *sessions = plan
    warmups = []
    for client in clients:  # every server loads its face models before the clock starts
        _, warmup_ms, warm = await one_turn(client, *warmup[0])
        if _classify("verification", warm)[1] is not None:
            raise EvalError(f"the warm-up turn failed on {backend}: {_classify('verification', warm)[1]}")
        warmups.append(warmup_ms)

    total = sum(len(turns) for turns in sessions)
    deadline = time.monotonic() + duration_s
    latencies: list[float] = []
    verification: list[float] = []
    outcomes: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    done = 0
    stopped = False

    async def session(client: Any, turns: list[Turn]) -> None:
        nonlocal done, stopped
        for turn in turns:
            if time.monotonic() >= deadline:
                stopped = True
                return
            try:
                kind, ms, values = await one_turn(client, *turn)
            except Exception as exc:  # a failed request is a result of the load test, counted by kind
                errors[type(exc).__name__] += 1
                continue
            done += 1
            outcome, error = _classify(kind, values)
            if error is not None:
                errors[error] += 1
                continue
            latencies.append(ms)
            if kind == "verification":
                verification.append(ms)
            outcomes[str(outcome)] += 1
            if progress is not None:
                progress(f"{backend}: turns", done, total)

    loaded = time.perf_counter()
    await asyncio.gather(*(session(clients[i % len(clients)], turns) for i, turns in enumerate(sessions)))
    wall = time.perf_counter() - loaded
    return {
        "sessions": len(sessions), "turns_requested": total, "turns_done": done, "errors": sum(errors.values()),
        "error_kinds": dict(errors), "outcomes": dict(outcomes), "wall_s": round(wall, 2),
        "throughput_per_s": round(len(latencies) / wall, 3) if wall > 0 else 0.0, "latency": latency_of(latencies),
        "verification_latency": latency_of(verification), "warmup_ms": round(max(warmups), 1),
        "stopped_by_deadline": stopped,
    }  # fmt: skip


def render_markdown(report: LoadReport) -> str:
    """The side-by-side table (one column per database) and how the figures were taken."""
    cols = report.backends

    def row(name: str, values: Sequence[object]) -> str:
        return f"| {name} | " + " | ".join("-" if v is None else str(v) for v in values) + " |"

    audit = [f"{c.audit_rows} / {c.audit_intact}" if c.audit_rows is not None else None for c in cols]
    lines = [
        "# facegate eval load",
        "",
        f"{report.sessions} concurrent sessions x {report.turns_per_session} turns "
        f"(limit {report.duration_limit_s:g} s), {report.cpus} CPUs, Python {report.python}, "
        f"langgraph-api {report.langgraph_api}.",
        "",
        "| | " + " | ".join(c.backend + (f" x{c.servers} servers" if c.servers > 1 else "") for c in cols) + " |",
        "| --- | " + " | ".join("---" for _ in cols) + " |",
        row("turns done / requested", [f"{c.turns_done}/{c.turns_requested}" for c in cols]),
        row("errors", [c.errors for c in cols]),
        row("throughput (turns/s)", [c.throughput_per_s for c in cols]),
        row("turn latency p50 (ms)", [c.latency.p50_ms for c in cols]),
        row("turn latency p95 (ms)", [c.latency.p95_ms for c in cols]),
        row("turn latency p99 (ms)", [c.latency.p99_ms for c in cols]),
        row("verification turn p50 (ms)", [c.verification_latency.p50_ms for c in cols]),
        row(
            "server: run queue wait p50 / p95 (ms)",
            [f"{c.server_queue_wait.p50_ms} / {c.server_queue_wait.p95_ms}" for c in cols],
        ),
        row(
            "server: run execution p50 / p95 (ms)",
            [f"{c.server_execution.p50_ms} / {c.server_execution.p95_ms}" for c in cols],
        ),
        row("outcomes", [", ".join(f"{k} {v}" for k, v in sorted(c.outcomes.items())) for c in cols]),
        row("wall time (s)", [c.wall_s for c in cols]),
        row("server start-up (s)", [c.server_start_s for c in cols]),
        row("warm-up turn (ms)", [c.warmup_ms for c in cols]),
        row("audit rows / intact", audit),
        "",
        report.caveat,
        "",
    ]
    for c in cols:
        if c.error_kinds:
            lines.append(f"{c.backend} errors: " + ", ".join(f"{k} {v}" for k, v in sorted(c.error_kinds.items())))
        if c.stopped_by_deadline:
            lines.append(f"{c.backend}: stopped by the time limit before every turn ran.")
    return "\n".join(lines) + "\n"
