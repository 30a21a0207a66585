"""Image files are opened once, checked as opened, and read from that descriptor (tools/images.py).

The race: ``allowed_image_dirs`` used to be checked on the path and the file read by path again, so a folder
swapped for a symlink in between let an outside file through (877 of 20,000 tries here before the fix, plus
2,678 bare ``FileNotFoundError``s). Every other kind of unreadable file gets a typed error too.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import tools.images as images
from tests.race_helpers import _png, race
from tools.errors import (
    EmptyImage,
    ImageChanged,
    ImageInputError,
    ImageNotFound,
    ImageTooLarge,
    ImageUnreadable,
    PathNotAllowed,
)
from tools.images import load_image, sha256_of
from tools.settings import EngineSettings

TRIES = 5_000


@pytest.fixture
def settings(tmp_path: Path) -> EngineSettings:
    return EngineSettings(home=tmp_path / "home")


@pytest.mark.parametrize("proc_fd", ["/proc/self/fd", "/nonexistent"], ids=["proc-fd", "no-proc-fallback"])
def test_a_folder_swapped_for_a_symlink_never_lets_an_outside_file_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, proc_fd: str
) -> None:
    if proc_fd.startswith("/proc") and not Path("/proc/self/fd").is_dir():
        pytest.skip("no /proc here")
    monkeypatch.setattr(images, "_PROC_FD", proc_fd)
    result = race(tmp_path, TRIES)
    print(f"\nfolder race ({proc_fd}): {result}")
    assert result.outside == 0
    assert result.untyped_errors == 0, result.last_untyped
    # (how many reads succeed depends on scheduling; that normal reads work is shown below, without a race)
    assert result.inside + result.typed_errors == TRIES


def test_the_race_harness_catches_a_check_then_read_by_path_loader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Control: the old way (resolve and check the path, then read it again by name) does lose the race here."""

    def check_then_read(source: str | os.PathLike[str], settings: EngineSettings) -> tuple[bytes, str]:
        resolved = Path(source).resolve(strict=True)
        allowed = [Path(d).resolve() for d in settings.allowed_image_dirs or []]
        if not any(resolved.is_relative_to(d) for d in allowed):
            raise PathNotAllowed("outside")
        return resolved.read_bytes(), resolved.name

    monkeypatch.setattr(images, "_read_path", check_then_read)
    result = race(tmp_path, 20_000)
    print(f"\nfolder race, check-then-read control: {result}")
    assert result.outside > 0


def test_unreadable_files_are_typed(settings: EngineSettings, tmp_path: Path) -> None:
    fifo = tmp_path / "face.jpg"
    os.mkfifo(fifo)
    with pytest.raises(ImageUnreadable, match="not a regular file"):  # and the open did not block
        load_image(fifo, settings)
    with pytest.raises(ImageUnreadable, match="not a regular file"):
        load_image(tmp_path, settings)
    with pytest.raises(ImageUnreadable, match="not a regular file"):
        sha256_of(tmp_path, settings)
    loop = tmp_path / "loop.jpg"
    loop.symlink_to(loop)
    with pytest.raises(ImageUnreadable):
        load_image(loop, settings)
    with pytest.raises(ImageNotFound):
        load_image(tmp_path / "missing" / "face.jpg", settings)


def test_a_file_without_read_permission_is_typed(tmp_path: Path) -> None:
    """Tests run as root, who may read anything: the loader runs in a child without the override capabilities."""
    secret = tmp_path / "face.png"
    secret.write_bytes(_png((1, 2, 3)))
    secret.chmod(0o000)
    code = (
        "import sys\n"
        "from tools.errors import ImageUnreadable\n"
        "from tools.images import load_image\n"
        "from tools.settings import EngineSettings\n"
        "try:\n"
        f"    load_image({str(secret)!r}, EngineSettings(home={str(tmp_path / 'home')!r}))\n"
        "except ImageUnreadable as exc:\n"
        "    print(exc.code, exc.message)\n"
        "    sys.exit(0)\n"
        "sys.exit(3)\n"
    )
    argv = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        setpriv = "/usr/bin/setpriv"
        if not Path(setpriv).exists():
            pytest.skip("running as root without setpriv: cannot drop the capability to read anything")
        argv = [setpriv, "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search", "--", *argv]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=Path(__file__).parent.parent, check=False)
    if "Operation not permitted" in done.stderr and done.returncode != 0 and "setpriv" in done.stderr:
        pytest.skip(f"cannot drop capabilities here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("image_unreadable no permission to read image file")


def test_a_file_that_changes_between_stat_and_read_is_refused(settings: EngineSettings, tmp_path: Path) -> None:
    path = tmp_path / "face.png"
    for change in (b"", b"extra bytes"):
        path.write_bytes(_png((9, 9, 9)))
        fd, st, name = images._open_checked(path, settings)
        with os.fdopen(fd, "rb", buffering=0) as fh:
            with open(path, "r+b") as writer:  # shrink it, or grow it, through another descriptor
                if change:
                    writer.seek(0, os.SEEK_END)
                    writer.write(change)
                else:
                    writer.truncate(st.st_size // 2)
            with pytest.raises(ImageChanged, match="changed while it was read"):
                images._read_all(fh, st, name)


def test_a_file_deleted_after_opening_is_refused(settings: EngineSettings, tmp_path: Path) -> None:
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("no /proc here")
    path = tmp_path / "face.png"
    path.write_bytes(_png((9, 9, 9)))
    fd = os.open(path, os.O_RDONLY)
    try:
        path.unlink()
        with pytest.raises(ImageChanged, match="deleted"):
            images._opened_path(fd, str(path), os.fstat(fd), str(path))
    finally:
        os.close(fd)


def test_a_file_rewritten_while_it_is_loaded_gives_its_content_or_a_typed_error(
    settings: EngineSettings, tmp_path: Path
) -> None:
    path = tmp_path / "face.png"
    contents = [_png((0, 0, 0)), _png((255, 255, 255)) + b"\0" * 5000]  # two sizes: truncations show
    # What a reader may get: a state the file really was in, each version or one of them part written (the
    # writer's write() lands in several system calls). Never bytes of two versions: a torn read is refused.
    digests = {hashlib.sha256(c[:n]).hexdigest() for c in contents for n in range(1, len(c) + 1)}
    path.write_bytes(contents[0])
    stop = threading.Event()

    def rewrite() -> None:
        i = 0
        while not stop.is_set():
            with open(path, "r+b") as fh:  # in place, not by rename: readers see partial states
                fh.truncate(0)
                fh.write(contents[i % 2])
            i += 1

    writer = threading.Thread(target=rewrite)
    writer.start()
    outcomes: dict[str, int] = {}
    try:
        for _ in range(2_000):
            try:
                got = load_image(path, settings).sha256
                assert got in digests
                outcomes["ok"] = outcomes.get("ok", 0) + 1
            except ImageInputError as exc:  # ImageChanged, EmptyImage, CorruptImage ...: typed, nothing else
                outcomes[exc.code] = outcomes.get(exc.code, 0) + 1
    finally:
        stop.set()
        writer.join()
    print(f"\nrewritten file: {outcomes}")
    assert sum(outcomes.values()) == 2_000


def test_limits_are_checked_on_the_opened_file(tmp_path: Path) -> None:
    small = EngineSettings(home=tmp_path / "home", max_image_bytes=100)
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + b"\0" * 200)
    with pytest.raises(ImageTooLarge):
        load_image(big, small)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(EmptyImage):
        sha256_of(empty, small)


def test_symlinks_inside_the_allowed_folders_still_work(tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    (allowed / "real").mkdir(parents=True)
    data = _png((5, 6, 7))
    (allowed / "real" / "face.png").write_bytes(data)
    (allowed / "alias").symlink_to(allowed / "real")
    confined = EngineSettings(home=tmp_path / "home", allowed_image_dirs=[allowed])
    assert load_image(allowed / "alias" / "face.png", confined).sha256 == hashlib.sha256(data).hexdigest()
    assert sha256_of(allowed / "alias" / "face.png", confined) == hashlib.sha256(data).hexdigest()


def test_a_torn_read_is_refused_even_when_size_and_mtime_look_unchanged(tmp_path: Path) -> None:
    """A file rewritten in place between two chunks of a read, to the same size and within one tick of the kernel's
    coarse clock (simulated by putting the mtime back), keeps size and mtime: the second read catches it."""
    path = tmp_path / "big.bin"
    old, new = b"a" * (2 * images._CHUNK), b"b" * (2 * images._CHUNK)
    path.write_bytes(old)

    class Rewritten:
        """The opened file; after its first chunk, someone rewrites the file in place."""

        def __init__(self) -> None:
            self.fh = open(path, "rb")  # noqa: SIM115 - closed below
            self.reads = 0

        def fileno(self) -> int:
            return self.fh.fileno()

        def read(self, n: int) -> bytes:
            self.reads += 1
            if self.reads == 2:
                st = os.stat(path)
                with open(path, "r+b") as out:
                    out.write(new)
                os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
            return self.fh.read(n)

    torn = Rewritten()
    try:
        with pytest.raises(ImageChanged):
            images._read_all(torn, os.fstat(torn.fileno()), "big.bin")  # type: ignore[arg-type]
    finally:
        torn.fh.close()
    assert torn.reads >= 2  # the rewrite happened mid-read
