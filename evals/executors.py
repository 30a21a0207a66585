"""Spreading per-image work over processes: a local process pool, or Ray actors on a cluster.

Both run :class:`evals.workers.EngineWorker` (one engine per worker, kept for the whole run) on chunks of
paths, so each model is loaded once per worker, not once per image.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import resource
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from evals.errors import EvalError
from evals.workers import ChunkResult, ImageOutcome, Task, init_process, peak_rss_mb, run_in_process
from tools.errors import FacegateError, UserError

if TYPE_CHECKING:
    from tools.settings import EngineSettings

ExecutorName = Literal["local", "ray"]
# (stage, done, total): how far a long step is. The library reports; the command layer prints (evals/progress.py).
ProgressFn = Callable[[str, int, int], None]
RAY_HINT = "Ray is not installed: pip install 'facegate[ray]' (or run with --executor local)"


class RunStats(BaseModel):
    executor: str
    workers: int
    chunk_size: int
    elapsed_s: float
    worker_peak_rss_mb: dict[int, float]  # pid -> that worker's peak RSS (as last reported)
    sampled_total_rss_mb: float | None = None  # highest sum of parent + worker RSS seen at once (local only)
    sampled_total_pss_mb: float | None = None  # the same in PSS (shared library pages counted once)
    children_maxrss_mb: float | None = None  # RUSAGE_CHILDREN: the largest finished child of this process
    threshold: float | None = None  # embed: as the workers' engines report it
    threshold_source: str | None = None
    ray_address: str | None = None


def default_workers() -> int:
    return os.cpu_count() or 1


def chunk_size_for(n_items: int, workers: int) -> int:
    """About four chunks per worker (so a slow chunk does not idle the others), between 1 and 16 images."""
    return max(1, min(16, math.ceil(n_items / max(1, workers * 4))))


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def progress_fn(progress: ProgressFn | bool | None) -> ProgressFn:
    """A callable to report to: the caller's, or one that does nothing (``True``/``False``/``None``: library
    code prints nothing itself)."""
    return progress if callable(progress) else _silent


def _silent(_stage: str, _done: int, _total: int) -> None:
    return None


def _error_class(code: str) -> type[FacegateError]:
    stack: list[type[FacegateError]] = [FacegateError]
    while stack:
        cls = stack.pop()
        if cls.code == code:
            return cls
        stack.extend(cls.__subclasses__())
    return EvalError


def _check_fatal(result: ChunkResult) -> None:
    for o in result.outcomes:
        if o.fatal:
            raise _error_class(o.error_code or "")(o.error or "the face engine failed", image=o.path)


def run_images(
    task: Task,
    paths: list[str],
    settings: EngineSettings,
    *,
    executor: ExecutorName = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    progress: ProgressFn | bool | None = None,
) -> tuple[dict[str, ImageOutcome], RunStats]:
    """Run ``task`` once for each distinct path; return outcomes by path and run statistics."""
    distinct = list(dict.fromkeys(paths))
    n_workers = max(1, workers or default_workers())
    size = chunk_size_for(len(distinct), n_workers)
    chunks = _chunks(distinct, size)
    runner = _run_ray if executor == "ray" else _run_local
    if executor not in ("local", "ray"):
        raise UserError(f"unknown executor {executor!r}: use local or ray")
    if executor == "ray" and ray_address:
        check_ray_address(ray_address)  # before the progress bar: an unreachable head fails in one line
    report = progress_fn(progress)
    stage = "embedding images" if task == "embed" else "analysing expressions"
    report(stage, 0, len(distinct))
    outcomes: dict[str, ImageOutcome] = {}
    rss: dict[int, float] = {}
    threshold: float | None = None
    threshold_source: str | None = None
    start = time.perf_counter()
    sampler = RssSampler() if executor == "local" else None
    try:
        if sampler is not None:
            sampler.start()
        for result in runner(task, chunks, settings, n_workers, ray_address):
            _check_fatal(result)
            for o in result.outcomes:
                outcomes[o.path] = o
            rss[result.pid] = max(rss.get(result.pid, 0.0), result.peak_rss_mb)
            if threshold is None:
                threshold, threshold_source = result.threshold, result.threshold_source
            report(stage, len(outcomes), len(distinct))
    finally:
        if sampler is not None:
            sampler.stop()
    elapsed = time.perf_counter() - start
    stats = RunStats(
        executor=executor,
        workers=n_workers,
        chunk_size=size,
        elapsed_s=elapsed,
        worker_peak_rss_mb=rss,
        sampled_total_rss_mb=sampler.peak_mb if sampler is not None else None,
        sampled_total_pss_mb=sampler.peak_pss_mb if sampler is not None else None,
        children_maxrss_mb=peak_rss_mb(resource.RUSAGE_CHILDREN) if executor == "local" else None,
        threshold=threshold,
        threshold_source=threshold_source,
        ray_address=ray_address if executor == "ray" else None,
    )
    return outcomes, stats


def _run_local(
    task: Task, chunks: list[list[str]], settings: EngineSettings, workers: int, _address: str | None
) -> Iterator[ChunkResult]:
    # spawn, not fork: the parent may hold threads (pytest, tqdm, onnxruntime) and a forked copy of its memory
    # would blur the workers' RSS figures.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=min(workers, max(1, len(chunks))),
        mp_context=ctx,
        initializer=init_process,
        initargs=(settings,),
    ) as pool:
        futures = [pool.submit(run_in_process, task, chunk) for chunk in chunks]
        try:
            for fut in as_completed(futures):
                try:
                    yield fut.result()
                except BrokenProcessPool as exc:
                    raise EvalError(
                        "an evaluation worker process died (out of memory, or killed); rerun with fewer --workers"
                    ) from exc
        finally:
            for fut in futures:
                fut.cancel()


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise UserError(RAY_HINT) from exc
    return ray


def check_ray_address(address: str, timeout_s: float = 5.0) -> None:
    """Fail at once, in one line, when a Ray address does not accept connections.

    ``ray.init`` retries an unreachable head for minutes (printing warnings); a plain TCP connect first
    bounds that to ``timeout_s``. ``auto`` and ``local`` are left to Ray.
    """
    if address in ("auto", "local"):
        return
    target = address.split("://", 1)[-1].rstrip("/")
    host, sep, port_text = target.rpartition(":")
    if not sep or not port_text.isdigit():
        raise EvalError(f"--ray-address {address!r}: expected host:port (or ray://host:port)")
    try:
        with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port_text)), timeout=timeout_s):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise EvalError(f"cannot reach Ray at {address}: {reason}", ray_address=address) from exc


def _run_ray(
    task: Task, chunks: list[list[str]], settings: EngineSettings, workers: int, address: str | None
) -> Iterator[ChunkResult]:
    ray = import_ray()
    from ray.util import ActorPool

    from evals.workers import EngineWorker

    started_here = not ray.is_initialized()
    if started_here:
        if address:
            check_ray_address(address)
            ray.init(address=address, logging_level="ERROR", log_to_driver=False)
        else:
            ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    try:
        actor_cls = ray.remote(num_cpus=1)(EngineWorker)
        n_actors = min(workers, max(1, len(chunks)))
        actors = [actor_cls.remote(settings) for _ in range(n_actors)]
        pool = ActorPool(actors)
        yield from pool.map_unordered(lambda a, chunk: a.run.remote(task, chunk), chunks)
        for a in actors:
            ray.kill(a)
    finally:
        if started_here:
            ray.shutdown()


class RssSampler:
    """Samples the resident memory of this process and all its descendants every 0.2 s (psutil) and keeps the
    highest sums seen: RSS (shared library pages counted once per process, an over-estimate) and, where the
    platform has it (Linux), PSS (shared pages split between their processes: what the run really held at
    once). A process that ends between listing and reading is skipped."""

    def __init__(self, interval_s: float = 0.2) -> None:
        self.interval_s = interval_s
        self.peak_mb: float | None = None
        self.peak_pss_mb: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def _loop(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            try:
                procs = [me, *me.children(recursive=True)]
            except psutil.Error:
                procs = [me]
            rss, pss = 0, 0
            pss_known = True
            for proc in procs:
                try:
                    rss += proc.memory_info().rss
                    if pss_known:
                        pss += getattr(proc.memory_full_info(), "pss", 0) or 0
                except (psutil.NoSuchProcess, psutil.ZombieProcess):
                    continue
                except (psutil.AccessDenied, AttributeError):  # no PSS on this platform or for this process
                    pss_known = False
            self.peak_mb = max(self.peak_mb or 0.0, rss / 2**20)
            if pss_known and pss:
                self.peak_pss_mb = max(self.peak_pss_mb or 0.0, pss / 2**20)
            self._stop.wait(self.interval_s)
