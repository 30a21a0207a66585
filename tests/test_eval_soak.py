"""The memory soak runs real verifications in-process and reports resident-memory figures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agent.settings import Settings
from evals.soak import _slope, run_soak, write_report
from tests.photos import photo
from tools.settings import EngineSettings


def test_slope_is_least_squares() -> None:
    assert _slope([(0, 100.0), (1000, 100.0)]) == 0.0
    assert _slope([(0, 100.0), (1000, 110.0), (2000, 120.0)]) == pytest.approx(0.01)
    assert _slope([(5, 1.0)]) == 0.0


@pytest.mark.slow
def test_soak_counts_calls_failures_and_samples(tmp_path: Path, face_settings: EngineSettings) -> None:
    root = tmp_path / "set"
    root.mkdir()
    for name in ("obama.jpg", "obama2.jpg", "coffee.png"):
        shutil.copy(photo(name), root / name)
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("img1,img2,same\nobama.jpg,obama2.jpg,1\nobama.jpg,coffee.png,0\n")
    settings = Settings(home=face_settings.home)
    report = run_soak(settings, pairs, root, calls=6, sample_every=2, warmup_calls=2)
    assert report.calls == 6 and report.images == 3
    assert [c for c, _ in report.samples] == [2, 4, 6]
    assert 0 < report.failed_calls < 6  # coffee.png has no face: counted, not fatal
    assert report.peak_rss_mb >= report.rss_end_mb > 0
    write_report(report, tmp_path / "out")
    assert json.loads((tmp_path / "out" / "soak.json").read_text())["calls"] == 6
    assert "slope after warm-up" in (tmp_path / "out" / "soak.md").read_text()
