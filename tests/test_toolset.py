"""Tools as objects: the registry matches the policy's declarations, and each tool runs and summarises alone.

These run the tools directly with a small context (no graph, no policy): the gate and the graph tests show they
are only ever reached through policy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.clock import Clock
from agent.errors import ConfigError, NotFoundError
from agent.graph.messages import ConsentStatusResult, ImageHandle, ShareResult, ToolCall
from agent.graph.state import Session
from agent.graph.toolset import ToolRegistry, ToolRequest, default_registry
from agent.graph.toolset.analyze_expression import AnalyzeExpression
from agent.graph.toolset.consent_status import ConsentStatus
from agent.graph.toolset.share_image import ShareImage
from agent.graph.toolset.verify_faces import VerifyFaces
from agent.graph.toolset.verify_identity import VerifyIdentity
from agent.images_vault import ImageVault
from agent.policy import TOOL_SPECS, Policy, ToolArgs, load_policy
from agent.settings import Settings
from agent.store import ConsentGrant, Store
from tests.fakes import FakeFaceEngine
from tools.results import ExpressionResult, VerificationResult

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SESSION = Session(purpose="mfa", session_id="s1", actor="tester")


@dataclass
class Context:
    settings: Settings
    store: Store
    engine: FakeFaceEngine
    vault: ImageVault = field(default_factory=ImageVault)
    clock: Clock = lambda: NOW
    policy: Policy = field(default_factory=load_policy)


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    settings = Settings(home=tmp_path, reasoner="offline", actor="tester")
    store = Store.open(settings.resolved_db_path)
    yield Context(settings=settings, store=store, engine=FakeFaceEngine(settings))
    store.close()


def attach(ctx: Context, person: str, handle: str, subject: str | None = None) -> ImageHandle:
    loaded = ctx.engine.load(ctx.engine.photo(person))
    ctx.vault.put(loaded)
    return ImageHandle(handle=handle, sha256=loaded.sha256, subject=subject)


def request(tool: object, args: dict, images: tuple[ImageHandle, ...], **kw: object) -> ToolRequest[ToolArgs]:
    call = ToolCall(id="c1", name=getattr(tool, "name"), args=args)  # noqa: B009
    parsed = tool.parse(call)  # type: ignore[attr-defined]
    fields: dict = {"threshold": None, "purpose_limit": "mfa", **kw}
    return ToolRequest(call=call, args=parsed, images=images, session=SESSION, **fields)


def test_every_runnable_declaration_has_exactly_one_tool_and_no_other() -> None:
    registry = default_registry()
    runnable = {s.name for s in TOOL_SPECS if s.runnable}
    assert {n for n in registry.names if registry.tool(n) is not None} == runnable
    assert registry.tool("identify_person") is None and registry.spec("identify_person") is not None
    for name in runnable:
        tool = registry.tool(name)
        assert tool is not None and tool.spec.args_model is tool.args_model


def test_a_tool_without_a_matching_runnable_declaration_is_refused() -> None:
    class Identify(VerifyFaces):
        name = "identify_person"  # declared, but not runnable: no implementation may claim it

    with pytest.raises(ConfigError):
        ToolRegistry(TOOL_SPECS, [Identify()])
    with pytest.raises(ConfigError, match="without an implementation"):
        ToolRegistry(TOOL_SPECS, [VerifyFaces()])


def test_verify_faces_uses_the_threshold_the_obligations_set(ctx: Context) -> None:
    a, b = attach(ctx, "alice", "img1", "alice"), attach(ctx, "alice", "img2", "alice")
    tool = VerifyFaces()
    result = tool.run(ctx, request(tool, {"image_a": "img1", "image_b": "img2"}, (a, b), threshold=0.001))
    assert isinstance(result, VerificationResult) and result.threshold == 0.001 and result.verified is False
    summary = tool.audit_summary(result)
    assert set(summary) == {"verified", "distance", "threshold", "model", "detector", "metric", "faces_in_a",
                            "faces_in_b", "faces_seen", "faces_analysed"}  # fmt: skip
    assert (summary["faces_seen"], summary["faces_analysed"]) == (2, 2)


def test_verify_identity_needs_an_enrolled_template(ctx: Context) -> None:
    probe = attach(ctx, "bob", "img1")
    tool = VerifyIdentity()
    with pytest.raises(NotFoundError):
        tool.run(ctx, request(tool, {"image": "img1", "claimed_subject": "bob"}, (probe,)))


def test_analyze_expression_summarises_faces_and_dominant_expressions(ctx: Context) -> None:
    image = attach(ctx, "eileen", "img1", "eileen")
    tool = AnalyzeExpression()
    result = tool.run(ctx, request(tool, {"image": "img1"}, (image,)))
    assert isinstance(result, ExpressionResult) and result.faces[0].dominant == "happy"
    assert tool.audit_summary(result) == {"faces": 1, "dominant": ["happy"], "faces_seen": 1, "faces_analysed": 1}


def test_share_image_needs_the_pixels_and_shares_the_handle(ctx: Context) -> None:
    image = attach(ctx, "carol", "img1", "carol")
    tool = ShareImage()
    req = request(tool, {"image": "img1"}, (image,))
    result = tool.run(ctx, req)
    assert result == ShareResult(handle="img1") and tool.shares(req, result) == ("img1",)
    ctx.vault.drop(image.sha256)
    with pytest.raises(NotFoundError):
        tool.run(ctx, req)


def test_consent_status_shows_only_the_records_of_the_purpose_limit(ctx: Context) -> None:
    from agent.policy import Capability, Evidence

    evidence = Evidence(method="form", recorded_by="tester")
    for purposes in (["mfa"], ["ux_research"]):
        caps = [Capability.FACE_VERIFICATION if purposes == ["mfa"] else Capability.EXPRESSION_ANALYSIS]
        grant = ConsentGrant(subject_id="alice", capabilities=frozenset(caps), purposes=frozenset(purposes),
                             notice="told", evidence=evidence, term_days=30)  # fmt: skip
        ctx.store.grant_consent(grant, actor="tester", now=NOW)
    tool = ConsentStatus()
    result = tool.run(ctx, request(tool, {"subject": "alice"}, (), purpose_limit="ux_research"))
    assert isinstance(result, ConsentStatusResult) and result.purpose == "ux_research"
    # coverage only (issue 9 item 11): which capabilities an active consent for the purpose covers, nothing else
    assert result.covered == ["expression_analysis"] and "face_verification" in result.missing
