"""Property: no sequence of grant, revoke, expiry, erasure (and enrollment, sweeps) ever yields ``allow``
without an active matching consent, and an active matching consent always allows.

The test keeps its own model of which (subject, capability, purpose) cells are consented until when, and
checks the real store + ``decide()`` against it after every step.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.policy import ENROLL_TOOL, Capability, Evidence, decide, load_policy
from agent.store import ConsentGrant, Store
from tests.policy_cases import NOW, img, request
from tools.errors import NotFoundError

POLICY = load_policy()
SUBJECTS = ("alice", "bob")
CAPS = (
    Capability.FACE_VERIFICATION,
    Capability.EXPRESSION_ANALYSIS,
    Capability.ENROLLMENT,
    Capability.LLM_IMAGE_SHARING,
)
PURPOSES = ("customer_service", "ux_research")
TOOLS = {
    Capability.FACE_VERIFICATION: "verify_faces",
    Capability.EXPRESSION_ANALYSIS: "analyze_expression",
    Capability.ENROLLMENT: ENROLL_TOOL,
    Capability.LLM_IMAGE_SHARING: "share_image_with_assistant",
}

subject = st.sampled_from(SUBJECTS)
ops = st.one_of(
    st.tuples(
        st.just("grant"),
        subject,
        st.sets(st.sampled_from(CAPS), min_size=1),
        st.sets(st.sampled_from(PURPOSES), min_size=1),
        st.integers(1, 6),
    ),
    st.tuples(st.just("revoke_all"), subject),
    st.tuples(st.just("revoke_cap"), subject, st.sampled_from(CAPS)),
    # hours: whole days land exactly on expiry instants, odd hours just before/after them
    st.tuples(st.just("advance"), st.sampled_from([1, 23, 24, 25, 24 * 3])),
    st.tuples(st.just("erase"), subject),
    st.tuples(st.just("enroll"), subject, st.sampled_from(PURPOSES)),
    st.tuples(st.just("sweep")),
)


def _request(subj: str, cap: Capability, purpose: str):  # type: ignore[no-untyped-def]
    images = [img(subj), img(subj, "second")] if cap == Capability.FACE_VERIFICATION else [img(subj)]
    return request(TOOLS[cap], cap.value, purpose, images, subject=subj if cap == Capability.ENROLLMENT else None)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, max_size=18))
def test_no_allow_without_active_matching_consent(steps: list[tuple]) -> None:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "p.db")
        try:
            _run(store, steps)
        finally:
            store.close()


def _run(store: Store, steps: list[tuple]) -> None:  # type: ignore[type-arg]
    now = NOW
    cells: dict[tuple[str, Capability, str], list] = {}  # type: ignore[type-arg]

    def active(subj: str, cap: Capability, purpose: str) -> bool:
        return any(exp > now for exp in cells.get((subj, cap, purpose), []))

    def check_templates(subjects: tuple[str, ...]) -> None:
        for subj in subjects:
            for t in store.templates_for(subj):
                assert active(subj, Capability.ENROLLMENT, t.purpose or ""), (subj, t.purpose)

    for step in steps:
        kind = step[0]
        if kind == "grant":
            _, subj, caps, purposes, term = step
            # only capabilities some chosen purpose allows (others are refused by the consent service)
            store.grant_consent(
                ConsentGrant(
                    subject_id=subj,
                    capabilities=frozenset(caps),
                    purposes=frozenset(purposes),
                    notice="v1",
                    evidence=Evidence(method="click", recorded_by="op"),
                    term_days=term,
                ),
                actor="op",
                now=now,
            )
            for cap in caps:
                for purpose in purposes:
                    cells.setdefault((subj, cap, purpose), []).append(now + timedelta(days=term))
        elif kind in ("revoke_all", "revoke_cap", "erase"):
            subj = step[1]
            cap = step[2] if kind == "revoke_cap" else None
            try:
                if kind == "erase":
                    store.erase_subject(subj, actor="op", now=now)
                else:
                    store.revoke_consent(subj, actor="op", capability=cap, now=now)
            except NotFoundError:
                pass
            for key in list(cells):
                if key[0] == subj and (cap is None or key[1] == cap):
                    del cells[key]
            check_templates((subj,))
        elif kind == "advance":
            now = now + timedelta(hours=step[1])
        elif kind == "enroll":
            _, subj, purpose = step
            req = _request(subj, Capability.ENROLLMENT, purpose)
            consents = store.consents_for(subj)
            decision = decide(req, consents, POLICY, now)
            if decision.allowed:
                cid = decision.consent_ids[0]
                store.save_template(
                    subj,
                    model="M",
                    detector="d",
                    vector=[0.5] * 8,
                    image_sha256="ab" * 32,
                    expires_at=now + timedelta(days=90),
                    purpose=purpose,
                    consent_id=cid,
                    now=now,
                )
        elif kind == "sweep":
            store.sweep_retention(actor="op", now=now)
            check_templates(SUBJECTS)

        for subj in SUBJECTS:
            consents = store.consents_for(subj)
            for cap in CAPS:
                for purpose in PURPOSES:
                    decision = decide(_request(subj, cap, purpose), consents, POLICY, now)
                    allowed_by_catalogue = cap in POLICY.purposes[purpose].allowed_capabilities
                    expected = allowed_by_catalogue and active(subj, cap, purpose)
                    assert decision.allowed == expected, (step, subj, cap, purpose, decision.rule_id)
                    if decision.allowed:
                        used = [c for c in consents if c.id in decision.consent_ids]
                        assert used and all(c.active_at(now) and c.covers(cap, purpose) for c in used)
    assert store.audit.verify().ok
