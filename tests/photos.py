"""Real face photos that public packages ship, fetched once and cached (never committed).

| name | source |
| --- | --- |
| obama.jpg, obama2.jpg, obama3.jpg, biden.jpg, obama_partial_face.jpg, 32bit.png | face_recognition 1.3.0 sdist |
| astronaut.png (smiling face), coffee.png (no face) | scikit-image wheel, skimage/data |
| grace_hopper.jpg (neutral face) | Debian package facedetect, examples |

The cache folder is ``$FACEGATE_TEST_PHOTOS`` or ``~/.cache/facegate/test-photos``. A lock file keeps parallel
test processes from fetching twice.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

FACE_RECOGNITION = ("face_recognition==1.3.0", "face_recognition-1.3.0/tests/test_images/")
FR_FILES = ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "obama_partial_face.jpg", "32bit.png")
SKIMAGE_FILES = {"astronaut.png": "skimage/data/astronaut.png", "coffee.png": "skimage/data/coffee.png"}
GRACE = "grace_hopper.jpg"


def cache_dir() -> Path:
    return Path(os.environ.get("FACEGATE_TEST_PHOTOS", Path.home() / ".cache" / "facegate" / "test-photos"))


def _pip_download(spec: str, dest: Path, *extra: str) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(dest), *extra, spec],
        check=True,
        capture_output=True,
    )
    return next(p for p in dest.iterdir() if p.is_file())


def _fetch_face_recognition(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sdist = _pip_download(FACE_RECOGNITION[0], Path(tmp), "--no-binary", ":all:")
        with tarfile.open(sdist) as tar:
            for name in FR_FILES:
                member = tar.extractfile(FACE_RECOGNITION[1] + name)
                assert member is not None
                (out / name).write_bytes(member.read())


def _fetch_skimage(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        wheel = _pip_download("scikit-image==0.26.0", Path(tmp), "--only-binary", ":all:")
        with zipfile.ZipFile(wheel) as zf:
            for name, member in SKIMAGE_FILES.items():
                (out / name).write_bytes(zf.read(member))


def _fetch_grace(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["apt-get", "download", "facedetect"]
        if subprocess.run(cmd, cwd=tmp, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
            subprocess.run(cmd, cwd=tmp, check=True, capture_output=True)
        deb = next(Path(tmp).glob("facedetect_*.deb"))
        unpacked = Path(tmp) / "x"
        subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True, capture_output=True)
        src = unpacked / "usr/share/doc/facedetect/examples/grace_hopper_512x512.jpg"
        shutil.copyfile(src, out / GRACE)


def ensure_photos() -> Path:
    """Fetch whatever is missing; return the cache folder."""
    out = cache_dir()
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not all((out / n).exists() for n in FR_FILES):
            _fetch_face_recognition(out)
        if not all((out / n).exists() for n in SKIMAGE_FILES):
            _fetch_skimage(out)
        if not (out / GRACE).exists():
            _fetch_grace(out)
    return out


def photo(name: str) -> Path:
    """Path of one cached photo, fetching the set on first use."""
    path = ensure_photos() / name
    if not path.exists():
        raise FileNotFoundError(name)
    return path
