"""An unreachable ``--ray-address`` fails at once in one line (``ray.init`` would retry for minutes)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from evals.errors import EvalError
from evals.executors import check_ray_address


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("form", ["127.0.0.1:{port}", "ray://127.0.0.1:{port}"])
def test_unreachable_ray_address_is_one_line_error(form: str) -> None:
    address = form.format(port=_free_port())  # nothing listens there: the connect is refused at once
    started = time.monotonic()
    with pytest.raises(EvalError, match="cannot reach Ray at"):
        check_ray_address(address)
    assert time.monotonic() - started < 5


def test_malformed_ray_address() -> None:
    with pytest.raises(EvalError, match="host:port"):
        check_ray_address("no-port-here")


def test_reachable_address_passes() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        check_ray_address(f"127.0.0.1:{server.getsockname()[1]}")


def test_cli_with_port_1_fails_fast_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from agent.cli.main import main

    (tmp_path / "a.jpg").write_bytes(b"x")
    lst = tmp_path / "pairs.csv"
    lst.write_text("img1,img2,same\na.jpg,a.jpg,1\n")
    started = time.monotonic()
    code = main(["--home", str(tmp_path / "home"), "eval", "verification", "--pairs", str(lst), "--root",
                 str(tmp_path), "--out", str(tmp_path / "o"), "--executor", "ray",
                 "--ray-address", "127.0.0.1:1"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and time.monotonic() - started < 30
    assert len(err) == 1 and "cannot reach Ray at 127.0.0.1:1" in err[0]
