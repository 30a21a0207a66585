"""grace_hopper.jpg is optional: without apt-get the photos, the demo and ``eval prepare`` still work.

A fake ``apt-get`` on PATH (exits 100, as it does without root or package lists) and a temporary cache seeded
with the pip-sourced photos from the real cache (no network).
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from tests.photos import ensure_photos
from tools.errors import NotFoundError
from tools.sample_photos import FR_FILES, GRACE, GROUP_FILES, SKIMAGE_FILES, ensure_sample_photos, sample_photo


@pytest.fixture
def no_apt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH whose apt-get fails like an unprivileged one; returns a cache with only the pip-sourced photos."""
    real = ensure_photos()
    shim = tmp_path / "bin"
    shim.mkdir()
    apt = shim / "apt-get"
    apt.write_text("#!/bin/sh\necho 'E: Could not open lock file /var/lib/apt/lists/lock' >&2\nexit 100\n")
    apt.chmod(apt.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{shim}{os.pathsep}{os.environ['PATH']}")
    cache = tmp_path / "cache"
    cache.mkdir()
    for name in (*FR_FILES, *SKIMAGE_FILES, *GROUP_FILES):
        shutil.copyfile(real / name, cache / name)
    return cache


def test_missing_grace_is_a_warning_with_the_fix_said_once(no_apt: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ensure_sample_photos(no_apt) == no_apt
    ensure_sample_photos(no_apt)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "apt-get update && apt-get download facedetect" in err[0] and str(no_apt) in err[0]
    assert not (no_apt / GRACE).exists()
    with pytest.raises(NotFoundError, match="apt-get download facedetect"):
        sample_photo(GRACE, no_apt)
    assert sample_photo("obama.jpg", no_apt).exists()


def test_missing_required_photo_is_one_line_error(no_apt: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (no_apt / "biden.jpg").unlink()
    # a pip that cannot reach the index: the required photos cannot be fetched
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:1/simple")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    with pytest.raises(NotFoundError) as err:
        ensure_sample_photos(no_apt)
    assert "face_recognition==1.3.0" in err.value.message and "\n" not in err.value.message


def test_prepare_builds_the_sets_without_grace_and_says_so(no_apt: Path, tmp_path: Path) -> None:
    import json

    from evals.prepare import prepare

    result = prepare(tmp_path / "set", photos=no_apt, settings=None, size="tiny")
    assert result.omitted and GRACE in result.omitted[0]
    assert result.n_pairs > 0 and result.n_expression_images > 0
    assert GRACE.split(".")[0] not in (tmp_path / "set" / "pairs.csv").read_text()
    manifest = json.loads((tmp_path / "set" / "manifest.json").read_text())
    assert manifest["omitted"] and "neutral" not in manifest["expression_labels"]
    assert "Omitted: grace_hopper.jpg" in (tmp_path / "set" / "README.md").read_text()


@pytest.mark.slow
def test_demo_runs_without_grace(no_apt: Path, tmp_path: Path) -> None:
    from agent.demo import run_demo
    from agent.settings import Settings

    lines: list[str] = []
    report = run_demo(Settings(reasoner="offline", actor="demo"), home=tmp_path / "home", photos=no_apt,
                      out=lines.append)  # fmt: skip
    assert report.ok, report.failures
    assert report.step("identify").replies[0].decisions[0].rule_id == "identification.one_to_many_prohibited"
