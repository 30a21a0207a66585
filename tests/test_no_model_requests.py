"""The suite-wide guard (tests/conftest.py) holds: no test can reach a real model endpoint."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from agent.settings import Settings
from tests.conftest import RealModelRequestBlocked


def test_a_gemini_reasoner_for_googles_endpoint_cannot_be_built(tmp_path: Path) -> None:
    from agent.reasoners import make_reasoner

    settings = Settings(home=tmp_path, gemini_api_key="a-real-looking-key")  # default base URL: Google's
    with pytest.raises(RealModelRequestBlocked):
        make_reasoner(settings)


def test_the_agent_built_from_settings_with_a_key_cannot_reach_google(tmp_path: Path) -> None:
    from agent.sdk import FaceAgent

    with pytest.raises(RealModelRequestBlocked):
        FaceAgent(Settings(home=tmp_path, reasoner="gemini", gemini_api_key="k"), checkpointer="memory")


@pytest.mark.parametrize("address", [("203.0.113.7", 443), ("142.250.0.1", 80)])
def test_tcp_to_anything_but_loopback_is_refused(address: tuple[str, int]) -> None:
    with socket.socket() as s, pytest.raises(RealModelRequestBlocked):
        s.connect(address)


def test_loopback_still_works() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.socket() as client:
            client.connect(server.getsockname())


def test_keys_from_the_developers_shell_are_gone() -> None:
    import os

    assert "GEMINI_API_KEY" not in os.environ and "GOOGLE_API_KEY" not in os.environ
    assert Settings().gemini_api_key is None
