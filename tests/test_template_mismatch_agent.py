"""Issue 15 follow-up, through the agent: a template enrolled one way (mirror averaging off) and a probe computed
another way (on) are never compared. ``FaceAgent.ask`` answers with ``template_mismatch`` and the re-enrol command,
with the real engine on real photos; enrolling again with the current settings makes the check run."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.sdk import FaceAgent, ImageInput
from agent.settings import Settings
from tests.photos import photo
from tools.engine import FaceEngine
from tools.settings import EngineSettings

pytestmark = pytest.mark.slow


def make_agent(face_settings: EngineSettings, home: Path, *, mirror: bool) -> FaceAgent:
    settings = Settings(**{**face_settings.model_dump(), "home": home, "reasoner": "offline",
                           "embedding_mirror": mirror})  # fmt: skip
    return FaceAgent(settings, engine=FaceEngine(settings))


def test_a_template_of_another_recipe_is_refused_with_the_re_enrol_command(
    face_settings: EngineSettings, tmp_path: Path
) -> None:
    with make_agent(face_settings, tmp_path, mirror=False) as before:
        before.grant_consent("obama", capabilities=["face_verification", "enrollment"], purposes=["access_control"],
                             notice="v1 door notice")  # fmt: skip
        before.enroll("obama", photo("obama.jpg"), purpose="access_control")

    with make_agent(face_settings, tmp_path, mirror=True) as after:
        reply = after.ask("Verify img1 against enrolled obama.", purpose="access_control",
                          images=[ImageInput(source=photo("obama2.jpg"))])  # fmt: skip
        [decision] = reply.decisions
        assert (decision.outcome, decision.rule_id) == ("allow", "highrisk.obligations")  # policy allowed the check
        [outcome] = reply.tool_outcomes
        assert (outcome.status, outcome.error_code, outcome.result) == ("error", "template_mismatch", None)
        fix = "facegate enroll obama PHOTO --purpose PURPOSE"
        assert outcome.error is not None and fix in outcome.error and "mirror-averaged" in outcome.error
        assert "template_mismatch" in reply.answer and fix in reply.answer
        [run] = [r for r in after.audit_entries(reply.thread_id) if r.kind == "tool_run"]
        assert run.outcome == "error:template_mismatch"

        after.enroll("obama", photo("obama.jpg"), purpose="access_control")  # re-enrolled the current way
        again = after.ask("Verify img1 against enrolled obama.", purpose="access_control",
                          images=[ImageInput(source=photo("obama2.jpg"))])  # fmt: skip
        result = again.tool_outcomes[0].result
        assert result is not None and result.kind == "verification" and result.verified
        assert result.recipe is not None and result.recipe.mirror
