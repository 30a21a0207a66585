"""``facegate chat`` in a real terminal (pexpect) and through a pipe; ``facegate ask --json``.

Real engine on real photos, offline reasoner. At a terminal the chat reads lines with prompt_toolkit, which draws
its prompt with cursor movements instead of a trailing space: the tests wait for ``you>``, not ``you> ``."""

from __future__ import annotations

import json
import os
import re
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
    # pexpect's terminal does not answer prompt_toolkit's cursor-position request; a real terminal does
    env["PROMPT_TOOLKIT_NO_CPR"] = "1"
    env.pop("FACEGATE_HOME", None)
    env.pop("NO_COLOR", None)
    return env


def _consents(home: Path, subject: str) -> list[dict]:
    out = subprocess.run(
        [FACEGATE, "--home", str(home), "consent", "list", "--json"],
        capture_output=True, text=True, env=_env(), timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return [r for r in json.loads(out.stdout) if r["subject_id"] == subject]


PROMPT = "you>"
NOTICE = "facegate will use your face for expression analysis for the purpose ux_research ("


def test_chat_in_a_terminal_records_consent_when_paused_and_shows_decisions(home: Path) -> None:
    argv = ["--home", str(home), "chat", "--purpose", "ux_research", "--image", f"eileen={photo('astronaut.png')}"]
    child = pexpect.spawn(FACEGATE, argv, env=_env(), encoding="utf-8", timeout=90, dimensions=(40, 200))
    try:
        child.expect("purpose ux_research")
        child.expect(PROMPT)
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
        child.expect(PROMPT)
        child.sendline("Who is this?")
        child.expect(r"DENY identify_person \(rule identification.one_to_many_prohibited")
        child.expect(PROMPT)
        child.sendline("/audit")
        child.expect("audit chain: verifies")
        child.expect(PROMPT)
        child.send("\x1b[A\r")  # line history: the up arrow brings back /audit
        child.expect("audit chain: verifies")
        child.expect(PROMPT)
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
        child.expect(PROMPT)
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
        child.expect(PROMPT)
        child.sendline("Analyse the facial expression of the participant.")
        child.expect(r"\[y/N\]")
        child.sendintr()  # Ctrl-C
        child.expect(r"consent not recorded \(interrupted\)")
        child.expect(declined)
        child.expect(PROMPT)
        child.sendline("Analyse the facial expression of the participant.")
        child.expect(r"\[y/N\]")
        child.sendline("y")
        child.expect("How was consent given")
        child.sendeof()  # Ctrl-D
        child.expect(r"consent not recorded \(end of input\)")
        child.expect(declined)
        child.expect(PROMPT)
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
    assert "No active consent for ux_research covers carol" in out.stdout  # coverage only (issue 9 item 11)
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
    assert out.returncode == 6, out.stderr  # refused by policy: ask says so in its exit code (issue 11, item 6)
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
    from agent.cli.consent_prompt import consent_notice
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


# --- chat like `llm chat`: line editor, Ctrl-C, history, -c, threads, colours (issue 11, item 4) -----------

GREEN, RED, YELLOW = "\x1b[32m", "\x1b[31m", "\x1b[33m"


def _spawn(home: Path, *args: str, env: dict[str, str] | None = None) -> pexpect.spawn:
    return pexpect.spawn(FACEGATE, ["--home", str(home), "chat", *args], env=env or _env(), encoding="utf-8",
                         timeout=90, dimensions=(40, 200))  # fmt: skip


def _fresh_prompt(child: pexpect.spawn) -> None:
    """After Ctrl-C at the prompt: prompt_toolkit redraws the dropped line (prompt included), then a new prompt.
    Wait for the new one: keys sent before it is drawn reach a terminal still in line mode (Ctrl-D is lost)."""
    child.expect(PROMPT)
    child.expect(PROMPT)


def _history(home: Path) -> list[str]:
    """The entries of prompt_toolkit's history file (each line of an entry starts with '+')."""
    return [line[1:] for line in (home / "chat_history").read_text().splitlines() if line.startswith("+")]


def test_ctrl_c_cancels_the_line_colours_decisions_and_consent_answers_stay_out_of_history(home: Path) -> None:
    child = _spawn(home, "--purpose", "ux_research", "--image", f"eileen={photo('astronaut.png')}")
    try:
        child.expect(PROMPT)
        child.send("a line I change my mind about")
        child.sendintr()  # Ctrl-C at the prompt: the line is dropped, the chat goes on
        _fresh_prompt(child)
        child.sendline("Analyse the facial expression of the participant.")
        child.expect(re.escape(YELLOW) + r"  \[policy\] NEEDS CONSENT analyze_expression")
        child.expect(r"\[y/N\]")
        child.sendline("y")
        child.expect("How was consent given")
        child.sendline("verbal, on camera")
        child.expect(r"how many days")
        child.sendline("2")
        child.expect(re.escape(GREEN) + r"  \[policy\] ALLOW analyze_expression")
        child.expect(r"facegate> Face 1 .* looks happy")
        child.expect(PROMPT)
        child.send("\x1b[A")  # up arrow: the last message, not the consent answers typed after it
        child.expect("Analyse the facial expression of the participant.")
        child.sendintr()  # and Ctrl-C drops the recalled line again
        _fresh_prompt(child)
        child.sendeof()  # Ctrl-D on an empty line ends the chat
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    assert _history(home) == ["Analyse the facial expression of the participant."]
    assert (home / "chat_history").stat().st_mode & 0o777 == 0o600


def _piped_chat(home: Path, *args: str, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FACEGATE, "--home", str(home), "chat", *args], input=script, capture_output=True,
                          text=True, env=_env(), timeout=120)  # fmt: skip


def _threads(home: Path) -> list[dict]:
    out = subprocess.run([FACEGATE, "--home", str(home), "threads", "--json"], capture_output=True, text=True,
                         env=_env(), timeout=60, stdin=subprocess.DEVNULL)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_continue_resumes_the_last_thread_with_its_purpose_and_threads_lists_it(home: Path) -> None:
    assert _threads(home) == []
    first = _piped_chat(home, "--purpose", "access_control", "--image", f"probe={photo('obama.jpg')}",
                        script="Who is this?\n")  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert "\x1b[" not in first.stdout  # piped: plain text, no colour
    thread = re.search(r"thread (\w+)", first.stdout).group(1)  # type: ignore[union-attr]
    second = _piped_chat(home, "--purpose", "ux_research", script="hello\n")
    other = re.search(r"thread (\w+)", second.stdout).group(1)  # type: ignore[union-attr]
    listed = _threads(home)
    assert [(t["thread_id"], t["purpose"], t["turns"]) for t in listed] == [
        (other, "ux_research", 1), (thread, "access_control", 1),
    ]  # fmt: skip

    # --thread picks one; no --purpose needed, and a different one is a clear error
    again = _piped_chat(home, "--thread", thread, script="What is this person's religion?\n")
    assert again.returncode == 0, again.stderr
    assert f"purpose access_control, thread {thread}" in again.stdout and "of 1 message(s)" in again.stdout
    clash = _piped_chat(home, "--thread", thread, "--purpose", "mfa", script="hi\n")
    assert clash.returncode == 2 and "you>" not in clash.stdout
    assert clash.stderr.strip() == (
        f"facegate: user_error: thread {thread} was started for purpose 'access_control'; a conversation keeps its "
        "purpose: leave out --purpose, or start a new conversation for 'mfa'"
    )
    # -c at a terminal: the most recently active thread (now `thread` again), in colour
    child = _spawn(home, "-c")
    try:
        child.expect(f"purpose access_control, thread {thread}")
        child.expect(r"continuing a conversation of 2 message\(s\)")
        child.expect(PROMPT)
        child.sendline("What is this person's religion?")
        child.expect(re.escape(RED) + r"  \[policy\] DENY infer_attributes \(rule inference.sensitive_prohibited")
        child.expect(PROMPT)
        child.sendline("/quit")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    newest = _threads(home)[0]
    assert (newest["thread_id"], newest["turns"]) == (thread, 3)


def test_no_color_and_a_continue_with_nothing_to_continue(tmp_path: Path) -> None:
    home = tmp_path / "new-home"  # does not exist yet: the chat makes it and copies the weights in on first use
    nothing = _piped_chat(home, "-c", script="hi\n")
    assert nothing.returncode == 2
    assert nothing.stderr.strip() == (
        f"facegate: user_error: no conversation to continue in {home}; start one with --purpose"
    )
    no_purpose = _piped_chat(home, script="hi\n")
    assert no_purpose.returncode == 2 and no_purpose.stderr.startswith("facegate: usage_error: --purpose is needed")
    env = _env() | {"NO_COLOR": "1"}
    child = _spawn(home, "--purpose", "access_control", "--image", f"probe={photo('obama.jpg')}", env=env)
    try:
        child.expect(PROMPT)
        child.sendline("What is this person's religion?")
        child.expect(r"\[policy\] DENY infer_attributes")
        assert RED not in (child.before or "")
        child.expect(PROMPT)
        child.sendline("/quit")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    assert _history(home) == ["What is this person's religion?", "/quit"]


def test_ctrl_c_during_a_turn_stops_the_turn_not_the_chat(home: Path) -> None:
    grant = subprocess.run(
        [FACEGATE, "--home", str(home), "consent", "grant", "a", "--capability", "face_verification", "--purpose",
         "mfa", "--notice", "n", "--evidence-method", "signed_form", "--recorded-by", "op", "--term-days", "3"],
        capture_output=True, text=True, env=_env(), timeout=60,
    )  # fmt: skip
    assert grant.returncode == 0, grant.stderr
    images = ["--image", f"a={photo('obama.jpg')}", "--image", f"a={photo('obama2.jpg')}"]
    child = _spawn(home, "--purpose", "mfa", *images)
    try:
        child.expect(PROMPT)
        child.sendline("Verify img1 against img2.")
        child.expect(r"ALLOW verify_faces")
        child.sendintr()  # while the face models load and run
        child.expect(r"interrupted: this turn was stopped")
        child.expect(PROMPT)
        child.sendline("Verify img1 against img2.")  # the thread is usable at once: its lock was released
        child.expect(r"\[tool\] verify_faces: verified=True")
        child.expect(PROMPT)
        child.sendline("/audit")
        child.expect("audit chain: verifies")
        child.expect(PROMPT)
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
