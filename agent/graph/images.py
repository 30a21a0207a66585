"""Images entering and leaving a conversation: loaded into the vault as handles, and forgotten when they must go.

Shared by the SDK (:mod:`agent.sdk.retention`, which attaches Python objects) and the LangGraph server's intake
and finish nodes (which attach paths): the same provenance check, load, hash, handle and the same rule for
what outlives a turn. Probe pixels never do; neither do the pixels of labelled people who hold no active
consent for the purpose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent.graph.attach import load_checked, provenance_required
from agent.graph.messages import ImageHandle, Turn
from agent.graph.state import AgentState

if TYPE_CHECKING:
    from agent.graph.deps import AgentDeps
    from tools.images import ImageSource
    from tools.provenance.models import ProvenanceReport


@dataclass
class Registered:
    """What :func:`register_images` made of a turn's images."""

    handles: list[ImageHandle]  # every handle of the thread
    attached: list[ImageHandle]  # the ones attached now
    provenance: dict[str, ProvenanceReport] = field(default_factory=dict)  # by sha256, of the ones attached now


def register_images(
    deps: AgentDeps, items: Sequence[tuple[ImageSource, str | None]], known: Sequence[ImageHandle], *, purpose: str
) -> Registered:
    """Check each ``(source, subject)``'s provenance on its original bytes, load (and hash) it through the engine,
    keep its pixels in the vault, give it a handle. The same image with the same subject keeps its handle.

    Raises:
        ImageInputError: loading failed (missing file, path outside ``allowed_image_dirs``, not an image, ...).
        ProvenanceUnavailable: ``purpose`` depends on the check and the optional extra is not installed.
    """
    handles = list(known)
    attached: list[ImageHandle] = []
    reports: dict[str, ProvenanceReport] = {}
    required = provenance_required(deps, purpose)
    for source, subject in items:
        loaded, report = load_checked(deps, source, required=required)
        reports[loaded.sha256] = report
        deps.vault.put(loaded)
        handle = next((h for h in handles if h.sha256 == loaded.sha256 and h.subject == subject), None)
        if handle is None:
            handle = ImageHandle(handle=f"img{len(handles) + 1}", sha256=loaded.sha256, subject=subject)
            handles.append(handle)
        if handle not in attached:
            attached.append(handle)
    return Registered(handles, attached, reports)


def new_turn_state(
    previous: AgentState,
    registered: Registered,
    *,
    purpose: str,
    session_id: str,
    human_present: bool,
    text: str,
    before: Sequence[Turn] = (),
) -> AgentState:
    """The state a new turn starts from: the thread's images with those attached now, their provenance reports
    (an image attached again, in a new process say, is checked again: the newer report stands), the person's
    message after ``before`` (turns to record first, e.g. a question declined by this new message), and the
    per-turn channels reset. The SDK's runner and the server's intake node both start turns with it."""
    start: AgentState = {
        "purpose": purpose,
        "session_id": session_id,
        "human_present": human_present,
        "images": registered.handles,
        "provenance": {**(previous.get("provenance") or {}), **registered.provenance},
        "transcript": [*before, Turn(role="user", text=text, images=registered.attached)],
        "pending": [],
        "allowed": {},
        "steps": 0,
        "awaiting": None,
        "consent_answer": None,
    }
    if "shared" not in previous:
        start["shared"] = []
    return start


def forget_probes(deps: AgentDeps, handles: Sequence[ImageHandle]) -> int:
    """Drop the pixels (vault) and cached embeddings (engine) of every probe image of the thread."""
    labelled = {h.sha256 for h in handles if h.subject is not None}
    probes = {h.sha256 for h in handles if h.subject is None} - labelled
    return sum(deps.forget_image(sha) for sha in sorted(probes))


def forget_unconsented(deps: AgentDeps, handles: Sequence[ImageHandle], purpose: str) -> int:
    """Drop the pixels and embeddings of labelled images whose person holds no active consent (any capability)
    for the session's purpose: nothing may be done with them, so they are not kept. They can be attached again
    once a consent is on record."""
    labelled = [h for h in handles if h.subject is not None]
    if not labelled:
        return 0
    now = deps.clock()
    records = deps.store.consents_for_many({h.subject for h in labelled if h.subject})
    consenting = {r.subject_id for r in records if purpose in r.purposes and r.active_at(now)}
    keep = {h.sha256 for h in labelled if h.subject in consenting}
    drop = {h.sha256 for h in labelled} - keep
    return sum(deps.forget_image(sha) for sha in sorted(drop))
