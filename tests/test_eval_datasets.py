"""Reading pair and label lists; the dataset fingerprint; the bench's pair sample (no models)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.bench import sample_pairs
from evals.datasets import dataset_sha256, read_labels, read_pairs
from evals.executors import chunk_size_for
from tools.errors import EvalError


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_read_pairs_accepts_lfw_style_flags_and_extra_columns(tmp_path: Path) -> None:
    p = _write(tmp_path / "p.csv", "img1,img2,same,kind\na.jpg,b.jpg,1,x\na.jpg,c.jpg,0,y\nb.jpg,c.jpg,true,z\n")
    pairs = read_pairs(p)
    assert [(x.img1, x.img2, x.same) for x in pairs] == [
        ("a.jpg", "b.jpg", True),
        ("a.jpg", "c.jpg", False),
        ("b.jpg", "c.jpg", True),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "img1,img2\na,b\n",  # no 'same' column
        "img1,img2,same\na,b,maybe\n",  # not a flag
        "img1,img2,same\n",  # no rows
        "img1,img2,same\n,b,1\n",  # empty path
    ],
)
def test_read_pairs_rejects_bad_lists(tmp_path: Path, text: str) -> None:
    with pytest.raises(EvalError):
        read_pairs(_write(tmp_path / "p.csv", text))


def test_read_pairs_missing_file(tmp_path: Path) -> None:
    with pytest.raises(EvalError):
        read_pairs(tmp_path / "nope.csv")


def test_read_labels_normalises_case_and_rejects_unknown_labels(tmp_path: Path) -> None:
    ok = read_labels(_write(tmp_path / "l.csv", "file,label\na.png,Happy\nb.png,neutral\n"))
    assert [(x.file, x.label) for x in ok] == [("a.png", "happy"), ("b.png", "neutral")]
    with pytest.raises(EvalError):
        read_labels(_write(tmp_path / "bad.csv", "file,label\na.png,contempt\n"))


def test_dataset_sha256_changes_with_an_image_and_notes_missing_ones(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"one")
    lst = _write(tmp_path / "p.csv", "img1,img2,same\na.jpg,b.jpg,0\n")
    missing = dataset_sha256(lst, tmp_path, ["a.jpg", "b.jpg"])
    (tmp_path / "b.jpg").write_bytes(b"two")
    first = dataset_sha256(lst, tmp_path, ["a.jpg", "b.jpg"])
    assert first != missing
    assert dataset_sha256(lst, tmp_path, ["b.jpg", "a.jpg"]) == first  # order does not matter
    (tmp_path / "b.jpg").write_bytes(b"three")
    assert dataset_sha256(lst, tmp_path, ["a.jpg", "b.jpg"]) != first


def test_chunk_size_stays_between_one_and_sixteen() -> None:
    assert chunk_size_for(1, 2) == 1
    assert chunk_size_for(40, 2) == 5
    assert chunk_size_for(10_000, 2) == 16


def test_bench_sample_is_fixed_stratified_and_keeps_the_largest_image(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (40, 40)).save(tmp_path / "big.png")
    for i in range(10):
        Image.new("RGB", (8, 8)).save(tmp_path / f"s{i}.png")
    rows = ["img1,img2,same,kind"]
    rows += [f"s{i}.png,s{(i + 1) % 10}.png,1,genuine" for i in range(10)]
    rows += [f"s{i}.png,s{(i + 2) % 10}.png,0,impostor" for i in range(10)]
    rows += ["s0.png,big.png,0,impostor"]
    lst = _write(tmp_path / "p.csv", "\n".join(rows) + "\n")
    picked, note = sample_pairs(lst, tmp_path, 8)
    again, _ = sample_pairs(lst, tmp_path, 8)
    assert picked == again
    assert len(picked) <= 8
    assert any("big.png" in (r["img1"], r["img2"]) for r in picked)
    assert {r["kind"] for r in picked} == {"genuine", "impostor"}
    assert "of 21" in note
    everything, _ = sample_pairs(lst, tmp_path, 0)
    assert len(everything) == 21
