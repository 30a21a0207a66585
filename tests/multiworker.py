"""Several facegate workers (real processes, tests/worker_proc.py) on one PostgreSQL database.

:class:`WorkerProc` starts and drives one; :func:`stress` runs the four-worker write storm and sums it up. Run
``python -m tests.multiworker [N]`` for the figures (a throwaway cluster, fsync on, N iterations per worker).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from agent.store import Store

ROOT = Path(__file__).resolve().parents[1]


class WorkerProc:
    """A worker process: ``send(op=..., ...)`` writes one command and returns its answer."""

    def __init__(self, name: str, home: Path, url: str) -> None:
        env = {**os.environ, "FACEGATE_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
        self.name = name
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.worker_proc", name, str(home)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT,
        )  # fmt: skip

    def wait_ready(self) -> None:
        ready = self._read()
        if ready.get("ready") != self.name:
            raise RuntimeError(f"worker {self.name} did not start: {ready}")

    def post(self, **cmd: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.name} exited ({self.proc.poll()})")
        out: dict[str, Any] = json.loads(line)
        return out

    def result(self) -> dict[str, Any]:
        out = self._read()
        if "error" in out:
            raise RuntimeError(f"worker {self.name}: {out['error']}: {out['message']}")
        return out

    def send(self, **cmd: Any) -> dict[str, Any]:
        self.post(**cmd)
        return self.result()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_workers(names: list[str], home: Path, url: str) -> list[WorkerProc]:
    """Start them together (each imports LangGraph and opens its pools: seconds) and wait until all are up."""
    workers = [WorkerProc(name, home / name, url) for name in names]
    for w in workers:
        w.wait_ready()
    return workers


def stress(url: str, home: Path, *, workers: int = 4, n: int = 50, verify_every: int = 25) -> dict[str, Any]:
    """``workers`` processes each grant, append and revoke ``n`` times at once (3 audit rows each), verifying
    the chain as they go; then the chain is checked for forks and every row counted."""
    procs = start_workers([f"w{i}" for i in range(workers)], home, url)
    try:
        start = time.time() + 1.0
        for w in procs:
            w.post(op="stress", n=n, start=start, verify_every=verify_every)
        results = {w.name: w.result() for w in procs}
    finally:
        for w in procs:
            w.close()
    with Store.connect(url) as store:
        report = store.audit.verify()
        with store._db.reading() as conn:
            (rows, distinct_prev, first, last) = conn.execute(
                "SELECT COUNT(*), COUNT(DISTINCT prev_hash), MIN(seq), MAX(seq) FROM audit_log"
            ).fetchone()
            per_actor = dict(conn.execute("SELECT actor, COUNT(*) FROM audit_log GROUP BY actor").fetchall())
    latencies = sorted(x for r in results.values() for x in r.pop("latencies_ms"))
    wall = max(r["elapsed_s"] for r in results.values())
    return {
        "workers": workers,
        "expected_rows": workers * n * 3,
        "rows": rows,
        "per_worker_rows": {k: per_actor.get(k, 0) for k in results},
        # a fork is two rows chained onto one predecessor: every prev_hash must be distinct
        "forks": rows - distinct_prev,
        "seq_range": [first, last],
        "chain_ok": report.ok,
        "verifies_during_run": sum(r["verified"] for r in results.values()),
        "verify_failures_during_run": sum(r["verify_failures"] for r in results.values()),
        "write_median_ms": round(statistics.median(latencies), 2),
        "write_p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2),
        "writes_per_s": round(len(latencies) / wall, 1) if wall else None,
        "verify_ms": report.elapsed_ms,
        "workers_detail": results,
    }


if __name__ == "__main__":  # pragma: no cover - figures for the README
    import tempfile

    from tests.pg_cluster import start

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    cluster = start(fsync=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            summary = stress(cluster.new_schema(), Path(tmp), n=count)
        summary.pop("workers_detail")
        print(json.dumps(summary, indent=2))
    finally:
        cluster.stop()
