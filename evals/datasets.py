"""Reading evaluation sets: LFW-style pair lists, labelled expression lists, and a fingerprint of each."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from evals.errors import EvalError
from tools.results import EMOTIONS


class Pair(BaseModel):
    model_config = ConfigDict(frozen=True)

    img1: str  # relative to the set's root, as written in the CSV
    img2: str
    same: bool
    # every other column of the list, by name (age band, skin tone, capture device, ...): group columns
    groups: dict[str, str] = Field(default_factory=dict)


class LabelledImage(BaseModel):
    model_config = ConfigDict(frozen=True)

    file: str
    label: str
    groups: dict[str, str] = Field(default_factory=dict)  # every other column, by name


def _groups(row: dict[str, str], known: tuple[str, ...]) -> dict[str, str]:
    """The row's other columns: an empty cell is its own group ("(blank)"), not a missing value."""
    return {k: (v or "(blank)") for k, v in row.items() if k not in known and k}


PAIR_COLUMNS = ("img1", "img2", "same")
LABEL_COLUMNS = ("file", "label")


def _rows(path: Path, required: Iterable[str]) -> list[tuple[int, dict[str, str]]]:
    """The rows of a CSV list with their line numbers; every defect is one :class:`EvalError` naming the line."""
    if not path.is_file():
        raise EvalError(f"no such file: {path}", path=str(path))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EvalError(f"cannot read {path}: {exc.strerror}", path=str(path)) from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise EvalError(f"{path.name} line {line}: not UTF-8 text", path=str(path), line=line) from exc
    if not text.strip():
        raise EvalError(f"{path.name}: empty file (expected a header: {','.join(required)})", path=str(path))
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = [c.strip() for c in next(reader)]
        missing = [c for c in required if c not in header]
        if missing:
            raise EvalError(f"{path.name}: missing column(s) {', '.join(missing)}; found {header}", path=str(path))
        rows: list[tuple[int, dict[str, str]]] = []
        for fields in reader:
            n = reader.line_num
            if not fields:
                continue
            if len(fields) != len(header):
                raise EvalError(
                    f"{path.name} line {n}: {len(fields)} field(s), the header has {len(header)}",
                    path=str(path), line=n,
                )  # fmt: skip
            rows.append((n, {k: v.strip() for k, v in zip(header, fields, strict=True)}))
    except csv.Error as exc:
        raise EvalError(f"{path.name} line {reader.line_num}: {exc}", path=str(path)) from exc
    return rows


def read_pairs(path: Path, root: Path | None = None) -> list[Pair]:
    """Read ``img1,img2,same`` rows (``same`` 1/0, also true/false, yes/no).

    With ``root``, every image path must be relative and stay inside ``root`` (see :func:`resolve`).
    """
    pairs = []
    for n, row in _rows(path, PAIR_COLUMNS):
        flag = row["same"].lower()
        if flag in ("1", "true", "yes", "same"):
            same = True
        elif flag in ("0", "false", "no", "different"):
            same = False
        else:
            raise EvalError(f"{path.name} line {n}: 'same' must be 1 or 0, got {row['same']!r}", line=n)
        if not row["img1"] or not row["img2"]:
            raise EvalError(f"{path.name} line {n}: empty image path", line=n)
        if root is not None:
            for rel in (row["img1"], row["img2"]):
                resolve(root, rel, where=f"{path.name} line {n}")
        pairs.append(Pair(img1=row["img1"], img2=row["img2"], same=same, groups=_groups(row, PAIR_COLUMNS)))
    if not pairs:
        raise EvalError(f"{path.name}: no pairs", path=str(path))
    return pairs


def read_labels(path: Path, root: Path | None = None) -> list[LabelledImage]:
    """Read ``file,label`` rows; labels must be among the seven expression classes (case-insensitive).

    With ``root``, every file path must be relative and stay inside ``root`` (see :func:`resolve`).
    """
    items = []
    for n, row in _rows(path, LABEL_COLUMNS):
        label = row["label"].lower()
        if label not in EMOTIONS:
            raise EvalError(f"{path.name} line {n}: label {row['label']!r} is not one of {', '.join(EMOTIONS)}", line=n)
        if not row["file"]:
            raise EvalError(f"{path.name} line {n}: empty file path", line=n)
        if root is not None:
            resolve(root, row["file"], where=f"{path.name} line {n}")
        items.append(LabelledImage(file=row["file"], label=label, groups=_groups(row, LABEL_COLUMNS)))
    if not items:
        raise EvalError(f"{path.name}: no rows", path=str(path))
    return items


def resolve(root: Path, rel: str, *, where: str | None = None) -> Path:
    """``root / rel``, refusing a path that is absolute or leads out of ``root`` (``..``, symlinks).

    A list file names images of its set, never arbitrary files: an evaluation must not open and hash
    ``/etc/passwd`` because a CSV row says so.
    """
    label = where or "image path"
    if Path(rel).is_absolute():
        raise EvalError(f"{label}: {rel!r} is absolute; image paths must be relative to --root", path=rel)
    base = root.resolve()
    path = (base / rel).resolve()
    if not path.is_relative_to(base):
        raise EvalError(f"{label}: {rel!r} leads outside --root {base}", path=rel)
    return path


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def dataset_sha256(list_file: Path, root: Path, images: Iterable[str]) -> str:
    """Fingerprint of a set: the list file's bytes and every image's bytes (by relative name, sorted).

    A missing or unreadable image contributes the word ``missing``: the fingerprint still identifies the run.
    """
    h = hashlib.sha256()
    h.update(list_file.read_bytes())
    for rel in sorted(set(images)):
        path = resolve(root, rel)
        try:
            digest = file_sha256(path)
        except OSError:
            digest = "missing"
        h.update(f"\n{rel}\0{digest}".encode())
    return h.hexdigest()
