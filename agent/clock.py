"""facegate's one clock and its timestamp format.

Every "now" comes from :func:`utcnow` or from a clock injected in its place (tests and evaluations pass their
own ``Clock``); stored and audited times are written with :func:`iso`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    """UTC ISO-8601 with microseconds: one fixed width, so text order is time order in SQL."""
    if dt.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def parse_iso(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
