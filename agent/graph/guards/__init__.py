"""Guards around the reasoner: on its answers (an ordered list, one interface) and on the images it may see."""

from agent.graph.guards.base import (
    ANSWER_GUARD,
    AnswerContext,
    AnswerGuard,
    GuardVerdict,
    Withholding,
    default_answer_guards,
    review_answer,
)

__all__ = [
    "ANSWER_GUARD",
    "AnswerContext",
    "AnswerGuard",
    "GuardVerdict",
    "Withholding",
    "default_answer_guards",
    "review_answer",
]
