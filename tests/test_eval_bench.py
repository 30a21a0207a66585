"""``facegate eval bench`` on a three-pair set: both sides run, side by side, in their own processes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agent.settings import Settings
from evals.bench import run_bench
from tests.photos import ensure_photos
from tools.weights import install_weights

pytestmark = pytest.mark.slow


def test_bench_compares_plain_deepface_with_facegate_on_the_same_pairs(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", allow_downloads=False)
    assert install_weights(settings).ok
    photos = ensure_photos()
    root = tmp_path / "set"
    root.mkdir()
    for name in ("obama.jpg", "obama2.jpg", "biden.jpg"):
        shutil.copyfile(photos / name, root / name)
    (root / "pairs.csv").write_text(
        "img1,img2,same\nobama.jpg,obama2.jpg,1\nobama.jpg,biden.jpg,0\nobama2.jpg,biden.jpg,0\n"
    )
    out = tmp_path / "bench"
    result = run_bench(settings, out=out, pairs_file=root / "pairs.csv", root=root, max_pairs=0, workers=2)

    on_disk = json.loads((out / "bench.json").read_text())
    assert on_disk["n_pairs"] == 3 == result["n_pairs"]
    assert (out / "bench.md").read_text().startswith("# facegate bench")
    plain, fg = on_disk["plain_deepface"], on_disk["facegate"]
    assert plain["n_pairs"] == fg["n_pairs"] == 3
    assert plain["settings"]["model"] == "Dlib" and "opencv" in plain["settings"]["detector"]
    assert plain["pairs_per_s"] > 0 and fg["pairs_per_s"] > 0
    assert on_disk["speedup_pairs_per_s"] == pytest.approx(fg["pairs_per_s"] / plain["pairs_per_s"])
    assert 0 <= plain["accuracy_counting_failures"] <= 1 and 0 <= fg["accuracy_counting_failures"] <= 1
    # each side's memory is its own process's (or process group's), measured apart
    assert plain["peak_rss_mb"] > 0 and fg["peak_rss_mb"]["max_process"] > 0
    assert on_disk["cli_cold_start"]["median_s"] > 0 and len(on_disk["cli_cold_start"]["runs_s"]) == 5
    assert "agent_overhead_per_turn" in on_disk
    assert on_disk["audit"]["recorded"] is True
