"""Image input, in one place: every path, byte string and array the engine sees goes through
:func:`load_image`.

What it guarantees:
- no network: URL-like strings (``http://``, ``ftp://``, ``data:`` ...) are refused (:class:`URLNotAllowed`);
- optional confinement: with ``settings.allowed_image_dirs`` the file (symlinks resolved) must lie inside one;
  a file is opened once, the checks are of what was opened (its type, size and real location), and the bytes
  come from that same descriptor, so swapping a folder for a symlink mid-way reads nothing outside;
- a file that is unreadable (permissions, a folder, a FIFO) or changes while read gets a typed error;
- limits checked BEFORE the expensive step: the file size with ``stat`` before reading, the pixel count from
  the header before decoding (decompression bombs);
- content is sniffed (PIL reads magic bytes), the file extension is ignored: a WebP named ``.jpg`` works;
- EXIF orientation applied; grayscale, palette, 16-bit, RGBA and float inputs all end up BGR uint8 H x W x 3;
- one typed error per kind of bad input (see :mod:`tools.errors`).

Memory: a big JPEG is decoded REDUCED with PIL's ``draft()`` (the JPEG decoder's DCT scaling: 1/2, 1/4,
1/8), never below ``2 * settings.detect_max_side`` on the longer side; any image still longer than that
(other formats, or past the 1/8 step) is shrunk to it right after decoding, before any other copy is made.
The engine detects, aligns and embeds on a copy whose longer side is at most ``detect_max_side``
(FEASIBILITY.md measured that as accurate as full size for Dlib, at a quarter of the time), so decoding more
than twice that buys nothing but memory: a 4600 px photo then costs ~8 MB of pixels instead of ~64 MB, plus
the 4x that DeepFace's alignment border would add. The size of the original is kept (``original_width``,
``original_height``), so boxes are always reported in original coordinates. ``detect_max_side = 0`` turns
the reduction off. The sha256 is always of the original bytes.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import stat
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tools.errors import (
    CorruptImage,
    EmptyImage,
    ImageChanged,
    ImageNotFound,
    ImageTooLarge,
    ImageUnreadable,
    NotAnImage,
    PathNotAllowed,
    TooManyPixels,
    UnsupportedImageInput,
    URLNotAllowed,
)

if TYPE_CHECKING:
    from PIL import Image as PILImage

    from tools.settings import EngineSettings


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """A decoded image. Holds pixels: never log it, never put it in agent state or checkpoints.

    Attributes:
        array: BGR uint8, H x W x 3, EXIF orientation applied (possibly decoded at reduced scale).
        sha256: hex digest of the original bytes (arrays: of dtype + shape + bytes).
        width: width of ``array``.
        height: height of ``array``.
        format: "jpeg", "png", "webp", ..., or "array".
        original_width: width of the full-resolution image (after EXIF orientation); boxes use this frame.
        original_height: height of the full-resolution image.
    """

    array: np.ndarray = field(repr=False)
    sha256: str
    width: int
    height: int
    format: str
    original_width: int = 0
    original_height: int = 0

    def __post_init__(self) -> None:
        if not self.original_width:
            object.__setattr__(self, "original_width", self.width)
        if not self.original_height:
            object.__setattr__(self, "original_height", self.height)

    @property
    def scale(self) -> float:
        """``array`` pixels per original pixel (1.0 unless decoded reduced)."""
        return self.width / self.original_width if self.original_width else 1.0

    @property
    def reduced(self) -> bool:
        return (self.width, self.height) != (self.original_width, self.original_height)


@dataclass(frozen=True, eq=False)
class ImageBytes:
    """An image's original bytes, read once (a file through every check :func:`load_image` makes) and kept with
    the file's name for error messages. What the provenance check reads, and then what is decoded: the two never
    see different bytes."""

    data: bytes = field(repr=False)
    name: str | None = None


ImageSource = str | os.PathLike[str] | bytes | np.ndarray | LoadedImage | ImageBytes

# A scheme followed by "//" (http://, ftp://, file://, s3://) or the schemes that carry data inline. A single
# letter followed by ":" is not treated as a scheme (Windows drive letters).
# One slash is enough: Path("http://host/x.jpg") normalises to "http:/host/x.jpg". A scheme has 2+ letters,
# so a Windows drive ("C:/...") is not one.
_URL_RE = re.compile(r"^\s*(?:[a-zA-Z][a-zA-Z0-9+.\-]+:/|data:|blob:|javascript:)", re.IGNORECASE)

# EXIF orientations 5-8 swap width and height.
_TRANSPOSING_ORIENTATIONS = {5, 6, 7, 8}


def is_url(text: str) -> bool:
    return bool(_URL_RE.match(text))


def load_image(source: ImageSource, settings: EngineSettings) -> LoadedImage:
    """Accept one image from any supported source; raise one typed :class:`ImageInputError` if it is bad."""
    if isinstance(source, LoadedImage):
        return source
    if isinstance(source, ImageBytes):
        _check_byte_count(len(source.data), settings)
        return _decode(source.data, settings, name=source.name)
    if isinstance(source, np.ndarray):
        return _from_array(source, settings)
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if _looks_like_url_bytes(data):
            raise URLNotAllowed("images are never fetched from a URL; pass a local file or the image bytes")
        _check_byte_count(len(data), settings)
        return _decode(data, settings)
    if isinstance(source, str | os.PathLike):
        data, name = _read_path(source, settings)
        return _decode(data, settings, name=name)
    raise UnsupportedImageInput(
        f"unsupported image input type {type(source).__name__}; pass a path, bytes or a numpy array",
        type=type(source).__name__,
    )


def sha256_of(source: ImageSource, settings: EngineSettings) -> str:
    """The digest :func:`load_image` would report, computed without decoding when possible."""
    if isinstance(source, LoadedImage):
        return source.sha256
    if isinstance(source, ImageBytes):
        if not source.data:
            raise EmptyImage(f"image file is empty: {source.name}" if source.name else "image bytes are empty")
        return hashlib.sha256(source.data).hexdigest()
    if isinstance(source, np.ndarray):
        return _array_digest(source)
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if _looks_like_url_bytes(data):
            raise URLNotAllowed("images are never fetched from a URL; pass a local file or the image bytes")
        _check_byte_count(len(data), settings)
        if not data:
            raise EmptyImage("image bytes are empty")
        return hashlib.sha256(data).hexdigest()
    if isinstance(source, str | os.PathLike):
        data, _ = _read_path(source, settings)
        return hashlib.sha256(data).hexdigest()
    raise UnsupportedImageInput(f"unsupported image input type {type(source).__name__}")


def read_original(source: ImageSource, settings: EngineSettings) -> ImageBytes | None:
    """The image's original bytes, read once with every check :func:`load_image` makes; None for a decoded
    image or an array (there are no original bytes to read). Pass the result on to :func:`load_image`."""
    if isinstance(source, ImageBytes):
        return source
    if isinstance(source, LoadedImage | np.ndarray):
        return None
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if _looks_like_url_bytes(data):
            raise URLNotAllowed("images are never fetched from a URL; pass a local file or the image bytes")
        _check_byte_count(len(data), settings)
        return ImageBytes(data)
    if isinstance(source, str | os.PathLike):
        data, name = _read_path(source, settings)
        return ImageBytes(data, name)
    raise UnsupportedImageInput(
        f"unsupported image input type {type(source).__name__}; pass a path, bytes or a numpy array",
        type=type(source).__name__,
    )


# --- paths -----------------------------------------------------------------------------------------------

# Where Linux shows the path of an open descriptor; elsewhere (or without /proc) the check falls back to
# comparing the opened file's identity with the file its resolved path names (see _opened_path).
_PROC_FD = "/proc/self/fd"
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO must not block the open; the fstat below refuses it
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_CHUNK = 1 << 20


def _read_path(source: str | os.PathLike[str], settings: EngineSettings) -> tuple[bytes, str]:
    """The bytes of an image file and its name, read from the one descriptor that was checked."""
    fd, st, name = _open_checked(source, settings)
    with os.fdopen(fd, "rb", buffering=0) as fh:
        data = _read_all(fh, st, name)
    return data, name


def _open_checked(source: str | os.PathLike[str], settings: EngineSettings) -> tuple[int, os.stat_result, str]:
    """Open an image file once and check what was opened: a regular file, inside the allowed folders, not empty,
    not over the byte limit.

    Checking a path and then opening it again by name is a race: a folder swapped for a symlink in between
    makes the second open read a file outside the allowed folders. So the file is opened first, and every check
    is of the opened descriptor (its type and size from ``fstat``, its real location from ``/proc/self/fd``);
    the caller reads from that same descriptor. Returns (fd, stat, name); the caller owns the fd.
    """
    text = os.fspath(source)
    if not isinstance(text, str):
        raise UnsupportedImageInput("byte-string paths are not supported; pass str or pathlib.Path")
    if is_url(text):
        raise URLNotAllowed("images are never fetched from a URL; download it yourself and pass the file")
    if not text.strip():
        raise ImageNotFound("empty image path")
    path = os.path.expanduser(text)
    name = os.path.basename(path) or text
    allowed = _allowed_dirs(settings)
    if allowed is not None and not _inside(_realpath(path), allowed):
        # a cheap first look, so that an obviously outside path (a device, say) is never even opened; the
        # authoritative check is the one on the opened descriptor below
        raise PathNotAllowed(f"image path is outside the allowed folders: {text}", path=text)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except (FileNotFoundError, NotADirectoryError):
        raise ImageNotFound(f"no such image file: {text}", path=text) from None
    except PermissionError as exc:
        raise ImageUnreadable(f"no permission to read image file: {text}", path=text) from exc
    except OSError as exc:  # symlink loops, name too long, I/O errors
        raise ImageUnreadable(f"cannot open image file: {text} ({exc.strerror or exc})", path=text) from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ImageUnreadable(f"not a regular file: {text}", path=text)
        if allowed is not None and not _inside(_opened_path(fd, path, st, text), allowed):
            raise PathNotAllowed(f"image path is outside the allowed folders: {text}", path=text)
        if st.st_size == 0:
            raise EmptyImage(f"image file is empty: {text}", path=text)
        _check_byte_count(st.st_size, settings)
    except BaseException:
        os.close(fd)
        raise
    return fd, st, name


def _allowed_dirs(settings: EngineSettings) -> list[str] | None:
    if settings.allowed_image_dirs is None:
        return None
    return [os.path.realpath(os.path.expanduser(os.fspath(d))) for d in settings.allowed_image_dirs]


def _realpath(path: str) -> str | None:
    """``os.path.realpath``, or None when a component changed under it (it reads links one by one)."""
    try:
        return os.path.realpath(path)
    except OSError:
        return None


def _inside(real: str | None, allowed: list[str]) -> bool:
    # None (could not resolve) passes the first look only: the check on the opened descriptor decides
    return real is None or any(Path(real).is_relative_to(d) for d in allowed)


def _opened_path(fd: int, path: str, st: os.stat_result, text: str) -> str:
    """The real path of the file open as ``fd``."""
    try:
        link = os.readlink(f"{_PROC_FD}/{fd}")
    except OSError:
        link = ""
    if link.startswith("/"):
        if link.endswith(" (deleted)") and st.st_nlink == 0:
            raise ImageChanged(f"image file was deleted while it was opened: {text}", path=text)
        return link
    # No /proc: the resolved path must name the very file that was opened (same device and inode), looked up
    # without following any symlink (a stat by name would follow a folder swapped back in the meantime). A
    # swap in between makes them differ, and the read is refused instead of trusting either.
    real = _realpath(path)
    named = _stat_no_symlinks(real) if real is not None else None
    if real is None or named is None or (named.st_dev, named.st_ino) != (st.st_dev, st.st_ino):
        raise ImageChanged(f"image file changed while it was opened: {text}", path=text)
    return real


def _stat_no_symlinks(real: str) -> os.stat_result | None:
    """``stat`` of ``real`` walking its folders one descriptor at a time, refusing any symlink on the way."""
    parts = Path(real).parts
    if len(parts) < 2 or os.open not in os.supports_dir_fd:
        try:
            return os.lstat(real)  # no descriptor-relative opens here: the best this platform offers
        except OSError:
            return None
    dir_flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        dfd = os.open(parts[0], dir_flags)
    except OSError:
        return None
    try:
        for part in parts[1:-1]:
            nfd = os.open(part, dir_flags, dir_fd=dfd)
            os.close(dfd)
            dfd = nfd
        named = os.stat(parts[-1], dir_fd=dfd, follow_symlinks=False)
    except OSError:  # a component is a symlink (ELOOP/ENOTDIR under O_NOFOLLOW) or vanished
        return None
    finally:
        os.close(dfd)
    return named if stat.S_ISREG(named.st_mode) else None


def _read_all(fh: io.RawIOBase | io.BufferedIOBase, st: os.stat_result, name: str) -> bytes:
    """Read the whole file, refusing one that changed size or was rewritten while being read."""
    chunks: list[bytes] = []
    total = 0
    try:
        while total <= st.st_size:  # one byte past the size tells a file that grew
            chunk = fh.read(min(_CHUNK, st.st_size + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        after = os.fstat(fh.fileno())
        data = b"".join(chunks)
        # The kernel stamps mtime from a coarse clock (a few ms): a file truncated and rewritten in place to the same
        # size within one tick keeps size and mtime, and a read that spanned it holds parts of two versions. Reading
        # it again and comparing catches that torn read (from the page cache, this costs little).
        again = os.pread(fh.fileno(), st.st_size + 1, 0) if total == st.st_size else data
    except OSError as exc:
        raise ImageUnreadable(f"cannot read image file: {name} ({exc.strerror or exc})", path=name) from exc
    if total != st.st_size or (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns) or again != data:
        raise ImageChanged(f"image file changed while it was read: {name}", path=name)
    return data


def _check_byte_count(size: int, settings: EngineSettings) -> None:
    if size > settings.max_image_bytes:
        raise ImageTooLarge(
            f"image is {size} bytes, more than the limit of {settings.max_image_bytes}",
            size=size,
            limit=settings.max_image_bytes,
        )


def _looks_like_url_bytes(data: bytes) -> bool:
    head = data[:64]
    try:
        return is_url(head.decode("ascii"))
    except UnicodeDecodeError:
        return False


# --- decoding --------------------------------------------------------------------------------------------


def _decode(data: bytes, settings: EngineSettings, name: str | None = None) -> LoadedImage:
    from PIL import Image, ImageOps, UnidentifiedImageError

    label = name or "image bytes"
    if not data:
        raise EmptyImage(f"{label} are empty" if name is None else f"image file is empty: {name}")
    digest = hashlib.sha256(data).hexdigest()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img: PILImage.Image = Image.open(io.BytesIO(data))  # reads the header only
    except Image.DecompressionBombError as exc:
        raise TooManyPixels(f"{label}: image header claims too many pixels", limit=settings.max_image_pixels) from exc
    except UnidentifiedImageError as exc:
        raise NotAnImage(f"{label} is not an image in a format facegate can read") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise CorruptImage(f"{label}: unreadable image header") from exc

    with img:
        fmt = (img.format or "unknown").lower()
        width, height = img.size
        if width <= 0 or height <= 0:
            raise EmptyImage(f"{label} has no pixels")
        if width * height > settings.max_image_pixels:
            raise TooManyPixels(
                f"{label} is {width}x{height} pixels, more than the limit of {settings.max_image_pixels}",
                width=width,
                height=height,
                limit=settings.max_image_pixels,
            )
        orientation = _orientation(img)
        limit = 2 * settings.detect_max_side
        if fmt == "jpeg" and settings.detect_max_side > 0:
            _draft_reduced(img, limit)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                if settings.detect_max_side > 0 and max(img.size) > limit:
                    # Formats without reduced decoding (PNG, WebP, TIFF, ...; JPEG past its 1/8 DCT step):
                    # shrink once, right after decoding, so every later copy (orientation, mode conversion,
                    # BGR) is of the small image. Without this a 4600 px PNG cost ~5 full-size copies.
                    img.load()
                    if img.mode == "P":
                        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
                    img.thumbnail((limit, limit), Image.Resampling.LANCZOS)
                # exif_transpose loads the pixels: truncated data raises here, since PIL's
                # LOAD_TRUNCATED_IMAGES is left False
                oriented = ImageOps.exif_transpose(img)
                if oriented is None:  # only with in_place=True; keeps type checkers happy
                    oriented = img
                array = _to_bgr(oriented)
        except Image.DecompressionBombError as exc:
            raise TooManyPixels(f"{label}: too many pixels", limit=settings.max_image_pixels) from exc
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise CorruptImage(f"{label} is truncated or corrupt: {exc}") from exc

    if orientation in _TRANSPOSING_ORIENTATIONS:
        width, height = height, width
    h, w = array.shape[:2]
    return LoadedImage(
        array=array,
        sha256=digest,
        width=w,
        height=h,
        format=fmt,
        original_width=width,
        original_height=height,
    )


def _orientation(img: PILImage.Image) -> int:
    try:
        value = img.getexif().get(0x0112, 1)
        return int(value)
    except Exception:  # a broken EXIF block must not make a readable image unreadable
        return 1


def _draft_reduced(img: PILImage.Image, min_long_side: int) -> None:
    """Ask the JPEG decoder for the smallest DCT scale whose longer side stays >= ``min_long_side``."""
    width, height = img.size
    long_side = max(width, height)
    if long_side <= min_long_side:
        return
    ratio = min_long_side / long_side
    img.draft(img.mode, (math.ceil(width * ratio), math.ceil(height * ratio)))


def _to_bgr(img: PILImage.Image) -> np.ndarray:
    from PIL import Image

    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        gray = np.asarray(img)
        gray8 = _to_uint8(gray.astype(np.uint32) if mode == "I" else gray.astype(np.uint16))
        return np.repeat(gray8[:, :, None], 3, axis=2)
    if mode == "F":
        return np.repeat(_to_uint8(np.asarray(img, dtype=np.float32))[:, :, None], 3, axis=2)
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in img.info)
    if has_alpha:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        rgb = Image.alpha_composite(white, rgba).convert("RGB")
    else:
        rgb = img.convert("RGB")
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8)[:, :, ::-1])


# --- arrays ----------------------------------------------------------------------------------------------


def _array_digest(array: np.ndarray) -> str:
    digest = hashlib.sha256()
    digest.update(str(array.dtype).encode())
    digest.update(repr(tuple(array.shape)).encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """Map a supported dtype to uint8: uint16 and 32-bit ints by their bit depth, floats from [0, 1]."""
    if values.dtype == np.uint8:
        return values
    if values.dtype == np.uint16:
        return (values.astype(np.uint32) * 255 // 65535).astype(np.uint8)
    if values.dtype in (np.uint32, np.int32) and values.size:
        # PIL's "I" mode holds 16-bit PNG data in 32-bit ints
        scaled: np.ndarray = (np.clip(values, 0, 65535).astype(np.uint32) * 255 // 65535).astype(np.uint8)
        return scaled
    if np.issubdtype(values.dtype, np.floating):
        if values.size and (not np.isfinite(values).all() or values.min() < 0.0 or values.max() > 1.0):
            raise UnsupportedImageInput("float image arrays must hold values in [0, 1]")
        return np.round(values * 255.0).astype(np.uint8)
    raise UnsupportedImageInput(f"unsupported array dtype {values.dtype}; use uint8, uint16 or float in [0, 1]")


def _from_array(array: np.ndarray, settings: EngineSettings) -> LoadedImage:
    if array.size == 0:
        raise EmptyImage("image array is empty")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise UnsupportedImageInput(
            f"unsupported array shape {array.shape}; use H x W (gray), H x W x 3 (BGR) or H x W x 4 (BGRA)",
            shape=list(array.shape),
        )
    height, width = array.shape[:2]
    if width * height > settings.max_image_pixels:
        raise TooManyPixels(
            f"array is {width}x{height} pixels, more than the limit of {settings.max_image_pixels}",
            width=width,
            height=height,
            limit=settings.max_image_pixels,
        )
    if array.dtype == np.uint32 or array.dtype == np.int32 or array.dtype == np.bool_:
        raise UnsupportedImageInput(f"unsupported array dtype {array.dtype}; use uint8, uint16 or float in [0, 1]")
    digest = _array_digest(array)
    values = _to_uint8(array)
    if values.ndim == 2:
        bgr = np.repeat(values[:, :, None], 3, axis=2)
    elif values.shape[2] == 4:
        bgr = _composite_on_white(values)
    else:
        bgr = np.ascontiguousarray(values)
    return LoadedImage(array=bgr, sha256=digest, width=width, height=height, format="array")


def _composite_on_white(bgra: np.ndarray) -> np.ndarray:
    alpha = bgra[:, :, 3:4].astype(np.float32) / 255.0
    rgb = bgra[:, :, :3].astype(np.float32)
    composited: np.ndarray = np.round(rgb * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return composited
