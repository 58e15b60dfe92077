"""Memory of the CPU kernels' outputs.

:func:`empty_output` (used by every CPU kernel for its large outputs) asks Linux for
transparent huge pages, so a freshly allocated output faults in 2 MB at a time; nothing is
kept after it is freed. :func:`retain_freed_memory` is the opt-in, process-wide next step:

Keep freed memory in the process for reuse (glibc malloc on Linux).

A model call allocates its stage outputs afresh (tens of MB per second of audio). glibc
returns blocks above its mmap threshold (at most 32 MB) to the operating system when they are
freed, so the next call faults every page in again: on the machines measured here that was a
third to half of a model's CPU time for 1 s of audio. ``retain_freed_memory()`` raises the
mmap and trim thresholds so freed blocks stay in the heap and are reused without faults; the
price is that the process keeps its peak memory. Process-wide, so it is never switched on
implicitly; ``MALLOC_MMAP_THRESHOLD_``/``MALLOC_TRIM_THRESHOLD_`` in the environment do the
same before Python starts.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import resource
import sys

__all__ = ["empty_output", "empty_output_like_numpy", "retain_freed_memory"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


@functools.cache
def _libc_function(name: str, argtypes: tuple):
    """C library function ``name`` with its argument types (returning int); None where the
    platform has no glibc-like C library or no such function."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)
    except (OSError, AttributeError):
        return None
    fn.argtypes, fn.restype = argtypes, ctypes.c_int
    return fn


def retain_freed_memory(max_block_bytes: int = 2**30) -> bool:
    """Serve blocks up to ``max_block_bytes`` (default 1 GiB) from the heap and never trim it.

    Returns True when glibc accepted the settings, False elsewhere (other platforms or C
    libraries: nothing changes)."""
    if not sys.platform.startswith("linux"):
        return False
    if not 0 < int(max_block_bytes) <= 2**31 - 1:
        raise ValueError(f"max_block_bytes must lie in (0, 2**31 - 1], got {max_block_bytes!r}")
    mallopt = _libc_function("mallopt", (ctypes.c_int, ctypes.c_int))
    if mallopt is None:
        return False
    ok = mallopt(_M_MMAP_THRESHOLD, int(max_block_bytes)) == 1
    return ok and mallopt(_M_TRIM_THRESHOLD, 2**31 - 1) == 1


_MADV_HUGEPAGE = 14
_HUGE_MIN_BYTES = 4 * 2**20


def empty_output(*shape, dtype):
    """``torch.empty(shape, dtype=dtype)`` on the CPU; a block of 4 MB or more is advised to
    the kernel as transparent huge pages (``madvise(MADV_HUGEPAGE)``) before anything touches
    it, so filling it faults once per 2 MB instead of once per 4 kB: the kernels' large outputs
    are written once, and those faults were a third of a model's time. Nothing is retained
    after the tensor is freed (unlike :func:`retain_freed_memory`); where the system has no
    THP in 'madvise' or 'always' mode the advice is a no-op."""
    import torch

    out = torch.empty(*shape, dtype=dtype)
    nbytes = out.numel() * out.element_size()
    if nbytes >= _HUGE_MIN_BYTES:
        madvise = _libc_function("madvise", (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int))
        if madvise is not None:
            page = resource.getpagesize()
            start = out.data_ptr() // page * page
            madvise(start, out.data_ptr() + nbytes - start, _MADV_HUGEPAGE)
    return out


def empty_output_like_numpy(a=None, shape=None, dtype=None):
    """A numpy array like ``a`` (or of ``shape``/``dtype``) from :func:`empty_output`; the
    memory belongs to a torch tensor, so ``torch.from_numpy`` of it shares it."""
    import numpy as np
    import torch

    dtype = np.dtype(a.dtype if dtype is None else dtype)
    shape = a.shape if shape is None else shape
    torch_dtype = torch.from_numpy(np.empty(0, dtype)).dtype
    return empty_output(*shape, dtype=torch_dtype).numpy()
