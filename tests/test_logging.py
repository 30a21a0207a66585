"""Log redaction: biometric payloads never reach a log line, however they are nested or typed."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import structlog

from agent.logging import REDACTED, configure_logging, get_logger, redact


def _nest(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = {"level": [value]}
    return value


def _leaf(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = value["level"][0]
    return value


@pytest.mark.parametrize("depth", [1, 4, 10, 25])
def test_payloads_are_redacted_at_any_depth(depth: int) -> None:
    payload = {"note": "ok", "pixels_row": list(range(20))}  # an int pixel row under an innocent-looking key too
    out = redact(_nest({"raw": b"\xff\xd8\xff", "row": list(range(255, 235, -1)), "note": "ok"}, depth))
    leaf = _leaf(out, depth)
    assert leaf == {"raw": REDACTED, "row": REDACTED, "note": "ok"}
    assert redact(payload)["pixels_row"] == REDACTED


def test_nesting_beyond_the_bound_is_redacted_whole_not_passed_through() -> None:
    deep = _nest([0.5] * 4, 500)
    assert "0.5" not in json.dumps(redact(deep))
    cyclic: list[Any] = ["x"]
    cyclic.append(cyclic)
    assert REDACTED in json.dumps(redact(cyclic))  # a cycle ends redacted, not in a RecursionError


@pytest.mark.parametrize(
    "value",
    [
        list(range(16)),  # a pixel row of ints
        tuple(range(100, 132)),
        [np.float32(0.1)] * 16,  # an embedding as a list of numpy scalars
        [np.uint8(7)] * 64,
        [0.25] * 128,
        [1, 2.5, np.float64(3.0)] * 6,  # mixed numbers
        bytearray(b"abc"),
        memoryview(b"abc"),
        np.zeros((2, 2), dtype=np.uint8),
    ],
)
def test_number_lists_bytes_and_arrays_are_redacted(value: Any) -> None:
    assert redact({"note": value})["note"] == REDACTED
    assert redact([value])[0] == REDACTED


def test_ordinary_values_are_kept() -> None:
    event = {"tool": "verify_faces", "distance": 0.12, "box": [1, 2, 3, 4], "faces": 2, "names": ["a"] * 20,
             "scores": {"happy": 0.9}}  # fmt: skip
    assert redact(event) == event


def test_a_logged_event_carries_no_payload(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    try:
        get_logger("t").info("ran", result=_nest({"row": [np.float32(0.5)] * 32}, 12), raw=memoryview(b"\x01"))
    finally:
        structlog.reset_defaults()
    line = json.loads(capsys.readouterr().err.strip())
    assert line["raw"] == REDACTED
    assert _leaf(line["result"], 12)["row"] == REDACTED
