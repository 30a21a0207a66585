"""LangGraph server authentication and authorization for facegate (``langgraph.json``: ``"auth"``).

Authentication: every request carries an API key (``Authorization: Bearer <key>`` or ``X-Api-Key: <key>``, what
``langgraph_sdk.get_client(api_key=...)`` sends), checked by :func:`agent.apikeys.authenticate` off the event loop;
no key or a wrong one is 401 and nothing runs. The key's role travels as a permission
(:data:`agent.graph.state.ROLE_PERMISSION`), which the graph reads through ``state.caller_of``.

Authorization, by role: an ``auditor`` reads threads, their state and runs, and assistants; an ``operator`` also
creates threads and runs, answers consent questions, cancels runs, and deletes threads. Nobody writes a thread's
state, forks it from a checkpoint, sets breakpoints, schedules crons or uses the key-value store: facegate's
state is written by its graph only (:mod:`agent.server.admission`). Studio's own sign-in (``x-auth-scheme:
langsmith``) is switched off in ``langgraph.json`` (``disable_studio_auth``): Studio connects with a key in its
connection headers like any client.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from langgraph_sdk import Auth

from agent.apikeys import presented_key
from agent.graph.state import ROLE_PERMISSION
from agent.server.admission import Refused, check_run

if TYPE_CHECKING:
    from agent.apikeys import KeyRing, Principal

auth = Auth()

READS = frozenset({"read", "search"})
OPERATOR_ACTIONS = {
    "threads": frozenset({"create", "create_run", "update", "delete"}),
    "assistants": frozenset({"create", "update", "delete"}),
}
_WRITES = {"create_run": "start runs on", "create": "create", "update": "update", "delete": "delete"}
_WWW = {"WWW-Authenticate": 'Bearer realm="facegate"'}


@functools.cache
def _ring() -> KeyRing:
    """The key file named by the server's settings (built once, on a worker thread: settings resolve paths)."""
    from agent.apikeys import KeyRing
    from agent.settings import Settings

    return KeyRing.of(Settings())


def _lookup(key: str | None) -> Principal | None:
    return _ring().authenticate(key)


@auth.authenticate
async def authenticate(headers: dict[bytes, bytes]) -> Auth.types.MinimalUserDict:
    key = presented_key(headers)
    principal = await asyncio.to_thread(_lookup, key) if key else None
    if principal is None:
        raise Auth.exceptions.HTTPException(401, detail="a valid facegate API key is required", headers=_WWW)
    return {
        "identity": principal.name,
        "display_name": principal.name,
        "permissions": [ROLE_PERMISSION.format(role=principal.role)],
        "is_authenticated": True,
    }


def role_of(ctx: Auth.types.AuthContext) -> str:
    for role in ("operator", "auditor"):
        if ROLE_PERMISSION.format(role=role) in (ctx.permissions or ()):
            return role
    return "none"


@auth.on
async def authorize(ctx: Auth.types.AuthContext, value: Any) -> bool:
    """Every resource and action: reads for both roles, the listed writes for operators, nothing else."""
    try:
        decide(ctx.resource, ctx.action, role_of(ctx), value)
    except Refused as refused:
        raise Auth.exceptions.HTTPException(status_code=refused.status, detail=refused.detail) from None
    return True


def decide(resource: str, action: str, role: str, value: Any) -> None:
    """Raise :class:`Refused` unless ``role`` may do ``action`` on ``resource`` with this payload (pure)."""
    if role not in ("operator", "auditor"):
        raise Refused(403, "this key has no facegate role")
    if resource in ("store", "crons"):
        raise Refused(403, f"facegate does not offer the server's {resource}")
    if action in READS and resource in ("threads", "assistants"):
        return
    if action not in OPERATOR_ACTIONS.get(resource, frozenset()):
        raise Refused(403, f"{action} on {resource} is not offered")
    if role != "operator":
        raise Refused(403, f"an {role} key may read but not {_WRITES.get(action, action)} {resource}")
    payload = value if isinstance(value, Mapping) else {}
    if resource == "threads" and action == "create_run":
        check_run(payload.get("kwargs") or {})
    elif resource == "threads" and action == "update" and not ({"metadata", "action"} & set(payload)):
        # the one update without metadata or a run action: a write of the thread's state (as_node, supersteps)
        raise Refused(403, "a facegate thread's state is written by its graph only")
