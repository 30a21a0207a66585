"""Reading pair and label lists; the dataset fingerprint; the bench's pair sample (no models)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.bench import sample_pairs
from evals.datasets import dataset_sha256, read_labels, read_pairs
from evals.errors import EvalError
from evals.executors import chunk_size_for


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


# --- review 2: paths must stay inside --root; malformed lists are one-line errors ---------------------------


@pytest.mark.parametrize("rel", ["/etc/passwd", "../outside.jpg", "img/../../outside.jpg", "link/outside.jpg"])
def test_read_pairs_refuses_paths_leading_out_of_root(tmp_path: Path, rel: str) -> None:
    root = tmp_path / "set"
    (root / "img").mkdir(parents=True)
    (root / "img" / "a.jpg").write_bytes(b"a")
    (tmp_path / "outside.jpg").write_bytes(b"secret")
    (root / "link").symlink_to(tmp_path)  # a symlink inside root pointing out of it
    lst = _write(tmp_path / "p.csv", f"img1,img2,same\n{rel},img/a.jpg,1\n")
    with pytest.raises(EvalError) as err:
        read_pairs(lst, root)
    assert "p.csv line 2" in err.value.message and "\n" not in err.value.message
    assert read_pairs(_write(tmp_path / "ok.csv", "img1,img2,same\nimg/a.jpg,img/./a.jpg,1\n"), root)


def test_resolve_refuses_escapes_even_without_a_row(tmp_path: Path) -> None:
    from evals.datasets import resolve

    with pytest.raises(EvalError):
        dataset_sha256(_write(tmp_path / "p.csv", "x"), tmp_path, ["/etc/passwd"])
    assert resolve(tmp_path, "a/b.jpg") == tmp_path.resolve() / "a" / "b.jpg"


def test_read_labels_refuses_paths_leading_out_of_root(tmp_path: Path) -> None:
    lst = _write(tmp_path / "l.csv", "file,label\n../x.png,happy\n")
    with pytest.raises(EvalError, match=r"l\.csv line 2"):
        read_labels(lst, tmp_path / "set")


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b"img1,img2,same\na,b,1\na,b,1,extra\n", "line 3"),  # a row with an extra field
        (b"img1,img2,same\na,b\n", "line 2"),  # a row with a missing field
        (b"img1,img2,same\na,b,1\n\xff\xfe,b,1\n", "line 3"),  # not UTF-8
        (b"img1,img2,same\na,b,2\n", "line 2"),  # same not 0/1
        (b"img1,img2\na,b\n", "missing column"),
        (b"", "empty file"),
        (b"\n\n", "empty file"),
    ],
)
def test_malformed_pair_lists_are_one_line_errors_naming_file_and_line(tmp_path: Path, data: bytes, where: str) -> None:
    lst = tmp_path / "pairs.csv"
    lst.write_bytes(data)
    with pytest.raises(EvalError) as err:
        read_pairs(lst)
    assert "pairs.csv" in err.value.message and where in err.value.message
    assert "\n" not in err.value.message


def test_cli_reports_an_escaping_row_as_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from agent.cli.main import main

    (tmp_path / "img").mkdir()
    lst = _write(tmp_path / "pairs.csv", "img1,img2,same\n/etc/passwd,img/obama2.jpg,1\n")
    code = main(["--home", str(tmp_path / "home"), "eval", "verification", "--pairs", str(lst),
                 "--root", str(tmp_path), "--out", str(tmp_path / "o")])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "pairs.csv line 2" in err[0] and "Traceback" not in err[0]
