"""A folder-for-symlink swap racing :func:`tools.images.load_image` (used by tests/test_image_race.py).

``allowed/sub`` is a real folder holding ``face.png``; another process keeps replacing it with a symlink to an
outside folder that holds a different ``face.png`` and putting it back. A reader that checks the path and then
opens it again by name can read the outside file; one that opens once and checks what it opened cannot.
Run ``python -m tests.race_helpers [tries]`` to print the figures for the code as it is.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tools.errors import ImageInputError
from tools.images import load_image
from tools.settings import EngineSettings

SWAPPER = r"""
import os, sys
root, outside, stop = sys.argv[1], sys.argv[2], sys.argv[3]
sub, real = os.path.join(root, "sub"), os.path.join(root, "sub.real")
while not os.path.exists(stop):
    os.rename(sub, real)
    os.symlink(outside, sub)
    os.unlink(sub)
    os.rename(real, sub)
"""


@dataclass
class RaceResult:
    tries: int
    inside: int  # read the allowed file
    outside: int  # read the outside file: the race won
    typed_errors: int  # refused with an ImageInputError (e.g. the folder was missing at that instant)
    untyped_errors: int = 0  # anything else (a bare OSError): a bug of its own
    last_untyped: str = ""


def _png(color: tuple[int, int, int]) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, format="PNG")
    return buf.getvalue()


def race(tmp: Path, tries: int) -> RaceResult:
    """Load ``allowed/sub/face.png`` ``tries`` times while another process swaps ``sub`` for a symlink."""
    allowed, outside = tmp / "allowed", tmp / "outside"
    (allowed / "sub").mkdir(parents=True)
    outside.mkdir()
    inside_bytes, outside_bytes = _png((0, 200, 0)), _png((200, 0, 0))
    (allowed / "sub" / "face.png").write_bytes(inside_bytes)
    (outside / "face.png").write_bytes(outside_bytes)
    inside_sha, outside_sha = hashlib.sha256(inside_bytes).hexdigest(), hashlib.sha256(outside_bytes).hexdigest()
    settings = EngineSettings(home=tmp / "home", allowed_image_dirs=[allowed])
    stop = tmp / "stop"
    swapper = subprocess.Popen([sys.executable, "-c", SWAPPER, str(allowed), str(outside), str(stop)])
    result = RaceResult(tries=tries, inside=0, outside=0, typed_errors=0)
    try:
        time.sleep(0.05)  # let the swapper get going
        target = allowed / "sub" / "face.png"
        for _ in range(tries):
            try:
                sha = load_image(target, settings).sha256
            except ImageInputError:
                result.typed_errors += 1
                continue
            except OSError as exc:
                result.untyped_errors += 1
                result.last_untyped = repr(exc)
                continue
            if sha == outside_sha:
                result.outside += 1
            else:
                assert sha == inside_sha
                result.inside += 1
    finally:
        stop.touch()
        swapper.wait(timeout=30)
    return result


if __name__ == "__main__":
    import tempfile

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    with tempfile.TemporaryDirectory() as d:
        print(race(Path(d), n))
