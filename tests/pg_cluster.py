"""A throwaway PostgreSQL cluster for the tests (and the append benchmark): ``initdb`` in a temporary folder,
``pg_ctl -w start`` on 127.0.0.1 at a free port with a private socket folder, stopped and deleted at the end.

As root (this machine, CI), the server runs as the ``postgres`` user (PostgreSQL refuses to run as root), so
the folder is made for that user. Each test gets a schema of its own (``search_path`` in the URL's
``options``), which isolates tests as well as a database each would, at a fraction of the cost.

``python -m tests.pg_cluster`` starts one, prints its URL and waits for Ctrl-C (for trying things by hand).
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote


def find_bin() -> Path | None:
    """The folder with ``initdb`` and ``pg_ctl``: on PATH, else Debian's ``/usr/lib/postgresql/<n>/bin``."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    bin_dir: Path
    root: Path
    port: int
    run_as: str | None  # "postgres" when we are root

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str = "facegate", *, schema: str | None = None) -> str:
        base = f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"
        if schema is None:
            return base
        return f"{base}?options={quote(f'-csearch_path={schema}')}"

    def new_schema(self, dbname: str = "facegate") -> str:
        """A URL whose connections live in a fresh, empty schema."""
        import psycopg

        schema = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(dbname), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        return self.url(dbname, schema=schema)

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)

    def stop(self) -> None:
        """Stop the server and delete its folder (again: harmless)."""
        if self.data.exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


class ClusterUnavailable(RuntimeError):
    """PostgreSQL is not installed here, or a cluster cannot be started (the reason says which)."""


def start(*, fsync: bool = True, dbname: str = "facegate") -> Cluster:
    """initdb + pg_ctl start + CREATE DATABASE ``dbname``. Raises :class:`ClusterUnavailable`."""
    bin_dir = find_bin()
    if bin_dir is None:
        raise ClusterUnavailable("PostgreSQL is not installed (no initdb); `bash scripts/setup.sh dev` installs it")
    run_as = None
    root = Path(tempfile.mkdtemp(prefix="facegate-pg-"))
    if os.geteuid() == 0:
        try:
            import pwd

            pw = pwd.getpwnam("postgres")
        except KeyError as exc:
            shutil.rmtree(root, ignore_errors=True)
            raise ClusterUnavailable("running as root and there is no postgres user to run the server") from exc
        run_as = "postgres"
        os.chown(root, pw.pw_uid, pw.pw_gid)
    cluster = Cluster(bin_dir=bin_dir, root=root, port=_free_port(), run_as=run_as)
    done = cluster._run("initdb", "-D", str(cluster.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                        "--no-sync", "--locale=C")  # fmt: skip
    if done.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise ClusterUnavailable(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}")
    for attempt in range(3):
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={cluster.port} -c unix_socket_directories={root} "
            f"-c fsync={'on' if fsync else 'off'} -c max_connections=200 -c shared_buffers=32MB"
        )
        done = cluster._run("pg_ctl", "-D", str(cluster.data), "-l", str(root / "server.log"), "-o", options,
                            "-w", "-t", "60", "start")  # fmt: skip
        if done.returncode == 0:
            break
        if attempt == 2:  # the port may have been taken between picking it and binding it: try another
            log = (root / "server.log").read_text(errors="replace")[-2000:] if (root / "server.log").exists() else ""
            shutil.rmtree(root, ignore_errors=True)
            raise ClusterUnavailable(f"pg_ctl start failed: {done.stderr.strip()} {log}")
        cluster.port = _free_port()
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {dbname}")
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                cluster.stop()
                raise
            time.sleep(0.1)
    atexit.register(cluster.stop)  # an interrupted run leaves no server behind either
    return cluster


if __name__ == "__main__":  # pragma: no cover - manual use
    c = start()
    print(c.url(), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        with contextlib.suppress(Exception):
            c.stop()
