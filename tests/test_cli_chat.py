"""``facegate chat`` in a real terminal (pexpect) and through a pipe; ``facegate ask --json``.

Real engine on real photos, offline reasoner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from tests.photos import photo
from tools.settings import EngineSettings
from tools.weights import install_weights

FACEGATE = str(Path(sys.executable).parent / "facegate")
pytestmark = pytest.mark.slow


@pytest.fixture
def home(tmp_path: Path) -> Path:
    report = install_weights(EngineSettings(home=tmp_path))
    assert report.ok
    return tmp_path


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "FACEGATE_GEMINI_API_KEY")}  # fmt: skip
    env["FACEGATE_REASONER"] = "offline"
    env["FACEGATE_ACTOR"] = "operator1"
    env.pop("FACEGATE_HOME", None)
    return env


def _consents(home: Path, subject: str) -> list[dict]:
    out = subprocess.run(
        [FACEGATE, "--home", str(home), "consent", "list", "--json"],
        capture_output=True, text=True, env=_env(), timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return [r for r in json.loads(out.stdout) if r["subject_id"] == subject]


NOTICE = "facegate will use your face for expression analysis for the purpose ux_research ("


def test_chat_in_a_terminal_records_consent_when_paused_and_shows_decisions(home: Path) -> None:
    argv = ["--home", str(home), "chat", "--purpose", "ux_research", "--image", f"eileen={photo('astronaut.png')}"]
    child = pexpect.spawn(FACEGATE, argv, env=_env(), encoding="utf-8", timeout=90, dimensions=(40, 200))
    try:
        child.expect("purpose ux_research")
        child.expect("you> ")
        assert "nobody can be asked" not in (child.before or "")
        child.sendline("Analyse the facial expression of the participant.")
        child.expect(r"NEEDS CONSENT analyze_expression \(rule consent.missing")
        child.expect(r"Notice \(show or read it to the person word for word; it is recorded with the consent\):\r\n  ")
        child.expect(r"\r\n")
        shown = child.before
        assert shown.startswith(NOTICE) and "withdraw it at any time" in shown
        child.expect(r"Was eileen shown this notice, and did they agree to it now\? \[y/N\]")
        child.sendline("y")
        child.expect("How was consent given")
        child.sendline("y")  # not a description of how consent was given: asked again
        child.expect("not understood")
        child.expect("How was consent given")
        child.sendline("verbal, on camera")
        child.expect(r"how many days \(1-3650\)")
        child.sendline("99999")
        child.expect("not understood")
        child.expect(r"how many days \(1-3650\)")
        child.sendline("2")
        child.expect(r"ALLOW analyze_expression \(rule consent.active")
        child.expect(r"facegate> Face 1 .* looks happy")
        child.expect("you> ")
        child.sendline("Who is this?")
        child.expect(r"DENY identify_person \(rule identification.one_to_many_prohibited")
        child.expect("you> ")
        child.sendline("/audit")
        child.expect("audit chain: verifies")
        child.expect("you> ")
        child.send("\x1b[A\r")  # readline history: the up arrow brings back /audit
        child.expect("audit chain: verifies")
        child.expect("you> ")
        child.sendline("/quit")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    [record] = _consents(home, "eileen")
    assert record["notice"] == shown  # what is recorded is what was shown, word for word
    assert record["evidence"]["method"] == "verbal, on camera"
    assert record["capabilities"] == ["expression_analysis"] and record["purposes"] == ["ux_research"]


def test_consent_prompt_declines_on_bad_answers_interrupt_and_end_of_input(home: Path) -> None:
    """Never a crash, never a record: three bad terms, Ctrl-C and Ctrl-D at a prompt all decline."""
    argv = ["--home", str(home), "chat", "--purpose", "ux_research", "--image", f"eileen={photo('astronaut.png')}"]
    child = pexpect.spawn(FACEGATE, argv, env=_env(), encoding="utf-8", timeout=90, dimensions=(40, 200))
    declined = r"DENY analyze_expression \(rule consent.missing.*Consent was not recorded when asked"
    try:
        child.expect("you> ")
        child.sendline("Analyse the facial expression of the participant.")
        child.expect(r"\[y/N\]")
        child.sendline("y")
        child.expect("How was consent given")
        child.sendline("")  # the default method
        for bad in ("0", "abc", "3651"):
            child.expect(r"how many days")
            child.sendline(bad)
        child.expect(r"consent not recorded \(no usable answer\)")
        child.expect(declined)
        child.expect("you> ")
        child.sendline("Analyse the facial expression of the participant.")
        child.expect(r"\[y/N\]")
        child.sendintr()  # Ctrl-C
        child.expect(r"consent not recorded \(interrupted\)")
        child.expect(declined)
        child.expect("you> ")
        child.sendline("Analyse the facial expression of the participant.")
        child.expect(r"\[y/N\]")
        child.sendline("y")
        child.expect("How was consent given")
        child.sendeof()  # Ctrl-D
        child.expect(r"consent not recorded \(end of input\)")
        child.expect(declined)
        child.expect("you> ")
        child.sendline("/quit")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    assert _consents(home, "eileen") == []


def test_chat_fed_by_a_pipe_asks_nobody_and_records_no_consent(home: Path) -> None:
    """Piped, the next lines are the script's next messages, never a person's consent answers."""
    script = "\n".join([
        "/help",
        "Analyse the expression in img1.",
        "y",
        "What consent is on record for carol?",
        "",
        "/audit",
    ]) + "\n"  # fmt: skip
    argv = ["--home", str(home), "chat", "--purpose", "ux_research", "--image", f"carol={photo('astronaut.png')}"]
    out = subprocess.run(
        [FACEGATE, *argv], input=script, capture_output=True, text=True, env=_env(), timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "nobody can be asked for consent here: a request that needs consent is refused" in out.stdout
    assert "/image SUBJECT PATH" in out.stdout
    assert "Was carol shown this notice" not in out.stdout and "How was consent given" not in out.stdout
    assert "(rule consent.missing" in out.stdout and "ALLOW analyze_expression" not in out.stdout
    assert "No consent is on record for carol" in out.stdout
    assert "audit chain: verifies" in out.stdout
    assert _consents(home, "carol") == []


def test_chat_refuses_an_unknown_purpose_at_start(home: Path) -> None:
    out = subprocess.run(
        [FACEGATE, "--home", str(home), "chat", "--purpose", "nosuch"],
        input="hello\n", capture_output=True, text=True, env=_env(), timeout=60,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.strip().startswith("facegate: unknown_purpose: unknown purpose 'nosuch'")
    assert len(out.stderr.strip().splitlines()) == 1
    assert "you>" not in out.stdout


def test_chat_refuses_a_bad_image_when_attached_and_a_failed_script_exits_1(home: Path) -> None:
    script = "\n".join([
        "/image bob /nonexistent.jpg",
        f"/image -x {photo('obama.jpg')}",  # not a subject id: refused now, not with every later message
        f"/image bob {photo('obama.jpg')}",
        "hello",
        "/images",
    ]) + "\n"  # fmt: skip
    out = subprocess.run(
        [FACEGATE, "--home", str(home), "chat", "--purpose", "mfa"],
        input=script, capture_output=True, text=True, env=_env(), timeout=120,
    )  # fmt: skip
    assert out.returncode == 1
    errors = out.stderr.strip().splitlines()
    assert errors[0] == "facegate: image_not_found: no such image file: /nonexistent.jpg"
    assert errors[1].startswith("facegate: user_error: invalid subject '-x'") and len(errors) == 2
    assert "attached /nonexistent.jpg" not in out.stdout and " as -x " not in out.stdout
    assert "[attached: img1=bob]" in out.stdout  # the good image went with the next message, alone
    assert "img1: bob" in out.stdout and "img2" not in out.stdout


def test_chat_refuses_a_bad_start_image_at_once(home: Path) -> None:
    out = subprocess.run(
        [FACEGATE, "--home", str(home), "chat", "--purpose", "mfa", "--image", "bob=/nonexistent.jpg"],
        input="hello\n", capture_output=True, text=True, env=_env(), timeout=60,
    )  # fmt: skip
    assert out.returncode == 3
    assert out.stderr.strip() == "facegate: image_not_found: no such image file: /nonexistent.jpg"
    assert "you>" not in out.stdout


def test_ask_json_one_shot(home: Path) -> None:
    out = subprocess.run(
        [FACEGATE, "--home", str(home), "ask", "What is this person's religion?", "--purpose", "access_control",
         "--image", f"probe={photo('obama.jpg')}", "--json"],
        capture_output=True, text=True, env=_env(), timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    reply = json.loads(out.stdout)
    assert [d["rule_id"] for d in reply["decisions"]] == ["inference.sensitive_prohibited"]
    assert reply["status"] == "done" and "religion" in reply["answer"]
    assert reply["images"][0]["subject"] is None


def test_bad_image_spec_is_one_line_and_exit_2(home: Path) -> None:
    out = subprocess.run(
        [FACEGATE, "--home", str(home), "ask", "hi", "--purpose", "mfa", "--image", "nopath"],
        capture_output=True, text=True, env=_env(), timeout=60,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.strip().startswith("facegate: user_error:") and len(out.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("spec", "code", "exit_code"),
    [("probe=https://example.com/face.jpg", "url_not_allowed", 3), ("probe=/no/such/face.jpg", "image_not_found", 3)],
)
def test_bad_image_is_one_typed_line(home: Path, spec: str, code: str, exit_code: int) -> None:
    out = subprocess.run(
        [FACEGATE, "--home", str(home), "ask", "verify img1 against enrolled bob", "--purpose", "mfa", "--image", spec],
        capture_output=True, text=True, env=_env(), timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert out.returncode == exit_code
    assert out.stderr.strip().startswith(f"facegate: {code}:") and len(out.stderr.strip().splitlines()) == 1


def test_the_notice_names_every_use_and_the_purpose_description() -> None:
    from agent.cli.chat_cmd import consent_notice
    from agent.policy import load_policy
    from agent.sdk import ConsentRequest

    def request(*missing: tuple[str, str]) -> ConsentRequest:
        items = [{"subject_id": s, "capability": c, "purpose": "mfa"} for s, c in missing]
        return ConsentRequest(thread_id="t", call_id="c", tool="verify_faces", purpose="mfa", missing=items)

    purposes = load_policy().purposes
    same = consent_notice(request(("alice", "face_verification"), ("bob", "face_verification")), purposes)
    assert same.startswith("facegate will use your face for face verification for the purpose mfa (")
    assert purposes["mfa"].description.rstrip(".") in same and "withdraw it at any time" in same
    differ = consent_notice(request(("alice", "face_verification"), ("bob", "enrollment")), purposes)
    assert "alice: face verification for the purpose mfa" in differ and "bob: enrollment for the purpose mfa" in differ
