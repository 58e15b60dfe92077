"""How the CPU kernels are compiled: numba, cached on disk, with SLP vectorisation.

``compiled(dispatcher)`` wraps a ``numba.njit`` kernel so that it compiles with LLVM's SLP
vectoriser on (numba leaves it off by default; the lane-unrolled bodies of
:mod:`workbench.kernels._lanes` need it to become SIMD code). The switch is numba's own
config value, read when a function is optimised: it is set only around our kernels' calls,
so other numba code in the process compiles as it would without workbench.

Every kernel uses ``cache=True``: compiled machine code is stored next to the sources in
``__pycache__`` or, where the package directory is read-only (a system site-packages),
in numba's user-wide cache directory (``~/.cache/numba`` or ``$NUMBA_CACHE_DIR``), so only
the very first use after installing compiles (``scripts/warm_kernel_cache.py`` does that
ahead of time: tens of seconds for all models on two cores).

numba keys a cached kernel on its own source file only: after editing a function that
kernels call from another file (``_lanes.py``, ``_tiles.py``, ``_vmath.py``), delete
``workbench/kernels/__pycache__/*.nb[ic]`` (``scripts/gen_lane_kernels.py`` does it for
``_lanes.py``), or the cached kernels keep the old code.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from numba.core import config

__all__ = ["compiled", "host_array", "host_array64"]


def compiled(kernel):
    """Call ``kernel`` (a numba dispatcher) with SLP vectorisation enabled for its compilation."""

    @functools.wraps(kernel)
    def call(*args):
        previous = config.SLP_VECTORIZE
        config.SLP_VECTORIZE = 1
        try:
            return kernel(*args)
        finally:
            config.SLP_VECTORIZE = previous

    call.dispatcher = kernel
    return call


def host_array(t: torch.Tensor) -> np.ndarray:
    """A CPU tensor as the contiguous numpy array a kernel reads (no copy when it already is one)."""
    return t.detach().contiguous().numpy()


def host_array64(t: torch.Tensor) -> np.ndarray:
    """:func:`host_array` in float64 (coefficients and parameters, which kernels take in float64)."""
    return t.detach().to(torch.float64).contiguous().numpy()
