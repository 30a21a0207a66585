"""The face engine on real package-shipped photos with real DeepFace (Dlib model, offline weights)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.photos import photo
from tools.engine import FaceEngine
from tools.errors import FaceNotFound, ModelUnavailable, MultipleFaces, UserError
from tools.results import EMOTIONS, EXPRESSION_CAVEAT, FaceBox
from tools.settings import EngineSettings

pytestmark = pytest.mark.slow


def _overlap(a: FaceBox, b: FaceBox) -> float:
    """Intersection over union."""
    x1, y1 = max(a.x, b.x), max(a.y, b.y)
    x2, y2 = min(a.x + a.w, b.x + b.w), min(a.y + a.h, b.y + b.h)
    inter = max(0, x2 - x1) * max(0, y2 - y1)
    return inter / (a.area + b.area - inter)


@pytest.fixture(scope="module")
def two_faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """obama.jpg and biden.jpg side by side, biden scaled so his face is the larger one."""
    import cv2

    a = cv2.imread(str(photo("obama.jpg")))
    b = cv2.imread(str(photo("biden.jpg")))
    height = 1000
    a = cv2.resize(a, (round(a.shape[1] * height / a.shape[0]), height))
    b = cv2.resize(b, (round(b.shape[1] * 2 * height / b.shape[0]), 2 * height))[:height]
    out = tmp_path_factory.mktemp("two") / "two_faces.jpg"
    cv2.imwrite(str(out), np.hstack([a, b]))
    return out


# --- verification ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b"), [("obama.jpg", "obama2.jpg"), ("obama.jpg", "obama3.jpg")])
def test_same_person_verified(engine: FaceEngine, a: str, b: str) -> None:
    result = engine.verify(photo(a), photo(b))
    assert result.verified
    assert result.distance <= result.threshold
    assert (result.model, result.detector, result.metric) == ("Dlib", "dlib", "cosine")
    assert result.faces_in_a == result.faces_in_b == 1 and not result.used_largest_face
    assert result.box_b is not None


def test_different_people_not_verified(engine: FaceEngine) -> None:
    result = engine.verify(photo("obama.jpg"), photo("biden.jpg"))
    assert not result.verified
    assert result.distance > result.threshold


def test_default_threshold_is_deepfaces(engine: FaceEngine) -> None:
    from deepface.modules.verification import find_threshold

    assert engine.default_threshold() == find_threshold("Dlib", "cosine")


def test_threshold_override(engine: FaceEngine) -> None:
    same = engine.verify(photo("obama.jpg"), photo("obama2.jpg"), threshold=1e-6)
    assert not same.verified and same.threshold == 1e-6
    with pytest.raises(UserError):
        engine.verify(photo("obama.jpg"), photo("obama2.jpg"), threshold=-1.0)


def test_euclidean_l2_metric(face_settings: EngineSettings) -> None:
    engine = FaceEngine(face_settings.model_copy(update={"metric": "euclidean_l2"}))
    result = engine.verify(photo("obama.jpg"), photo("obama2.jpg"))
    assert result.metric == "euclidean_l2" and result.threshold == 0.4 and result.verified


def test_template_verification(engine: FaceEngine) -> None:
    template = engine.embed(photo("obama2.jpg")).vector
    ok = engine.verify_against_template(photo("obama.jpg"), template, template_model="Dlib", template_detector="dlib")
    assert ok.verified and ok.box_b is None and ok.faces_in_b is None and ok.image_b_sha256 is None
    no = engine.verify_against_template(photo("biden.jpg"), template, template_model="Dlib", template_detector="dlib")
    assert not no.verified
    with pytest.raises(UserError):
        engine.verify_against_template(photo("obama.jpg"), template, template_model="ArcFace", template_detector="dlib")
    with pytest.raises(UserError):
        engine.verify_against_template(photo("obama.jpg"), template, template_model="Dlib", template_detector="opencv")
    with pytest.raises(UserError):
        engine.verify_against_template(
            photo("obama.jpg"), template[:64], template_model="Dlib", template_detector="dlib"
        )


def test_no_face(engine: FaceEngine) -> None:
    with pytest.raises(FaceNotFound):
        engine.embed(photo("coffee.png"))
    with pytest.raises(FaceNotFound):
        engine.verify(photo("obama.jpg"), photo("coffee.png"))
    with pytest.raises(FaceNotFound):
        engine.analyze_expression(photo("coffee.png"))
    assert engine.detect(photo("coffee.png")).faces == []


def test_embedding_not_in_repr(engine: FaceEngine) -> None:
    emb = engine.embed(photo("obama.jpg"))
    assert len(emb.vector) == 128
    assert "vector" not in repr(emb) and str(emb.vector[0]) not in repr(emb)


# --- many faces -------------------------------------------------------------------------------------------


def test_two_faces_uses_largest(engine: FaceEngine, two_faces: Path) -> None:
    detection = engine.detect(two_faces)
    assert len(detection.faces) == 2
    emb = engine.embed(two_faces)
    assert emb.faces_in_image == 2 and emb.used_largest_face and emb.notes
    assert emb.box.x > 800  # biden's half, the larger face
    result = engine.verify(two_faces, photo("biden.jpg"))
    assert result.verified and result.used_largest_face and result.faces_in_a == 2
    assert any("largest" in n for n in result.notes)
    with pytest.raises(MultipleFaces):
        engine.verify(two_faces, photo("biden.jpg"), require_single_face=True)
    with pytest.raises(MultipleFaces):
        FaceEngine(engine.settings.model_copy(update={"require_single_face": True})).embed(two_faces)


# --- boxes in original coordinates, reduced decoding -----------------------------------------------------


def test_boxes_in_original_coordinates(face_settings: EngineSettings) -> None:
    full = FaceEngine(face_settings.model_copy(update={"detect_max_side": 0})).detect(photo("obama.jpg"))
    small = FaceEngine(face_settings.model_copy(update={"detect_max_side": 400})).detect(photo("obama.jpg"))
    assert (small.width, small.height) == (full.width, full.height) == (910, 1137)
    # the HOG detector's boxes are quantised by scale; an unmapped box would not overlap at all (factor 2.8)
    assert _overlap(full.faces[0].box, small.faces[0].box) > 0.6


def test_big_jpeg_same_face_same_place(engine: FaceEngine, tmp_path: Path) -> None:
    big = tmp_path / "big.jpg"
    Image.open(photo("obama.jpg")).resize((3640, 4548)).save(big, quality=90)
    loaded = engine.load(big)
    assert loaded.reduced  # decoded at reduced scale
    result = engine.verify(big, photo("obama.jpg"))
    assert result.verified
    factor = 3640 / 910
    expected = result.box_b
    assert expected is not None
    scaled = FaceBox(
        x=round(expected.x * factor),
        y=round(expected.y * factor),
        w=round(expected.w * factor),
        h=round(expected.h * factor),
    )
    assert _overlap(result.box_a, scaled) > 0.8


# --- input variants give the same face -------------------------------------------------------------------


def test_input_variants_same_face(engine: FaceEngine, tmp_path: Path) -> None:
    import cv2

    source = Image.open(photo("obama.jpg"))
    variants: dict[str, object] = {}
    rotated = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    source.transpose(Image.Transpose.ROTATE_90).save(rotated, quality=95, exif=exif.tobytes())
    variants["exif"] = rotated
    webp = tmp_path / "webp_named.jpg"
    source.save(webp, format="WEBP", quality=95)
    variants["webp"] = webp
    bgr = cv2.imread(str(photo("obama.jpg")))
    cv2.imwrite(str(tmp_path / "rgb16.png"), bgr.astype(np.uint16) * 257)
    variants["16bit"] = tmp_path / "rgb16.png"
    variants["gray"] = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    variants["rgba"] = cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)
    variants["float"] = bgr.astype(np.float32) / 255.0
    reference = engine.embed(photo("obama.jpg"))
    for name, variant in variants.items():
        emb = engine.embed(variant)  # type: ignore[arg-type]
        result = engine.verify(variant, photo("obama2.jpg"))  # type: ignore[arg-type]
        assert result.verified, name
        assert _overlap(emb.box, reference.box) > 0.8, name
    assert engine.verify(photo("32bit.png"), photo("obama.jpg")).verified  # RGBA PNG photo of Obama


# --- cache -------------------------------------------------------------------------------------------------


def test_cache_embeds_repeated_image_once(face_settings: EngineSettings) -> None:
    engine = FaceEngine(face_settings.model_copy(update={"embedding_cache_size": 2}))
    assert engine.cache_info() == {"hits": 0, "misses": 0, "size": 0, "maxsize": 2}
    first = engine.embed(photo("obama.jpg"))
    again = engine.embed(photo("obama.jpg").read_bytes())  # same bytes, other input form
    assert again == first
    engine.verify(photo("obama.jpg"), photo("obama2.jpg"))
    info = engine.cache_info()
    assert (info["misses"], info["hits"], info["size"]) == (2, 2, 2)
    engine.embed(photo("obama3.jpg"))  # evicts the least recently used
    assert engine.cache_info()["size"] == 2


def test_forget_drops_only_that_image(face_settings: EngineSettings) -> None:
    engine = FaceEngine(face_settings)
    probe = engine.embed(photo("obama2.jpg"))
    engine.embed(photo("obama.jpg"))
    assert engine.forget(probe.image_sha256) is True
    assert engine.cache_info()["size"] == 1
    assert engine.forget(probe.image_sha256) is False
    engine.embed(photo("obama.jpg"))  # still cached
    assert engine.cache_info()["hits"] == 1


def test_cache_key_includes_detector(face_settings: EngineSettings) -> None:
    dlib_engine = FaceEngine(face_settings)
    opencv_engine = FaceEngine(face_settings.model_copy(update={"detector": "opencv"}))
    a = dlib_engine.embed(photo("obama.jpg"))
    b = opencv_engine.embed(photo("obama.jpg"))
    assert a.detector == "dlib" and b.detector == "opencv" and a.vector != b.vector


# --- expression --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "expected"), [("astronaut.png", "happy"), ("grace_hopper.jpg", "neutral")])
def test_expression(engine: FaceEngine, name: str, expected: str) -> None:
    result = engine.analyze_expression(photo(name))
    assert result.backend == "fer"
    assert result.caveat == EXPRESSION_CAVEAT
    assert len(result.faces) == 1
    face = result.faces[0]
    assert face.dominant == expected
    assert set(face.scores) == set(EMOTIONS)
    assert sum(face.scores.values()) == pytest.approx(1.0, abs=1e-5)


def test_small_crop_classified_whole(engine: FaceEngine) -> None:
    import cv2

    detected = engine.detect(photo("astronaut.png")).faces[0].box
    image = engine.load(photo("astronaut.png")).array
    pad = detected.w // 5
    crop = image[
        max(0, detected.y - pad) : detected.y + detected.h + pad,
        detected.x - pad : detected.x + detected.w + pad,
    ]
    small = cv2.resize(crop, (48, 48), interpolation=cv2.INTER_AREA)
    result = engine.analyze_expression(small)
    assert result.detector == "none" and result.faces[0].box == FaceBox(x=0, y=0, w=48, h=48)
    assert result.faces[0].dominant == "happy"
    forced = engine.analyze_expression(photo("astronaut.png"), assume_face=True)
    assert forced.detector == "none" and forced.faces[0].box.w == 512


def test_expression_mirror_setting(face_settings: EngineSettings) -> None:
    plain = FaceEngine(face_settings.model_copy(update={"expression_mirror": False}))
    mirrored = FaceEngine(face_settings)
    a = plain.analyze_expression(photo("grace_hopper.jpg")).faces[0].scores
    b = mirrored.analyze_expression(photo("grace_hopper.jpg")).faces[0].scores
    assert a != b


# --- weights -----------------------------------------------------------------------------------------------


def test_a_fresh_home_is_provisioned_on_first_use(tmp_path: Path) -> None:
    """Issue 11: the engine copies the package-shipped weights into a new home where they are first needed
    (it used to raise ModelUnavailable and point at `facegate models install`). Still no network."""
    empty_home = tmp_path / "empty-home"
    engine = FaceEngine(EngineSettings(home=empty_home, allow_downloads=False))
    assert engine.verify(photo("obama.jpg"), photo("obama2.jpg")).verified
    weights = empty_home / ".deepface" / "weights"
    assert sorted(p.name for p in weights.iterdir()) == [
        "dlib_face_recognition_resnet_model_v1.dat",
        "shape_predictor_5_face_landmarks.dat",
    ]  # copied from face-recognition-models; nothing downloaded (no .bz2)


def test_what_no_package_ships_still_raises_model_unavailable(tmp_path: Path) -> None:
    engine = FaceEngine(EngineSettings(home=tmp_path / "h", model="ArcFace", detector="opencv", allow_downloads=False))
    with pytest.raises(ModelUnavailable) as info:
        engine.verify(photo("obama.jpg"), photo("obama2.jpg"))
    assert "ArcFace" in info.value.message and "downloads are off" in info.value.message
    weights = tmp_path / "h" / ".deepface" / "weights"
    assert not weights.exists() or not any(weights.iterdir())  # nothing was downloaded


def test_one_missing_weight_file_is_provisioned(face_settings: EngineSettings, tmp_path: Path) -> None:
    import shutil

    home = tmp_path / "half-home"
    (home / ".deepface" / "weights").mkdir(parents=True)
    shutil.copy(
        face_settings.weights_dir / "dlib_face_recognition_resnet_model_v1.dat",
        home / ".deepface" / "weights",
    )
    engine = FaceEngine(EngineSettings(home=home))
    assert len(engine.detect(photo("obama.jpg")).faces) == 1
    landmarks = home / ".deepface" / "weights" / "shape_predictor_5_face_landmarks.dat"
    assert landmarks.read_bytes() == (face_settings.weights_dir / landmarks.name).read_bytes()
    assert not (home / ".deepface" / "weights" / "shape_predictor_5_face_landmarks.dat.bz2").exists()


def test_deepface_expression_backend_without_its_weights(face_settings: EngineSettings) -> None:
    engine = FaceEngine(face_settings.model_copy(update={"expression_backend": "deepface"}))
    with pytest.raises(ModelUnavailable) as info:
        engine.analyze_expression(photo("astronaut.png"))
    assert "fer" in str(info.value.details.get("fix"))
    with pytest.raises(ModelUnavailable):
        engine.ensure_ready()
    FaceEngine(face_settings).ensure_ready()  # the default configuration is ready offline


def test_results_are_json(engine: FaceEngine) -> None:
    import json

    result = engine.verify(photo("obama.jpg"), photo("obama2.jpg"))
    data = json.loads(result.model_dump_json())
    assert data["box_a"].keys() == {"x", "y", "w", "h"}
    expression = json.loads(engine.analyze_expression(photo("astronaut.png")).model_dump_json())
    assert expression["caveat"] == EXPRESSION_CAVEAT


def test_concurrent_embeds_share_the_cache(face_settings: EngineSettings) -> None:
    from concurrent.futures import ThreadPoolExecutor

    engine = FaceEngine(face_settings)
    names = ["obama.jpg", "obama2.jpg", "obama.jpg", "obama2.jpg"]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda n: engine.embed(photo(n)), names))
    assert results[0].vector == results[2].vector and results[1].vector == results[3].vector
    info = engine.cache_info()
    assert info["size"] == 2 and info["hits"] + info["misses"] == 4


def test_model_threshold_is_deepfaces_whatever_the_operator_set(face_settings: EngineSettings) -> None:
    from deepface.modules.verification import find_threshold

    strict = FaceEngine(face_settings.model_copy(update={"threshold": 0.01}))
    assert strict.default_threshold() == 0.01
    assert strict.model_threshold() == find_threshold("Dlib", "cosine")
    assert FaceEngine(face_settings.model_copy(update={"metric": "euclidean_l2"})).model_threshold() == 0.4
