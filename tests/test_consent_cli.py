"""The consent, enrollment, subject, retention, audit and policy commands, run in-process."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from agent.cli.main import main
from agent.policy.rules import ALL_RULES
from tests.photos import photo

GRANT = [
    "consent",
    "grant",
    "alice",
    "--capability",
    "face_verification",
    "--capability",
    "enrollment",
    "--purpose",
    "access_control",
    "--notice",
    "v1: door access",
    "--evidence-method",
    "signed_form",
    "--recorded-by",
    "bob",
    "--actor",
    "bob",
]


@pytest.fixture
def run(tmp_path: Path, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    def _run(*argv: str) -> tuple[int, str, str]:
        code = main(["--home", str(tmp_path), *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return _run


def _rows(tmp_path: Path, table: str) -> int:
    if not (tmp_path / "facegate.db").exists():
        return 0
    return sqlite3.connect(tmp_path / "facegate.db").execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_grant_list_show_revoke(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(*GRANT, "--expires", "2099-01-01", "--json")
    assert code == 0
    granted = json.loads(out)
    assert granted["status"] == "active" and granted["expires_at"].startswith("2099-01-01T00:00:00")
    assert granted["evidence"] == {"method": "signed_form", "recorded_by": "bob", "reference": None}
    code, out, _ = run("consent", "list", "--json")
    assert code == 0 and [c["id"] for c in json.loads(out)] == [granted["id"]]
    code, out, _ = run("consent", "show", granted["id"])
    assert code == 0 and "signed_form" in out
    code, out, _ = run("consent", "revoke", "alice", "--capability", "enrollment", "--json")
    assert code == 0 and json.loads(out)["revoked"][0]["id"] == granted["id"]
    code, out, _ = run("consent", "list", "alice", "--active", "--json")
    assert [c["capabilities"] for c in json.loads(out)] == [["face_verification"]]
    code, out, _ = run("audit", "show", "--subject", "alice")
    assert code == 0 and "consent_grant" in out and "consent_revoke" in out


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--term-days", "30", "--notice", ""], 2, "missing notice"),
        (["--term-days", "30", "--evidence-method", ""], 2, "evidence"),
        ([], 2, "term"),
        (["--expires", "next tuesday"], 2, "--expires"),
        (["--expires", "2001-01-01"], 2, "ended"),
        (["--term-days", "30", "--purpose", "fun"], 2, "unknown purpose"),
        (["--expires", "9999-12-31T23:59:00-05:00"], 2, "out of range"),
    ],
)
def test_bad_grants_get_one_line_and_write_nothing(run, tmp_path: Path, args, code, fragment) -> None:  # type: ignore[no-untyped-def]
    got, _out, err = run(*GRANT, *args)
    assert got == code
    assert len(err.strip().splitlines()) == 1 and fragment in err, err
    assert _rows(tmp_path, "consents") == 0 and _rows(tmp_path, "audit_log") == 0


def test_capability_the_purpose_does_not_allow_is_refused(run) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(
        "consent",
        "grant",
        "alice",
        "--capability",
        "expression_analysis",
        "--purpose",
        "access_control",
        "--notice",
        "n",
        "--evidence-method",
        "m",
        "--recorded-by",
        "r",
        "--term-days",
        "3",
    )
    assert code == 2 and "never apply" in err


def test_errors_for_unknown_things(run) -> None:  # type: ignore[no-untyped-def]
    assert run("consent", "revoke", "nobody")[0] == 2
    assert run("consent", "show", "c_nope")[0] == 2
    assert run("subject", "export", "nobody")[0] == 2
    code, _, err = run("subject", "erase", "nobody")
    assert code == 2 and err.startswith("facegate: not_found")


def test_subject_export_and_erase(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run(*GRANT, "--term-days", "30")
    out_file = tmp_path / "alice.json"
    assert run("subject", "export", "alice", "-o", str(out_file))[0] == 0
    assert json.loads(out_file.read_text())["subject"]["id"] == "alice"
    code, out, _ = run("subject", "erase", "alice", "--json", "--yes")  # --yes: no terminal to confirm at
    assert code == 0 and json.loads(out)["consents_revoked"] == 1
    code, out, _ = run("subject", "list")
    assert "erased" in out
    assert run("retention", "sweep")[0] == 0
    code, out, _ = run("audit", "verify", "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["rows"] == 4  # grant, export, erasure, sweep


def test_policy_commands(run) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run("policy", "rules", "--json")
    assert code == 0 and [r["id"] for r in json.loads(out)] == [r.id for r in ALL_RULES]  # decide()'s and the graph's
    code, out, _ = run("policy", "show")
    assert code == 0 and "access_control" in out and "threshold x0.857" in out
    code, out, _ = run("policy", "show", "--json")
    assert len(json.loads(out)["hash"]) == 64


def test_custom_policy_file_errors_are_one_line(run, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "policy.yaml"
    bad.write_text("version: x\nsensitive_attributes: [race]\npurposes:\n  p:\n    context: moon\n")
    monkeypatch.setenv("FACEGATE_POLICY_FILE", str(bad))
    code, _, err = run("policy", "show")
    assert code == 2 and "config_error" in err and len(err.strip().splitlines()) == 1


def test_enroll_refused_without_consent(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    image = tmp_path / "face.jpg"
    image.write_bytes(photo("obama.jpg").read_bytes())
    code, _, err = run("enroll", "alice", str(image), "--purpose", "access_control")
    assert code != 0 and "consent_required" in err
    assert _rows(tmp_path, "templates") == 0


@pytest.mark.slow
def test_enroll_cli_with_real_engine(face_home: Path, tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FACEGATE_DB_PATH", str(tmp_path / "enroll.db"))
    home = ["--home", str(face_home)]
    assert main([*home, *GRANT, "--term-days", "30"]) == 0
    capsys.readouterr()
    assert main([*home, "enroll", "alice", str(photo("obama.jpg")), "--purpose", "access_control", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["decision"]["rule_id"] == "highrisk.obligations" and result["model"] == "Dlib"
    db = sqlite3.connect(tmp_path / "enroll.db")
    assert db.execute("SELECT COUNT(*) FROM templates").fetchone()[0] == 1
    assert main([*home, "consent", "revoke", "alice"]) == 0
    assert db.execute("SELECT COUNT(*) FROM templates").fetchone()[0] == 0
    assert main([*home, "audit", "verify"]) == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["consent", "grant", "alice"],
        ["consent", "grant", "alice", "--capability", "mind_reading", "--purpose", "p"],
        ["enroll", "alice"],
        ["audit", "show", "--limit", "many"],
        ["audit", "show", "--limit", "-1"],
        ["audit", "show", "--limit", "0"],
        ["consent", "bogus"],
        [*GRANT, "--term-days", "0"],
        [*GRANT, "--term-days", "99999999"],
        [*GRANT, "--term-days", "30", "--retention-days", "99999999"],
        [*GRANT, "--term-days", "30", "--retention-days", "0"],
    ],
)
def test_usage_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv) -> None:  # type: ignore[no-untyped-def]
    code = main(["--home", str(tmp_path), *argv])  # returned, not raised as SystemExit: main(argv) -> int
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("facegate: usage_error:"), err
    assert "facegate: usage_error: facegate" not in err  # no doubled prefix


def test_cli_choices_match_the_models() -> None:
    from typing import get_args

    from agent.cli import audit_cmd, consent_cmd
    from agent.policy import CONSENTABLE
    from agent.store.models import MAX_DAYS, AuditKind

    assert set(consent_cmd.CAPABILITIES) == {c.value for c in CONSENTABLE}
    assert get_args(AuditKind) == audit_cmd.AUDIT_KINDS
    assert consent_cmd.MAX_DAYS == MAX_DAYS


def test_longest_term_is_accepted_and_sdk_overlong_terms_are_invalid_consent(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from agent.consent import grant_consent
    from agent.errors import InvalidConsent
    from agent.policy import load_policy
    from agent.store import Store

    code, out, err = run(*GRANT, "--term-days", str(36_500), "--retention-days", str(36_500), "--json")
    assert code == 0 and json.loads(out)["retention_days"] == 36_500, err
    with Store.open(tmp_path / "facegate.db") as store:
        for field in ("term_days", "retention_days"):
            kw = {"term_days": 30, field: 99_999_999}
            with pytest.raises(InvalidConsent, match=field):
                grant_consent(
                    store, load_policy(), subject_id="dave", capabilities=["face_verification"],
                    purposes=["access_control"], notice="n", evidence_method="x", recorded_by="r", actor="r", **kw,
                )  # fmt: skip


def test_audit_query_refuses_a_non_positive_limit(tmp_path: Path) -> None:
    from agent.store import Store
    from tools.errors import UserError

    with Store.open(tmp_path / "facegate.db") as store:
        with pytest.raises(UserError):
            store.audit.query(limit=-1)
        with pytest.raises(UserError):
            store.audit.query(limit=0)


def test_subject_erase_deletes_the_subjects_conversations(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from agent.settings import Settings
    from tests.test_subjects import _converse, _threads

    run(*GRANT, "--term-days", "30")
    thread = _converse(Settings(home=tmp_path, reasoner="offline", actor="op"), "alice")
    code, out, _ = run("subject", "export", "alice")
    assert code == 0 and [t["thread_id"] for t in json.loads(out)["conversations"]] == [thread]
    code, out, err = run("subject", "erase", "alice", "--yes")
    assert code == 0 and "1 conversation(s) deleted" in out, err
    assert _threads(tmp_path / "threads.db") == set()
    code, out, _ = run("audit", "show", "--kind", "erasure", "--json")
    assert json.loads(out)[0]["summary"]["threads_deleted"] == 1


BLANK_EVIDENCE = [
    "consent", "grant", "b1", "--capability", "face_verification", "--purpose", "access_control",
    "--notice", "n", "--term-days", "30",
]  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--evidence-method", " ", "--recorded-by", " "], "missing evidence"),
        (["--evidence-method", "signed_form", "--recorded-by", "\t"], "missing evidence"),
        (["--evidence-method", " ", "--recorded-by", "bob"], "missing evidence"),
        (["--evidence-method", "signed_form", "--recorded-by", "bob", "--notice", "  "], "missing notice"),
    ],
)
def test_blank_evidence_is_no_consent(run, tmp_path: Path, extra: list[str], fragment: str) -> None:  # type: ignore[no-untyped-def]
    code, _out, err = run(*BLANK_EVIDENCE, *extra)
    assert code == 2 and err.startswith("facegate: invalid_consent:") and fragment in err, err
    assert len(err.strip().splitlines()) == 1
    assert _rows(tmp_path, "consents") == 0 and _rows(tmp_path, "audit_log") == 0


def test_evidence_is_recorded_stripped(run) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(*BLANK_EVIDENCE, "--evidence-method", " signed_form ", "--recorded-by", " bob", "--json")
    assert code == 0, err
    assert json.loads(out)["evidence"] == {"method": "signed_form", "recorded_by": "bob", "reference": None}


@pytest.mark.parametrize("expires", ["9999-12-31", "2200-01-01"])
def test_expires_is_bounded_like_term_days(run, tmp_path: Path, expires: str) -> None:  # type: ignore[no-untyped-def]
    code, _out, err = run(*GRANT, "--expires", expires)
    assert code == 2 and err.startswith("facegate: invalid_consent:") and "longer than 36500 days" in err, err
    assert len(err.strip().splitlines()) == 1 and _rows(tmp_path, "consents") == 0


READ_COMMANDS = [
    ["audit", "verify"],
    ["audit", "show"],
    ["audit", "head"],
    ["consent", "list"],
    ["consent", "show", "c_x"],
    ["subject", "export", "alice"],
    ["subject", "list"],
    ["consent", "revoke", "alice"],
    ["subject", "erase", "alice"],
    ["retention", "sweep"],
]


@pytest.mark.parametrize("argv", READ_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_commands_do_not_create_a_missing_database(run, tmp_path: Path, argv: list[str]) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(*argv)
    db = tmp_path / "facegate.db"
    assert (code, out) == (2, "")
    assert err == f"facegate: not_found: no facegate database at {db} (wrong --home?)\n"
    assert not db.exists() and list(tmp_path.iterdir()) == []


def test_an_empty_home_is_a_config_error_not_the_working_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FACEGATE_HOME", "")
    assert main(["audit", "verify"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("facegate: config_error: invalid setting home (FACEGATE_HOME): home is empty"), err
    assert len(err.strip().splitlines()) == 1 and list(tmp_path.iterdir()) == []


def test_an_empty_home_in_a_real_process(tmp_path: Path) -> None:
    """The review's reproduction: ``env -u HOME FACEGATE_HOME= facegate audit verify``."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "HOME" and not k.startswith("FACEGATE_")}
    env["FACEGATE_HOME"] = ""
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    proc = subprocess.run(
        [sys.executable, "-m", "agent.cli.main", "audit", "verify"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("facegate: config_error: invalid setting home") and "intact" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_relative_home_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.settings import Settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    assert Settings(home="rel").home == tmp_path / "rel"
    assert Settings(home="~/fg").home == tmp_path / "me" / "fg"
    monkeypatch.setenv("FACEGATE_HOME", "~/env")
    assert Settings().resolved_db_path == tmp_path / "me" / "env" / "facegate.db"
    monkeypatch.setenv("FACEGATE_DB_PATH", " ")
    with pytest.raises(ValueError, match="db_path is empty"):
        Settings()


def test_subject_list_and_export_tell_an_erasure_and_a_return(run) -> None:  # type: ignore[no-untyped-def]
    assert run(*GRANT, "--term-days", "30")[0] == 0
    assert run("subject", "erase", "alice", "--yes")[0] == 0
    code, out, _ = run("subject", "list")
    assert code == 0 and out.split()[:2] == ["alice", "erased"]
    assert run(*GRANT, "--term-days", "30")[0] == 0
    code, out, _ = run("subject", "list")
    assert "active (erased " in out and "registered again" in out
    code, out, _ = run("subject", "export", "alice")
    subject = json.loads(out)["subject"]
    assert subject["status"] == "active" and subject["erased_at"] and subject["reregistered_at"]
    assert [e["at"] for e in subject["erasures"]] == [subject["erased_at"]]
    code, out, _ = run("audit", "show", "--kind", "consent_grant", "--json")
    grants = json.loads(out)
    assert "reregistered_after_erasure_at" not in grants[0]["summary"]
    assert grants[1]["summary"]["reregistered_after_erasure_at"] == subject["erased_at"]
