"""Enrollment: decided and audited before any face is embedded; templates follow consent and retention."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest

from agent.consent import grant_consent, revoke_consent
from agent.enrollment import enroll
from agent.errors import ConsentRequired, PolicyDenied
from agent.policy import load_policy
from agent.store import Store
from tests.db_fixtures import sql
from tests.photos import photo
from tests.policy_cases import NOW
from tools.errors import FaceNotFound, MultipleFaces
from tools.results import FaceBox, FaceEmbedding, VerificationResult

POLICY = load_policy()


class _Loaded:
    def __init__(self, data: bytes) -> None:
        self.sha256 = hashlib.sha256(data).hexdigest()


class FakeEngine:
    """Records calls; embeds bytes into a deterministic 128-d vector. ``fail`` raises that error on embed."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.embedded = 0
        self.fail = fail

    def load(self, source):  # type: ignore[no-untyped-def]
        return _Loaded(source if isinstance(source, bytes) else Path(source).read_bytes())

    def embed(self, source, *, require_single_face=None):  # type: ignore[no-untyped-def]
        assert require_single_face is True
        self.embedded += 1
        if self.fail:
            raise self.fail
        return FaceEmbedding(
            image_sha256=source.sha256,
            model="Fake",
            detector="fake",
            aligned=True,
            vector=tuple(float(i) / 128 for i in range(128)),
            box=FaceBox(x=0, y=0, w=1, h=1),
            faces_in_image=1,
            used_largest_face=False,
        )

    def forget(self, sha256: str) -> None:  # part of the engine protocol; this fake caches nothing
        return None


def _grant(store: Store, caps=("face_verification", "enrollment"), purpose="access_control", **kw):  # type: ignore[no-untyped-def]
    return grant_consent(
        store,
        POLICY,
        subject_id="alice",
        capabilities=caps,
        purposes=[purpose],
        notice="v1",
        evidence_method="signed_form",
        recorded_by="op",
        term_days=kw.pop("term_days", 400),
        actor="op",
        now=NOW,
        **kw,
    )


def test_enroll_without_consent_embeds_nothing_and_audits_the_refusal(store: Store) -> None:
    engine = FakeEngine()
    with pytest.raises(ConsentRequired) as info:
        enroll(store, engine, POLICY, subject_id="alice", image=b"jpeg", purpose="access_control", actor="op", now=NOW)
    assert info.value.details["rule_id"] == "consent.missing"
    assert engine.embedded == 0 and store.templates_for("alice") == []
    [row] = store.audit.query(kind="decision")
    assert (row.outcome, row.rule_id, row.capability) == ("needs_consent", "consent.missing", "enrollment")
    assert row.policy_hash == POLICY.hash and row.input_hashes == [hashlib.sha256(b"jpeg").hexdigest()]


def test_enroll_with_verification_consent_only_is_refused(store: Store) -> None:
    _grant(store, caps=("face_verification",))
    with pytest.raises(ConsentRequired):
        enroll(
            store, FakeEngine(), POLICY, subject_id="alice", image=b"x", purpose="access_control", actor="op", now=NOW
        )


def test_enroll_for_a_purpose_without_enrollment_is_denied(store: Store) -> None:
    grant_consent(
        store,
        POLICY,
        subject_id="alice",
        capabilities=["expression_analysis"],
        purposes=["ux_research"],
        notice="v1",
        evidence_method="m",
        recorded_by="op",
        term_days=30,
        actor="op",
        now=NOW,
    )
    with pytest.raises(PolicyDenied) as info:
        enroll(store, FakeEngine(), POLICY, subject_id="alice", image=b"x", purpose="ux_research", actor="op", now=NOW)
    assert info.value.rule_id == "purpose.capability_not_allowed"


def test_enroll_stores_template_with_retention_capped_by_consent(store: Store) -> None:
    _grant(store, retention_days=10)
    result = enroll(
        store,
        FakeEngine(),
        POLICY,
        subject_id="alice",
        image=b"jpeg",
        purpose="access_control",
        actor="op",
        session_id="s9",
        now=NOW,
    )
    assert result.expires_at == NOW + timedelta(days=10)
    t = store.get_template("alice", model="Fake", detector="fake", now=NOW)
    assert t is not None and t.id == result.template_id and len(t.vector) == 128
    kinds = [e.kind for e in store.audit.query(subject="alice")]
    assert kinds == ["consent_grant", "decision", "enrollment"]
    [row] = store.audit.query(kind="enrollment")
    assert row.session_id == "s9" and "vector" not in row.summary
    body = " ".join(b for (b,) in sql(store, "SELECT body FROM audit_log"))
    assert "0.0078125" not in body  # 1/128, a vector component


def test_template_expiry_never_outlives_the_consent(store: Store) -> None:
    _grant(store, term_days=20)
    result = enroll(
        store, FakeEngine(), POLICY, subject_id="alice", image=b"j", purpose="access_control", actor="op", now=NOW
    )
    assert result.expires_at == NOW + timedelta(days=20)


def test_engine_failure_is_audited_and_nothing_stored(store: Store) -> None:
    _grant(store)
    with pytest.raises(MultipleFaces):
        enroll(
            store,
            FakeEngine(MultipleFaces("two faces")),
            POLICY,
            subject_id="alice",
            image=b"j",
            purpose="access_control",
            actor="op",
            now=NOW,
        )
    assert store.templates_for("alice") == []
    [row] = store.audit.query(kind="tool_run")
    assert row.outcome == "error:multiple_faces"
    # the run names the decision that allowed it, like every other tool run
    [decision] = store.audit.query(kind="decision")
    assert (row.rule_id, row.policy_hash) == (decision.rule_id, POLICY.hash) == ("highrisk.obligations", POLICY.hash)


def test_enrollment_row_names_the_decision_that_allowed_it(store: Store) -> None:
    _grant(store)
    enroll(store, FakeEngine(), POLICY, subject_id="alice", image=b"j", purpose="access_control", actor="op", now=NOW)
    [row] = store.audit.query(kind="enrollment")
    assert (row.rule_id, row.policy_hash) == ("highrisk.obligations", POLICY.hash)


def test_revocation_and_erasure_delete_templates(store: Store) -> None:
    _grant(store)
    enroll(store, FakeEngine(), POLICY, subject_id="alice", image=b"j", purpose="access_control", actor="op", now=NOW)
    revoke_consent(store, subject_id="alice", actor="alice", capability="enrollment", now=NOW)
    assert store.templates_for("alice") == []
    with pytest.raises(PolicyDenied) as info:
        enroll(
            store, FakeEngine(), POLICY, subject_id="alice", image=b"j", purpose="access_control", actor="op", now=NOW
        )
    assert info.value.rule_id == "consent.revoked"


@pytest.mark.slow
def test_enroll_with_the_real_engine(store: Store, engine) -> None:  # type: ignore[no-untyped-def]
    _grant(store)
    result = enroll(
        store,
        engine,
        POLICY,
        subject_id="alice",
        image=str(photo("obama.jpg")),
        purpose="access_control",
        actor="op",
        now=NOW,
    )
    template = store.get_template("alice", model=result.model, detector=result.detector, now=NOW)
    assert template is not None and len(template.vector) == 128
    probe = engine.verify_against_template(
        photo("obama2.jpg"), template.vector, template_model=template.model, template_detector=template.detector
    )
    assert probe.verified
    with pytest.raises(FaceNotFound):
        enroll(
            store,
            engine,
            POLICY,
            subject_id="alice",
            image=str(photo("coffee.png")),
            purpose="access_control",
            actor="op",
            now=NOW,
        )


def test_a_template_serves_another_purpose_only_with_enrollment_consent_for_it(tmp_path: Path) -> None:
    """End to end: enrolled for access control, verify_identity in a customer-service session is refused until
    the person also consents to enrollment for customer service."""
    from agent.sdk import FaceAgent, ImageInput
    from agent.settings import Settings
    from tests.fakes import FakeFaceEngine, ScriptedReasoner, call, say

    settings = Settings(home=tmp_path, reasoner="offline", actor="tester")
    engine = FakeFaceEngine(settings)
    scripted = ScriptedReasoner()
    with FaceAgent(settings, engine=engine, reasoner=scripted, checkpointer="memory") as agent:
        agent.grant_consent("alice", capabilities=["face_verification", "enrollment"], purposes=["access_control"],
                            notice="door", evidence_method="form")  # fmt: skip
        agent.enroll("alice", engine.photo("alice"), purpose="access_control")
        agent.grant_consent("alice", capabilities=["face_verification"], purposes=["customer_service"],
                            notice="desk", evidence_method="form")  # fmt: skip

        def verify() -> object:
            scripted.enqueue(call("verify_identity", image="img1", claimed_subject="alice"), say("done"))
            probe = ImageInput(source=engine.photo("alice", 2))
            return agent.ask("is this alice?", purpose="customer_service", images=[probe])

        refused = verify()
        [d] = refused.decisions  # type: ignore[attr-defined]
        assert (d.outcome, d.rule_id) == ("deny", "probe.requires_claimed_enrolled_identity")
        assert "enrolled for another purpose" in d.reason
        assert engine.ran("verify_against_template") == 0

        agent.grant_consent("alice", capabilities=["enrollment"], purposes=["customer_service"],
                            notice="desk", evidence_method="form")  # fmt: skip
        allowed = verify()
        [d] = allowed.decisions  # type: ignore[attr-defined]
        assert (d.outcome, d.rule_id) == ("allow", "consent.active")
        [o] = allowed.tool_outcomes  # type: ignore[attr-defined]
        assert o.status == "ok" and isinstance(o.result, VerificationResult) and o.result.verified is True
        assert engine.ran("verify_against_template") == 1
