"""How ``facegate chat`` reads lines: prompt_toolkit at a terminal, plain ``input()`` from a pipe.

At a terminal the messages and slash commands the operator types are kept in a history file in the home
(up-arrow and Ctrl-R recall them across sessions); Ctrl-C cancels the line being typed, Ctrl-D on an empty line
ends the chat. The answers to consent questions are read with a prompt of their own that keeps no history: a
person's yes is not something to recall with the up arrow. Fed by a pipe, lines are read as they come, with none
of prompt_toolkit's terminal handling.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

HISTORY_FILE = "chat_history"


def history_path(home: Path) -> Path:
    return home / HISTORY_FILE


class LineReader:
    """Reads the chat's lines; both methods raise ``EOFError`` (Ctrl-D, end of input) and ``KeyboardInterrupt``.

    The prompt_toolkit session (and the history file) are made on the first read, once the chat has started: a
    chat that fails to start leaves no history file behind.
    """

    def __init__(self, *, terminal: bool, history: Path | None = None) -> None:
        self.terminal = terminal
        self._history = history
        self._session: Any = None

    def _prompt_session(self) -> Any:
        if self._session is None:
            from prompt_toolkit import PromptSession
            from prompt_toolkit.history import FileHistory, InMemoryHistory

            kept: Any = InMemoryHistory()
            if self._history is not None:
                from agent.store.db import make_private_dir, make_private_file

                make_private_dir(self._history.parent)
                make_private_file(self._history)  # what operators type names people: owner-only, like the databases
                kept = FileHistory(str(self._history))
            self._session = PromptSession(history=kept)
        return self._session

    def message(self, prompt: str) -> str:
        """A message or a slash command (kept in the history at a terminal)."""
        if not self.terminal:
            return input(prompt)
        return str(self._prompt_session().prompt(prompt))

    def answer(self, prompt: str) -> str:
        """An answer to a question facegate asks (never kept in any history)."""
        if not self.terminal:
            return input(prompt)
        from prompt_toolkit import prompt as ask_once

        return str(ask_once(prompt))  # a fresh session each time: its in-memory history dies with it


def forget_in_history(home: Path, subject_id: str) -> int:
    """Delete the history entries that name ``subject_id`` (as a word); returns how many were deleted.

    ``subject erase`` calls this: what the operator typed about a person ("/image alice ...", "verify against
    enrolled alice") is data about them. The file keeps prompt_toolkit's format (an entry is a ``# time`` line
    followed by ``+``-prefixed lines) and is replaced atomically.
    """
    path = history_path(home)
    if not path.is_file():
        return 0
    # the id as a whole word: not part of a longer id (ids may hold . _ : @ -), though a full stop may end it
    named = re.compile(rf"(?<![\w.:@-]){re.escape(subject_id)}(?![\w:@-]|\.[\w.:@-])")
    entries: list[list[str]] = []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith("#") or not entries:
            entries.append([])
        entries[-1].append(line)
    kept = [e for e in entries if not any(line.startswith("+") and named.search(line[1:]) for line in e)]
    deleted = len(entries) - len(kept)
    if deleted:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.writelines(line for entry in kept for line in entry)
        os.replace(tmp, path)  # mkstemp made it 0600, like the file it replaces
    return deleted
