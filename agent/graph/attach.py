"""Attaching an image: its original bytes read once, their C2PA provenance checked, then decoded.

What the SDK (and any other front end that attaches images to a conversation) does with each image before it
gets a handle: the provenance check runs on the bytes as received, before any decoding, and the decoder gets the
very same bytes. The report goes into the graph's state by sha256 (``AgentState.provenance``); the pixels go to
the vault. Decoded pixels and arrays have no original bytes: their report says ``not_checked``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from tools.provenance.checker import NO_ORIGINAL_BYTES

if TYPE_CHECKING:
    from agent.graph.deps import AgentDeps
    from tools.images import ImageSource, LoadedImage
    from tools.provenance.models import ProvenanceReport


def provenance_required(deps: AgentDeps, purpose: str) -> bool:
    """Whether ``purpose`` depends on the check (a trusted capture or liveness required, given the anchors):
    then a missing C2PA reader is an error at attach time, not a ``not_checked`` report."""
    catalogue = deps.policy.purposes.get(purpose)  # an unknown purpose is refused before anything is attached
    anchors = deps.provenance.anchors_configured
    return catalogue is not None and catalogue.requires_provenance(anchors_configured=anchors)


def load_checked(deps: AgentDeps, source: ImageSource, *, required: bool) -> tuple[LoadedImage, ProvenanceReport]:
    """The decoded image and the provenance report of its original bytes (timed into ``deps.provenance_ms``).

    Raises:
        ImageInputError: the image cannot be read or decoded (the engine's typed errors).
        ProvenanceUnavailable: ``required`` and the optional extra is not installed.
    """
    start = time.perf_counter()
    to_decode, report = deps.provenance.check_source(source, required=required)
    if report is not None:
        deps.provenance_ms.append((time.perf_counter() - start) * 1000)
    loaded = deps.engine.load(to_decode)
    return loaded, report or deps.provenance.not_checked(loaded.sha256, NO_ORIGINAL_BYTES)
