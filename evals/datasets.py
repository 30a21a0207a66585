"""Reading evaluation sets: LFW-style pair lists, labelled expression lists, and a fingerprint of each."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from tools.errors import EvalError
from tools.results import EMOTIONS


class Pair(BaseModel):
    model_config = ConfigDict(frozen=True)

    img1: str  # relative to the set's root, as written in the CSV
    img2: str
    same: bool


class LabelledImage(BaseModel):
    model_config = ConfigDict(frozen=True)

    file: str
    label: str


def _rows(path: Path, required: Iterable[str]) -> list[dict[str, str]]:
    if not path.is_file():
        raise EvalError(f"no such file: {path}", path=str(path))
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        missing = [c for c in required if c not in columns]
        if missing:
            raise EvalError(f"{path.name}: missing column(s) {', '.join(missing)}; found {columns}", path=str(path))
        return [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in reader]


def read_pairs(path: Path) -> list[Pair]:
    """Read ``img1,img2,same`` rows (``same`` 1/0, also true/false, yes/no)."""
    pairs = []
    for n, row in enumerate(_rows(path, ("img1", "img2", "same")), start=2):
        flag = row["same"].lower()
        if flag in ("1", "true", "yes", "same"):
            same = True
        elif flag in ("0", "false", "no", "different"):
            same = False
        else:
            raise EvalError(f"{path.name} line {n}: 'same' must be 1 or 0, got {row['same']!r}", line=n)
        if not row["img1"] or not row["img2"]:
            raise EvalError(f"{path.name} line {n}: empty image path", line=n)
        pairs.append(Pair(img1=row["img1"], img2=row["img2"], same=same))
    if not pairs:
        raise EvalError(f"{path.name}: no pairs", path=str(path))
    return pairs


def read_labels(path: Path) -> list[LabelledImage]:
    """Read ``file,label`` rows; labels must be among the seven expression classes (case-insensitive)."""
    items = []
    for n, row in enumerate(_rows(path, ("file", "label")), start=2):
        label = row["label"].lower()
        if label not in EMOTIONS:
            raise EvalError(f"{path.name} line {n}: label {row['label']!r} is not one of {', '.join(EMOTIONS)}", line=n)
        items.append(LabelledImage(file=row["file"], label=label))
    if not items:
        raise EvalError(f"{path.name}: no rows", path=str(path))
    return items


def resolve(root: Path, rel: str) -> Path:
    return (root / rel) if not Path(rel).is_absolute() else Path(rel)


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
