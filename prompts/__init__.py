"""Prompt and narration text, shipped as package data and loaded with :mod:`importlib.resources`."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from typing import Any


@lru_cache(maxsize=32)
def text(name: str) -> str:
    """The text of ``prompts/<name>`` (e.g. ``"system.md"``)."""
    return files(__name__).joinpath(name).read_text(encoding="utf-8")


@lru_cache(maxsize=32)
def data(name: str) -> Any:
    """The parsed YAML of ``prompts/<name>``."""
    import yaml

    return yaml.safe_load(text(name))
