"""API keys for facegate's network doors (the LangGraph server, MCP over HTTP): who may call, and as what role.

A key is ``fg_`` plus 43 random URL-safe characters (256 bits), shown once when it is made and never stored: the
key file (``<home>/api_keys.json``, owner-only, or ``FACEGATE_API_KEYS_FILE``) holds its SHA-256, its name, its
role and when it was made, last used and revoked. A hash of a key this random cannot be reversed by guessing,
so a plain SHA-256 is enough (a slow password hash would only slow every request down). Authentication hashes
the presented key and compares it with every stored hash in constant time (:func:`hmac.compare_digest`), so
neither timing nor early exit says which key was close.

Roles: ``operator`` may run conversations (and answer a paused run's consent question for the person asked);
``auditor`` may read threads, their state and runs, and run nothing. Adding and revoking a key are audit rows
(through the one :class:`~agent.store.AuditWriter`); the key file is written atomically (a new file renamed over
the old one) under a lock, so concurrent ``facegate keys`` commands and a server updating "last used" lose
nothing. A damaged key file is a :class:`~agent.errors.ConfigError` and is never overwritten.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.clock import utcnow
from agent.errors import ConfigError, NotFoundError, UserError

if TYPE_CHECKING:
    from agent.settings import Settings
    from agent.store import AuditWriter

Role = Literal["operator", "auditor"]
ROLES: tuple[Role, ...] = ("operator", "auditor")
KEY_PREFIX = "fg_"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
NAME_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
# "Last used" is written at most this often per key: a request must not cost a file write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Longer than any key this module makes, short enough that hashing a hostile header costs nothing.
_MAX_PRESENTED = 256

__all__ = [
    "KEY_PREFIX",
    "ROLES",
    "ApiKey",
    "KeyRing",
    "Principal",
    "Role",
    "authenticate",
    "key_fingerprint",
    "presented_key",
]


class Principal(BaseModel):
    """Who a request comes from: the key's name and its role."""

    model_config = ConfigDict(frozen=True)

    name: str
    role: Role

    @property
    def may_run(self) -> bool:
        """Operators run conversations and answer consent questions; auditors only read."""
        return self.role == "operator"


class ApiKey(BaseModel):
    """A key as the file holds it: never the key, only its SHA-256."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    role: Role
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    created_at: datetime
    created_by: str
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def fingerprint(self) -> str:
        """The first 12 hex digits of the hash: enough to tell keys apart in an audit row, useless to an attacker."""
        return self.sha256[:12]


class _KeyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    keys: list[ApiKey] = Field(default_factory=list)


def presented_key(headers: Mapping[bytes, bytes]) -> str | None:
    """The key an HTTP request presents (ASGI header names, lower-case): a Bearer token, else an X-Api-Key
    header. Shared by every network door (the LangGraph server's auth hook, MCP over HTTP)."""
    authorization = headers.get(b"authorization", b"").decode("latin-1").strip()
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    api_key = headers.get(b"x-api-key", b"").decode("latin-1").strip()
    return api_key or None


def key_fingerprint(presented: str) -> str:
    return _digest(presented)[:12]


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyRing:
    """The key file: add, list, revoke, authenticate. Cheap to build; every call reads the file afresh, so a key
    revoked by ``facegate keys revoke`` is refused by a running server on its next request."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def of(cls, settings: Settings) -> KeyRing:
        return cls(settings.resolved_api_keys_file)

    # --- reading -------------------------------------------------------------------------------------------

    def entries(self, *, include_revoked: bool = False) -> list[ApiKey]:
        return [k for k in self._read().keys if include_revoked or k.active]

    def authenticate(self, presented: str | None, *, now: datetime | None = None) -> Principal | None:
        """The principal ``presented`` belongs to, or None (no key, unknown key, revoked key, no key file).

        Every active key's hash is compared, each in constant time, whatever matched first.
        """
        if not presented or len(presented) > _MAX_PRESENTED:
            return None
        digest = _digest(presented)
        match: ApiKey | None = None
        for key in self._read().keys:
            if hmac.compare_digest(key.sha256, digest) and key.active:
                match = key
        if match is None:
            return None
        self._touch(match, now or utcnow())
        return Principal(name=match.name, role=match.role)

    # --- changing ------------------------------------------------------------------------------------------

    def add(
        self, name: str, role: str, *, actor: str, audit: AuditWriter | None = None, now: datetime | None = None
    ) -> tuple[ApiKey, str]:
        """Make a key for ``name``: returns its record and the key itself (shown once, stored nowhere).

        The audit row is written before the key file is: if the file cannot be written, the log says a key was
        made that never worked, never the other way round.
        """
        if not re.fullmatch(NAME_PATTERN, name or ""):
            raise UserError(f"invalid key name {name!r}: {NAME_RULE}")
        if role not in ROLES:
            raise UserError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        when = now or utcnow()
        record = ApiKey(name=name, role=role, sha256=_digest(secret), created_at=when, created_by=actor)  # type: ignore[arg-type]
        with self._locked() as current:
            if any(k.name == name and k.active for k in current.keys):
                raise UserError(f"a key named {name!r} exists; revoke it first or choose another name")
            if audit is not None:
                audit.api_key_added(name=name, role=role, fingerprint=record.fingerprint, actor=actor, ts=when)
            current.keys = [k for k in current.keys if k.name != name] + [record]
        return record, secret

    def revoke(self, name: str, *, actor: str, audit: AuditWriter | None = None, now: datetime | None = None) -> ApiKey:
        """Revoke the active key named ``name`` (it stops working at the server's next request)."""
        when = now or utcnow()
        with self._locked() as current:
            found = next((k for k in current.keys if k.name == name and k.active), None)
            if found is None:
                raise NotFoundError(f"no active key named {name!r}", name=name)
            revoked = found.model_copy(update={"revoked_at": when})
            if audit is not None:
                audit.api_key_revoked(name=name, role=found.role, fingerprint=found.fingerprint, actor=actor, ts=when)
            current.keys = [revoked if k is found else k for k in current.keys]
        return revoked

    def _touch(self, key: ApiKey, now: datetime) -> None:
        """Record "last used", at most once per :data:`LAST_USED_RESOLUTION` (a failure to write is not fatal:
        the key is still valid, the date is a convenience)."""
        if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
            return
        with contextlib.suppress(OSError), self._locked() as current:
            current.keys = [
                k.model_copy(update={"last_used_at": now}) if k.sha256 == key.sha256 and k.active else k
                for k in current.keys
            ]

    # --- the file ------------------------------------------------------------------------------------------

    def _read(self) -> _KeyFile:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return _KeyFile()
        except OSError as exc:
            raise ConfigError(f"cannot read the API key file {self.path}: {exc.strerror}", path=str(self.path)) from exc
        try:
            return _KeyFile.model_validate(json.loads(raw))
        except (ValueError, ValidationError) as exc:
            # Not "no keys": a damaged file must not silently lock everyone out, nor be overwritten.
            raise ConfigError(
                f"the API key file {self.path} is damaged ({type(exc).__name__}); fix or move it",
                path=str(self.path),
            ) from exc

    @contextlib.contextmanager
    def _locked(self) -> Iterator[_KeyFile]:
        """Read-modify-write under an exclusive lock on a side file; the new content replaces the file atomically
        only when the block finishes without an error."""
        from agent.store.db import make_private_dir

        make_private_dir(self.path.parent)
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            current = self._read()
            yield current
            self._write(current)
        finally:
            os.close(fd)  # releases the lock

    def _write(self, content: _KeyFile) -> None:
        data = content.model_dump_json(indent=2).encode("utf-8") + b"\n"
        fd, tmp = tempfile.mkstemp(prefix=".api_keys.", dir=self.path.parent)  # mkstemp: mode 0600
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def authenticate(settings: Settings, presented_key: str | None) -> Principal | None:
    """The principal a presented API key belongs to, or None. Reads the key file (blocking: call it off an event
    loop, e.g. with :func:`asyncio.to_thread`)."""
    return KeyRing.of(settings).authenticate(presented_key)
