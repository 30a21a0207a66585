"""The Click CLI through Click's ``CliRunner`` (the same error boundary as the console script), and the few things
only a real process shows: a closed pipe, a terminal's tables and colour, the erase confirmation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest
from click.testing import CliRunner, Result

from agent.cli.main import build_cli
from agent.sdk import AgentEvent

FACEGATE = str(Path(sys.executable).parent / "facegate")
REPO = Path(__file__).resolve().parents[1]
GRANT = ["consent", "grant", "alice", "--capability", "face_verification", "--purpose", "access_control",
         "--notice", "v1", "--evidence-method", "signed_form", "--recorded-by", "bob", "--term-days", "30"]  # fmt: skip


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [v for v in os.environ if v.startswith("FACEGATE_")] + ["NO_COLOR"]:
        monkeypatch.delenv(var, raising=False)


def invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(build_cli(), list(args), input=input)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACEGATE_") and "API_KEY" not in k}
    env.pop("NO_COLOR", None)
    return env


# --- global options anywhere, one-line errors -------------------------------------------------------------


def test_home_works_before_and_after_the_subcommand(tmp_path: Path) -> None:
    assert invoke("--home", str(tmp_path), *GRANT).exit_code == 0
    before = invoke("--home", str(tmp_path), "consent", "list", "--json")
    after = invoke("consent", "list", "--home", str(tmp_path), "--json")
    middle = invoke("consent", "--home", str(tmp_path), "list", "--json")
    assert before.exit_code == after.exit_code == middle.exit_code == 0, before.stderr + after.stderr
    assert json.loads(before.stdout) == json.loads(after.stdout) == json.loads(middle.stdout)
    assert [c["subject_id"] for c in json.loads(after.stdout)] == ["alice"]


def test_the_home_nearest_the_command_wins(tmp_path: Path) -> None:
    assert invoke("--home", str(tmp_path / "a"), *GRANT).exit_code == 0
    result = invoke("--home", str(tmp_path / "b"), "consent", "list", "--home", str(tmp_path / "a"), "--json")
    assert result.exit_code == 0 and len(json.loads(result.stdout)) == 1


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["consent", "grant", "alice"], "missing option '--capability'. Choose from: face_verification, "),
        (["consent", "bogus"], "no such command 'bogus' (see 'facegate consent --help')"),
        (["audit", "show", "--limit", "0"], "invalid value for '--limit': 0 is not in the range x>=1"),
        ([*GRANT, "--expires", "2099-01-01"], "give --expires or --term-days, not both"),
        (["chat", "-c", "--thread", "x"], "give -c/--continue or --thread, not both"),
        (["ask", "hi"], "--purpose is needed to start a conversation"),
    ],
)
def test_usage_errors_are_one_line_without_a_doubled_prefix(tmp_path: Path, argv: list[str], fragment: str) -> None:
    result = invoke("--home", str(tmp_path), *argv)
    assert result.exit_code == 2 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("facegate: usage_error: ") and fragment in line, line
    assert "usage_error: facegate" not in line
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_help_and_version() -> None:
    root = invoke("--help")
    assert root.exit_code == 0
    for command in ("ask", "audit", "chat", "consent", "enroll", "eval", "models", "policy", "subject", "threads"):
        assert f"  {command} " in root.stdout
    assert "--home PATH" in root.stdout
    assert invoke().stdout == root.stdout  # bare `facegate`: the help, exit 0
    assert invoke("--version").stdout == "facegate 0.1.0\n"
    group = invoke("consent")  # a group without its action: its help on stderr, a usage exit code
    assert group.exit_code == 2 and "grant" in group.stderr and group.stdout == ""
    assert "--home PATH" in invoke("audit", "show", "--help").stdout  # global options are on every command


def test_the_eval_plugin_is_a_click_group_with_its_commands() -> None:
    result = invoke("eval", "--help")
    assert result.exit_code == 0
    for command in ("verification", "expression", "prepare", "bench", "soak", "agent"):
        assert f"  {command} " in result.stdout
    assert "--ray-address TEXT" in invoke("eval", "verification", "--help").stdout


def test_help_imports_nothing_heavy() -> None:
    """`facegate --help` stays fast by construction: no rich, prompt_toolkit, pydantic models, LangGraph, numpy."""
    code = (
        "import sys, contextlib, io\nfrom agent.cli.main import run, build_cli\n"
        "with contextlib.redirect_stdout(io.StringIO()): run(build_cli(), ['--help'])\n"
        "heavy = ('rich', 'prompt_toolkit', 'langgraph', 'numpy', 'deepface', 'agent.sdk', 'agent.store', 'pydantic');"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- output: plain in a pipe, tables and colour at a terminal ----------------------------------------------


def test_tables_are_plain_lines_when_not_a_terminal(tmp_path: Path) -> None:
    assert invoke("--home", str(tmp_path), *GRANT).exit_code == 0
    result = invoke("--home", str(tmp_path), "consent", "list")
    assert "\x1b[" not in result.stdout
    [row] = result.stdout.splitlines()  # no header, no rule: one record a line
    assert row.split("  ")[1:4] == ["alice", "active", "face_verification"] and row == row.rstrip()
    rules = invoke("policy", "rules").stdout.splitlines()
    assert rules[0].split() == ["consent.active", "allow", "GDPR", "Art.", "9(2)(a);", "BIPA", "15(b)"]


@pytest.mark.parametrize("no_color", [False, True])
def test_tables_at_a_terminal_have_a_header_and_colour_unless_no_color(no_color: bool) -> None:
    env = _env() | ({"NO_COLOR": "1"} if no_color else {})
    child = pexpect.spawn(FACEGATE, ["policy", "rules"], env=env, encoding="utf-8", timeout=60, dimensions=(50, 160))
    child.expect(pexpect.EOF)
    child.close()
    text = child.before or ""
    assert child.exitstatus == 0
    assert "rule" in text.splitlines()[0] and "anchor" in text.splitlines()[0]
    red_deny = "\x1b[31m" in text
    assert red_deny is not no_color


def test_a_closed_pipe_ends_quietly_with_success() -> None:
    for command in ("policy rules", "policy show --json", "--help"):
        proc = subprocess.run(
            ["bash", "-c", f"set -o pipefail; {FACEGATE} {command} | head -1 >/dev/null"],
            capture_output=True, text=True, env=_env(), timeout=60,
        )  # fmt: skip
        assert (proc.returncode, proc.stderr) == (0, ""), command


# --- subject erase asks first ------------------------------------------------------------------------------


def test_erase_without_a_terminal_needs_yes(tmp_path: Path) -> None:
    assert invoke("--home", str(tmp_path), *GRANT).exit_code == 0
    refused = invoke("--home", str(tmp_path), "subject", "erase", "alice", input="y\n")
    assert refused.exit_code == 2 and refused.stdout == ""
    assert refused.stderr.startswith("facegate: user_error: subject erase deletes alice's data and cannot be undone")
    still = invoke("--home", str(tmp_path), "consent", "list", "alice", "--active", "--json")
    assert len(json.loads(still.stdout)) == 1
    done = invoke("--home", str(tmp_path), "subject", "erase", "alice", "--yes")
    assert done.exit_code == 0 and done.stdout.startswith("erased alice:")
    assert invoke("--home", str(tmp_path), "subject", "erase", "nobody").stderr.startswith("facegate: not_found")


def test_erase_at_a_terminal_asks_and_no_keeps_everything(tmp_path: Path) -> None:
    assert invoke("--home", str(tmp_path), *GRANT).exit_code == 0
    for answer, code in (("n", 1), ("y", 0)):
        child = pexpect.spawn(FACEGATE, ["--home", str(tmp_path), "subject", "erase", "alice"], env=_env(),
                              encoding="utf-8", timeout=60)  # fmt: skip
        child.expect(r"Erase alice\? .* cannot be undone\. \[y/N\]")
        child.sendline(answer)
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == code
        if answer == "n":
            assert "not erased: alice" in (child.before or "")
            active = invoke("--home", str(tmp_path), "consent", "list", "alice", "--active", "--json")
            assert len(json.loads(active.stdout)) == 1
        else:
            assert "erased alice: 0 template(s) deleted, 1 consent(s) withdrawn" in (child.before or "")


# --- ask's exit codes --------------------------------------------------------------------------------------


def _decision(call_id: str, outcome: str) -> AgentEvent:
    from agent.sdk import DecisionEvent, DecisionRecord

    record = DecisionRecord(outcome=outcome, rule_id="r", reason="why", policy_hash="p", call_id=call_id, tool="t")  # type: ignore[arg-type]
    return DecisionEvent(thread_id="t", decision=record)


def _result(status: str, *, verified: bool | None = None, error_code: str | None = None) -> AgentEvent:
    from agent.sdk import ToolOutcome, ToolResultEvent
    from tools.results import FaceBox, VerificationResult

    result = None
    if verified is not None:
        box = FaceBox(x=0, y=0, w=1, h=1)
        result = VerificationResult(
            verified=verified, distance=0.1, threshold=0.07, metric="cosine", model="Dlib", detector="dlib",
            box_a=box, box_b=box, faces_in_a=1, faces_in_b=1, used_largest_face=True, notes=[], elapsed_ms=1.0,
            image_a_sha256="a", image_b_sha256="b",
        )  # fmt: skip
    outcome = ToolOutcome(call_id="1", tool="verify_faces", status=status, result=result, error_code=error_code)  # type: ignore[arg-type]
    return ToolResultEvent(thread_id="t", outcome=outcome)


ALLOW, DENY, ASK = (_decision("1", o) for o in ("allow", "deny", "needs_consent"))
MATCH, NO_MATCH = (_result("ok", verified=v) for v in (True, False))
ERRORS = ("face_not_found", "image_not_found", "no_such_code", "model_unavailable")
NO_FACE, NO_IMAGE, ODD, NO_MODEL = (_result("error", error_code=c) for c in ERRORS)
ALLOW_2 = _decision("2", "allow")


@pytest.mark.parametrize(
    ("events", "code"),
    [
        ([], 0),
        ([ALLOW, MATCH], 0),
        ([DENY], 6),
        ([ASK], 6),
        ([ASK, ALLOW, MATCH], 0),  # a consent given at the prompt turns the call's needs_consent into allow
        ([ALLOW, NO_MATCH], 11),
        ([ALLOW, NO_FACE], 4),
        ([NO_IMAGE], 3),
        ([ODD], 1),
        ([DENY, ALLOW_2, NO_FACE], 6),  # a refusal outranks a failure, which outranks a non-match
        ([NO_MATCH, NO_MODEL], 5),
    ],
)
def test_ask_exit_codes(events: list[AgentEvent], code: int) -> None:
    from agent.cli.ask_cmd import events_exit_code

    assert events_exit_code(events) == code


@pytest.mark.slow
def test_ask_exit_codes_from_a_real_run(face_home: Path, tmp_path: Path) -> None:
    from tests.photos import photo

    env = _env() | {"FACEGATE_REASONER": "offline", "FACEGATE_DB_PATH": str(tmp_path / "fg.db"),
                    "FACEGATE_CHECKPOINT_PATH": str(tmp_path / "threads.db")}  # fmt: skip
    base = [FACEGATE, "--home", str(face_home)]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*base, *args], capture_output=True, text=True, env=env, timeout=120,
                              stdin=subprocess.DEVNULL)  # fmt: skip

    grant = ["consent", "grant", "a", "--capability", "face_verification", "--purpose", "mfa", "--notice", "n",
             "--evidence-method", "signed_form", "--recorded-by", "op", "--term-days", "3"]  # fmt: skip
    assert run(*grant).returncode == 0
    ask = ["ask", "Verify img1 against img2.", "--purpose", "mfa"]
    same = run(*ask, "--image", f"a={photo('obama.jpg')}", "--image", f"a={photo('obama2.jpg')}")
    assert same.returncode == 0, same.stderr
    other = run(*ask, "--image", f"a={photo('obama.jpg')}", "--image", f"a={photo('biden.jpg')}")
    assert other.returncode == 11 and "verified=False" in other.stdout
    refused = run(*ask, "--image", f"b={photo('obama.jpg')}", "--image", f"a={photo('obama2.jpg')}")
    assert refused.returncode == 6 and "NEEDS CONSENT" in refused.stdout


# --- nothing is written before a step that can fail is known to succeed ------------------------------------


def test_a_model_that_cannot_run_fails_before_anything_is_written(tmp_path: Path) -> None:
    """A model no package ships (downloads off): chat, ask and enroll stop before a consent can be recorded at a
    prompt or an enrollment decision audited."""
    from tests.photos import photo

    env = _env() | {"FACEGATE_MODEL": "ArcFace", "FACEGATE_DETECTOR": "opencv", "FACEGATE_REASONER": "offline"}
    home = tmp_path / "home"

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([FACEGATE, "--home", str(home), *args], input=input, capture_output=True, text=True,
                              env=env, timeout=120)  # fmt: skip

    for argv in (["chat", "--purpose", "mfa"], ["ask", "hi", "--purpose", "mfa"]):
        proc = run(*argv, input="hi\n")
        assert proc.returncode == 5 and proc.stdout == "", proc.stderr
        assert proc.stderr.startswith("facegate: model_unavailable: model 'ArcFace' ")
        assert not (home / "facegate.db").exists() and not (home / "threads.db").exists()
    assert run("consent", "grant", "alice", "--capability", "enrollment", "--purpose", "access_control",
               "--notice", "n", "--evidence-method", "signed_form", "--recorded-by", "op",
               "--term-days", "3").returncode == 0  # fmt: skip
    enroll = run("enroll", "alice", str(photo("obama.jpg")), "--purpose", "access_control")
    assert enroll.returncode == 5
    rows = json.loads(run("audit", "show", "--json").stdout)
    assert [r["kind"] for r in rows] == ["consent_grant"]  # no audited decision for an enrollment that cannot run


# --- threads ---------------------------------------------------------------------------------------------


def test_threads_on_a_home_without_conversations_writes_nothing(tmp_path: Path) -> None:
    from agent.threads import get_thread, latest_thread, list_threads

    result = invoke("--home", str(tmp_path), "threads")
    assert result.exit_code == 0 and result.stdout == "no conversations yet\n"
    assert list(tmp_path.iterdir()) == []
    empty = tmp_path / "threads.db"
    empty.touch()  # the SDK creates it owner-only before the first checkpoint
    assert list_threads(empty) == [] and get_thread(empty, "x") is None and latest_thread(empty) is None
    assert empty.stat().st_size == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["threads.db"]


def test_the_deepface_console_script_is_not_installed() -> None:
    """deepface's `deepface` entry point needs `fire`, which facegate does not install: setup removes it."""
    assert not (Path(sys.executable).parent / "deepface").exists()


def test_erase_deletes_the_chat_history_entries_naming_the_subject(tmp_path: Path) -> None:
    from agent.cli.line_editor import forget_in_history, history_path

    history = history_path(tmp_path)
    history.write_text(
        "\n# 2026-12-01 10:00:00.1\n+/image alice alice.jpg\n"
        "\n# 2026-12-01 10:00:01.1\n+Verify img1 against enrolled alice.\n"
        "\n# 2026-12-01 10:00:02.1\n+/image alice2 b.jpg\n"
        "\n# 2026-12-01 10:00:03.1\n+line one\n+about alice@work too\n"
        "\n# 2026-12-01 10:00:04.1\n+/audit\n"
    )
    assert invoke("--home", str(tmp_path), *GRANT).exit_code == 0
    result = invoke("--home", str(tmp_path), "subject", "erase", "alice", "--yes", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["chat_history_entries_deleted"] == 2
    assert [line for line in history.read_text().splitlines() if line.startswith("+")] == [
        "+/image alice2 b.jpg", "+line one", "+about alice@work too", "+/audit",
    ]  # fmt: skip
    assert forget_in_history(tmp_path, "alice2") == 1 and forget_in_history(tmp_path / "none", "x") == 0


def test_the_readme_exit_code_table_matches_the_error_classes() -> None:
    import re

    import agent.errors
    import evals.errors  # noqa: F401  (eval_error's class: exit_code_for finds the classes that are loaded)
    from agent.cli.ask_cmd import EXIT_NOT_VERIFIED, EXIT_REFUSED, exit_code_for

    assert agent.errors.PolicyError.exit_code == EXIT_REFUSED
    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("### Exit codes") :].split("\n\n")[1]
    rows = {int(m.group(1)): m.group(2) for m in re.finditer(r"^\| (\d+) \| (.*) \|$", table, re.MULTILINE)}
    checked = 0
    for code, text in rows.items():
        for name in re.findall(r"`([a-z_]+)`", text):
            if name not in ("usage_error", "ask", "subject", "demo", "models", "install"):
                assert exit_code_for(name) == code, name
                checked += 1
    assert checked >= 15
    assert exit_code_for("policy_denied") == EXIT_REFUSED and "policy refused" in rows[EXIT_REFUSED]
    assert "did not match" in rows[EXIT_NOT_VERIFIED]


@pytest.mark.slow
def test_threads_come_from_the_checkpointer_with_purpose_turns_and_a_pause(
    face_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent import FaceAgent, ImageInput, Settings
    from agent.threads import get_thread, latest_thread, list_threads
    from tests.photos import photo

    settings = Settings(home=face_home, db_path=tmp_path / "fg.db", checkpoint_path=tmp_path / "threads.db",
                        reasoner="offline")  # fmt: skip
    with FaceAgent(settings, human_present=True, consent_handler=lambda request: None) as fa:
        first = fa.ask("What consent is on record for carol?", purpose="mfa")
        fa.ask("What consent is on record for dave?", purpose="mfa", thread_id=first.thread_id)
        paused = fa.ask("Analyse the facial expression of the participant.", purpose="ux_research",
                        images=[ImageInput(source=photo("astronaut.png"), subject="eileen")])  # fmt: skip
    assert paused.status == "awaiting_consent"
    threads = list_threads(tmp_path / "threads.db")
    assert [(t.thread_id, t.purpose, t.turns, t.awaiting_consent) for t in threads] == [
        (paused.thread_id, "ux_research", 1, True), (first.thread_id, "mfa", 2, False),
    ]  # fmt: skip
    assert latest_thread(tmp_path / "threads.db") == threads[0]
    assert get_thread(tmp_path / "threads.db", first.thread_id) == threads[1]
    assert get_thread(tmp_path / "threads.db", "nope") is None
    monkeypatch.setenv("FACEGATE_CHECKPOINT_PATH", str(tmp_path / "threads.db"))
    listed = invoke("--home", str(face_home), "threads", "--json")
    assert [t["thread_id"] for t in json.loads(listed.stdout)] == [paused.thread_id, first.thread_id]
    plain = invoke("--home", str(face_home), "threads").stdout.splitlines()
    assert plain[0].split()[::5] == [paused.thread_id, "paused"] and len(plain) == 2
