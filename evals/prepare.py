"""``facegate eval prepare``: evaluation sets built only from photos that packages ship.

The package photos hold few people: Barack Obama (six photos, two of them partial faces), Joe Biden, Eileen
Collins (scikit-image's astronaut, smiling) and Grace Hopper (neutral). From them this module builds:

- a verification set: pairs of different source photos of the same person, each photo against realistic
  variants of itself (rescaled, up to a ~4600 px upscale that exercises memory; JPEG re-encoded; mirrored;
  darker and brighter; rotated a few degrees), and impostor pairs across people;
- an expression set: the astronaut (happy) and Grace Hopper (neutral), their variants, and face crops of
  48 and 64 px cut from them (FER-style small crops that must be classified without a detector).

Every ``same`` label follows from which person each source photo shows, as its package states it; expression
labels are only given where the face plainly shows it (the astronaut's smile, Grace Hopper's neutral face).
Augmented variants of a handful of people are NOT a substitute for a real benchmark: they exercise the
harness, the memory bound and the speed figures, and catch gross regressions; accuracy on them says little
about accuracy on real people.
"""

from __future__ import annotations

import csv
import itertools
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel

from evals.datasets import file_sha256
from evals.errors import EvalError
from evals.executors import ProgressFn, progress_fn
from tools.sample_photos import GRACE, PERSON, ensure_sample_photos, grace_hint

if TYPE_CHECKING:
    from agent.settings import Settings

CAVEAT = (
    "This set is built from the few face photos that software packages ship (4 people) plus augmented "
    "variants of them: it exercises the evaluation harness, memory and speed, but is NOT a substitute for "
    "a real benchmark (e.g. LFW); accuracy figures on it say little about accuracy on real people."
)

Size = Literal["tiny", "full"]
SEED = 20240611

VERIFICATION_BASES = (
    "obama.jpg",
    "obama2.jpg",
    "obama3.jpg",
    "32bit.png",
    "obama_partial_face.jpg",
    "obama_partial_face2.jpg",
    "biden.jpg",
    "astronaut.png",
    "grace_hopper.jpg",
)
# the partial faces stay as they are: they test failure handling, their variants would add nothing
NO_VARIANTS = {"obama_partial_face.jpg", "obama_partial_face2.jpg"}
BIG_UPSCALE = {"obama.jpg": 4600, "astronaut.png": 4600}
EXPRESSION_LABELS = {"astronaut.png": "happy", "grace_hopper.jpg": "neutral"}
TINY_BASES = ("obama.jpg", "obama2.jpg", "biden.jpg", "astronaut.png", "grace_hopper.jpg")

# Group columns of the shipped lists (the per-group tables need some; no package ships demographic labels):
# which package a photo comes from, and which kind of augmentation an image went through.
SOURCE = {
    "astronaut.png": "scikit-image",
    "grace_hopper.jpg": "debian-facedetect",
}  # every other base: face_recognition
AUGMENTATION = {
    "original": "none",
    "s256": "rescale",
    "s1024": "rescale",
    "jpeg30": "jpeg",
    "mirror": "mirror",
    "dark": "brightness",
    "bright": "brightness",
    "rot8": "rotation",
    "rotm8": "rotation",
}


class PreparedSet(BaseModel):
    root: str
    pairs_csv: str
    labels_csv: str
    n_images: int
    n_pairs: int
    n_genuine: int
    n_impostor: int
    n_expression_images: int
    omitted: list[str] = []  # optional source photos that could not be fetched (the set is built without them)
    caveat: str = CAVEAT


# --- image transformations (BGR uint8 in, BGR uint8 out) ----------------------------------------------


def _resize_long(img: np.ndarray, side: int) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    scale = side / max(h, w)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=interp)


def _brightness(img: np.ndarray, factor: float) -> np.ndarray:
    return np.clip(img.astype(np.float32) * factor, 0, 255).astype(np.uint8)


def _rotate(img: np.ndarray, degrees: float) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


# name -> (transform, JPEG quality or None to keep the base's format)
VARIANTS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], int | None]] = {
    "s256": (lambda im: _resize_long(im, 256), None),
    "s1024": (lambda im: _resize_long(im, 1024), None),
    "jpeg30": (lambda im: im, 30),
    "mirror": (lambda im: im[:, ::-1].copy(), None),
    "dark": (lambda im: _brightness(im, 0.6), None),
    "bright": (lambda im: _brightness(im, 1.35), None),
    "rot8": (lambda im: _rotate(im, 8), None),
    "rotm8": (lambda im: _rotate(im, -8), None),
}
TINY_VARIANTS = ("mirror",)


def _read(path: Path) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)  # drops alpha (32bit.png) the way a viewer would show it
    if img is None:
        raise EvalError(f"cannot read sample photo {path}")
    return img


def _write(img: np.ndarray, path: Path, jpeg_quality: int | None) -> None:
    import cv2

    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality or 95] if path.suffix == ".jpg" else []
    if not cv2.imwrite(str(path), img, params):
        raise EvalError(f"cannot write {path}")


class _Image(BaseModel):
    file: str  # relative to the set's root
    person: str
    base: str
    transform: str  # "original" or a variant name
    sha256: str = ""

    @property
    def source(self) -> str:
        return SOURCE.get(self.base, "face_recognition")

    @property
    def augmentation(self) -> str:
        return "rescale" if self.transform.startswith("upscale") else AUGMENTATION.get(self.transform, self.transform)


def _pair_groups(a: _Image, b: _Image) -> tuple[str, str]:
    """(source, augmentation) of a pair: one value when both images share it, else the two joined / "mixed"."""
    source = "+".join(sorted({a.source, b.source}))
    kinds = {a.augmentation, b.augmentation} - {"none"}
    augmentation = "none" if not kinds else kinds.pop() if len(kinds) == 1 else "mixed"
    return source, augmentation


def prepare(
    out: Path,
    *,
    photos: Path,
    settings: Settings | None = None,
    size: Size = "full",
    progress: ProgressFn | None = None,
) -> PreparedSet:
    """Build the shipped evaluation sets in ``out`` (photos fetched into ``photos`` if missing).

    ``settings`` gives the face engine used to locate faces for the small expression crops; without it the
    crops are skipped. ``progress`` hears (stage, done, total) of the slow steps.
    """
    report = progress_fn(progress)
    report("fetching the package photos", 0, 1)
    ensure_sample_photos(photos)
    report("fetching the package photos", 1, 1)
    img_dir = out / "images"
    img_dir.mkdir(parents=True, exist_ok=True)
    bases: tuple[str, ...] = TINY_BASES if size == "tiny" else VERIFICATION_BASES
    omitted: list[str] = []
    if not (photos / GRACE).exists():  # optional (apt): the sets are built without it, and say so
        bases = tuple(b for b in bases if b != GRACE)
        omitted = [f"{GRACE}: {grace_hint(photos)}; the set has no neutral-expression label without it"]
    variant_names = TINY_VARIANTS if size == "tiny" else tuple(VARIANTS)

    images: list[_Image] = []
    for n, base in enumerate(bases):
        report("writing images and variants", n, len(bases))
        person = PERSON[base]
        assert person is not None
        src = photos / base
        stem, ext = Path(base).stem, Path(base).suffix
        orig_rel = f"images/{stem}{ext}"
        (out / orig_rel).write_bytes(src.read_bytes())
        images.append(_Image(file=orig_rel, person=person, base=base, transform="original"))
        if base in NO_VARIANTS:
            continue
        img = _read(src)
        for name in variant_names:
            fn, quality = VARIANTS[name]
            rel = f"images/{stem}__{name}{'.jpg' if quality else ext}"
            _write(fn(img), out / rel, quality)
            images.append(_Image(file=rel, person=person, base=base, transform=name))
        if size == "full" and base in BIG_UPSCALE:
            side = BIG_UPSCALE[base]
            rel = f"images/{stem}__up{side}.jpg"
            _write(_resize_long(img, side), out / rel, 90)
            images.append(_Image(file=rel, person=person, base=base, transform=f"upscale_{side}"))
        del img
    report("writing images and variants", len(bases), len(bases))
    for im in images:
        im.sha256 = file_sha256(out / im.file)

    pairs = _pairs(images, size)
    pairs_csv = out / "pairs.csv"
    with pairs_csv.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["img1", "img2", "same", "kind", "source", "augmentation"])
        w.writerows(pairs)

    expr_rows = _expression_set(out, images, settings, size, report)
    labels_csv = out / "labels.csv"
    with labels_csv.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "label", "kind", "source", "augmentation"])
        w.writerows(expr_rows)

    manifest: dict[str, Any] = {
        "caveat": CAVEAT,
        "size": size,
        "seed": SEED,
        "sources": {
            "face_recognition 1.3.0 sdist (tests/test_images)": [
                b for b in bases if PERSON[b] in ("barack_obama", "joe_biden")
            ],
            "scikit-image 0.26.0 wheel (skimage/data)": [b for b in bases if b == "astronaut.png"],
            "Debian facedetect (examples)": [b for b in bases if b == "grace_hopper.jpg"],
        },
        "images": [im.model_dump() for im in images],
        "expression_labels": "astronaut.png: happy (a plain smile)"
        + ("" if omitted else "; grace_hopper.jpg: neutral"),
        "omitted": omitted,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    (out / "README.md").write_text(_readme(size, len(images), pairs, expr_rows, omitted), encoding="utf-8")
    n_gen = sum(1 for p in pairs if p[2] == 1)
    return PreparedSet(
        root=str(out),
        pairs_csv=str(pairs_csv),
        labels_csv=str(labels_csv),
        n_images=len(images),
        n_pairs=len(pairs),
        n_genuine=n_gen,
        n_impostor=len(pairs) - n_gen,
        n_expression_images=len(expr_rows),
        omitted=omitted,
    )


def _pairs(images: list[_Image], size: Size) -> list[tuple[str, str, int, str, str, str]]:
    """Genuine pairs across different photos of one person, each photo against its variants, impostors across
    people. Deterministic (seeded)."""
    rng = random.Random(SEED)
    out: list[tuple[str, str, int, str, str, str]] = []
    seen: set[frozenset[str]] = set()

    def add(a: _Image, b: _Image, kind: str) -> None:
        key = frozenset((a.file, b.file))
        if a.file == b.file or key in seen:
            return
        seen.add(key)
        out.append((a.file, b.file, int(a.person == b.person), kind, *_pair_groups(a, b)))

    originals = [im for im in images if im.transform == "original"]
    # 1. different source photos of the same person: all originals, then a sample of variants
    for a, b in itertools.combinations(originals, 2):
        if a.person == b.person:
            add(a, b, "cross_photo")
    cross = [(a, b) for a, b in itertools.combinations(images, 2) if a.person == b.person and a.base != b.base]
    rng.shuffle(cross)
    for a, b in cross[: (0 if size == "tiny" else 80)]:
        add(a, b, "cross_photo")
    # 2. each photo against its own variants (easy: the same capture; kept apart by the 'kind' column)
    for im in images:
        if im.transform != "original":
            orig = next(o for o in originals if o.base == im.base)
            add(orig, im, "same_photo_variant")
    # 3. impostors: all original pairs across people, then a sample over variants
    for a, b in itertools.combinations(originals, 2):
        if a.person != b.person:
            add(a, b, "impostor")
    impostors = [(a, b) for a, b in itertools.combinations(images, 2) if a.person != b.person]
    rng.shuffle(impostors)
    n_gen = sum(1 for p in out if p[2] == 1)
    target = 2 if size == "tiny" else max(200, 2 * n_gen)
    for a, b in impostors:
        if sum(1 for p in out if p[2] == 0) >= target:
            break
        add(a, b, "impostor")
    return out


def _expression_set(
    out: Path, images: list[_Image], settings: Settings | None, size: Size, report: ProgressFn
) -> list[tuple[str, str, str, str, str]]:
    rows: list[tuple[str, str, str, str, str]] = []
    for im in images:
        label = EXPRESSION_LABELS.get(im.base)
        if label is None or im.transform.startswith("upscale"):
            continue
        kind = "photo" if im.transform == "original" else f"variant_{im.transform}"
        rows.append((im.file, label, kind, im.source, im.augmentation))
    if settings is None:
        return rows
    from tools.engine import FaceEngine

    engine = FaceEngine(settings)
    crop_dir = out / "images" / "crops"
    crop_dir.mkdir(parents=True, exist_ok=True)
    sources = [im for im in images if im.base in EXPRESSION_LABELS]
    if size == "tiny":
        sources = [im for im in sources if im.transform == "original"]
    else:
        sources = [im for im in sources if im.transform in ("original", "mirror", "bright", "dark")]
    for n, im in enumerate(sources):
        report("cutting expression crops", n, len(sources))
        label = EXPRESSION_LABELS[im.base]
        det = engine.detect(out / im.file)
        if not det.faces:
            continue
        box = max(det.faces, key=lambda f: f.box.w * f.box.h).box
        img = _read(out / im.file)
        crop = _square_crop(img, box.x, box.y, box.w, box.h)
        stem = Path(im.file).stem
        for side, gray in ((48, True), (64, False)):
            import cv2

            small = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
            if gray:  # FER2013-style: 48 px grayscale
                small = cv2.cvtColor(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
            rel = f"images/crops/{stem}__crop{side}.png"
            _write(small, out / rel, None)
            rows.append((rel, label, f"crop{side}", im.source, im.augmentation))
    report("cutting expression crops", len(sources), len(sources))
    return rows


def _square_crop(img: np.ndarray, x: int, y: int, w: int, h: int) -> np.ndarray:
    """A square around the face box, slightly widened (FER crops show the whole face, little background)."""
    side = int(max(w, h) * 1.1)
    cx, cy = x + w // 2, y + h // 2
    x0, y0 = max(0, cx - side // 2), max(0, cy - side // 2)
    x1, y1 = min(img.shape[1], x0 + side), min(img.shape[0], y0 + side)
    return img[y0:y1, x0:x1]


def _readme(
    size: Size,
    n_images: int,
    pairs: list[tuple[str, str, int, str, str, str]],
    expr: list[tuple[str, str, str, str, str]],
    omitted: list[str] | None = None,
) -> str:
    kinds: dict[str, int] = {}
    for p in pairs:
        kinds[p[3]] = kinds.get(p[3], 0) + 1
    return "\n".join(
        [
            "# facegate evaluation set (prepared, not committed)",
            "",
            f"> {CAVEAT}",
            "",
            f"Size: {size}. Images: {n_images} (plus expression crops). Built by `facegate eval prepare`.",
            "",
            "- `pairs.csv` (img1, img2, same, kind, source, augmentation): "
            + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
            + ". `same` follows from who each source photo shows, as its package states it.",
            f"- `labels.csv` (file, label, kind, source, augmentation): {len(expr)} images, labels happy "
            "(astronaut) and neutral (Grace Hopper) only; crops of 48 and 64 px exercise the no-detector path.",
            "- Group columns (`kind`, `source`, `augmentation`) feed the per-group tables of the reports. They say "
            "which package a photo came from and how it was altered: no demographic labels, so these tables "
            "exercise the machinery and say nothing about bias across groups of people.",
            "- `manifest.json`: every image's source photo, person, transformation and sha256.",
            "",
            "Run: `facegate eval verification --pairs pairs.csv --root .` and "
            "`facegate eval expression --labels labels.csv --root .`",
            "",
            *(f"Omitted: {o}." for o in omitted or []),
        ]
    )
