"""``facegate demo`` end to end: real engine, real photos, real policy, store and audit chain (offline reasoner)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.demo import run_demo
from agent.settings import Settings
from tests.photos import cache_dir, ensure_photos
from tools.results import ExpressionResult, VerificationResult

pytestmark = pytest.mark.slow


def test_demo_scenario(tmp_path: Path) -> None:
    ensure_photos()
    lines: list[str] = []
    report = run_demo(Settings(reasoner="offline", actor="demo"), home=tmp_path / "home", photos=cache_dir(),
                      out=lines.append)  # fmt: skip
    text = "\n".join(lines)

    def only(step: str) -> tuple:
        (reply,) = report.step(step).replies
        return reply, reply.tool_outcomes

    reply, (o,) = only("verify")
    assert reply.decisions[0].outcome == "allow" and isinstance(o.result, VerificationResult)
    assert o.result.verified is True and o.result.threshold == 0.06 and o.human_review
    reply, (o,) = only("impostor")
    assert isinstance(o.result, VerificationResult)
    assert o.result.verified is False and reply.answer.startswith("Not verified")
    identify, ethnicity = report.step("identify").replies
    assert identify.decisions[0].rule_id == "identification.one_to_many_prohibited"
    assert ethnicity.decisions[0].rule_id == "inference.sensitive_prohibited"
    reply, _ = only("workplace")
    assert reply.decisions[0].rule_id == "expression.workplace_education"
    reply, (o,) = only("research")
    assert [d.outcome for d in reply.decisions] == ["needs_consent", "allow"]
    assert isinstance(o.result, ExpressionResult) and o.result.faces[0].dominant == "happy"
    reply, _ = only("revoke")
    assert reply.decisions[0].rule_id == "consent.revoked"
    assert report.audit_ok and report.audit_rows > 10 and report.reasoner == "offline"
    # The transcript explains itself: every decision with its rule id, the numbers, the refusals.
    for needle in ("[policy] ALLOW verify_identity", "threshold", "[policy] DENY identify_person",
                   "expression.workplace_education", "[paused] analyze_expression needs consent",
                   "consent.revoked", "chain verifies"):  # fmt: skip
        assert needle in text


def test_demo_command_runs_on_a_fresh_home(tmp_path: Path) -> None:
    ensure_photos()
    env = {k: v for k, v in os.environ.items() if "API_KEY" not in k}
    out = subprocess.run(
        [str(Path(sys.executable).parent / "facegate"), "--home", str(tmp_path / "h"), "demo", "--reasoner", "offline",
         "--photos", str(cache_dir())],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "Done:" in out.stdout and "audit chain verified" in out.stdout
    assert (tmp_path / "h" / "facegate.db").exists()


def test_demo_runs_on_gemini_when_a_key_is_set(tmp_path: Path) -> None:
    """The same scenario through the real google-genai SDK (against the local fake): same decisions, no pixels sent."""
    from tests import fake_gemini as fg

    ensure_photos()
    script = [
        fg.function_call("verify_identity", {"image": "img1", "claimed_subject": "obama"}), fg.text("Verified."),
        fg.function_call("verify_identity", {"image": "img1", "claimed_subject": "obama"}), fg.text("Not verified."),
        fg.function_call("identify_person", {"image": "img1"}), fg.text("I cannot identify people."),
        fg.function_call("infer_attributes", {"image": "img1", "attributes": ["ethnicity"]}), fg.text("Refused."),
        fg.function_call("analyze_expression", {"image": "img1"}), fg.text("Refused at work."),
        fg.function_call("analyze_expression", {"image": "img1"}), fg.text("She looks happy."),
        fg.function_call("verify_identity", {"image": "img1", "claimed_subject": "obama"}), fg.text("Refused."),
    ]  # fmt: skip
    with fg.FakeGemini() as server:
        server.enqueue(*script)
        settings = Settings(reasoner="auto", gemini_api_key="k", gemini_base_url=server.url, gemini_max_retries=0)
        report = run_demo(settings, home=tmp_path / "home", photos=cache_dir(), out=lambda _: None)
        bodies = [r.raw for r in server.requests]
    assert report.reasoner == "gemini" and report.audit_ok
    assert len(bodies) == len(script)
    rules = [d.rule_id for s in report.steps for r in s.replies for d in r.decisions]
    assert rules[2:] == [
        "identification.one_to_many_prohibited", "inference.sensitive_prohibited", "expression.workplace_education",
        "consent.missing", "consent.active", "consent.revoked",
    ]  # fmt: skip
    assert report.step("research").replies[0].answer == "She looks happy."
    assert not any(b"inlineData" in b or b"inline_data" in b for b in bodies)
    photo = (cache_dir() / "obama2.jpg").read_bytes()
    assert not any(photo[100:164] in b for b in bodies)


def test_demo_removes_its_temporary_home_unless_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ensure_photos()
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # tempfile.mkdtemp puts the demo's home here
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    lines: list[str] = []
    report = run_demo(Settings(reasoner="offline"), photos=cache_dir(), out=lines.append)
    assert report.ok and report.home_removed and not Path(report.home).exists()
    assert f"temporary home {report.home} was removed" in "\n".join(lines)
    kept = run_demo(Settings(reasoner="offline"), photos=cache_dir(), out=lines.append, keep=True)
    assert not kept.home_removed and (Path(kept.home) / "facegate.db").exists()
    assert f"home {kept.home} was kept" in lines[-1]
    given = run_demo(Settings(reasoner="offline"), home=tmp_path / "given", photos=cache_dir(), out=lines.append)
    assert not given.home_removed and (tmp_path / "given" / "facegate.db").exists()


def test_demo_fails_when_the_steps_do_not_happen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model that answers "ok" to everything calls no tool: the demo says which steps failed and exits 1."""
    from agent.cli.main import main
    from tests import fake_gemini as fg

    ensure_photos()
    with fg.FakeGemini() as server:
        server.enqueue(*[fg.text("ok") for _ in range(7)])
        settings = Settings(reasoner="auto", gemini_api_key="k", gemini_base_url=server.url, gemini_max_retries=0)
        lines: list[str] = []
        report = run_demo(settings, photos=cache_dir(), out=lines.append)
    assert not report.ok and report.audit_ok
    failed = {f.split(" (")[0] for f in report.failures}
    assert failed == {"step 3", "step 4", "step 5", "step 6", "step 7", "step 8"}, report.failures
    text = "\n".join(lines)
    assert "step 5 (identify) did not go as scripted: identify_person was not denied by " in text
    assert "step 8 (revoke) did not go as scripted: verify_identity was not denied by consent.revoked" in text

    with fg.FakeGemini() as server:
        server.enqueue(*[fg.text("ok") for _ in range(7)])
        monkeypatch.setenv("FACEGATE_GEMINI_BASE_URL", server.url)
        monkeypatch.setenv("FACEGATE_GEMINI_MAX_RETRIES", "0")
        monkeypatch.setenv("GEMINI_API_KEY", "k")
        code = main(["--home", str(tmp_path / "h"), "demo", "--photos", str(cache_dir())])
    captured = capsys.readouterr()
    assert code == 1
    assert "did not go as scripted" in captured.out
    assert captured.err.strip().splitlines()[-1].startswith("facegate: demo_failed:")
