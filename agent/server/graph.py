"""The graph factory LangGraph's server calls (``langgraph.json``: ``agent.server.graph:make_graph``).

The server calls a factory on its event loop for every request that needs the graph, and refuses blocking calls
there (``langgraph dev`` raises ``BlockingError``). So :func:`make_graph` is a coroutine: the first call builds the
deps (settings, the SQLite store: ``mkdir``, ``open``, migrations; the policy file; the reasoner) in a worker
thread with :func:`asyncio.to_thread`, later calls return the same compiled graph at once. One set of deps per
server process: the image vault and the face engine's caches are the process's, as in one SDK object. The graph's
nodes are synchronous and LangGraph runs them in worker threads, so the face engine and the store never block
the loop either.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph

    from agent.graph.deps import AgentDeps


class ServerGraph:
    """Builds the server's graph once, off the event loop, and hands the same one to every request."""

    def __init__(self) -> None:  # cheap: nothing is read or built until the first request
        self._graph: CompiledStateGraph[Any, Any, Any, Any] | None = None
        self._lock: asyncio.Lock | None = None
        self.deps: AgentDeps | None = None

    async def __call__(self) -> CompiledStateGraph[Any, Any, Any, Any]:
        if self._graph is not None:
            return self._graph
        if self._lock is None:  # made here, on the server's loop (an asyncio.Lock binds to the loop that uses it)
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._graph is None:
                self._graph = await asyncio.to_thread(self._build)
        return self._graph

    def _build(self) -> CompiledStateGraph[Any, Any, Any, Any]:
        from agent.graph.deps import build_deps
        from agent.graph.graph import build_server_graph
        from agent.settings import Settings

        # Logging stays the server's (it configured structlog); facegate's loggers redact on their own.
        self.deps = build_deps(Settings())
        return build_server_graph(self.deps)


# The server imports this module and finds the factory by name, so it must be a module attribute; it holds
# nothing until the server's first request.
_server_graph = ServerGraph()


async def make_graph() -> CompiledStateGraph[Any, Any, Any, Any]:
    """The facegate graph for LangGraph's server (see :func:`agent.graph.graph.build_server_graph`)."""
    return await _server_graph()
