"""The evaluation runs end to end: the real engine on a tiny set prepared from package-shipped photos."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from agent.cli.main import main
from agent.settings import Settings
from evals.expression import run_expression
from evals.verification import NOT_ENOUGH, run_verification
from tests.photos import ensure_photos
from tools.weights import install_weights

pytestmark = pytest.mark.slow

REPORT_KEYS = {
    "accuracy",
    "accuracy_counting_failures",
    "auc",
    "eer",
    "pairs_per_s",
    "best_threshold",
    "best_accuracy",
    "tar_at_far",
    "failed_images",
    "n_pairs",
    "n_images",
    "elapsed_s",
    "embed_ms_per_image",
    "settings",
    "dataset_sha256",
    "peak_rss_mb",
    "threshold",
}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("eval-home")
    assert install_weights(Settings(home=home)).ok
    return home


@pytest.fixture(scope="module")
def settings(home: Path) -> Settings:
    return Settings(home=home, allow_downloads=False)


@pytest.fixture(scope="module")
def tiny(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny-set")
    code = main(
        ["--home", str(home), "eval", "prepare", "--out", str(out), "--size", "tiny", "--photos", str(ensure_photos())]
    )
    assert code == 0
    return out


def _audit_events(settings: Settings) -> list:
    from agent.store import Store

    store = Store.open(settings.resolved_db_path)
    try:
        assert store.audit.verify().ok
        return list(store.audit.query(kind="eval_run"))
    finally:
        store.close()


def test_prepared_set_labels_follow_the_source_photos(tiny: Path) -> None:
    manifest = json.loads((tiny / "manifest.json").read_text())
    person = {im["file"]: im["person"] for im in manifest["images"]}
    with (tiny / "pairs.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows
    for row in rows:
        assert (tiny / row["img1"]).is_file() and (tiny / row["img2"]).is_file()
        assert int(row["same"]) == int(person[row["img1"]] == person[row["img2"]])
    assert {r["same"] for r in rows} == {"0", "1"}
    with (tiny / "labels.csv").open() as fh:
        labels = list(csv.DictReader(fh))
    assert {r["label"] for r in labels} == {"happy", "neutral"}
    assert any(r["kind"] == "crop48" for r in labels)  # the small crops were cut
    assert "NOT a substitute" in manifest["caveat"]
    assert "NOT a substitute" in (tiny / "README.md").read_text()


def test_verification_eval_writes_the_three_files_and_is_audited(
    tiny: Path, settings: Settings, tmp_path: Path
) -> None:
    out = tmp_path / "ver"
    code = main(
        ["--home", str(settings.home), "eval", "verification", "--pairs", str(tiny / "pairs.csv"),
         "--root", str(tiny), "--out", str(out), "--workers", "2", "--json"]
    )  # fmt: skip
    assert code == 0
    for name in ("report.json", "report.md", "roc.png", "pair_scores.csv"):
        assert (out / name).stat().st_size > 0
    report = json.loads((out / "report.json").read_text())
    assert report.keys() >= REPORT_KEYS
    with (tiny / "pairs.csv").open() as fh:
        n_rows = sum(1 for _ in csv.DictReader(fh))
    assert report["n_pairs"] == n_rows
    assert report["n_failed_images"] == 0 and report["failed_images"] == []
    assert report["settings"]["workers"] == 2 and report["settings"]["executor"] == "local"
    assert 0.0 <= report["accuracy"] <= 1.0 and 0.0 <= report["auc"] <= 1.0
    assert report["pairs_per_s"] > 0 and report["embed_ms_per_image"] > 0
    assert set(report["tar_at_far"]) == {"0.1", "0.01", "0.001"}
    assert report["tar_at_far"]["0.001"] == NOT_ENOUGH  # a tiny set has far fewer than 1000 impostor pairs
    assert report["peak_rss_mb"]["parent"] > 0 and report["peak_rss_mb"]["workers"]
    assert "NOT a substitute" in " ".join(report["notes"])
    assert report["audit"]["recorded"] is True
    events = [e for e in _audit_events(settings) if e.summary.get("eval") == "verification"]
    assert events and events[-1].input_hashes == [report["dataset_sha256"]]
    assert events[-1].summary["n_pairs"] == n_rows
    assert "vector" not in json.dumps(events[-1].summary)


def test_failed_images_are_counted_and_listed(settings: Settings, tmp_path: Path) -> None:
    photos = ensure_photos()
    root = tmp_path / "set"
    root.mkdir()
    for name in ("obama.jpg", "obama2.jpg", "coffee.png"):
        shutil.copyfile(photos / name, root / name)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    pairs = root / "pairs.csv"
    pairs.write_text(
        "img1,img2,same\n"
        "obama.jpg,obama2.jpg,1\n"
        "obama.jpg,coffee.png,0\n"
        "obama2.jpg,broken.jpg,0\n"
        "obama.jpg,missing.jpg,1\n"
    )
    report = run_verification(settings, pairs, root, tmp_path / "out", workers=1, audit=False)
    failed = {f.file: f.error_code for f in report.failed_images}
    assert set(failed) == {"coffee.png", "broken.jpg", "missing.jpg"}
    assert failed["coffee.png"] == "face_not_found"
    assert failed["missing.jpg"] == "image_not_found"
    assert report.n_failed_images == 3
    assert report.n_failed_pairs == 3 and report.n_scorable_pairs == 1
    assert report.accuracy is not None
    assert report.accuracy_counting_failures == pytest.approx(report.accuracy * 1 / 4)
    assert report.auc is None and set(report.tar_at_far.values()) == {NOT_ENOUGH}
    with (tmp_path / "out" / "pair_scores.csv").open() as fh:
        statuses = [r["status"] for r in csv.DictReader(fh)]
    assert statuses == ["scored", "failed_image", "failed_image", "failed_image"]
    md = (tmp_path / "out" / "report.md").read_text()
    assert "coffee.png" in md and "broken.jpg" in md


def test_expression_eval_handles_small_crops_and_is_audited(tiny: Path, settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "expr"
    report = run_expression(settings, tiny / "labels.csv", tiny, out, workers=2)
    for name in ("report.json", "report.md", "confusion.png", "predictions.csv"):
        assert (out / name).stat().st_size > 0
    data = json.loads((out / "report.json").read_text())
    assert {"accuracy", "macro_f1", "precision", "recall", "confusion", "labels", "failed_images"} <= data.keys()
    with (tiny / "labels.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    n_crops = sum(1 for r in rows if r["kind"].startswith("crop"))
    assert report.n_failed_images == 0 and report.n_scored == len(rows)
    # the 48 and 64 px crops were classified whole, without a detector, instead of failing
    assert report.detectors_used.get("none") == n_crops
    assert sum(map(sum, report.confusion)) == report.n_scored
    assert len(report.confusion) == 7 and report.labels[3] == "happy"
    assert report.precision.keys() >= {"happy", "neutral"}
    assert report.audit is not None and report.audit["recorded"] is True
    events = [e for e in _audit_events(settings) if e.summary.get("eval") == "expression"]
    assert events and events[-1].input_hashes == [report.dataset_sha256]


def test_bad_root_is_an_eval_error(settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "p.csv").write_text("img1,img2,same\na,b,1\n")
    code = main(
        ["--home", str(settings.home), "eval", "verification", "--pairs", str(tmp_path / "p.csv"),
         "--root", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]
    )  # fmt: skip
    assert code == 10
    assert "eval_error" in capsys.readouterr().err


# --- output for people, calibration, groups ------------------------------------------------------------------


def test_a_root_with_none_of_the_images_fails_before_any_work(
    tiny: Path, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "wrong-root"
    empty.mkdir()
    code = main(
        ["--home", str(settings.home), "eval", "verification", "--pairs", str(tiny / "pairs.csv"),
         "--root", str(empty), "--out", str(tmp_path / "o")]
    )  # fmt: skip
    assert code == 10
    err = capsys.readouterr().err
    assert "none of the 10 images" in err and "--root" in err
    assert not (tmp_path / "o" / "roc.png").exists()


def test_no_scorable_pair_is_an_error_not_an_empty_roc(settings: Settings, tmp_path: Path) -> None:
    from evals.errors import EvalError

    root = tmp_path / "set"
    root.mkdir()
    shutil.copyfile(ensure_photos() / "coffee.png", root / "coffee.png")
    (root / "pairs.csv").write_text("img1,img2,same\ncoffee.png,gone.jpg,0\n")
    with pytest.raises(EvalError, match=r"no pair of pairs.csv could be scored: 2 image\(s\) failed"):
        run_verification(settings, root / "pairs.csv", root, tmp_path / "out", workers=1, audit=False)
    assert not (tmp_path / "out" / "roc.png").exists()


def test_terminal_summary_and_warning(settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photos = ensure_photos()
    root = tmp_path / "set"
    root.mkdir()
    for name in ("obama.jpg", "obama2.jpg", "biden.jpg", "coffee.png"):
        shutil.copyfile(photos / name, root / name)
    (root / "pairs.csv").write_text(
        "img1,img2,same,camera\nobama.jpg,obama2.jpg,1,a\nobama.jpg,biden.jpg,0,b\nobama2.jpg,coffee.png,0,a\n"
    )
    code = main(
        ["--home", str(settings.home), "eval", "verification", "--pairs", str(root / "pairs.csv"),
         "--root", str(root), "--out", str(tmp_path / "o"), "--workers", "1"]
    )  # fmt: skip
    assert code == 0
    captured = capsys.readouterr()
    assert "warning: 1 of 3 pairs could not be scored: 1 image(s) failed (1 face_not_found)" in captured.err
    out = captured.out
    assert "FMR 0.00% (0/1; 95% CI" in out and "FNMR 0.00% (0/1;" in out
    assert "by camera (2 groups)" in out and "threshold 0.0700" in out
    assert "![" not in out and "| --- |" not in out  # a summary, not the Markdown
    assert len(out.splitlines()) < 15
    assert "embedding images" in captured.err  # progress on stderr
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["fmr"]["n"] == 1 and report["groups"][0]["column"] == "camera"
    assert (tmp_path / "o" / "groups.png").stat().st_size > 0


def test_calibration_too_few_pairs_then_shown_and_used(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    assert install_weights(Settings(home=home)).ok
    base = ["--home", str(home), "eval", "calibrate", "--pairs", str(tiny / "pairs.csv"), "--root", str(tiny)]
    code = main([*base, "--out", str(tmp_path / "c1"), "--far", "0.01", "--bootstrap", "50"])
    captured = capsys.readouterr()
    assert code == 10
    assert "too few impostor pairs to show a FAR of 1%" in captured.out and "needs at least 299" in captured.out
    assert "no threshold written" in captured.err
    assert not (home / "calibration.json").exists()
    assert json.loads((tmp_path / "c1" / "calibration.json").read_text())["demonstrated"] is False

    code = main([*base, "--out", str(tmp_path / "c2"), "--far", "0.3", "--bootstrap", "50"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "shown:" in captured.out and f"written to {home / 'calibration.json'}" in captured.out
    written = json.loads((home / "calibration.json").read_text())
    assert written["recipe"]["detector"] == "dlib" and written["far"]["n"] == 9
    low, high = written["threshold_interval"]
    assert low <= written["threshold"] <= high

    report = run_verification(Settings(home=home), tiny / "pairs.csv", tiny, tmp_path / "v", workers=1, audit=False)
    assert report.threshold == written["threshold"] and report.threshold_source == "calibration"


def test_expression_report_has_calibration_error_and_groups(tiny: Path, settings: Settings, tmp_path: Path) -> None:
    report = run_expression(settings, tiny / "labels.csv", tiny, tmp_path / "e", workers=1, audit=False)
    assert report.ece is not None and 0.0 <= report.ece <= 1.0
    assert sum(b["count"] for b in report.reliability) == report.n_scored
    assert {t.column for t in report.groups} >= {"kind", "source", "augmentation"}
    for name in ("reliability.png", "groups.png"):
        assert (tmp_path / "e" / name).stat().st_size > 0
    assert "expected calibration error" in (tmp_path / "e" / "report.md").read_text()
