"""The CLI boundary: every known kind of failure is one stderr line and a non-zero exit, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.cli.main import main


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(argv)
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("FACEGATE_HOME", "FACEGATE_POLICY_FILE", "FACEGATE_DETECT_MAX_SIDE", "FACEGATE_MAX_TURN_STEPS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("FACEGATE_HOME", str(tmp_path / "home"))


def test_a_bad_setting_names_the_field_in_one_line(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.setenv("FACEGATE_DETECT_MAX_SIDE", "-1")
    code, err = _run(["audit", "head"], capsys)
    assert code == 2
    assert err == [
        "facegate: config_error: invalid setting detect_max_side (FACEGATE_DETECT_MAX_SIDE): "
        "Input should be greater than or equal to 0"
    ]


def test_several_bad_settings_are_one_line_with_a_count(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.setenv("FACEGATE_DETECT_MAX_SIDE", "-1")
    monkeypatch.setenv("FACEGATE_MAX_TURN_STEPS", "0")
    code, err = _run(["audit", "head"], capsys)
    assert code == 2 and len(err) == 1
    assert err[0].startswith("facegate: config_error: invalid setting detect_max_side")
    assert err[0].endswith("(+1 more problem)")


def test_an_unusable_home_is_one_os_error_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, err = _run(["--home", str(blocker / "home"), "consent", "list"], capsys)
    assert code == 1
    assert len(err) == 1 and err[0].startswith("facegate: os_error: ") and str(blocker) in err[0]


def test_a_policy_file_that_is_not_yaml_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                    monkeypatch) -> None:  # fmt: skip
    bad = tmp_path / "bad.yaml"
    bad.write_text('version: "1"\npurposes: [\n  a: {id: a}\n')
    monkeypatch.setenv("FACEGATE_POLICY_FILE", str(bad))
    code, err = _run(["policy", "show"], capsys)
    assert code == 2
    assert len(err) == 1 and err[0].startswith(f"facegate: config_error: policy file {bad} is not valid YAML")
    assert "more problems)" in err[0]


def test_one_line() -> None:
    from agent.cli.main import one_line

    assert one_line("a") == "a"
    assert one_line("a\n\n  b\nc\n") == "a (+2 more problems)"
    assert one_line("") == ""
