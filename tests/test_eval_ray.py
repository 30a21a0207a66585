"""The same verification and expression evaluations on a local Ray instance (the optional ``ray`` extra)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agent.settings import Settings
from evals.expression import run_expression
from evals.verification import run_verification
from tests.photos import ensure_photos
from tools.weights import install_weights

pytestmark = [pytest.mark.ray, pytest.mark.slow]
ray = pytest.importorskip("ray")


def test_ray_executor_runs_both_evaluations_and_shuts_ray_down(tmp_path: Path) -> None:
    assert not ray.is_initialized()
    home = tmp_path / "home"
    settings = Settings(home=home, allow_downloads=False)
    assert install_weights(settings).ok
    photos = ensure_photos()
    root = tmp_path / "set"
    root.mkdir()
    for name in ("obama.jpg", "obama2.jpg", "biden.jpg", "astronaut.png"):
        shutil.copyfile(photos / name, root / name)
    (root / "pairs.csv").write_text("img1,img2,same\nobama.jpg,obama2.jpg,1\nobama.jpg,biden.jpg,0\n")
    (root / "labels.csv").write_text("file,label\nastronaut.png,happy\n")

    try:
        ver = run_verification(
            settings, root / "pairs.csv", root, tmp_path / "ver", workers=2, executor="ray", progress=False
        )
        assert not ray.is_initialized()  # the run started its own instance and shut it down
        expr = run_expression(
            settings, root / "labels.csv", root, tmp_path / "expr", workers=2, executor="ray", progress=False
        )
        assert not ray.is_initialized()
    finally:
        if ray.is_initialized():
            ray.shutdown()

    assert ver.settings["executor"] == "ray"
    assert ver.n_images == 3 and ver.n_failed_images == 0 and ver.n_scorable_pairs == 2
    assert ver.peak_rss_mb["workers"]  # the actors reported their own peaks
    assert (tmp_path / "ver" / "report.json").is_file() and (tmp_path / "ver" / "roc.png").is_file()
    assert expr.settings["executor"] == "ray" and expr.n_scored == 1
    assert (tmp_path / "expr" / "confusion.png").is_file()
