"""What an MCP host may pass as a tool's arguments, and the bounds checked before anything is decoded.

The graph's tools take image *handles* ("img1"), which the SDK mints when a caller attaches images. An MCP host
has no conversation to attach images to, so each image argument of a tool is an object that carries the image
itself: a ``path`` inside ``allowed_image_dirs``, or ``data`` (the file's bytes in base64, as in MCP image
content), and the ``subject`` the host says is pictured (omitted: a probe). Everything else is the graph's own
argument schema, checked by the gate as for the graph.

Bounds come first, before any base64 is decoded or any file opened: nesting depth, the length of every string
(a path is at most :data:`MAX_PATH_CHARS`, base64 at most what ``max_image_bytes`` encodes to), and the shape of
each image object. A problem is reported as a message that names the argument and the limit, never the value:
a host's argument may carry a prompt injection, and problems reach the audit log and the host's model.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, model_validator

from agent.policy.subject_id import SUBJECT_ID_PATTERN, SUBJECT_ID_RULE, is_subject_id
from agent.policy.tool_specs import ToolSpec

MAX_PATH_CHARS = 4096
"""Linux's PATH_MAX: no longer path names a file."""
MAX_TEXT_CHARS = 1024
"""Any other string argument (a subject id is at most 128 characters; a tool has no free-text argument)."""
MAX_DEPTH = 4
"""Arguments are an object of image objects and strings: anything nested deeper is not a call of these tools."""
MAX_KEYS = 16
"""Keys in one object: the widest argument object (an image) has five."""


@dataclass(frozen=True)
class Limits:
    """The bounds of one server, from its settings."""

    max_image_bytes: int

    @property
    def max_base64_chars(self) -> int:
        """Base64 of the largest image the engine accepts (4 characters per 3 bytes, padded)."""
        return 4 * math.ceil(self.max_image_bytes / 3)

    @property
    def max_request_bytes(self) -> int:
        """The largest request worth reading: two images in base64 (``verify_faces``) plus room for the rest."""
        return 2 * self.max_base64_chars + 64 * 1024


class ImageArg(BaseModel):
    """One image as an MCP host passes it: a file inside the allowed folders, or its bytes in base64."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    path: str | None = Field(
        None, description="Path of an image file inside the folders the operator allowed (absolute, or relative "
        "to the server's working folder).", max_length=MAX_PATH_CHARS,
    )  # fmt: skip
    data: str | None = Field(
        None, description="The image file's bytes, base64-encoded (as in MCP image content). Give path or data."
    )
    mime_type: str | None = Field(
        None, alias="mimeType", max_length=100, description="Optional; the content is sniffed, not trusted."
    )
    type: Literal["image"] | None = Field(None, description="Optional, for MCP image content passed as is.")
    subject: str | None = Field(
        None, description="Subject id of the person pictured, as the host asserts it; omit for a probe (an image "
        "of someone not named).", max_length=128, pattern=SUBJECT_ID_PATTERN,
    )  # fmt: skip

    @model_validator(mode="after")
    def _one_source(self) -> ImageArg:
        if (self.path is None) == (self.data is None):
            raise ValueError("give exactly one of path or data")
        return self


@dataclass(frozen=True)
class ImageSource:
    """An image argument, bounded and decoded: where its bytes come from and whom the host says it shows."""

    arg: str
    source: str | bytes
    subject: str | None

    @property
    def inline(self) -> bool:
        return isinstance(self.source, bytes)


@dataclass(frozen=True)
class ParsedArguments:
    """A call's arguments split into its images (by argument name) and the rest, for the graph's schema."""

    images: tuple[ImageSource, ...]
    args: dict[str, JsonValue]


class ArgumentProblem(ValueError):
    """Why a call's arguments were refused before reaching policy. The message never quotes a value."""


def parse_arguments(spec: ToolSpec, arguments: Mapping[str, Any] | None, limits: Limits) -> ParsedArguments:
    """Check ``arguments`` against the bounds and ``spec``'s image arguments; decode inline images.

    Raises:
        ArgumentProblem: with a message naming the argument and the limit, never quoting the value.
    """
    arguments = dict(arguments or {})
    _check_bounds(arguments, limits)
    known = set(spec.args_model.model_fields)
    unknown = [k for k in arguments if k not in known]
    if unknown:  # named by count, not by key: a key is the host's text too
        raise ArgumentProblem(f"{len(unknown)} unknown argument(s); {spec.name} takes: {', '.join(sorted(known))}")
    images: list[ImageSource] = []
    rest: dict[str, JsonValue] = {}
    for name, value in arguments.items():
        if name in spec.image_args:
            images.append(_image(name, value))
        else:
            rest[name] = value  # the gate checks these against the graph's own schema
    missing = [a for a in spec.image_args if a not in arguments]
    if missing:
        raise ArgumentProblem(f"missing image argument(s): {', '.join(missing)}")
    return ParsedArguments(tuple(images), rest)


def _image(name: str, value: Any) -> ImageSource:
    if not isinstance(value, Mapping):
        raise ArgumentProblem(f"{name} must be an object with path or data (and optionally subject)")
    fields = {f.alias or n for n, f in ImageArg.model_fields.items()} | set(ImageArg.model_fields)
    if any(k not in fields for k in value):
        raise ArgumentProblem(f"{name} has unknown keys; an image takes: path or data, mimeType, type, subject")
    subject = value.get("subject")
    if subject is not None and not is_subject_id(subject):
        # not echoed: a label is the first place a host's model would put "ignore previous instructions"
        raise ArgumentProblem(f"{name}.subject is not a subject id ({SUBJECT_ID_RULE}; omit it for a probe)")
    try:
        image = ImageArg.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(_problem(name, e) for e in exc.errors(include_input=False)[:3])
        raise ArgumentProblem(problems) from None
    if image.data is None:
        assert image.path is not None  # _one_source
        return ImageSource(name, image.path, image.subject)
    try:
        raw = base64.b64decode(image.data, validate=True)
    except (binascii.Error, ValueError):
        raise ArgumentProblem(f"{name}.data is not valid base64") from None
    return ImageSource(name, raw, image.subject)


def _problem(arg: str, error: Any) -> str:
    where = ".".join(str(p) for p in (arg, *error.get("loc", ())))
    return f"{where}: {str(error.get('msg', 'invalid')).removeprefix('Value error, ')}"


def _check_bounds(arguments: Mapping[str, Any], limits: Limits) -> None:
    """Depth, width and string lengths, walked without recursion into anything deeper than allowed."""
    stack: list[tuple[str, Any, int]] = [(k, v, 1) for k, v in arguments.items()]
    if len(arguments) > MAX_KEYS:
        raise ArgumentProblem(f"arguments have {len(arguments)} keys, more than {MAX_KEYS}")
    while stack:
        where, value, depth = stack.pop()
        if isinstance(value, str):
            limit = _string_limit(where, limits)
            if len(value) > limit:
                raise ArgumentProblem(f"{where} is {len(value)} characters long, over the limit of {limit}" + (
                    f" (base64 of max_image_bytes={limits.max_image_bytes})" if where.endswith(".data") else ""
                ))  # fmt: skip
            continue
        if isinstance(value, Mapping) and any(not isinstance(k, str) or len(k) > MAX_TEXT_CHARS for k in value):
            raise ArgumentProblem(f"{where} has a key over {MAX_TEXT_CHARS} characters")
        if isinstance(value, Mapping | list):
            if depth >= MAX_DEPTH:
                raise ArgumentProblem(f"{where} nests deeper than {MAX_DEPTH} levels")
            if len(value) > MAX_KEYS:
                raise ArgumentProblem(f"{where} holds {len(value)} items, more than {MAX_KEYS}")
            items = value.items() if isinstance(value, Mapping) else enumerate(value)
            stack.extend((f"{where}.{k}", v, depth + 1) for k, v in items)


def _string_limit(where: str, limits: Limits) -> int:
    leaf = where.rpartition(".")[2]
    if leaf == "data" and where.count(".") == 1:
        return limits.max_base64_chars
    if leaf == "path" and where.count(".") == 1:
        return MAX_PATH_CHARS
    return MAX_TEXT_CHARS


_IMAGE_WORDS = {"image_a": "The first face image.", "image_b": "The second face image.", "image": "The face image."}
_HOW = " A path inside the allowed folders or the file's bytes in base64, and the subject pictured (omit: a probe)."


def input_schema(spec: ToolSpec, limits: Limits) -> dict[str, Any]:
    """``spec``'s argument schema as an MCP host sees it: each image handle becomes an image object."""
    schema = spec.args_model.model_json_schema()
    image = ImageArg.model_json_schema(by_alias=True)
    image.pop("title", None)
    image["properties"] = {k: _plain(v) for k, v in image["properties"].items()}
    image["properties"]["data"]["maxLength"] = limits.max_base64_chars
    image["oneOf"] = [{"required": ["path"]}, {"required": ["data"]}]
    properties: dict[str, Any] = schema.get("properties", {})
    for arg in spec.image_args:
        properties[arg] = {**image, "description": _IMAGE_WORDS.get(arg, "The image.") + _HOW}
    schema["properties"] = {k: _plain(v) for k, v in properties.items()}
    schema.pop("title", None)
    schema.pop("description", None)
    return schema


def _plain(prop: dict[str, Any]) -> dict[str, Any]:
    """pydantic writes an optional field as ``anyOf: [X, null]`` with ``default: null``; a host's model reads a
    plain X better (and leaving a field out already means "none"). Titles repeat the names: dropped."""
    out = {k: v for k, v in prop.items() if k != "title"}
    variants = out.get("anyOf")
    if isinstance(variants, list) and len(variants) == 2 and {"type": "null"} in variants:
        (inner,) = [v for v in variants if v != {"type": "null"}]
        out = {**{k: v for k, v in out.items() if k not in ("anyOf", "default")}, **inner}
    return out


__all__ = [
    "MAX_DEPTH",
    "MAX_PATH_CHARS",
    "MAX_TEXT_CHARS",
    "ArgumentProblem",
    "ImageArg",
    "ImageSource",
    "Limits",
    "ParsedArguments",
    "input_schema",
    "parse_arguments",
]
