"""Embedding recipes, mirror averaging, calibrated thresholds and face evidence, on the real engine and photos."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.photos import photo
from tools.calibration import Calibration, Proportion, write_calibration
from tools.engine import FaceEngine, mirror_average
from tools.errors import ConfigError, FaceNotFound, TemplateMismatch, UserError
from tools.results import EmbeddingRecipe
from tools.settings import EngineSettings

pytestmark = pytest.mark.slow


def _noise_png(side: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _face_crop(engine: FaceEngine, name: str, side: int) -> np.ndarray:
    import cv2

    box = engine.detect(photo(name)).faces[0].box
    image = engine.load(photo(name)).array
    pad = box.w // 10
    crop = image[max(0, box.y - pad) : box.y + box.h + pad, max(0, box.x - pad) : box.x + box.w + pad]
    return cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)


# --- recipes and mirror averaging ------------------------------------------------------------------------


def test_embedding_records_its_recipe(face_settings: EngineSettings) -> None:
    engine = FaceEngine(face_settings.model_copy(update={"embedding_mirror": False}))
    emb = engine.embed(photo("obama.jpg"))
    assert emb.recipe == EmbeddingRecipe(model="Dlib", detector="dlib", detect_max_side=640, align=True, mirror=False)
    assert engine.recipe() == emb.recipe
    result = engine.verify(photo("obama.jpg"), photo("obama2.jpg"))
    assert result.recipe == emb.recipe and result.threshold_source == "model"


def test_mirror_averaging_changes_the_vector_not_the_verdicts(face_settings: EngineSettings) -> None:
    plain = FaceEngine(face_settings.model_copy(update={"embedding_mirror": False}))
    mirrored = FaceEngine(face_settings.model_copy(update={"embedding_mirror": True}))
    a, b = plain.embed(photo("obama.jpg")), mirrored.embed(photo("obama.jpg"))
    assert b.recipe is not None and b.recipe.mirror and len(b.vector) == len(a.vector)
    assert a.vector != b.vector
    # the mirrored photo's mirror-averaged embedding is (nearly) the photo's own: the average is symmetric
    flipped = np.ascontiguousarray(plain.load(photo("obama.jpg")).array[:, ::-1])
    assert np.allclose(mirrored.embed(flipped).vector, b.vector, atol=0.02)
    assert mirrored.verify(photo("obama.jpg"), photo("obama2.jpg")).verified
    assert not mirrored.verify(photo("obama.jpg"), photo("biden.jpg")).verified


def test_the_cache_keeps_recipes_apart(face_settings: EngineSettings) -> None:
    engine = FaceEngine(face_settings.model_copy(update={"embedding_mirror": False}))
    engine.embed(photo("obama.jpg"))
    other = FaceEngine(engine.settings.model_copy(update={"embedding_mirror": True}))
    assert engine._cache_key("x") != other._cache_key("x")


def test_mirror_average_is_unit_mean_at_mean_length() -> None:
    out = np.asarray(mirror_average([3.0, 0.0], [0.0, 1.0]))
    assert np.linalg.norm(out) == pytest.approx(2.0)  # mean of the lengths 3 and 1
    assert out[0] == pytest.approx(out[1])  # both unit vectors weigh the same


# --- templates made another way ------------------------------------------------------------------------------


def test_template_made_another_way_is_refused_with_the_re_enrol_command(face_settings: EngineSettings) -> None:
    plain = FaceEngine(face_settings.model_copy(update={"embedding_mirror": False}))
    mirrored = FaceEngine(face_settings.model_copy(update={"embedding_mirror": True}))
    template = plain.embed(photo("obama2.jpg"))
    assert template.recipe is not None
    ok = plain.verify_against_template(
        photo("obama.jpg"),
        template.vector,
        template_model="Dlib",
        template_detector="dlib",
        template_recipe=template.recipe,
    )
    assert ok.verified and ok.recipe == template.recipe
    with pytest.raises(TemplateMismatch) as err:
        mirrored.verify_against_template(
            photo("obama.jpg"),
            template.vector,
            template_model="Dlib",
            template_detector="dlib",
            template_recipe=template.recipe,
            subject="alice",
        )
    assert "facegate enroll alice PHOTO --purpose PURPOSE" in err.value.message
    assert err.value.details["fix"] == "facegate enroll alice PHOTO --purpose PURPOSE"
    assert "mirror-averaged" in err.value.message and "no mirror averaging" in err.value.message
    assert isinstance(err.value, UserError)  # same family as the model/detector check it extends


@pytest.mark.parametrize("change", [{"detect_max_side": 800}, {"align": False}, {"detector": "opencv"}])
def test_every_part_of_the_recipe_counts(face_settings: EngineSettings, change: dict[str, object]) -> None:
    engine = FaceEngine(face_settings.model_copy(update={"embedding_mirror": False}))
    recipe = engine.recipe().model_copy(update=change)
    with pytest.raises(TemplateMismatch):
        engine.verify_against_template(
            photo("obama.jpg"),
            [0.1] * 128,
            template_model=recipe.model,
            template_detector=recipe.detector,
            template_recipe=recipe,
        )


def test_a_template_with_no_recorded_recipe_matches_no_engine(face_settings: EngineSettings) -> None:
    engine = FaceEngine(face_settings)
    legacy = EmbeddingRecipe(model="Dlib", detector="dlib", detect_max_side=None, align=None, mirror=False)
    with pytest.raises(TemplateMismatch, match="made before facegate recorded"):
        engine.verify_against_template(
            photo("obama.jpg"), [0.1] * 128, template_model="Dlib", template_detector="dlib", template_recipe=legacy
        )


# --- calibrated thresholds -----------------------------------------------------------------------------------


def _calibration(engine: FaceEngine, threshold: float, **recipe_change: object) -> Calibration:
    rate = Proportion(k=0, n=400, rate=0.0, low=0.0, high=0.009)
    return Calibration(
        threshold=threshold,
        metric="cosine",
        recipe=engine.recipe().model_copy(update=recipe_change),
        target="far",
        target_rate=0.01,
        confidence=0.95,
        far=rate,
        frr=rate,
        dataset_sha256="0" * 64,
        pairs_file="pairs.csv",
        created_at="2026-12-01T00:00:00+00:00",
    )


def test_calibration_file_sets_the_operator_threshold(face_settings: EngineSettings, tmp_path: Path) -> None:
    settings = face_settings.model_copy(update={"calibration_file": tmp_path / "cal.json"})
    engine = FaceEngine(settings)
    assert engine.threshold_and_source()[1] == "model"
    write_calibration(settings.resolved_calibration_file, _calibration(engine, 0.0512))
    assert engine.threshold_and_source() == (0.0512, "calibration")
    result = engine.verify(photo("obama.jpg"), photo("obama2.jpg"))
    assert result.threshold == 0.0512 and result.threshold_source == "calibration"
    # the model's own threshold (what a purpose's factor scales) is untouched
    assert engine.model_threshold() == pytest.approx(0.07)
    # an explicit setting wins; a threshold argument (a purpose's stricter one) wins over both
    explicit = FaceEngine(settings.model_copy(update={"threshold": 0.065}))
    assert explicit.threshold_and_source() == (0.065, "setting")
    assert engine.verify(photo("obama.jpg"), photo("obama2.jpg"), threshold=0.05).threshold_source == "argument"


def test_calibration_for_another_recipe_is_not_used(face_settings: EngineSettings, tmp_path: Path) -> None:
    settings = face_settings.model_copy(update={"calibration_file": tmp_path / "cal.json"})
    engine = FaceEngine(settings)
    write_calibration(settings.resolved_calibration_file, _calibration(engine, 0.09, detect_max_side=800))
    assert engine.threshold_and_source() == (pytest.approx(0.07), "model")


def test_a_broken_calibration_file_is_a_config_error(face_settings: EngineSettings, tmp_path: Path) -> None:
    path = tmp_path / "cal.json"
    engine = FaceEngine(face_settings.model_copy(update={"calibration_file": path}))
    path.write_text(json.dumps({"threshold": "high"}), encoding="utf-8")
    with pytest.raises(ConfigError, match="not a facegate calibration"):
        engine.default_threshold()
    path.write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError):
        engine.default_threshold()


# --- tiny noise is not a face --------------------------------------------------------------------------------


@pytest.mark.parametrize("side", [32, 48, 64, 96])
def test_noise_is_no_face_for_expression(engine: FaceEngine, side: int) -> None:
    with pytest.raises(FaceNotFound, match="no face"):
        engine.analyze_expression(_noise_png(side))


def test_noise_is_no_face_for_verification(engine: FaceEngine) -> None:
    with pytest.raises(FaceNotFound):
        engine.verify(_noise_png(32), photo("obama.jpg"))
    skip = FaceEngine(engine.settings.model_copy(update={"detector": "skip"}))
    with pytest.raises(FaceNotFound, match="skip"):
        skip.embed(_noise_png(64, seed=1))
    with pytest.raises(FaceNotFound):
        skip.embed(photo("coffee.png"))


@pytest.mark.parametrize(("name", "expected"), [("astronaut.png", "happy"), ("grace_hopper.jpg", "neutral")])
@pytest.mark.parametrize("side", [48, 64])
def test_real_small_face_crops_still_work(engine: FaceEngine, name: str, expected: str, side: int) -> None:
    crop = _face_crop(engine, name, side)
    result = engine.analyze_expression(crop)
    assert result.detector == "none" and result.faces[0].box.w == side
    assert result.faces[0].dominant == expected
    skip = FaceEngine(engine.settings.model_copy(update={"detector": "skip"}))
    assert len(skip.embed(crop).vector) == 128


# --- enrolment records the recipe; a probe made another way is refused -----------------------------------------


def test_enrolled_template_carries_the_recipe_and_refuses_another(
    face_settings: EngineSettings, tmp_path: Path
) -> None:
    from agent.enrollment import enroll
    from agent.policy import load_policy
    from agent.store import Store
    from tests.policy_cases import NOW
    from tests.test_enroll import _grant

    policy = load_policy()
    store = Store.open(tmp_path / "f.db")
    try:
        _grant(store)
        plain = FaceEngine(face_settings.model_copy(update={"embedding_mirror": False}))
        enroll(store, plain, policy, subject_id="alice", image=str(photo("obama.jpg")), purpose="access_control",
               actor="op", now=NOW)  # fmt: skip
        template = store.get_template("alice", model="Dlib", detector="dlib", now=NOW)
        assert template is not None and template.recipe == plain.recipe()

        def check(engine: FaceEngine) -> bool:
            assert template is not None
            return engine.verify_against_template(
                photo("obama2.jpg"),
                template.vector,
                template_model=template.model,
                template_detector=template.detector,
                template_recipe=template.recipe,
                subject="alice",
            ).verified

        assert check(plain)
        with pytest.raises(TemplateMismatch, match="facegate enroll alice"):
            check(FaceEngine(face_settings.model_copy(update={"embedding_mirror": True})))
        with pytest.raises(TemplateMismatch):
            check(FaceEngine(face_settings.model_copy(update={"detect_max_side": 800, "embedding_mirror": False})))
    finally:
        store.close()
