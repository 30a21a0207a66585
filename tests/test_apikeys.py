"""API keys: made once, stored as hashes, roles, revocation, audit rows, and a damaged file that is never lost."""

from __future__ import annotations

import json
import multiprocessing
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from agent.apikeys import KEY_PREFIX, ROLES, KeyRing, Principal, authenticate
from agent.cli import keys_cmd
from agent.cli.main import main
from agent.clock import utcnow
from agent.errors import ConfigError, NotFoundError, UserError
from agent.settings import Settings
from agent.store import Store


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path)


def test_a_key_is_shown_once_stored_as_a_hash_and_authenticates_to_its_role(settings: Settings) -> None:
    ring = KeyRing.of(settings)
    record, secret = ring.add("door-7", "operator", actor="alice")
    assert secret.startswith(KEY_PREFIX) and len(secret) >= 40
    raw = settings.resolved_api_keys_file.read_text()
    assert secret not in raw and secret[len(KEY_PREFIX) :] not in raw  # only the hash is kept
    assert stat.S_IMODE(settings.resolved_api_keys_file.stat().st_mode) == 0o600
    assert authenticate(settings, secret) == Principal(name="door-7", role="operator")
    assert record.role == "operator" and record.created_by == "alice"


@pytest.mark.parametrize("presented", [None, "", "fg_nope", "x" * 10_000, "fg_" + "A" * 43])
def test_anything_but_a_known_key_is_nobody(settings: Settings, presented: str | None) -> None:
    KeyRing.of(settings).add("door-7", "operator", actor="alice")
    assert authenticate(settings, presented) is None


def test_no_key_file_means_nobody_gets_in(settings: Settings) -> None:
    assert not settings.resolved_api_keys_file.exists()
    assert authenticate(settings, "fg_anything") is None


def test_roles_names_and_duplicates_are_checked(settings: Settings) -> None:
    ring = KeyRing.of(settings)
    with pytest.raises(UserError, match="unknown role"):
        ring.add("a", "admin", actor="x")
    with pytest.raises(UserError, match="invalid key name"):
        ring.add("bad name\n", "operator", actor="x")
    ring.add("a", "auditor", actor="x")
    with pytest.raises(UserError, match="exists"):
        ring.add("a", "operator", actor="x")
    assert [(k.name, k.role) for k in ring.entries()] == [("a", "auditor")]
    assert keys_cmd.ROLES == ROLES  # the CLI's copy (kept import-light) is the module's


def test_revoked_keys_stop_working_and_the_name_can_be_reused(settings: Settings) -> None:
    ring = KeyRing.of(settings)
    _, old = ring.add("kiosk", "operator", actor="x")
    ring.revoke("kiosk", actor="x")
    assert authenticate(settings, old) is None
    assert ring.entries() == [] and [k.name for k in ring.entries(include_revoked=True)] == ["kiosk"]
    with pytest.raises(NotFoundError):
        ring.revoke("kiosk", actor="x")
    _, new = ring.add("kiosk", "auditor", actor="x")
    assert authenticate(settings, old) is None
    assert authenticate(settings, new) == Principal(name="kiosk", role="auditor")


def test_last_used_is_written_at_most_once_a_minute(settings: Settings) -> None:
    ring = KeyRing.of(settings)
    _, secret = ring.add("k", "operator", actor="x")
    t0 = utcnow()
    assert ring.authenticate(secret, now=t0) is not None
    first = ring.entries()[0].last_used_at
    assert first == t0
    ring.authenticate(secret, now=t0 + timedelta(seconds=30))
    assert ring.entries()[0].last_used_at == t0  # no write for this request
    ring.authenticate(secret, now=t0 + timedelta(minutes=2))
    assert ring.entries()[0].last_used_at == t0 + timedelta(minutes=2)


def test_a_damaged_key_file_is_a_config_error_and_is_left_as_it_is(settings: Settings) -> None:
    path = settings.resolved_api_keys_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"version": 1, "keys": [{"name": "a"')
    with pytest.raises(ConfigError, match="damaged"):
        authenticate(settings, "fg_x")
    with pytest.raises(ConfigError, match="damaged"):
        KeyRing.of(settings).add("b", "operator", actor="x")
    assert path.read_text() == '{"version": 1, "keys": [{"name": "a"'


def _add_many(home: str, prefix: str, n: int) -> None:
    ring = KeyRing.of(Settings(home=Path(home)))
    for i in range(n):
        ring.add(f"{prefix}-{i}", "operator", actor=prefix)


def test_concurrent_writers_lose_no_key(settings: Settings) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_add_many, args=(str(settings.home), f"p{p}", 10)) for p in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    assert len(KeyRing.of(settings).entries()) == 30


def test_cli_add_list_revoke_are_audited(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    def run(*argv: str) -> tuple[int, str, str]:
        return main(["--home", str(settings.home), *argv]), *capsys.readouterr()

    code, out, err = run("keys", "add", "door-7", "--role", "operator", "--actor", "alice")
    assert code == 0 and "shown only now" in err
    secret = out.strip()
    assert authenticate(settings, secret) == Principal(name="door-7", role="operator")
    code, out, _ = run("keys", "list", "--json")
    listed = json.loads(out)
    assert code == 0 and [(k["name"], k["role"]) for k in listed] == [("door-7", "operator")]
    assert "sha256" not in listed[0] and secret not in out
    code, out, _ = run("keys", "list")
    assert code == 0 and "door-7" in out and "operator" in out
    assert run("keys", "revoke", "door-7")[0] == 0
    assert authenticate(settings, secret) is None
    code, _, err = run("keys", "revoke", "door-7")
    assert code == 2 and "not_found" in err
    code, _, err = run("keys", "add", "x", "--role", "root")
    assert code == 2 and "usage_error" in err
    with Store.open(settings.resolved_db_path) as store:
        rows = store.audit.query(kind="api_key")
        assert store.audit.verify().ok
    assert [(r.outcome, r.summary["name"], r.summary["role"]) for r in rows] == [
        ("added", "door-7", "operator"),
        ("revoked", "door-7", "operator"),
    ]
    assert rows[0].actor == "alice" and secret not in json.dumps([r.model_dump(mode="json") for r in rows])
