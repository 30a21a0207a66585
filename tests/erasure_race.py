"""Two real processes: one runs a slow turn, the other erases the person it is about (used by
tests/test_erasure_race.py). Run ``python -m tests.erasure_race [tries]`` to print the figures for the code as it is.

Each try: a conversation about a fresh person (``p<i>``, consent on record) completes one turn, so its thread is in
the checkpoint database; its second turn is paused inside the tool (a fake engine that waits for a line on stdin)
while the eraser process runs ``erase_subject``; the turn is released at a random moment before, during or after
the erasure. Then the checkpoint database is read: any checkpoint or pending write left for the thread is a leak
(the erased person's image handles and results written back). The harness uses only what the SDK offered before
the fix (FaceAgent, ImageInput, Settings, erase_subject, tests.fakes), so the same file measures the old code.
"""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

PURPOSE = "mfa"
FIRST, SECOND = "Compare img1 and img2.", "Compare img1 and img2 again."


def _agent(home: str, engine: Any = None) -> Any:
    from agent.sdk import FaceAgent
    from agent.settings import Settings
    from tests.fakes import FakeFaceEngine

    settings = Settings(home=home, reasoner="offline", actor="race")
    return FaceAgent(settings, engine=engine or FakeFaceEngine(settings))


def turner(home: str) -> None:
    """Process A: on ``turn <i> [free]``, runs two turns about p<i>; the second waits for ``go`` inside the tool
    (or, ``free``, before it starts)."""
    from agent.settings import Settings
    from tests.fakes import FakeFaceEngine

    class Paused(FakeFaceEngine):
        pause = False

        def verify(self, *args: Any, **kwargs: Any) -> Any:
            result = super().verify(*args, **kwargs)
            if self.pause:
                print("in_tool", flush=True)
                sys.stdin.readline()  # "go"
            return result

    engine = Paused(Settings(home=home, reasoner="offline", actor="race"))
    agent = _agent(home, engine)
    from agent.sdk import ImageInput

    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        i = words[1]
        images = [ImageInput(source=engine.photo(f"p{i}"), subject=f"p{i}"),
                  ImageInput(source=engine.photo(f"p{i}", 1), subject=f"p{i}")]  # fmt: skip
        engine.pause = False
        agent.ask(FIRST, purpose=PURPOSE, images=images, thread_id=f"t{i}")
        print("first", flush=True)
        if words[2:] == ["free"]:  # the second turn runs at once: its start races the erasure too
            sys.stdin.readline()  # "go"
        else:
            engine.pause = True
        try:
            agent.ask(SECOND, purpose=PURPOSE, images=images, thread_id=f"t{i}")
            outcome = "finished"
        except Exception as exc:  # the old code has no typed error for this: any error counts as refused
            outcome = f"refused:{getattr(exc, 'code', type(exc).__name__)}"
        print(f"done {outcome}", flush=True)


def eraser(home: str) -> None:
    """Process B: on ``erase <subject>``, erases them (the SDK's erase_subject) and says so."""
    agent = _agent(home)
    print("ready", flush=True)
    for line in sys.stdin:
        agent.erase_subject(line.split()[1])
        print("erased", flush=True)


@dataclass
class RaceResult:
    tries: int
    leaks: int = 0  # threads still holding data from before the erasure after it returned
    refused: int = 0  # turns that ended with an error (the erasure caught them)
    finished: int = 0
    kept_new: int = 0  # threads kept that hold only a turn that began after the erasure (new data, not a leak)
    release_ms: list[float] = field(default_factory=list, repr=False)


def _start(role: str, home: Path, cwd: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.erasure_race", role, str(home)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=cwd, bufsize=1,
    )  # fmt: skip
    _expect(proc, "ready")
    return proc


def _expect(proc: subprocess.Popen[str], word: str) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith(word):
        raise RuntimeError(f"expected {word!r} from a race process, got {line!r} (exit {proc.poll()})")
    return line


def _send(stream: IO[str] | None, text: str) -> None:
    assert stream is not None
    stream.write(text + "\n")
    stream.flush()


def leaked(agent: Any, store: Any, thread_id: str, subject: str) -> bool | None:
    """Whether the thread holds data from before the person's erasure: the first turn (it ran before the
    erasure began), or the second one when its images were attached before the erasure row. None: the thread
    is kept but holds only a turn that began after the erasure (new data about them, decided by policy anew).
    False: nothing of the thread is left."""
    if leftover(store.path.parent / "threads.db", thread_id) == 0:
        return False
    said = [t.text for t in agent.transcript(thread_id) if t.role == "user"]
    if FIRST in said or not said:  # not said: pending writes with no checkpoint, orphans of the old thread
        return True
    erased = max(r.seq for r in store.audit.query(kind="erasure", subject=subject))
    attached = [r.seq for r in store.audit.query(session=thread_id, kind="session")]
    return True if len(attached) < 2 or attached[1] < erased else None


def leftover(db: Path, thread_id: str) -> int:
    """Checkpoints and pending writes the checkpoint database still holds for ``thread_id``."""
    with sqlite3.connect(db) as conn:
        return sum(
            conn.execute(f"SELECT COUNT(*) FROM {table} WHERE thread_id = ?", (thread_id,)).fetchone()[0]
            for table in ("checkpoints", "writes")
        )


def race(home: Path, tries: int, *, seed: int = 0, cwd: Path | None = None) -> RaceResult:
    """``tries`` erasures racing a paused turn, released from just before the erasure to two erasure-times after."""
    from agent.consent import grant_consent
    from agent.policy import load_policy
    from agent.store import Store

    cwd = cwd or Path(__file__).parents[1]
    rng = random.Random(seed)
    result = RaceResult(tries=tries)
    a, b = _start("turner", home, cwd), _start("eraser", home, cwd)
    erase_ms = 20.0  # learnt from the first tries
    reader = _agent(str(home))  # reads the conversations back (the SDK's own checkpointer, in this process)
    try:
        with Store.open(home / "facegate.db") as store:
            policy = load_policy()
            for i in range(tries):
                grant_consent(store, policy, subject_id=f"p{i}", capabilities=["face_verification"],
                              purposes=[PURPOSE], notice="race", evidence_method="form", recorded_by="race",
                              term_days=30, actor="race")  # fmt: skip
                # a third of the turns start (load the thread) while the erasure runs; the others are paused in
                # the tool and released from a few ms before the erasure starts to well after it has finished, so
                # the turn's load and its checkpoint write land before, between and after the eraser's steps
                free = rng.random() < 1 / 3
                _send(a.stdin, f"turn {i}" + (" free" if free else ""))
                _expect(a, "first")
                if not free:
                    _expect(a, "in_tool")
                delay = rng.uniform(-0.5 if free else -0.3, 2.0) * erase_ms / 1000
                started = time.perf_counter()
                if delay < 0:
                    _send(a.stdin, "go")
                    time.sleep(-delay)
                    _send(b.stdin, f"erase p{i}")
                else:
                    _send(b.stdin, f"erase p{i}")
                    time.sleep(delay)
                    _send(a.stdin, "go")
                done = _expect(a, "done")
                _expect(b, "erased")
                erase_ms = 0.8 * erase_ms + 0.2 * (time.perf_counter() - started) * 1000
                result.release_ms.append(delay * 1000)
                result.refused += "refused" in done
                result.finished += "finished" in done
                leak = leaked(reader, store, f"t{i}", f"p{i}")
                result.leaks += leak is True
                result.kept_new += leak is None
    finally:
        reader.close()
        for proc in (a, b):
            if proc.stdin:
                proc.stdin.close()
            proc.wait(timeout=30)
    return result


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] in ("turner", "eraser"):
        {"turner": turner, "eraser": eraser}[sys.argv[1]](sys.argv[2])
    else:
        import tempfile

        n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
        with tempfile.TemporaryDirectory() as d:
            print(race(Path(d), n))
