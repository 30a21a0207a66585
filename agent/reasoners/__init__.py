"""Reasoners behind one interface (:class:`Reasoner`): the offline one and Gemini."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.reasoners.base import Reasoner, ReasonerContext, ReasonerStep

if TYPE_CHECKING:
    from agent.settings import Settings

__all__ = ["Reasoner", "ReasonerContext", "ReasonerStep", "make_reasoner"]


def make_reasoner(settings: Settings) -> Reasoner:
    """The reasoner the settings ask for: Gemini when a key is set (or forced), else the offline one."""
    if settings.effective_reasoner == "gemini":
        from agent.reasoners.gemini import GeminiReasoner

        return GeminiReasoner.from_settings(settings)
    from agent.reasoners.offline import OfflineReasoner

    return OfflineReasoner()
