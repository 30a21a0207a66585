"""Faces seen and faces analysed, per face tool, on a group photo: ``python -m evals.bystanders``.

Runs each face tool through ``FaceAgent.ask`` on ``t1.jpg`` (insightface's group photo: six faces) labelled with
one consenting person, once without a way to single her face out and once with her enrolled template (enrolled
from a crop of her face, under a purpose that allows expression analysis and templates together: none shipped
does), with the real engine. The figures come from the audit rows each run wrote (``faces_seen``,
``faces_analysed``), so they show what the audit records. Prints one line per run; nothing is asserted here.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel

SUBJECT = "p1"
FACE = 1  # which face of t1.jpg (largest first) is the consenting person's


class BystanderRow(BaseModel):
    tool: str
    template: bool  # whether the labelled person had an enrolled template that serves the purpose
    outcome: str  # ok / denied (rule) / error
    faces_seen: int | None
    faces_analysed: int | None


def measure(photos: Path, settings: Any = None) -> list[BystanderRow]:
    """The runs described above, on a fresh home each."""
    from agent.policy.catalogue import policy_with
    from agent.sdk import FaceAgent, ImageInput
    from agent.settings import Settings
    from evals.group_photos import face_boxes, face_crop
    from tools.engine import FaceEngine

    base = settings or Settings()
    engine = FaceEngine(base)
    group = photos / "t1.jpg"
    crop = face_crop(group, face_boxes(group, engine)[FACE])
    caps = ["face_verification", "enrollment", "expression_analysis", "llm_image_sharing"]
    policy = policy_with({"fitting_room": {"copy_of": "personalised_service", "allowed_capabilities": caps}})
    asks = {
        "verify_identity": f"Verify img1 against enrolled {SUBJECT}.",
        "verify_faces": "Compare img1 and img2 - are they the same person?",
        "analyze_expression": "Analyse the facial expression in img1.",
        "share_image_with_assistant": "Please look at img1 yourself.",
    }
    rows = []
    for template in (False, True):
        for tool, text in asks.items():
            with tempfile.TemporaryDirectory(prefix="fg-bystanders-") as tmp:
                run = base.model_copy(update={"home": Path(tmp), "db_path": None, "checkpoint_path": None,
                                              "reasoner": "offline"})  # fmt: skip
                with FaceAgent.for_eval(run, engine=engine, policy=policy) as agent:
                    agent.grant_consent(SUBJECT, capabilities=caps, purposes=["fitting_room"], notice="v1")
                    if template:
                        agent.enroll(SUBJECT, crop, purpose="fitting_room")
                    probe = tool == "verify_identity"
                    images = [ImageInput(source=group, subject=None if probe else SUBJECT)]
                    if tool == "verify_faces":
                        images.append(ImageInput(source=crop, subject=SUBJECT))
                    reply = agent.ask(text, purpose="fitting_room", images=images)
                    runs = [r for r in agent.audit_entries(reply.thread_id) if r.kind == "tool_run"]
                    outcome = reply.tool_outcomes[-1] if reply.tool_outcomes else None
                    status: str = "no call" if outcome is None else outcome.status
                    if outcome is not None and outcome.decision is not None and outcome.status == "denied":
                        status = f"denied ({outcome.decision.rule_id})"
                    summary = runs[-1].summary if runs else {}
                    rows.append(BystanderRow(tool=tool, template=template, outcome=status,
                                             faces_seen=summary.get("faces_seen"),
                                             faces_analysed=summary.get("faces_analysed")))  # fmt: skip
    return rows


if __name__ == "__main__":  # pragma: no cover - a measurement, run by hand
    from tools.sample_photos import ensure_sample_photos

    cache = Path.home() / ".cache" / "facegate" / "test-photos"
    for row in measure(ensure_sample_photos(cache)):
        print(f"{row.tool:28} template={'yes' if row.template else 'no ':3} {row.outcome:45} "
              f"seen={row.faces_seen} analysed={row.faces_analysed}")  # fmt: skip
