"""Every pattern of the guards, and the guards themselves, finish on adversarial 64 KB inputs.

Behavioural, not a speed target: a generous alarm (5 s) is the failure detector for super-linear time (the
offline reasoner's old request patterns took 12-29 s on such inputs). Every compiled pattern the guard modules
define is found by introspection, so a pattern added later is covered without editing this file.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import pytest

import agent.policy.facts as facts_mod
import agent.policy.grounding as grounding
import agent.policy.inner_state as inner_state
import agent.policy.request_phrases as request_phrases
import agent.policy.sensitive as sensitive
import agent.policy.sensitive_lexicon as sensitive_lexicon
import agent.policy.sensitive_requests as sensitive_requests
import agent.policy.stated_purpose as stated_purpose
import agent.reasoners.offline as offline
import tools.images as images
from agent.policy.facts import fact_from_outcome

SIZE = 64 * 1024
ALARM_S = 5
# Inputs built by repeating one unit: runs of word characters, of separators, of the words the patterns anchor
# on ("purpose", "consent recorded", "race:", "verified") with what they wait for never coming.
UNITS = [
    "a ", " ", "1", "0,1 ", "-", '"', "\n", "x" * 1000 + " ",
    "she is not ", "use ", "the purpose is ", "consent recorded ", "race: ", "Asian, ", "she is Asian and ",
    "dark-", "not verified ", "distance 0", "happy (9", "the person in img1 is ", "ne ment ", "Verifiziert als alice ",
]  # fmt: skip


def _text(unit: str) -> str:
    return (unit * (SIZE // len(unit) + 1))[:SIZE]


@contextmanager
def _alarm(what: str, seconds: int = ALARM_S) -> Iterator[None]:
    def fire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"{what} took more than {seconds} s on a 64 KB input")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _patterns(module: ModuleType) -> Iterator[tuple[str, re.Pattern[str]]]:
    for name, value in vars(module).items():
        if isinstance(value, re.Pattern):
            yield f"{module.__name__}.{name}", value
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, re.Pattern):
                    yield f"{module.__name__}.{name}[{key}]", item


MODULES = [
    stated_purpose,
    sensitive,
    sensitive_lexicon,
    sensitive_requests,
    request_phrases,
    inner_state,
    grounding,
    facts_mod,
    images,
    offline,
]
sensitive.requested_sensitive_attributes("warm up")  # builds the lazily compiled question patterns
PATTERNS = [pytest.param(name, p, id=name) for m in MODULES for name, p in _patterns(m)]


@pytest.mark.parametrize(("name", "pattern"), PATTERNS)
def test_every_guard_pattern_is_linear(name: str, pattern: re.Pattern[str]) -> None:
    for unit in UNITS:
        text = _text(unit)
        with _alarm(f"{name} on {unit[:20]!r}"):
            pattern.search(text)
            for _ in pattern.finditer(text):
                pass


_FACTS = [
    fact_from_outcome({"call_id": "c1", "tool": "verify_identity", "status": "ok",
                       "args": {"image": "img1", "claimed_subject": "alice"},
                       "result": {"verified": False, "distance": 0.162, "threshold": 0.06}}),
]  # fmt: skip
GUARDS: list[tuple[str, Callable[[str], object]]] = [
    ("sensitive_inferences", sensitive.sensitive_inferences),
    ("sensitive_inferences(json)", lambda t: sensitive.sensitive_inferences({"ethnicity": t, "items": [t[:64]] * 500})),
    ("requested_sensitive_attributes", sensitive.requested_sensitive_attributes),
    ("rewrite_inner_state", inner_state.rewrite_inner_state),
    ("check_answer", lambda t: grounding.check_answer(t, _FACTS, names=["alice"])),
    ("mentions_purpose_change", request_phrases.mentions_purpose_change),
    ("asks_to_record_consent", request_phrases.asks_to_record_consent),
    ("strip_purpose_clauses", request_phrases.strip_purpose_clauses),
    ("is_url", images.is_url),
    ("stated_purposes", lambda t: stated_purpose.stated_purposes(t, ["access_control", "ux_research"])),
]


@pytest.mark.parametrize(("name", "guard"), GUARDS, ids=[g[0] for g in GUARDS])
def test_every_guard_finishes_on_adversarial_input(name: str, guard: Callable[[str], object]) -> None:
    slowest = (0.0, "")
    for unit in UNITS:
        started = time.perf_counter()
        with _alarm(f"{name} on {unit[:20]!r}"):
            guard(_text(unit))
        slowest = max(slowest, (time.perf_counter() - started, unit[:20]))
    print(f"\n{name}: slowest 64 KB input {slowest[1]!r}: {slowest[0] * 1000:.0f} ms")


def test_the_offline_reasoner_plans_a_64_kb_request_in_time() -> None:
    from agent.graph.messages import ImageHandle, Turn
    from agent.policy import TOOL_SPECS
    from agent.reasoners.base import ReasonerContext
    from agent.reasoners.offline import OfflineReasoner

    context = ReasonerContext(purpose="access_control", images=(ImageHandle(handle="img1", sha256="a" * 64),))
    for unit in ("use ", "purpose ", "consent recorded ", "as ", "against enrolled ", "for our marketing "):
        with _alarm(f"OfflineReasoner on {unit!r}"):
            OfflineReasoner().next_step([Turn(role="user", text=_text(unit))], list(TOOL_SPECS), context)
