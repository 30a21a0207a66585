"""Audit append latency, SQLite against PostgreSQL, both durable (SQLite: WAL with synchronous=FULL; PostgreSQL:
fsync and synchronous_commit on, a throwaway cluster on the same disk): one process, then several at once.

``python -m tests.append_bench [N] [PROCESSES]`` prints a Markdown table (README, "PostgreSQL").
Timings on a shared 2-core machine are noisy: run it on an idle one for figures worth comparing.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.audit_helpers import event, open_target

ROOT = Path(__file__).resolve().parents[1]

_APPENDER = """
import json, sys, time
sys.path.insert(0, {root!r})
from tests.append_bench import timed_appends
from tests.audit_helpers import open_target
store = open_target(sys.argv[1])
start = float(sys.argv[3])
while time.time() < start:
    pass
print(json.dumps(timed_appends(store, int(sys.argv[2]), sys.argv[4])))
store.close()
"""


def timed_appends(store: object, n: int, tag: str = "bench") -> list[float]:
    """``n`` appends, each in its own transaction; their latencies in ms."""
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        store.audit.append(event(i, subject=tag, session=tag))  # type: ignore[attr-defined]
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _stats(ms: list[float], wall_s: float) -> dict[str, float]:
    ms = sorted(ms)
    return {
        "appends": len(ms),
        "median_ms": round(statistics.median(ms), 2),
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 2),
        "per_s": round(len(ms) / wall_s, 1),
    }


def one_process(target: str, n: int) -> dict[str, float]:
    store = open_target(target)
    t0 = time.perf_counter()
    ms = timed_appends(store, n)
    wall = time.perf_counter() - t0
    report = store.audit.verify()
    store.close()
    assert report.ok and report.rows == n
    return _stats(ms, wall)


def processes(target: str, n: int, count: int) -> dict[str, float]:
    open_target(target).close()  # migrated before the clock starts
    start = time.time() + 2.0
    code = _APPENDER.format(root=str(ROOT))
    procs = [subprocess.Popen([sys.executable, "-c", code, target, str(n), str(start), f"p{i}"],
                              stdout=subprocess.PIPE, text=True) for i in range(count)]  # fmt: skip
    outs = [json.loads(p.communicate(timeout=600)[0]) for p in procs]
    wall = time.time() - start
    store = open_target(target)
    report = store.audit.verify()
    store.close()
    assert report.ok
    return _stats([x for o in outs for x in o], wall)


def main(n: int, count: int) -> None:
    from tests.pg_cluster import start

    cluster = start(fsync=True)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(("SQLite", "1", one_process(str(Path(tmp) / "one.db"), n)))
            rows.append(("PostgreSQL", "1", one_process(cluster.new_schema(), n)))
            rows.append(("SQLite", str(count), processes(str(Path(tmp) / "many.db"), n, count)))
            rows.append(("PostgreSQL", str(count), processes(cluster.new_schema(), n, count)))
    finally:
        cluster.stop()
    print("| backend | processes | appends | median ms | p99 ms | appends/s |")
    print("|---|---|---|---|---|---|")
    for backend, procs, s in rows:
        print(f"| {backend} | {procs} | {s['appends']:.0f} | {s['median_ms']} | {s['p99_ms']} | {s['per_s']} |")


if __name__ == "__main__":  # pragma: no cover - benchmark entry point
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500, int(sys.argv[2]) if len(sys.argv) > 2 else 4)
