"""Process-wide machinery behind the dashboards' interactive (slider) work.

One :class:`ComputeService` per server process (:data:`SERVICE`) holds

* a **content cache** (:class:`ContentCache`): stimuli, model runs and intermediate stage
  tensors keyed by a digest of *what* was computed (model, parameters, stimulus spec, upload
  digest, device), never by *who* asked, so a computation one session did is a cache hit for
  every other session. It is bounded in bytes (least recently used entries go first) and
  computes each key once: a second request for a key that is being computed waits for that
  computation instead of starting its own (single flight);
* a **model pool** (:class:`ModelPool`): model instances per (name, constructor arguments,
  device), lent to one computation at a time, so concurrent sessions never share an instance
  while it runs and a session never builds its own copy;
* the **slider executor**: the threads that run slider recomputes. Simulated experiments never
  run here (they have their own worker processes, :mod:`workbench.dashboards.workers`), so a
  slider move never waits behind an experiment.

``workbench serve`` sizes all three (:func:`configure`); notebooks use the defaults.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import hashlib
import logging
import math
import os
import sys
import threading
import time
from collections import OrderedDict
from concurrent.futures import Executor, ThreadPoolExecutor

import numpy as np

LOG = logging.getLogger("workbench.dashboards.compute")
DEFAULT_CACHE_MB = 512.0
DEFAULT_THREADS = 2
MAX_IDLE_MODELS = 24


# --------------------------------------------------------------------------- content keys
def _canonical(value) -> str:
    """A stable text form of plain data (dataclasses, dicts, sequences, numbers, strings)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return f"{type(value).__name__}({_canonical(fields)})"
    if isinstance(value, dict):
        return "{" + ",".join(f"{_canonical(k)}:{_canonical(v)}" for k, v in sorted(value.items(), key=repr)) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_canonical(v) for v in value) + "]"
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, (int, float)) and abs(value) < 2**53:
        return repr(float(value))  # 60 and 60.0 are the same setting (a slider may send either)
    if isinstance(value, (int, float, str, bytes, type(None))):
        return repr(value)
    if isinstance(value, np.generic):
        return _canonical(value.item())
    raise TypeError(f"cannot key a computation on a {type(value).__name__}")


def content_key(*parts) -> str:
    """Digest of plain data: equal inputs give equal keys in every session and process."""
    return hashlib.sha256(_canonical(parts).encode()).hexdigest()


def nbytes(value) -> int:
    """Approximate memory held by a cached value (arrays and tensors counted, containers walked)."""
    seen: set[int] = set()

    def size(v) -> int:
        if id(v) in seen:
            return 0
        seen.add(id(v))
        if isinstance(v, np.ndarray):
            return int(v.nbytes)
        if hasattr(v, "element_size") and hasattr(v, "numel"):  # torch.Tensor
            return int(v.element_size() * v.numel())
        if isinstance(v, (bytes, bytearray, str)):
            return len(v)
        if isinstance(v, dict):
            return 64 + sum(size(k) + size(x) for k, x in v.items())
        if isinstance(v, (list, tuple)):
            return 64 + sum(size(x) for x in v)
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return 64 + sum(size(getattr(v, f.name)) for f in dataclasses.fields(v))
        return 64

    return size(value)


# --------------------------------------------------------------------------- content cache
class _Flight:
    """A computation in progress: later requests for the same key wait on it."""

    def __init__(self):
        self.done = threading.Event()
        self.value = None
        self.error: BaseException | None = None
        self.waiters = 0


class ContentCache:
    """Thread-safe LRU cache bounded by bytes, keyed by :func:`content_key` digests.

    ``get_or_compute(key, make)`` returns ``(value, hit)``. One computation per key at a time:
    concurrent requests for a key being computed wait for it. A value larger than a quarter
    of the budget is returned but not kept (one huge run must not empty the cache).
    """

    def __init__(self, max_bytes: float):
        self.max_bytes = int(max_bytes)
        self._entries: OrderedDict[str, tuple[object, int]] = OrderedDict()
        self._flights: dict[str, _Flight] = {}
        self._lock = threading.Lock()
        self.bytes = 0
        self.hits = self.misses = self.evictions = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._entries

    def peek(self, key: str):
        """The cached value or None, without computing (counts as a use)."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key][0]
        return None

    def put(self, key: str, value, size: int | None = None):
        size = nbytes(value) if size is None else int(size)
        with self._lock:
            self._store(key, value, size)

    def _store(self, key, value, size):
        if size > self.max_bytes // 4:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
        self._entries[key] = (value, size)
        self.bytes += size
        while self.bytes > self.max_bytes and self._entries:
            _, (_, evicted) = self._entries.popitem(last=False)
            self.bytes -= evicted
            self.evictions += 1

    def get_or_compute(self, key: str, make, shared_stale=None):
        """``(value, hit)``; ``make(still_wanted)`` computes on a miss.

        ``still_wanted()`` (passed to ``make``) is False once the caller's own ``shared_stale()``
        says it moved on *and* nobody else waits for this key, so a computation that another
        session also needs is never abandoned halfway.
        """
        while True:
            with self._lock:
                if key in self._entries:
                    self._entries.move_to_end(key)
                    self.hits += 1
                    return self._entries[key][0], True
                flight = self._flights.get(key)
                if flight is None:
                    flight = self._flights[key] = _Flight()
                    owner = True
                    self.misses += 1
                else:
                    flight.waiters += 1
                    owner = False
            if not owner:
                flight.done.wait()
                with self._lock:
                    flight.waiters -= 1
                if flight.error is None:
                    with self._lock:
                        self.hits += 1
                    return flight.value, True
                continue  # the computing request gave up (or failed): try again ourselves

            def still_wanted(flight=flight):
                return flight.waiters > 0 or shared_stale is None or not shared_stale()

            try:
                value = make(still_wanted)
            except BaseException as exc:
                flight.error = exc
                with self._lock:
                    self._flights.pop(key, None)
                flight.done.set()
                raise
            with self._lock:
                self._store(key, value, nbytes(value))
                self._flights.pop(key, None)
            flight.value = value
            flight.done.set()
            return value, False

    def clear(self):
        with self._lock:
            self._entries.clear()
            self.bytes = 0

    def stats(self) -> dict:
        with self._lock:
            return {
                "entries": len(self._entries),
                "mb": round(self.bytes / 1e6, 1),
                "budget_mb": round(self.max_bytes / 1e6, 1),
                "hits": self.hits,
                "misses": self.misses,
                "evictions": self.evictions,
                "in_flight": len(self._flights),
            }


# --------------------------------------------------------------------------- model pool
class ModelPool:
    """Model instances lent to one computation at a time (``with pool.borrow(...) as m``).

    Instances are built on first need (``factory()``), moved to the pool's device, kept idle
    for reuse (at most ``max_idle`` in all, least recently used dropped first) and never used
    by two computations at once: the model contract does not promise that a forward pass
    leaves no state behind.
    """

    def __init__(self, max_idle: int = MAX_IDLE_MODELS):
        self.max_idle = int(max_idle)
        self._idle: OrderedDict[tuple, list] = OrderedDict()
        self._lock = threading.Lock()
        self.built = 0

    @contextlib.contextmanager
    def borrow(self, key: tuple, factory):
        with self._lock:
            stack = self._idle.get(key)
            model = stack.pop() if stack else None
            if stack is not None and not stack:
                del self._idle[key]
        if model is None:
            model = factory()
            with self._lock:
                self.built += 1
        try:
            yield model
        finally:
            with self._lock:
                self._idle.setdefault(key, []).append(model)
                self._idle.move_to_end(key)
                while sum(len(s) for s in self._idle.values()) > self.max_idle:
                    oldest = next(iter(self._idle))
                    self._idle[oldest].pop(0)
                    if not self._idle[oldest]:
                        del self._idle[oldest]

    def peek(self, key: tuple, factory):
        """An instance for reading metadata (stage_info); may be in use elsewhere."""
        with self._lock:
            stack = self._idle.get(key)
            if stack:
                return stack[-1]
        with self.borrow(key, factory) as model:
            return model

    def stats(self) -> dict:
        with self._lock:
            return {"idle_models": sum(len(s) for s in self._idle.values()), "built": self.built}


# --------------------------------------------------------------------------- slider executor
class SliderExecutor(Executor):
    """The thread pool of slider recomputes; :meth:`resize` before first use sets its size."""

    def __init__(self, threads: int = DEFAULT_THREADS):
        self._threads = int(threads)
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    @property
    def threads(self) -> int:
        return self._threads

    def resize(self, threads: int):
        with self._lock:
            if self._threads == int(threads):
                return
            old, self._pool, self._threads = self._pool, None, int(threads)
        if old is not None:
            old.shutdown(wait=False)

    def _get(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="workbench-slider")
            return self._pool

    def submit(self, fn, /, *args, **kwargs):
        return self._get().submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False):
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=cancel_futures)


# --------------------------------------------------------------------------- the service
def resolve_device(device: str | None) -> str:
    """``'auto'``/None -> 'cuda' when torch sees a GPU, else 'cpu'; other names are checked."""
    import torch

    name = "auto" if device is None else str(device)
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {name!r}") from None
    if parsed.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {name!r}")
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} was asked for, but torch sees no CUDA GPU here; use 'cpu' or 'auto'")
    return str(parsed)


class ComputeService:
    """Shared cache, model pool and slider threads of one process (see the module docstring)."""

    def __init__(self, cache_mb: float = DEFAULT_CACHE_MB, threads: int = DEFAULT_THREADS, device: str = "cpu"):
        self.cache = ContentCache(cache_mb * 1e6)
        self.models = ModelPool()
        self.executor = SliderExecutor(threads)
        self.device = device
        self.started = time.time()

    def configure(self, *, cache_mb: float | None = None, threads: int | None = None, device: str | None = None):
        if cache_mb is not None:
            if not (isinstance(cache_mb, (int, float)) and math.isfinite(cache_mb) and 16 <= cache_mb <= 65536):
                raise ValueError(f"cache_mb must be in [16, 65536] MB, got {cache_mb}")
            self.cache.max_bytes = int(cache_mb * 1e6)
        if threads is not None:
            if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= 64:
                raise ValueError(f"threads must be an integer in [1, 64], got {threads!r}")
            self.executor.resize(threads)
        if device is not None:
            self.device = resolve_device(device)
        return self

    def stats(self) -> dict:
        return {"device": self.device, "threads": self.executor.threads, **self.cache.stats(), **self.models.stats()}


SERVICE = ComputeService()
"""The process's service; ``workbench serve`` configures it (threads, cache size, device)."""


def configure(**kwargs) -> ComputeService:
    """Configure :data:`SERVICE` (``cache_mb``, ``threads``, ``device``)."""
    return SERVICE.configure(**kwargs)


def keep_large_arrays_mapped(threshold_bytes: int = 1 << 20) -> bool:
    """Have glibc's malloc give every block of ``threshold_bytes`` or more its own memory map.

    By default glibc raises that threshold as the program frees large blocks (up to 32 MB),
    after which stage arrays of a few MB come from the heap, where freed ones leave holes
    that keep the process's RSS up long after the cache evicted them. With a fixed
    threshold a freed array goes back to the system at once. Returns False elsewhere than glibc.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):
        return False
    M_MMAP_THRESHOLD = -3
    return bool(mallopt(M_MMAP_THRESHOLD, int(threshold_bytes)))


def cpu_count() -> int:
    """CPUs this process may run on (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
