"""What a subject id is: the one definition the store, the graph and the SDK check against.

Subject ids appear in CLI output, audit rows and prompts, so they are short, printable and free of whitespace.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

SUBJECT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
SUBJECT_ID_RULE = "use 1-128 letters, digits and . _ : @ -, starting with a letter or digit"
_SUBJECT_RE = re.compile(SUBJECT_ID_PATTERN)


def is_subject_id(value: object) -> bool:
    """True when ``value`` is a well-formed subject id."""
    return isinstance(value, str) and _SUBJECT_RE.fullmatch(value) is not None


def check_subject_id(value: str) -> str:
    """Return ``value`` when it is a well-formed subject id, else raise ValueError (a pydantic validator)."""
    if not is_subject_id(value):
        raise ValueError(f"invalid subject id {value!r}: {SUBJECT_ID_RULE}")
    return value


def shown(value: object, limit: int = 60) -> str:
    """``value`` as an error message may show it: repr() (control characters escaped, one line), bounded."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


SubjectId = Annotated[str, AfterValidator(check_subject_id)]
"""A subject id, validated wherever a pydantic model declares it."""
