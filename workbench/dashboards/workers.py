"""Simulated experiments in their own worker processes, with progress, cancel and a queue.

A Paulick2024 staircase takes minutes of CPU; run in the server's threads it would hold the
cores (and the interpreter) that every student's slider needs. :class:`ExperimentPool`
runs each experiment in one of ``n_workers`` separate processes instead:

* **bounded**: ``n_workers`` processes (each with one compute thread, at lower CPU priority,
  ``nice``), so experiments use what the slider work leaves and never more than that many
  cores; a bounded FIFO queue (``max_queued``) holds the rest, and every waiting page is told
  how many experiments are ahead of it;
* **progress**: the worker reports trials, reversals and the estimated time left
  (:mod:`workbench.dashboards.progress`) a few times a second;
* **cancel**: a shared flag the experiment checks before every model batch; a worker that
  does not stop within ``cancel_grace_s`` is killed and replaced;
* **cached by content**: identical experiment specs (task, condition, observer, runs, seed,
  procedure) share one computation: a second session asking for a running one joins it, a
  finished one comes from a bounded result cache;
* **robust**: a worker that dies (out of memory, a crash) fails only its job with a message
  and is restarted; a job past ``job_timeout_s`` is stopped; workers are recycled after
  ``max_jobs_per_worker`` jobs so memory cannot creep.

Events reach the page through a :class:`Subscription` (asyncio-friendly: the pool's threads
hand them to the subscriber's event loop). The processes are started with ``spawn`` (never
``fork``: the server holds threads and an event loop), so the first start of a worker imports
torch and the models (a few seconds) and then warms them (``warm_up``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ctypes
import gc
import importlib
import itertools
import logging
import math
import os
import queue
import signal
import sys
import threading
import time

from workbench.dashboards.compute import content_key, cpu_count

LOG = logging.getLogger("workbench.dashboards.workers")
RUNNER = "workbench.dashboards.experiments_ui:run_job"
WARM_UP = "workbench.dashboards.experiments_ui:warm_up_worker"
GENERIC_FAILURE = "The experiment failed unexpectedly (the details are in the server's log). Try other settings."
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")
TERMINAL = ("done", "error", "cancelled")
_ENV_LOCK = threading.Lock()


def default_workers() -> int:
    """One worker on a machine with up to two CPUs, else one per CPU but one, at most four."""
    n = cpu_count()
    return 1 if n <= 2 else min(4, n - 1)


def _import(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _trim():
    gc.collect()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(AttributeError, OSError):
            ctypes.CDLL(None).malloc_trim(0)


# --------------------------------------------------------------------------- worker process
def _worker_main(
    conn, cancel, runner_path: str, warm_up_path: str | None, device: str, nice: int, report_interval_s: float
):
    """Body of a worker process: warm up, then run jobs sent over ``conn`` until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the server's to handle
    if nice:
        with contextlib.suppress(OSError):
            os.nice(nice)
    import torch

    from workbench.dashboards.compute import keep_large_arrays_mapped
    from workbench.dashboards.progress import Cancelled

    keep_large_arrays_mapped()
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(process)d %(levelname)s: %(message)s")
    runner = _import(runner_path)
    t0 = time.perf_counter()
    if warm_up_path:
        try:
            _import(warm_up_path)(device)
        except Exception:  # noqa: BLE001 - a failed warm-up only costs time later
            logging.getLogger("workbench.worker").exception("warm-up failed")
    conn.send(("ready", os.getpid(), time.perf_counter() - t0))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            break
        if message[0] == "stop":
            break
        _, job_id, spec = message
        last = [-math.inf]

        def report(snapshot, force=False, job_id=job_id, last=last):
            now = time.monotonic()
            if force or now - last[0] >= report_interval_s:
                last[0] = now
                conn.send(("progress", job_id, snapshot))

        try:
            payload = runner(spec, device=device, report=report, should_stop=cancel.is_set)
            conn.send(("done", job_id, payload))
        except Cancelled:
            conn.send(("cancelled", job_id))
        except (ValueError, TypeError) as exc:  # our checks: the message names the argument
            conn.send(("error", job_id, str(exc)))
        except MemoryError:
            conn.send(("error", job_id, "The experiment ran out of memory; try fewer runs or a shorter stimulus."))
        except Exception:  # noqa: BLE001 - logged here, a plain sentence for the page
            logging.getLogger("workbench.worker").exception("experiment failed")
            conn.send(("error", job_id, GENERIC_FAILURE))
        finally:
            _trim()


# --------------------------------------------------------------------------- subscriptions
class Subscription:
    """One page's view of a job: ``await next_event()`` (or ``get(timeout)`` without a loop).

    Events are dicts with ``kind``: 'queued' (``ahead``), 'starting' (a worker is being
    started), 'started', 'progress' (``progress``: a snapshot), 'done' (``result``,
    ``cached``), 'error' (``message``), 'cancelled' (``reason``). The last three end it.
    """

    def __init__(self, pool, loop: asyncio.AbstractEventLoop | None = None):
        self.pool = pool
        self.loop = loop
        self.job = None
        self.closed = False
        self._queue: asyncio.Queue | queue.SimpleQueue = asyncio.Queue() if loop is not None else queue.SimpleQueue()

    def deliver(self, event: dict):
        if self.closed:
            return
        if event["kind"] in TERMINAL:
            self.closed = True
        if self.loop is None:
            self._queue.put(event)
        else:
            try:
                self.loop.call_soon_threadsafe(self._queue.put_nowait, event)
            except RuntimeError:  # the loop is gone (server stopping)
                pass

    async def next_event(self) -> dict:
        return await self._queue.get()

    def get(self, timeout: float | None = None) -> dict:
        return self._queue.get(timeout=timeout)

    def cancel(self, reason: str = "cancelled by the user"):
        """Stop waiting for this job; the job itself stops when nobody waits for it any more."""
        self.pool._unsubscribe(self, reason)


class _Job:
    def __init__(self, job_id: int, key: str, spec: dict):
        self.id, self.key, self.spec = job_id, key, spec
        self.subscribers: list[Subscription] = []
        self.state = "queued"
        self.progress: dict | None = None
        self.cancel_requested = False
        self.submitted = time.monotonic()


# --------------------------------------------------------------------------- the pool
class _Slot:
    """One worker process and the server thread that feeds it."""

    def __init__(self, index: int):
        self.index = index
        self.process = None
        self.conn = None
        self.cancel = None
        self.jobs_done = 0
        self.thread: threading.Thread | None = None
        self.ready = False


class ExperimentPool:
    """Worker processes for experiments; see the module docstring.

    ``runner``/``warm_up``: ``'module:function'`` run in the workers
    (``runner(spec, device=, report=, should_stop=) -> picklable result``;
    ``warm_up(device)``). ``device``: where the workers compute ('cpu', 'cuda').
    """

    def __init__(
        self,
        n_workers: int | None = None,
        *,
        device: str = "cpu",
        nice: int = 10,
        runner: str = RUNNER,
        warm_up: str | None = WARM_UP,
        max_queued: int = 64,
        cache_entries: int = 128,
        job_timeout_s: float = 1800.0,
        cancel_grace_s: float = 10.0,
        max_jobs_per_worker: int = 50,
        report_interval_s: float = 0.5,
        start: bool = True,
    ):
        n_workers = default_workers() if n_workers is None else n_workers
        if isinstance(n_workers, bool) or not isinstance(n_workers, int) or not 1 <= n_workers <= 64:
            raise ValueError(f"n_workers must be an integer in [1, 64], got {n_workers!r}")
        if isinstance(nice, bool) or not isinstance(nice, int) or not 0 <= nice <= 19:
            raise ValueError(f"nice must be an integer in [0, 19], got {nice!r}")
        self.n_workers, self.device, self.nice = n_workers, device, nice
        self.runner, self.warm_up = runner, warm_up
        self.max_queued, self.cache_entries = int(max_queued), int(cache_entries)
        self.job_timeout_s, self.cancel_grace_s = float(job_timeout_s), float(cancel_grace_s)
        self.max_jobs_per_worker, self.report_interval_s = int(max_jobs_per_worker), float(report_interval_s)
        self._cond = threading.Condition()
        self._pending: collections.deque[_Job] = collections.deque()
        self._active: dict[str, _Job] = {}
        self._results: collections.OrderedDict[str, object] = collections.OrderedDict()
        self._ids = itertools.count(1)
        self._closed = False
        self._slots = [_Slot(i) for i in range(n_workers)]
        self.stats_counts = collections.Counter()
        self._started = False
        if start:
            self.start()

    # ------------------------------------------------------------------ lifecycle
    def start(self):
        """Start the workers (they warm up at once) and the threads that feed them."""
        with self._cond:
            if self._started:
                return
            self._started = True
        for slot in self._slots:
            slot.thread = threading.Thread(
                target=self._slot_loop, args=(slot,), daemon=True, name=f"workbench-experiments-{slot.index}"
            )
            slot.thread.start()

    def shutdown(self, timeout_s: float = 5.0):
        """Stop every worker (running jobs are cancelled) and the feeding threads."""
        with self._cond:
            self._closed = True
            jobs = list(self._pending) + [j for j in self._active.values() if j.state == "running"]
            self._pending.clear()
            self._cond.notify_all()
        for job in jobs:
            job.cancel_requested = True
            self._publish(job, {"kind": "cancelled", "reason": "the server is stopping"})
        for slot in self._slots:
            self._stop_worker(slot, timeout_s)
        for slot in self._slots:
            if slot.thread is not None:
                slot.thread.join(timeout_s)

    def _spawn(self, slot: _Slot):
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        cancel = ctx.Event()
        process = ctx.Process(
            target=_worker_main,
            name=f"workbench-experiment-worker-{slot.index}",
            args=(child, cancel, self.runner, self.warm_up, self.device, self.nice, self.report_interval_s),
            daemon=True,
        )
        with _ENV_LOCK:  # one compute thread per worker: they share the machine with the server
            saved = {k: os.environ.get(k) for k in THREAD_VARIABLES}
            os.environ.update({k: "1" for k in THREAD_VARIABLES})
            try:
                process.start()
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
        child.close()
        slot.process, slot.conn, slot.cancel, slot.jobs_done, slot.ready = process, parent, cancel, 0, False
        self.stats_counts["workers_started"] += 1
        LOG.info(
            "experiment worker %d started (pid %d, device %s, nice %d)", slot.index, process.pid, self.device, self.nice
        )

    def _await_ready(self, slot: _Slot, deadline_s: float = 300.0) -> bool:
        end = time.monotonic() + deadline_s
        process, conn = slot.process, slot.conn
        while time.monotonic() < end and not self._closed and process is not None:
            try:
                if conn.poll(0.25):
                    message = conn.recv()
                    if message[0] == "ready":
                        slot.ready = True
                        LOG.info("experiment worker %d ready (warm-up %.1f s)", slot.index, message[2])
                        return True
                elif not process.is_alive():
                    return False
            except (EOFError, OSError, ValueError):
                return False
        return False

    def _stop_worker(self, slot: _Slot, timeout_s: float = 5.0, kill: bool = False):
        process, conn = slot.process, slot.conn
        slot.process = slot.conn = None
        slot.ready = False
        if process is None:
            return
        if not kill:
            with contextlib.suppress(OSError, ValueError, BrokenPipeError):
                conn.send(("stop",))
            process.join(timeout_s)
        if process.is_alive():
            process.kill()
            process.join(timeout_s)
        with contextlib.suppress(OSError):
            conn.close()

    # ------------------------------------------------------------------ submitting
    def key(self, spec: dict) -> str:
        return content_key("experiment", spec, self.device)

    def submit(self, spec: dict, loop: asyncio.AbstractEventLoop | None = None) -> Subscription:
        """Queue ``spec`` (plain data) and return a subscription to its events.

        An identical spec already queued or running is joined; a finished one is answered
        from the result cache at once. A full queue raises ValueError (the message says so).
        """
        sub = Subscription(self, loop)
        key = self.key(spec)
        with self._cond:
            if self._closed:
                raise ValueError("the experiment workers are stopping; try again in a moment")
            if key in self._results:
                self._results.move_to_end(key)
                self.stats_counts["cache_hits"] += 1
                sub.deliver({"kind": "done", "result": self._results[key], "cached": True})
                return sub
            job = self._active.get(key)
            if job is not None and not job.cancel_requested:
                job.subscribers.append(sub)
                sub.job = job
                self.stats_counts["joined"] += 1
                if job.state == "running":
                    sub.deliver({"kind": "started", "joined": True})
                    if job.progress is not None:
                        sub.deliver({"kind": "progress", "progress": job.progress})
                else:
                    sub.deliver({"kind": "queued", "ahead": self._ahead(job)})
                return sub
            if len(self._pending) >= self.max_queued:
                raise ValueError(
                    f"{len(self._pending)} experiments are already waiting (the most the server queues); "
                    "try again when some have finished"
                )
            job = _Job(next(self._ids), key, dict(spec))
            job.subscribers.append(sub)
            sub.job = job
            self._active[key] = job
            self._pending.append(job)
            self.stats_counts["submitted"] += 1
            self._publish_positions()
            self._cond.notify_all()
        return sub

    def _ahead(self, job: _Job) -> int:
        """Experiments that will start before ``job``: those queued in front plus busy workers."""
        running = sum(1 for j in self._active.values() if j.state == "running")
        position = next((i for i, j in enumerate(self._pending) if j is job), 0)
        return position + max(0, running - (self.n_workers - 1))

    def _publish_positions(self):
        for job in self._pending:
            self._publish(job, {"kind": "queued", "ahead": self._ahead(job)})

    def _publish(self, job: _Job, event: dict):
        for sub in list(job.subscribers):
            sub.deliver(event)
        if event["kind"] in TERMINAL:
            job.subscribers.clear()

    def _unsubscribe(self, sub: Subscription, reason: str):
        job = sub.job
        sub.deliver({"kind": "cancelled", "reason": reason})
        if job is None:
            return
        with self._cond:
            if sub in job.subscribers:
                job.subscribers.remove(sub)
            if job.subscribers or job.state not in ("queued", "running"):
                return
            job.cancel_requested = True
            self.stats_counts["cancelled"] += 1
            if job.state == "queued":
                with contextlib.suppress(ValueError):
                    self._pending.remove(job)
                self._active.pop(job.key, None)
                job.state = "cancelled"
                self._publish_positions()

    # ------------------------------------------------------------------ feeding a worker
    def _next_job(self) -> _Job | None:
        with self._cond:
            while not self._closed:
                while self._pending and self._pending[0].cancel_requested:
                    self._pending.popleft()
                if self._pending:
                    job = self._pending.popleft()
                    job.state = "running"
                    self._publish_positions()
                    return job
                self._cond.wait(1.0)
        return None

    def _slot_loop(self, slot: _Slot):
        while not self._closed:
            if slot.process is None or not slot.process.is_alive():
                self._stop_worker(slot, kill=True)
                try:
                    self._spawn(slot)
                except Exception:  # noqa: BLE001 - logged; retried when a job comes
                    LOG.exception("could not start an experiment worker")
                    time.sleep(5.0)
                    continue
            if not slot.ready and not self._await_ready(slot):
                if not self._closed:
                    LOG.error("experiment worker %d did not become ready; restarting it", slot.index)
                    self._stop_worker(slot, kill=True)
                    time.sleep(1.0)
                continue
            job = self._next_job()
            if job is None:
                break
            self._run(slot, job)
            with self._cond:
                if self._active.get(job.key) is job:
                    del self._active[job.key]
            slot.jobs_done += 1
            if slot.jobs_done >= self.max_jobs_per_worker and not self._closed:
                LOG.info("recycling experiment worker %d after %d jobs", slot.index, slot.jobs_done)
                self._stop_worker(slot)
        self._stop_worker(slot)

    def _run(self, slot: _Slot, job: _Job):
        self._publish(job, {"kind": "started"})
        process, conn, cancel = slot.process, slot.conn, slot.cancel  # shutdown() may clear the slot
        cancel.clear()
        try:
            conn.send(("run", job.id, job.spec))
        except (OSError, ValueError, BrokenPipeError):
            self._finish(job, {"kind": "error", "message": "The experiment worker stopped; try again."})
            self._stop_worker(slot, kill=True)
            return
        started = time.monotonic()
        cancel_sent_at = None
        timed_out = False
        while True:
            now = time.monotonic()
            if (job.cancel_requested or self._closed) and cancel_sent_at is None:
                cancel.set()
                cancel_sent_at = now
            if cancel_sent_at is not None and now - cancel_sent_at > self.cancel_grace_s:
                LOG.warning(
                    "experiment worker %d did not stop within %.0f s of the cancel; killing it",
                    slot.index,
                    self.cancel_grace_s,
                )
                self.stats_counts["workers_killed"] += 1
                self._stop_worker(slot, kill=True)
                self._finish(job, self._stopped_event(timed_out))
                return
            if now - started > self.job_timeout_s and not timed_out:
                timed_out, job.cancel_requested = True, True
            try:
                ready = conn.poll(0.2)
                message = conn.recv() if ready else None
            except (EOFError, OSError, ValueError):
                message = ("died",)
            if message is None:
                if not process.is_alive():
                    message = ("died",)
                else:
                    continue
            kind = message[0]
            if kind == "progress" and message[1] == job.id:
                job.progress = message[2]
                self._publish(job, {"kind": "progress", "progress": message[2]})
            elif kind == "done" and message[1] == job.id:
                with self._cond:
                    self._results[job.key] = message[2]
                    while len(self._results) > self.cache_entries:
                        self._results.popitem(last=False)
                self.stats_counts["done"] += 1
                self._finish(job, {"kind": "done", "result": message[2], "cached": False})
                return
            elif kind == "error" and message[1] == job.id:
                self.stats_counts["errors"] += 1
                self._finish(job, {"kind": "error", "message": message[2]})
                return
            elif kind == "cancelled" and message[1] == job.id:
                self._finish(job, self._stopped_event(timed_out))
                return
            elif kind == "died":
                if self._closed:
                    self._finish(job, {"kind": "cancelled", "reason": "the server is stopping"})
                    return
                code = process.exitcode
                LOG.error("experiment worker %d died (exit code %s) during job %d", slot.index, code, job.id)
                self.stats_counts["workers_died"] += 1
                self._stop_worker(slot, kill=True)
                self._finish(
                    job,
                    {
                        "kind": "error",
                        "message": "The experiment worker stopped unexpectedly "
                        "(it may have run out of memory); try again, or with fewer runs.",
                    },
                )
                return

    def _stopped_event(self, timed_out: bool) -> dict:
        """The last event of a job stopped by a cancel: a timeout error if the server's limit stopped it."""
        if not timed_out:
            return {"kind": "cancelled", "reason": "cancelled"}
        message = (
            f"The experiment was stopped after {self.job_timeout_s / 60:.0f} minutes (the server's limit "
            "for one experiment); try fewer runs or the faster stand-in observer."
        )
        return {"kind": "error", "message": message}

    def _finish(self, job: _Job, event: dict):
        job.state = event["kind"]
        self._publish(job, event)

    # ------------------------------------------------------------------ reading
    def stats(self) -> dict:
        with self._cond:
            return {
                "workers": self.n_workers,
                "device": self.device,
                "alive": sum(1 for s in self._slots if s.process is not None and s.process.is_alive()),
                "ready": sum(1 for s in self._slots if s.ready),
                "queued": len(self._pending),
                "running": sum(1 for j in self._active.values() if j.state == "running"),
                "cached_results": len(self._results),
                **self.stats_counts,
            }

    def worker_pids(self) -> list[int]:
        return [s.process.pid for s in self._slots if s.process is not None and s.process.is_alive()]


class InlinePool:
    """The :class:`ExperimentPool` interface without processes: each job in a thread of this
    process (notebooks, tests). Cancel works; there is no queue, kill or result cache."""

    def __init__(self, *, device: str = "cpu", runner: str = RUNNER):
        self.device, self.runner = device, runner

    def submit(self, spec: dict, loop: asyncio.AbstractEventLoop | None = None) -> Subscription:
        from workbench.dashboards.progress import Cancelled

        sub = Subscription(self, loop)
        sub.stop = threading.Event()
        runner = _import(self.runner)

        def work():
            sub.deliver({"kind": "started"})
            try:
                result = runner(
                    dict(spec),
                    device=self.device,
                    report=lambda snap, force=False: sub.deliver({"kind": "progress", "progress": snap}),
                    should_stop=sub.stop.is_set,
                )
                sub.deliver({"kind": "done", "result": result, "cached": False})
            except Cancelled:
                sub.deliver({"kind": "cancelled", "reason": "cancelled"})
            except (ValueError, TypeError) as exc:
                sub.deliver({"kind": "error", "message": str(exc)})
            except Exception:  # noqa: BLE001 - logged, a plain sentence for the page
                LOG.exception("experiment failed")
                sub.deliver({"kind": "error", "message": GENERIC_FAILURE})

        threading.Thread(target=work, daemon=True, name="workbench-inline-experiment").start()
        return sub

    def _unsubscribe(self, sub: Subscription, reason: str):
        sub.stop.set()
        sub.deliver({"kind": "cancelled", "reason": reason})

    def stats(self) -> dict:
        return {"workers": 0, "device": self.device}


# --------------------------------------------------------------------------- the process's pool
_POOL: dict = {"pool": None, "settings": {}}
_POOL_LOCK = threading.Lock()


def configure_pool(**settings):
    """Settings (``n_workers``, ``device``, ``nice``, ...) for :func:`default_pool`; takes effect
    when the pool is first made (``workbench serve`` makes it after forking its processes)."""
    with _POOL_LOCK:
        if _POOL["pool"] is not None:
            raise RuntimeError("the experiment pool is already running; configure it before first use")
        _POOL["settings"] = dict(settings)


def default_pool() -> ExperimentPool:
    """The process's experiment pool, started on first use."""
    with _POOL_LOCK:
        if _POOL["pool"] is None:
            from workbench.dashboards import compute

            settings = {"device": compute.SERVICE.device, **_POOL["settings"]}
            _POOL["pool"] = ExperimentPool(**settings)
        return _POOL["pool"]


def running_pool() -> ExperimentPool | None:
    """The process's experiment pool if it has started, else None (never starts one)."""
    with _POOL_LOCK:
        return _POOL["pool"]


def shutdown_default_pool():
    with _POOL_LOCK:
        pool, _POOL["pool"] = _POOL["pool"], None
    if pool is not None:
        pool.shutdown()
