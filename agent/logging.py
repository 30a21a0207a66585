"""structlog for facegate: library code logs through :func:`get_logger`; only the CLI calls
:func:`configure_logging`. A processor redacts biometric payloads (images, pixels, embeddings, vectors,
templates, raw bytes, base64, numpy arrays) wherever they appear in an event, however deeply nested.
"""

from __future__ import annotations

import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

REDACTED = "[redacted]"
SENSITIVE_KEYS = frozenset(
    {"image", "images", "pixels", "embedding", "embeddings", "vector", "vectors", "template", "templates",
     "bytes", "base64", "b64", "array", "inline_data", "data"}
)  # fmt: skip


def _sensitive_key(key: str) -> bool:
    k = key.lower()
    return k in SENSITIVE_KEYS or any(k.endswith("_" + s) or k.startswith(s + "_") for s in SENSITIVE_KEYS)


def _is_array(value: Any) -> bool:
    # numpy is not imported here: an ndarray is recognised by its type's module and name.
    t = type(value)
    return t.__name__ == "ndarray" and t.__module__.startswith("numpy")


def _is_number(value: Any) -> bool:
    # int, float, bool, and numpy scalars (np.float32, np.uint8, ...), recognised without importing numpy.
    if isinstance(value, int | float):
        return True
    t = type(value)
    return t.__module__ == "numpy" and hasattr(value, "dtype") and getattr(value, "ndim", None) == 0


MAX_DEPTH = 64
"""Nesting deeper than this is redacted whole: a payload cannot hide below the depth the redactor walks."""
MIN_NUMBERS = 16
"""A list or tuple of at least this many numbers is treated as a payload (a pixel row, an embedding)."""


def redact(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` with biometric payloads replaced by ``[redacted]``, however deeply nested.

    Redacted: raw bytes and numpy arrays anywhere; any list or tuple of :data:`MIN_NUMBERS` or more numbers (an
    embedding or pixel row without its key); values under a sensitive key; and anything nested more than
    :data:`MAX_DEPTH` levels deep (also what stops a self-referencing structure).
    """
    if isinstance(value, bytes | bytearray | memoryview) or _is_array(value):
        return REDACTED
    if depth > MAX_DEPTH:
        return REDACTED if isinstance(value, dict | list | tuple | set | frozenset) else value
    if isinstance(value, dict):
        return {k: (REDACTED if isinstance(k, str) and _sensitive_key(k) else redact(v, depth + 1))
                for k, v in value.items()}  # fmt: skip
    if isinstance(value, list | tuple | set | frozenset):
        if len(value) >= MIN_NUMBERS and all(_is_number(v) for v in value):
            return REDACTED
        items = [redact(v, depth + 1) for v in value]
        if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple takes its fields positionally
            return type(value)(*items)
        try:
            return type(value)(items)
        except TypeError:  # a container subclass that cannot be rebuilt from a list: keep the redacted items
            return items
    return value


def redact_processor(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: redact biometric keys and values in every event."""
    for key in list(event_dict):
        if key == "event":
            continue
        event_dict[key] = REDACTED if _sensitive_key(key) else redact(event_dict[key])
    return event_dict


class _Logger:
    """Decides at call time: silent until someone (the CLI) configured structlog, then structlog's logger.

    structlog's unconfigured default prints to stdout, which would mix log lines into an SDK user's output.
    """

    def __init__(self, name: str | None) -> None:
        self._name = name

    def _emit(self, method: str, event: str, **kw: Any) -> None:
        if structlog.is_configured():
            # Redacted here too: a host process (the LangGraph server) may have configured structlog without
            # facegate's processor.
            getattr(structlog.get_logger(self._name), method)(event, **redact_processor(None, method, kw))

    def debug(self, event: str, **kw: Any) -> None:
        self._emit("debug", event, **kw)

    def info(self, event: str, **kw: Any) -> None:
        self._emit("info", event, **kw)

    def warning(self, event: str, **kw: Any) -> None:
        self._emit("warning", event, **kw)

    def error(self, event: str, **kw: Any) -> None:
        self._emit("error", event, **kw)


def get_logger(name: str | None = None) -> _Logger:
    """A logger for library code, which never configures output (see :func:`configure_logging`)."""
    return _Logger(name)


def configure_logging(level: str = "WARNING", json: bool | None = None) -> None:
    """Configure structlog output (the CLI only). JSON when stderr is not a terminal unless told otherwise."""
    import logging

    use_json = (not sys.stderr.isatty()) if json is None else json
    renderer: Any = structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper(), logging.WARNING)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


__all__ = ["REDACTED", "configure_logging", "get_logger", "redact", "redact_processor"]
