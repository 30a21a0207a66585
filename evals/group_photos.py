"""Group photos for bystander checks, built at run time from package-shipped photos (never committed).

- :func:`side_by_side`: several single-person photos pasted next to each other (same height, white gaps), so the
  people and their order are known: a composite of obama.jpg and biden.jpg shows Obama left, Biden right.
- :func:`face_crop`: one face of a group photo (``t1.jpg``: six faces, people unnamed) cut out with a margin and
  enlarged, to enrol as "the person labelled" and then single out in the group photo.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tools.protocol import FaceEngineProtocol
    from tools.results import FaceBox

GAP = 24  # px of white between two photos: no face straddles the seam


def _jpeg(image: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=92)  # type: ignore[attr-defined]
    return buf.getvalue()


def side_by_side(paths: Sequence[Path], *, height: int = 512) -> bytes:
    """The photos scaled to ``height`` and pasted left to right on white, as JPEG bytes."""
    from PIL import Image

    images: list[Image.Image] = []
    for path in paths:
        with Image.open(path) as img:
            rgb: Image.Image = img.convert("RGB")
        images.append(rgb.resize((max(1, round(rgb.width * height / rgb.height)), height), Image.Resampling.LANCZOS))
    width = sum(i.width for i in images) + GAP * (len(images) - 1)
    canvas = Image.new("RGB", (width, height), "white")
    x = 0
    for part in images:
        canvas.paste(part, (x, 0))
        x += part.width + GAP
    return _jpeg(canvas)


def face_boxes(path: Path, engine: FaceEngineProtocol) -> list[FaceBox]:
    """Every face the engine's detector finds in ``path``, largest first (original coordinates)."""
    return [f.box for f in engine.detect(path).faces]


def face_crop(path: Path, box: FaceBox, *, scale: float = 2.0) -> bytes:
    """The face at ``box`` with a margin of one face width around it, enlarged ``scale`` times, as JPEG bytes."""
    from PIL import Image

    with Image.open(path) as img:
        rgb = img.convert("RGB")
    m = max(box.w, box.h)
    area = (max(0, box.x - m), max(0, box.y - m), min(rgb.width, box.x + box.w + m), min(rgb.height, box.y + box.h + m))
    crop = rgb.crop(area)
    return _jpeg(crop.resize((round(crop.width * scale), round(crop.height * scale)), Image.Resampling.LANCZOS))
