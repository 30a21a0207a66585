"""Image input: every accepted form decodes to BGR uint8, every bad input gets its own error (no DeepFace)."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.photos import photo
from tools.errors import (
    CorruptImage,
    EmptyImage,
    ImageNotFound,
    ImageTooLarge,
    NotAnImage,
    PathNotAllowed,
    TooManyPixels,
    UnsupportedImageInput,
    URLNotAllowed,
)
from tools.images import LoadedImage, load_image, sha256_of
from tools.settings import EngineSettings


@pytest.fixture
def settings(tmp_path: Path) -> EngineSettings:
    return EngineSettings(home=tmp_path / "home")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels (a decompression bomb's header)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


# --- bad inputs, one error each ----------------------------------------------------------------------------


def test_missing_file(settings: EngineSettings, tmp_path: Path) -> None:
    with pytest.raises(ImageNotFound):
        load_image(tmp_path / "nope.jpg", settings)


def test_empty_file(settings: EngineSettings, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(EmptyImage):
        load_image(empty, settings)
    with pytest.raises(EmptyImage):
        load_image(b"", settings)


def test_text_file_is_not_an_image(settings: EngineSettings, tmp_path: Path) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a photo\n" * 20)
    with pytest.raises(NotAnImage):
        load_image(text, settings)


def test_truncated_jpeg_is_corrupt(settings: EngineSettings, tmp_path: Path) -> None:
    data = photo("obama.jpg").read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptImage):
        load_image(cut, settings)


def test_decompression_bomb_header_refused_before_decoding(settings: EngineSettings, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(bomb_png(100_000, 100_000))
    assert bomb.stat().st_size < 200
    with pytest.raises(TooManyPixels):
        load_image(bomb, settings)


def test_pixel_limit_from_settings(tmp_path: Path) -> None:
    # under PIL's own bomb threshold: our limit must still apply, from the header
    small_limit = EngineSettings(home=tmp_path, max_image_pixels=100_000)
    with pytest.raises(TooManyPixels):
        load_image(photo("obama.jpg"), small_limit)
    with pytest.raises(TooManyPixels):
        load_image(np.zeros((1000, 1000, 3), np.uint8), small_limit)


def test_byte_limit_checked(tmp_path: Path) -> None:
    tiny = EngineSettings(home=tmp_path, max_image_bytes=1000)
    with pytest.raises(ImageTooLarge):
        load_image(photo("obama.jpg"), tiny)
    with pytest.raises(ImageTooLarge):
        load_image(photo("obama.jpg").read_bytes(), tiny)
    with pytest.raises(ImageTooLarge):
        sha256_of(photo("obama.jpg"), tiny)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/face.jpg",
        "https://example.com/face.jpg",
        "HTTPS://EXAMPLE.COM/X.PNG",
        "ftp://example.com/face.jpg",
        "file:///etc/passwd",
        "data:image/png;base64,iVBORw0KGgo=",
        "  https://example.com/a.jpg",
    ],
)
def test_urls_refused(settings: EngineSettings, url: str) -> None:
    with pytest.raises(URLNotAllowed):
        load_image(url, settings)
    with pytest.raises(URLNotAllowed):
        sha256_of(url, settings)


def test_url_as_path_object_refused(settings: EngineSettings) -> None:
    # Path() folds "//" into "/": the scheme must still be recognised
    with pytest.raises(URLNotAllowed):
        load_image(Path("https://example.com/face.jpg"), settings)


def test_drive_letter_is_not_a_scheme(settings: EngineSettings) -> None:
    with pytest.raises(ImageNotFound):
        load_image("C:/faces/a.jpg", settings)


def test_url_bytes_refused(settings: EngineSettings) -> None:
    with pytest.raises(URLNotAllowed):
        load_image(b"https://example.com/face.jpg", settings)


def test_path_outside_allowed_dirs(tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    inside = allowed / "obama.jpg"
    inside.write_bytes(photo("obama.jpg").read_bytes())
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(photo("obama.jpg").read_bytes())
    sneaky = allowed / "link.jpg"
    sneaky.symlink_to(outside)
    confined = EngineSettings(home=tmp_path / "home", allowed_image_dirs=[allowed])

    assert load_image(inside, confined).width == 910
    with pytest.raises(PathNotAllowed):
        load_image(outside, confined)
    with pytest.raises(PathNotAllowed):  # symlinks are resolved before the check
        load_image(sneaky, confined)
    with pytest.raises(PathNotAllowed):
        load_image(allowed / ".." / "outside.jpg", confined)


@pytest.mark.parametrize("value", [42, 3.5, ["a.jpg"], {"path": "a.jpg"}, None])
def test_unsupported_types(settings: EngineSettings, value: object) -> None:
    with pytest.raises(UnsupportedImageInput):
        load_image(value, settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "array",
    [
        np.zeros((10, 10, 5), np.uint8),
        np.zeros((2, 10, 10, 3), np.uint8),
        np.zeros((10,), np.uint8),
        np.full((10, 10, 3), 2.0, np.float32),  # float outside [0, 1]
        np.full((10, 10, 3), np.nan, np.float64),
        np.zeros((10, 10, 3), np.int64),
        np.zeros((10, 10), bool),
    ],
)
def test_unsupported_arrays(settings: EngineSettings, array: np.ndarray) -> None:
    with pytest.raises(UnsupportedImageInput):
        load_image(array, settings)


def test_empty_array(settings: EngineSettings) -> None:
    with pytest.raises(EmptyImage):
        load_image(np.zeros((0, 10, 3), np.uint8), settings)


# --- accepted forms --------------------------------------------------------------------------------------


def test_jpeg_path_sha256_of_original_bytes(settings: EngineSettings) -> None:
    path = photo("obama.jpg")
    loaded = load_image(path, settings)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert loaded.sha256 == digest == sha256_of(path, settings) == sha256_of(path.read_bytes(), settings)
    assert (loaded.width, loaded.height, loaded.format) == (910, 1137, "jpeg")
    assert loaded.array.shape == (1137, 910, 3) and loaded.array.dtype == np.uint8
    assert load_image(str(path), settings).sha256 == digest
    assert load_image(path.read_bytes(), settings).sha256 == digest
    assert load_image(loaded, settings) is loaded
    assert "array" not in repr(loaded).split("sha256")[0]  # pixels are not in the repr


def test_webp_named_jpg_is_sniffed(settings: EngineSettings, tmp_path: Path) -> None:
    disguised = tmp_path / "really_webp.jpg"
    Image.open(photo("obama.jpg")).save(disguised, format="WEBP", quality=90)
    loaded = load_image(disguised, settings)
    assert loaded.format == "webp"
    assert (loaded.width, loaded.height) == (910, 1137)


def test_exif_orientation_applied(settings: EngineSettings, tmp_path: Path) -> None:
    original = Image.open(photo("obama.jpg"))
    rotated = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    original.transpose(Image.Transpose.ROTATE_90).save(rotated, quality=95, exif=exif.tobytes())
    assert Image.open(rotated).size == (1137, 910)  # stored sideways
    loaded = load_image(rotated, settings)
    assert (loaded.width, loaded.height) == (910, 1137)  # displayed upright
    upright = load_image(photo("obama.jpg"), settings).array.astype(int)
    assert np.abs(loaded.array.astype(int) - upright).mean() < 6


def test_rgba_png_and_array(settings: EngineSettings) -> None:
    loaded = load_image(photo("32bit.png"), settings)
    assert Image.open(photo("32bit.png")).mode == "RGBA"
    assert loaded.array.shape == (1200, 626, 3)
    bgra = np.zeros((4, 4, 4), np.uint8)
    bgra[..., 0] = 200  # blue
    bgra[:2, :, 3] = 255  # top half opaque, bottom half transparent
    out = load_image(bgra, settings).array
    assert out.shape == (4, 4, 3)
    assert tuple(out[0, 0]) == (200, 0, 0)
    assert tuple(out[3, 3]) == (255, 255, 255)  # transparent pixels become white


def test_sixteen_bit_png_files(settings: EngineSettings, tmp_path: Path) -> None:
    import cv2

    eight = load_image(photo("obama.jpg"), settings).array
    gray16 = (cv2.cvtColor(eight, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257).astype(np.uint16)
    rgb16 = eight.astype(np.uint16) * 257
    cv2.imwrite(str(tmp_path / "gray16.png"), gray16)
    cv2.imwrite(str(tmp_path / "rgb16.png"), rgb16)
    gray = load_image(tmp_path / "gray16.png", settings).array
    color = load_image(tmp_path / "rgb16.png", settings).array
    assert gray.shape == color.shape == eight.shape
    assert gray.dtype == color.dtype == np.uint8
    assert np.abs(gray[..., 0].astype(int) - gray16.astype(int) // 257).max() <= 1
    assert np.abs(color.astype(int) - eight.astype(int)).max() <= 1


def test_grayscale_and_palette_files(settings: EngineSettings, tmp_path: Path) -> None:
    source = Image.open(photo("obama.jpg"))
    source.convert("L").save(tmp_path / "gray.jpg")
    source.convert("P").save(tmp_path / "palette.png")
    for name in ("gray.jpg", "palette.png"):
        out = load_image(tmp_path / name, settings).array
        assert out.shape == (1137, 910, 3)
    gray = load_image(tmp_path / "gray.jpg", settings).array
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()


def test_array_dtypes(settings: EngineSettings) -> None:
    base = np.array([[0, 128, 255]], np.uint8)
    for array in (base, base.astype(np.uint16) * 257, base.astype(np.float32) / 255.0, base[:, :, None]):
        out = load_image(array, settings)
        assert out.format == "array"
        assert out.array.shape == (1, 3, 3)
        assert list(out.array[0, :, 0]) == [0, 128, 255]
    color = np.random.default_rng(0).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    assert (load_image(color, settings).array == color).all()  # BGR taken as is
    assert load_image(color, settings).sha256 == sha256_of(color, settings)
    assert load_image(color, settings).sha256 != load_image(color.astype(np.uint16), settings).sha256


def test_big_jpeg_decoded_reduced_with_original_size_kept(tmp_path: Path) -> None:
    big = tmp_path / "big.jpg"
    img = Image.open(photo("obama.jpg")).resize((3640, 4548))
    img.save(big, quality=85)
    reduced = load_image(big, EngineSettings(home=tmp_path, detect_max_side=800))
    assert (reduced.original_width, reduced.original_height) == (3640, 4548)
    assert 1600 <= max(reduced.width, reduced.height) < 4548  # draft(): at least 2 x detect_max_side
    assert reduced.reduced and reduced.scale == pytest.approx(reduced.width / 3640)
    full = load_image(big, EngineSettings(home=tmp_path, detect_max_side=0))
    assert (full.width, full.height) == (3640, 4548) and not full.reduced
    assert reduced.sha256 == full.sha256 == hashlib.sha256(big.read_bytes()).hexdigest()


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "I;16"])
def test_big_png_shrunk_right_after_decoding(tmp_path: Path, mode: str) -> None:
    big = tmp_path / "big.png"
    Image.open(photo("obama.jpg")).convert("RGB").resize((3000, 3748)).convert(mode).save(big)
    loaded = load_image(big, EngineSettings(home=tmp_path, detect_max_side=800))
    assert (loaded.original_width, loaded.original_height) == (3000, 3748)
    assert max(loaded.width, loaded.height) == 1600 and loaded.reduced
    assert loaded.array.shape == (loaded.height, loaded.width, 3) and loaded.array.dtype == np.uint8
    assert loaded.scale == pytest.approx(1600 / 3748, rel=1e-3)


def test_png_bytes_roundtrip(settings: EngineSettings) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (20, 10), (10, 20, 30)).save(buf, format="PNG")
    out = load_image(buf.getvalue(), settings)
    assert out.format == "png"
    assert tuple(out.array[0, 0]) == (30, 20, 10)  # BGR


def test_loaded_image_is_frozen(settings: EngineSettings) -> None:
    loaded = load_image(np.zeros((2, 2, 3), np.uint8), settings)
    assert isinstance(loaded, LoadedImage)
    with pytest.raises(AttributeError):
        loaded.sha256 = "x"  # type: ignore[misc]
