"""The shared-image re-check: an image goes out with a model request only on a decision made for that request.

An allow of ``share_image_with_assistant`` earlier in the thread is not a standing licence: before each reasoner
step, every shared handle is decided again (``llm_image_sharing``) with the consents on file now. A handle that
is no longer allowed is withdrawn from the thread's ``shared`` list and the withdrawal is audited (deny, with the
rule id). Every request that then carries an image is a disclosure to the model provider: one audit row each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from agent.graph.messages import DecisionRecord, ImageHandle
from agent.logging import get_logger
from agent.policy.models import Decision
from agent.policy.tool_specs import SHARE_TOOL, tool_spec

if TYPE_CHECKING:
    from agent.graph.deps import AgentDeps
    from agent.graph.gate import ToolGate
    from agent.graph.state import Session

log = get_logger(__name__)

WITHDRAWN = "shared image withdrawn: no longer attached to model requests"
ATTACHED = "attached to model request"


class SharedImages:
    """The images the reasoner may see in one step, each resting on a decision made for this step.

    Args:
        gate: decides the share requests (the same gate as every tool call).
        session: the conversation's session.
        images: the thread's registered images.
        shared: the handles shared so far.
    """

    def __init__(self, gate: ToolGate, session: Session, images: Sequence[ImageHandle], shared: Sequence[str]) -> None:
        self._gate = gate
        self._deps: AgentDeps = gate.deps
        self._session = session
        self._by_handle = {i.handle: i for i in images}
        self.grants: dict[str, Decision] = {}
        self.decisions: list[DecisionRecord] = []  # withdrawals and disclosures of this step, in order
        self._recheck(shared)

    @property
    def handles(self) -> tuple[str, ...]:
        """The handles still allowed, in the order they were shared."""
        return tuple(self.grants)

    def _recheck(self, shared: Sequence[str]) -> None:
        spec = tool_spec(SHARE_TOOL)
        for handle in shared:
            image = self._by_handle.get(handle)
            if image is None or spec is None:
                continue  # not a registered image of this thread: never attached
            request = self._gate.request(spec, {"image": handle}, [image], self._session)
            decision = self._gate.decide(request)
            if decision.outcome == "allow":
                self.grants[handle] = decision
                continue
            log.info("policy.share_withdrawn", handle=handle, rule_id=decision.rule_id, session=request.session_id)
            withdrawn = decision.model_copy(update={"outcome": "deny"})
            entry = self._deps.audit.decision(request, withdrawn, note=WITHDRAWN, extra={"handle": handle})
            self.decisions.append(
                DecisionRecord.of(withdrawn, call_id=f"share:{handle}", tool=SHARE_TOOL, audit_id=entry.audit_id)
            )

    def reader(self) -> Callable[[str], bytes | None]:
        """What the reasoner calls to get a shared image's JPEG bytes; each handle read is audited once."""
        disclosed: set[str] = set()
        spec = tool_spec(SHARE_TOOL)

        def read(handle: str) -> bytes | None:
            decision = self.grants.get(handle)
            image = self._by_handle.get(handle)
            if decision is None or image is None or spec is None:
                return None
            data = self._image_bytes(image.sha256)
            if data is not None and handle not in disclosed:
                disclosed.add(handle)
                request = self._gate.request(spec, {"image": handle}, [image], self._session)
                extra = {"handle": handle, "reasoner": self._deps.reasoner.name}
                entry = self._deps.audit.decision(request, decision, note=ATTACHED, extra=extra)
                reason = "attached to the model request: " + decision.reason
                self.decisions.append(
                    DecisionRecord.of(
                        decision.model_copy(update={"reason": reason}),
                        call_id=f"share:{handle}",
                        tool=SHARE_TOOL,
                        audit_id=entry.audit_id,
                    )
                )
            return data

        return read

    def _image_bytes(self, sha: str) -> bytes | None:
        vault = self._deps.vault
        if sha not in vault:
            return None
        raw = vault.raw(sha)
        if raw is not None:
            return raw
        import cv2

        ok, buf = cv2.imencode(".jpg", vault.get(sha).array)
        return bytes(buf) if ok else None
