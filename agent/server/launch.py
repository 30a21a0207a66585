"""Start and stop ``langgraph dev`` serving facegate on a loopback port (the tests and ``facegate eval load``).

The server runs as its own process group in a scratch folder (where ``langgraph.json`` is written and where the
in-memory runtime would keep its files; file persistence is switched off), with the caller's environment plus
what makes it hermetic: no CLI analytics, no LangSmith tracing. ``LANGGRAPH_STRICT_MSGPACK`` must stay off: the
in-memory runtime of langgraph-api 0.16 does not hand the graph's allow-list to the serializer its runs read
checkpoints with, so strict mode brings facegate's typed state back as plain dicts. :func:`server_config` is the
``langgraph.json`` facegate ships.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.errors import ConfigError, FacegateError

_MOVED = re.compile(r"Port \d+ is already in use, using port (\d+) instead")
HERMETIC_ENV = {
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGGRAPH_DISABLE_FILE_PERSISTENCE": "true",
}


# Where a server keeps its data and whom it trusts: taken from the caller's ``env`` only, never inherited from the
# shell that runs the tests or the load benchmark (a FACEGATE_DATABASE_URL there must not point a scratch server
# at a shared database). The engine's settings (detector, model, ...) are inherited.
PLACEMENT_VARS = (
    "FACEGATE_HOME",
    "FACEGATE_DATABASE_URL",
    "FACEGATE_DB_PATH",
    "FACEGATE_CHECKPOINT_PATH",
    "FACEGATE_API_KEYS_FILE",
    "FACEGATE_ALLOWED_IMAGE_DIRS",
    "FACEGATE_POLICY_FILE",
)


def server_env(env: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without the placement variables, plus the hermetic settings, plus ``env``."""
    inherited = {k: v for k, v in os.environ.items() if k not in PLACEMENT_VARS}
    return {**inherited, **HERMETIC_ENV, **env}


class ServerStartError(FacegateError):
    """``langgraph dev`` did not come up (missing extra, port taken, a crash at start-up: see its log)."""

    code = "server_start_error"


def server_config() -> dict[str, Any]:
    """The ``langgraph.json`` that serves facegate: the graph factory and the API-key hook (Studio's own sign-in
    off, so Studio too needs a key)."""
    return {
        "$schema": "https://langgra.ph/schema.json",
        "dependencies": ["."],
        "graphs": {"facegate": "agent.server.graph:make_graph"},
        "auth": {"path": "agent.server.auth:auth", "disable_studio_auth": True},
    }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def langgraph_command() -> str:
    """The ``langgraph`` console script of this environment (``facegate[server]``)."""
    beside = Path(sys.executable).with_name("langgraph")
    found = str(beside) if beside.exists() else shutil.which("langgraph")
    if found is None:
        raise ConfigError("langgraph-cli is not installed: pip install 'facegate[server]'")
    return found


@dataclass
class ServerProcess:
    """A running ``langgraph dev``: its URL, its log, and how long it took to answer ``/ok``."""

    url: str
    process: subprocess.Popen[bytes]
    workdir: Path
    log_path: Path
    started_in_s: float = 0.0
    env: dict[str, str] = field(default_factory=dict, repr=False)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM to the server's process group, then SIGKILL if it has not exited in ``timeout_s``."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout_s)


def start_server(
    workdir: Path,
    *,
    env: Mapping[str, str],
    port: int | None = None,
    jobs_per_worker: int = 10,
    timeout_s: float = 120.0,
) -> ServerProcess:
    """Start ``langgraph dev`` on 127.0.0.1 (no browser, no reload) and wait until it answers ``/ok``.

    ``env`` is added to this process's environment (``FACEGATE_HOME``, ``FACEGATE_ALLOWED_IMAGE_DIRS``, ...), from
    which the placement variables (:data:`PLACEMENT_VARS`) are dropped first.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "langgraph.json"
    config.write_text(json.dumps(server_config(), indent=2))
    port = port or free_port()
    log_path = workdir / "server.log"
    full_env = server_env(env)
    command = [
        langgraph_command(), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port),
        "--config", str(config), "--n-jobs-per-worker", str(jobs_per_worker),
    ]  # fmt: skip
    start = time.perf_counter()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=workdir, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = ServerProcess(f"http://127.0.0.1:{port}", process, workdir, log_path, env=full_env)
    try:
        _wait_ready(server, timeout_s)
    except BaseException:
        server.stop()
        raise
    server.started_in_s = time.perf_counter() - start
    return server


def _wait_ready(server: ServerProcess, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerStartError(f"langgraph dev exited with {server.process.returncode}:\n{server.log_tail()}")
        moved = _MOVED.search(server.log_tail(400))
        if moved:  # the port was taken between free_port() and the server's bind: it picked another one
            server.url = f"http://127.0.0.1:{moved.group(1)}"
        try:
            with urllib.request.urlopen(server.url + "/ok", timeout=2) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise ServerStartError(f"langgraph dev did not answer within {timeout_s:.0f} s:\n{server.log_tail()}")


@contextlib.contextmanager
def running_server(workdir: Path, *, env: Mapping[str, str], **options: Any) -> Iterator[ServerProcess]:
    server = start_server(workdir, env=env, **options)
    try:
        yield server
    finally:
        server.stop()
