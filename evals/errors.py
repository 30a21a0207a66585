"""The evaluations' error family, on facegate's one base (:class:`tools.errors.FacegateError`)."""

from __future__ import annotations

from tools.errors import FacegateError


class EvalError(FacegateError):
    """An evaluation run's inputs were unusable."""

    code = "eval_error"
    exit_code = 10
