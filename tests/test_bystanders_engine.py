"""Bystanders with the real engine on real photos: ``t1.jpg`` (insightface's six-face group photo, fetched at test
time) and composites built from package photos (Obama left, Biden right, ...), through the engine and through
``FaceAgent.ask``. A face is singled out only when exactly one face matches the reference; an image refused for
several faces has none of its faces embedded or classified first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.sdk import FaceAgent, ImageInput
from agent.settings import Settings
from evals.group_photos import face_boxes, face_crop, side_by_side
from tests.test_bystanders import group_policy
from tools.engine import FaceEngine
from tools.errors import FaceNotSingledOut, MultipleFaces
from tools.results import FaceBox, FaceReference
from tools.settings import EngineSettings

pytestmark = pytest.mark.slow
RULE = "bystanders.not_singled_out"


@pytest.fixture(scope="module")
def photos(sample_photos_dir: Path) -> Path:
    return sample_photos_dir


@pytest.fixture(scope="module")
def t1(photos: Path) -> Path:
    return photos / "t1.jpg"


@pytest.fixture(scope="module")
def t1_boxes(t1: Path, engine: FaceEngine) -> list[FaceBox]:
    boxes = face_boxes(t1, engine)
    assert len(boxes) == 6
    return boxes


def reference(engine: FaceEngine, source: bytes | Path, subject: str) -> FaceReference:
    emb = engine.embed(source, require_single_face=True)
    return FaceReference(vector=emb.vector, recipe=emb.recipe, subject=subject)


def composite(photos: Path, *names: str) -> bytes:
    return side_by_side([photos / n for n in names])


def test_several_faces_are_refused_before_any_is_embedded(face_settings: EngineSettings, t1: Path) -> None:
    engine = FaceEngine(face_settings)  # its own cache: nothing may land in it
    with pytest.raises(MultipleFaces) as info:
        engine.embed(t1, require_single_face=True)
    assert info.value.details["faces"] == 6
    assert engine.cache_info()["size"] == 0
    with pytest.raises(MultipleFaces) as expr:
        engine.analyze_expression(t1, single=True)
    assert expr.value.details["faces"] == 6  # the Haar cascade finds 5; the count said is the recognition detector's


def test_a_composite_singles_out_only_the_face_matching_the_reference(engine: FaceEngine, photos: Path) -> None:
    obama = reference(engine, photos / "obama2.jpg", "obama")
    left = composite(photos, "obama.jpg", "biden.jpg")
    face = engine.single_out(left, obama)
    assert face.singled_out and face.faces_in_image == 2
    width = engine.load(left).original_width
    assert face.box.x + face.box.w < width / 2  # Obama is on the left
    right = engine.single_out(composite(photos, "biden.jpg", "obama.jpg"), obama)
    assert right.box.x > width / 2 - 100

    with pytest.raises(FaceNotSingledOut) as nobody:
        engine.single_out(composite(photos, "biden.jpg", "astronaut.png"), obama)
    assert (nobody.value.details["faces_seen"], nobody.value.details["matching"]) == (2, 0)
    with pytest.raises(FaceNotSingledOut) as twice:
        engine.single_out(composite(photos, "obama.jpg", "obama3.jpg"), obama)
    assert twice.value.details["matching"] == 2


def test_each_face_of_the_group_photo_is_singled_out_by_its_own_crop(
    engine: FaceEngine, t1: Path, t1_boxes: list[FaceBox]
) -> None:
    singled = 0
    for k, box in enumerate(t1_boxes):
        ref = reference(engine, face_crop(t1, box), f"p{k}")
        try:
            face = engine.single_out(t1, ref)
        except FaceNotSingledOut as exc:  # two faces within the threshold: ambiguous, so refused, never guessed
            assert exc.details["matching"] >= 2
            continue
        assert face.box == box and face.faces_in_image == 6
        singled += 1
    assert singled >= 4


def test_expression_of_a_group_photo_classifies_only_the_singled_out_face(
    engine: FaceEngine, t1: Path, t1_boxes: list[FaceBox]
) -> None:
    box = t1_boxes[1]
    result = engine.analyze_expression(t1, reference=reference(engine, face_crop(t1, box), "p1"))
    assert len(result.faces) == 1 and result.faces_seen == 6 and result.singled_out
    found = result.faces[0].box
    assert abs(found.x - box.x) < box.w / 2 and abs(found.y - box.y) < box.h / 2


@pytest.fixture
def agent(tmp_path: Path, face_settings: EngineSettings, engine: FaceEngine) -> Iterator[FaceAgent]:
    settings = Settings(**{**face_settings.model_dump(), "home": tmp_path, "reasoner": "offline"})
    with FaceAgent.for_eval(settings, engine=engine, policy=group_policy()) as agent:
        yield agent


def test_the_agent_verifies_a_group_probe_only_through_the_claimed_face(agent: FaceAgent, photos: Path) -> None:
    agent.grant_consent("obama", capabilities=["face_verification", "enrollment"], purposes=["access_control"],
                        notice="v1")  # fmt: skip
    agent.enroll("obama", photos / "obama.jpg", purpose="access_control")
    reply = agent.ask("Verify img1 against enrolled obama.", purpose="access_control",
                      images=[ImageInput(source=composite(photos, "biden.jpg", "obama2.jpg"))])  # fmt: skip
    result = reply.tool_outcomes[0].result
    assert result is not None and result.kind == "verification"
    assert result.verified and result.faces_in_a == 2 and result.singled_out_a
    assert "shows 2 faces; only the face singled out" in reply.answer
    refused = agent.ask("Verify img1 against enrolled obama.", purpose="access_control",
                        images=[ImageInput(source=composite(photos, "biden.jpg", "astronaut.png"))])  # fmt: skip
    assert refused.decisions[-1].rule_id == RULE and "img1 shows 2 faces" in refused.answer


def test_the_agent_refuses_expression_on_the_group_photo_without_a_template(agent: FaceAgent, t1: Path) -> None:
    agent.grant_consent("p1", capabilities=["expression_analysis"], purposes=["ux_research"], notice="v1")
    reply = agent.ask("Analyse the facial expression in img1.", purpose="ux_research",
                      images=[ImageInput(source=t1, subject="p1")])  # fmt: skip
    assert [(d.outcome, d.rule_id) for d in reply.decisions] == [("allow", "consent.active"), ("deny", RULE)]
    assert "img1 shows 6 faces" in reply.answer
    [run] = [r for r in agent.audit_entries(reply.thread_id) if r.kind == "tool_run"]
    assert (run.summary["faces_seen"], run.summary["faces_analysed"]) == (6, 0)


def test_the_agent_analyses_the_enrolled_persons_face_in_the_group_photo(
    agent: FaceAgent, t1: Path, t1_boxes: list[FaceBox]
) -> None:
    agent.grant_consent("p1", capabilities=["expression_analysis", "face_verification", "enrollment"],
                        purposes=["fitting_room"], notice="v1")  # fmt: skip
    agent.enroll("p1", face_crop(t1, t1_boxes[1]), purpose="fitting_room")
    reply = agent.ask("Analyse the facial expression in img1.", purpose="fitting_room",
                      images=[ImageInput(source=t1, subject="p1")])  # fmt: skip
    result = reply.tool_outcomes[0].result
    assert result is not None and result.kind == "expression", reply.answer
    assert len(result.faces) == 1 and result.faces_seen == 6
    [run] = [r for r in agent.audit_entries(reply.thread_id) if r.kind == "tool_run"]
    assert (run.summary["faces_seen"], run.summary["faces_analysed"]) == (6, 1)
