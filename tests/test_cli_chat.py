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


def test_chat_in_a_terminal_records_consent_when_paused_and_shows_decisions(home: Path) -> None:
    argv = ["--home", str(home), "chat", "--purpose", "ux_research", "--image", f"eileen={photo('astronaut.png')}"]
    child = pexpect.spawn(FACEGATE, argv, env=_env(), encoding="utf-8", timeout=90, dimensions=(40, 200))
    try:
        child.expect("purpose ux_research")
        child.expect("you> ")
        child.sendline("Analyse the facial expression of the participant.")
        child.expect(r"NEEDS CONSENT analyze_expression \(rule consent.missing")
        child.expect(r"Has eileen been told what will be done and agreed to it now\? \[y/N\]")
        child.sendline("y")
        child.expect("How was consent given")
        child.sendline("verbal, on camera")
        child.expect("how many days")
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


def test_chat_fed_by_a_pipe(home: Path) -> None:
    script = "\n".join([
        "/help",
        f"/image eileen {photo('astronaut.png')}",
        "analyse her expression",
        "n",
        "what consent is on record for eileen?",
        "/audit",
    ]) + "\n"  # fmt: skip
    out = subprocess.run(
        [FACEGATE, "--home", str(home), "chat", "--purpose", "ux_research"],
        input=script, capture_output=True, text=True, env=_env(), timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "/image SUBJECT PATH" in out.stdout
    assert "NEEDS CONSENT analyze_expression (rule consent.missing" in out.stdout
    assert "DENY analyze_expression (rule consent.missing" in out.stdout
    assert "Consent was not recorded when asked" in out.stdout
    assert "No consent is on record for eileen" in out.stdout
    assert "audit chain: verifies" in out.stdout


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
