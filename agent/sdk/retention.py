"""What images outlive a turn: pixels of probes never, of people without consent for the purpose not either.

Images are read once; their original bytes get the C2PA provenance check (:class:`tools.provenance.
ProvenanceChecker`, required when the session's purpose depends on it) and are then decoded through the engine
(which hashes them); the pixels are kept in the in-process vault, and only handles and the provenance reports
enter the graph's state. After each turn the probes' pixels and cached embeddings are dropped, and so are
those of labelled people who hold no active consent for the session's purpose; revocation and erasure drop what
the process holds of a person (:meth:`ImageRetention.forget_subject`, a cleaner).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from agent.errors import UserError
from agent.graph.images import Registered, forget_probes, forget_unconsented, register_images
from agent.graph.messages import ImageHandle
from agent.policy.subject_id import SUBJECT_ID_RULE, is_subject_id, shown
from agent.sdk.models import ImageInput

if TYPE_CHECKING:
    from agent.graph.deps import AgentDeps


class ImageRetention:
    """The SDK's side of the vault: registering attached images and forgetting them when they must go."""

    def __init__(self, deps: AgentDeps) -> None:
        self.deps = deps
        self._lock = threading.Lock()
        # subject label -> sha256 of the images attached for them in this process (to forget on revocation/erasure)
        self._subject_images: dict[str, set[str]] = {}

    def register(self, images: Sequence[ImageInput], known: Sequence[ImageHandle], *, purpose: str) -> Registered:
        """Check each image's provenance, load (and hash) it through the engine, keep its pixels in the vault, and
        give it a handle. The same image with the same subject keeps its handle.

        Raises:
            ProvenanceUnavailable: ``purpose`` depends on the check and the optional extra is not installed.
        """
        registered = register_images(
            self.deps, [(item.source, item.subject) for item in images], known, purpose=purpose
        )
        for handle in registered.attached:
            if handle.subject is not None:
                self.remember(handle.subject, handle.sha256)
        return registered

    def remember(self, subject_id: str, sha256: str) -> None:
        """Note that this process holds an image of ``subject_id`` (forgotten on revocation or erasure)."""
        with self._lock:
            self._subject_images.setdefault(subject_id, set()).add(sha256)

    def forget_subject(self, subject_id: str) -> int:
        """Drop the pixels and cached embeddings of the images attached for ``subject_id`` (a cleaner)."""
        with self._lock:
            shas = self._subject_images.pop(subject_id, set())
        return sum(self.deps.forget_image(sha) for sha in sorted(shas))

    def forget_probes(self, handles: Sequence[ImageHandle]) -> int:
        """Drop the pixels (vault) and cached embeddings (engine) of every probe image of the thread."""
        return forget_probes(self.deps, handles)

    def forget_unconsented(self, handles: Sequence[ImageHandle], purpose: str) -> int:
        """Drop the pixels and embeddings of labelled images whose person holds no active consent for the
        session's purpose (see :func:`agent.graph.images.forget_unconsented`)."""
        return forget_unconsented(self.deps, handles, purpose)


def check_images(images: Sequence[ImageInput]) -> None:
    """Reject what must not reach the state or the audit log: non-ImageInput items, malformed subject labels."""
    for item in images:
        if not isinstance(item, ImageInput):
            raise UserError("images must be ImageInput(source=..., subject=...)")
        if item.subject is not None and not is_subject_id(item.subject):
            # repr(): control characters and newlines are shown escaped, the message stays one line
            raise UserError(
                f"invalid subject label {shown(item.subject)}: {SUBJECT_ID_RULE} (or no subject for a probe)"
            )
